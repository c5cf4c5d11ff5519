"""``samdops package export``: one self-contained, signed package for one registered model.

Export reads every artifact by digest through the :class:`~samdops.store.ArtifactStore` protocol
(local or S3; each read is verified), the record and its e-signatures through the governed
registry (which refuses a record changed since registration), and the audit entries about the
model with inclusion proofs against the first signed checkpoint that covers them all. The package
holds no export time: exporting the same model with the same keys gives the same bytes, whichever
store the artifacts come from and whatever the audit log recorded since (exports included).
The directory is built beside ``out``; the export and each dataset it carries are then recorded
in the audit log (:mod:`samdops.package.access`), and only then is it renamed into place: if the
log refuses, nothing is left at ``out``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdops import __version__
from samdops.atomic import atomic_write_bytes
from samdops.audit.checkpoint import Checkpoint
from samdops.audit.event import Actor
from samdops.audit.export import entry_proof
from samdops.audit.signer import LocalEd25519Signer, Signer
from samdops.config import TrainingConfig
from samdops.digest import canonical_json, sha256_bytes
from samdops.errors import ConfigError, RegistryError, StoreError
from samdops.governance.service import GovernedModel, GovernedRegistry
from samdops.package import layout as L
from samdops.package import model_signing
from samdops.package.access import DatasetRead, record_export
from samdops.package.card import (
    build_card,
    default_card_path,
    load_card_text,
    render_html,
    render_markdown,
)
from samdops.package.datasheet import build_datasheet, datasheet_markdown
from samdops.package.dsse import sign_envelope
from samdops.package.manifest import MANIFEST_FILE, MANIFEST_SIGNATURE, build_manifest
from samdops.package.provenance import build_statement, dependency, sign_statement
from samdops.settings import samdops_home
from samdops.store import ArtifactStore
from samdops.store.state import StateLocation

_ROLES = ("train", "test")


@dataclass(frozen=True)
class ExportResult:
    """What was written."""

    directory: Path
    archive: Path | None
    model_id: str
    model_sha256: str
    files: int
    size_bytes: int
    package_sha256: str  # the sha256 of its manifest.json


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"


def default_lock_path() -> Path:
    """``requirements/app.lock`` of the checkout this samdops runs from."""
    return Path(__file__).resolve().parents[3] / "requirements" / "app.lock"


def export_package(
    ref: str,
    out: str | Path,
    *,
    by: Actor,
    state: str | Path | StateLocation | None = None,
    include_data: bool = True,
    tar: bool = False,
    card_path: str | Path | None = None,
    lock_path: str | Path | None = None,
    package_key: Signer | None = None,
    compile_spec: Callable[[str], bytes] | None = None,
) -> ExportResult:
    """Export model ``ref`` (``name@version``, ``name`` or ``latest``) to the directory ``out``,
    recorded in the audit log as exported ``by`` (a signed-in person, or the OS account).

    ``compile_spec(pipeline_name)`` compiles a pipeline's spec when the store lacks the one the run
    executed (the launcher's compiler; the package layer cannot import the pipelines above it).
    """
    target = Path(out)
    _check_out(target, tar)
    governed = GovernedRegistry(state)  # the export's audit events go to the SIEM too
    model = governed.get(ref)  # verifies the record digest and every e-signature
    # The exporter's own keys: beside a local state, else in the exporter's home.
    keys = (governed.state.directory or samdops_home()) / "keys"
    signer = package_key or LocalEd25519Signer.load_or_create(keys / L.PACKAGE_KEY_NAME)
    ms_key = model_signing.load_or_create_key(keys / model_signing.KEY_NAME)
    text = load_card_text(card_path or default_card_path(model.record.name))
    if text.model != model.record.name:
        raise ConfigError(
            f"the model card text is for {text.model!r}, not {model.record.name!r}; "
            "pass --card with the card YAML of this model"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        package_sha256, carried = _write(
            staging, governed, model, signer, ms_key, text, include_data, lock_path, compile_spec
        )
        record_export(
            governed.audit,
            by,
            model.record.id,
            model_sha256=model.record.model_sha256,
            package_sha256=package_sha256,
            package_id=package_id(model),
            data=carried,
        )
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    archive = write_archive(target) if tar else None
    files = [p for p in target.rglob("*") if p.is_file()]
    return ExportResult(
        target,
        archive,
        model.record.id,
        model.record.model_sha256,
        len(files),
        sum(p.stat().st_size for p in files),
        package_sha256,
    )


def _check_out(target: Path, tar: bool) -> None:
    """Refuse an output path export cannot create a new directory at, before any work."""
    if target.is_symlink():
        raise ConfigError(
            f"{target} is a symbolic link; give the path of a new directory (export does not "
            "follow links)"
        )
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} exists and is not a directory; choose a new output directory")
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target} exists and is not empty; choose a new output directory")
    blocked = next((p for p in target.absolute().parents if os.path.lexists(p)), None)
    if blocked is not None and not blocked.is_dir():
        raise ConfigError(f"{target} lies under {blocked}, which is not a directory")
    archive = target.with_name(target.name + ".tar")
    if tar and (archive.is_symlink() or (archive.exists() and not archive.is_file())):
        raise ConfigError(
            f"{archive} exists and is not a regular file; move it away or export elsewhere"
        )


def _write(
    root: Path,
    governed: GovernedRegistry,
    model: GovernedModel,
    signer: Signer,
    ms_key: Any,
    text: Any,
    include_data: bool,
    lock_path: str | Path | None,
    compile_spec: Callable[[str], bytes] | None,
) -> tuple[str, tuple[DatasetRead, ...]]:
    """Write the package at ``root``; return its digest and the datasets it carries."""
    store = governed.registry.store
    record = model.record.document
    artifacts = record["artifacts"]
    lineage = record["lineage"]

    def put(rel: str, data: bytes) -> None:
        atomic_write_bytes(root / rel, data)

    def from_store(rel: str, digest: str) -> None:
        store.get_file(digest, root / rel)

    # 1. The weights and the inputs of the run, by digest.
    from_store(L.MODEL_FILE, record["model"]["sha256"])
    config_bytes = store.get_bytes(lineage["config"]["sha256"])
    put(L.CONFIG, config_bytes)
    config = TrainingConfig.from_json(config_bytes.decode("utf-8"))
    datasets = {}
    datasheets = []
    carried = []
    for role in _ROLES:
        included = L.snapshot(role) if include_data else None
        if included:
            from_store(included, artifacts[role]["sha256"])
        datasets[role] = {**artifacts[role], "included_as": included}
        sheet = build_datasheet(
            role,
            sha256=artifacts[role]["sha256"],
            uri=artifacts[role]["uri"],
            included=included,
            snapshot=root / included if included else None,
            contract=config.contract,
            text=text.datasets,
        )
        datasheets.append(sheet)
        if included:
            carried.append(
                DatasetRead(role, artifacts[role]["sha256"], sheet["composition"]["rows"])
            )
        put(L.datasheet(role, "json"), _json(sheet))
        put(L.datasheet(role, "md"), datasheet_markdown(sheet).encode())
    datasets["source"] = {**lineage["source_data"], "included_as": None}
    put(L.DATASETS, _json(datasets))
    put(L.LOCK, _lock_bytes(lineage["code"].get("lock_sha256"), lock_path))
    spec = _pipeline_spec(store, lineage, compile_spec)
    put(L.PIPELINE_SPEC, spec)

    # 2. Evidence: evaluation, gate, record, signatures, audit entries with proofs.
    evaluation_bytes = store.get_bytes(artifacts["evaluation"]["sha256"])
    put(L.EVALUATION, evaluation_bytes)
    from_store(L.VALIDATION_REPORT, artifacts["validation_report"]["sha256"])
    put(L.GATE, _json(record["gate"]))
    put(L.RECORD, canonical_json(record))
    governed_dict = model.as_dict()
    put(L.GOVERNED, _json(governed_dict))
    checkpoint = _checkpoint(governed, model)
    proofs = [entry_proof(governed.audit, seq, checkpoint) for seq in model.history.events]
    put(L.AUDIT_PROOFS, _json(proofs))
    put(L.CHECKPOINT, checkpoint.to_note().encode())

    # 3. The model card, from the numbers above and the card text.
    evaluation = json.loads(evaluation_bytes)
    card = build_card(
        record=record,
        governed=governed_dict,
        evaluation=evaluation,
        config=config,
        text=text,
        datasheets=datasheets,
        package_id=package_id(model),
    )
    card_bytes = _json(card)
    card = json.loads(card_bytes)  # render what the JSON file says, in its key order
    put(L.CARD_JSON, card_bytes)
    put(L.CARD_MD, render_markdown(card).encode())
    put(L.CARD_HTML, render_html(card).encode())

    # 4. Keys, the weights signature and the signed provenance.
    put(L.SIGNING_PUB, model_signing.public_pem(ms_key))
    put(L.PACKAGE_PUB, signer.public_key_pem())
    put(L.AUDIT_PUB, governed.audit_key.public_key_pem())
    put(L.ESIGN_PUB, governed.esign_key.public_key_pem())
    model_signing.sign_model(root / L.MODEL_DIR, ms_key, root / L.MODEL_SIG)
    statement = build_statement(
        record,
        config=json.loads(config_bytes),
        model_file=L.MODEL_FILE,
        extra_dependencies=[dependency("pipeline-spec", sha256_bytes(spec), L.PIPELINE_SPEC)],
        byproducts=[
            dependency("evaluation-report", artifacts["evaluation"]["sha256"], L.EVALUATION),
            dependency(
                "validation-report", artifacts["validation_report"]["sha256"], L.VALIDATION_REPORT
            ),
            dependency(
                "comparator-model",
                artifacts["comparator"]["sha256"],
                artifacts["comparator"]["uri"],
            ),
            dependency("registration-record", sha256_bytes(canonical_json(record)), L.RECORD),
        ],
    )
    put(L.PROVENANCE, _json(sign_statement(statement, signer)))

    # 5. The package description, then the manifest of every file and its signature.
    put(L.PACKAGE_FILE, _json(_description(model, signer, ms_key, governed)))
    put(L.README, _readme(model).encode())
    manifest = build_manifest(root).to_bytes()
    put(MANIFEST_FILE, manifest)
    put(MANIFEST_SIGNATURE, _json(sign_envelope(manifest, L.MANIFEST_PAYLOAD_TYPE, signer)))
    return sha256_bytes(manifest), tuple(carried)


def _lock_bytes(recorded: str | None, lock_path: str | Path | None) -> bytes:
    path = Path(lock_path) if lock_path else default_lock_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the dependency lock {path}: {exc.strerror}") from None
    if recorded and sha256_bytes(data) != recorded:
        raise ConfigError(
            f"{path} hashes to {sha256_bytes(data)}, but the model was trained with lock "
            f"{recorded}; pass --lock with the lock file the model was trained with"
        )
    return data


def _pipeline_spec(
    store: ArtifactStore, lineage: dict[str, Any], compile_spec: Callable[[str], bytes] | None
) -> bytes:
    """The compiled pipeline spec the run executed (its digest is in the record's lineage).

    It is read from the store when there; otherwise it is compiled from this code, which must
    give the same digest. A model trained without a pipeline gets the training pipeline's spec.
    """
    digest = (lineage.get("pipeline_spec") or {}).get("sha256")
    run = str(lineage.get("pipeline_run", ""))
    name = "samdops-retraining" if run.startswith("retrain-") else "samdops-training"
    if digest:
        with contextlib.suppress(StoreError):
            return store.get_bytes(digest)
    if compile_spec is None:
        raise ConfigError(
            f"the pipeline spec {digest or '(none recorded)'} of {run or 'this model'} is not in "
            "the store; export with the store the run wrote to"
        )
    data = compile_spec(name)
    if digest and sha256_bytes(data) != digest:
        raise ConfigError(
            f"the run executed pipeline spec {digest}, which is not in the store, and this code "
            f"compiles to {sha256_bytes(data)}; export from a checkout of commit "
            f"{lineage.get('code', {}).get('git_commit')}"
        )
    return data


def _checkpoint(governed: GovernedRegistry, model: GovernedModel) -> Checkpoint:
    """The first stored checkpoint that covers every event about the model, else a new one: the
    same one however much the log grows after (so a second export gives the same bytes)."""
    needed = max(model.history.events) + 1
    covering = next((c for c in governed.audit.checkpoints() if c.size >= needed), None)
    if covering is not None:
        return covering
    checkpoint = governed.audit.checkpoint()
    if checkpoint.size < needed:
        raise RegistryError(f"the audit log has no checkpoint covering {model.record.id}")
    return checkpoint


def package_id(model: GovernedModel) -> str:
    """``name@version+<first 16 hex of the model digest>``."""
    return f"{model.record.id}+{model.record.model_sha256.removeprefix('sha256:')[:16]}"


def _description(
    model: GovernedModel, signer: Signer, ms_key: Any, governed: GovernedRegistry
) -> dict[str, Any]:
    record = model.record
    return {
        "schema": L.PACKAGE_SCHEMA,
        "package_id": package_id(model),
        "model": record.id,
        "model_sha256": record.model_sha256,
        "state": model.state.value,
        "exported_by": f"samdops {__version__}",
        "verifier": {
            "command": "samdops package verify PKG",
            "samdops": __version__,
            "formats": {
                "manifest": "samdops.package-manifest/v1 + DSSE v1",
                "provenance": "in-toto Statement v1, SLSA Provenance v1, DSSE v1",
                "model_signature": "OpenSSF model-signing v1.0 (Sigstore bundle v0.3)",
                "audit": "RFC 9162 inclusion proofs, C2SP signed-note checkpoint",
            },
            "also": "model_signing verify key PKG/model --signature PKG/model.sig "
            "--public_key PKG/keys/signing.pub.pem",
        },
        "keys": {
            L.SIGNING_PUB: sha256_bytes(model_signing.public_pem(ms_key)),
            L.PACKAGE_PUB: signer.key_id,
            L.AUDIT_PUB: governed.audit_key.key_id,
            L.ESIGN_PUB: governed.esign_key.key_id,
        },
    }


def _readme(model: GovernedModel) -> str:
    return (
        f"# Model package {model.record.id}\n\n"
        f"Model sha256: `{model.record.model_sha256}`\n\n"
        "Verify offline (re-hashes every file, checks every signature and proof):\n\n"
        "    samdops package verify .\n\n"
        "Check the weights with the OpenSSF model-signing CLI:\n\n"
        "    model_signing verify key model --signature model.sig "
        "--public_key keys/signing.pub.pem\n\n"
        "Rebuild the model and compare its digest:\n\n"
        "    samdops reproduce . [--check-env | --rebuild-env DIR]\n\n"
        "Compare the key ids in package.json with the ones your quality system holds: the keys\n"
        "inside a package only show that it is self-consistent.\n"
    )


def write_archive(directory: Path) -> Path:
    """Write ``<directory>.tar`` with sorted members and fixed owner, mode and time."""
    archive = directory.with_name(directory.name + ".tar")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(f"{directory.name}/{path.relative_to(directory).as_posix()}")
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    atomic_write_bytes(archive, buffer.getvalue())
    return archive
