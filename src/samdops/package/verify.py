"""``samdops package verify``: check a package offline; name every file or signature that fails.

The procedure, each step recorded in the report:

1. The package description, manifest and public keys parse (optionally, the keys equal the
   trusted ones given from outside the package).
2. ``MANIFEST.dsse.json`` is a valid signature by the package key over ``MANIFEST.json``.
3. Every file is re-hashed against the manifest; a changed, missing or added file is named.
4. ``model.sig`` (OpenSSF model-signing) verifies over ``model/`` with ``keys/signing.pub.pem``.
5. The provenance DSSE envelope verifies; its subject is the packaged model and each resolved
   dependency or byproduct shipped in the package has the digest the provenance states.
6. Each audit entry proof verifies against the signed checkpoint (audit key), and the entries
   are about this model.
7. The registration record hashes to the digest its audit entry recorded and names the packaged
   model; each e-signature the audit entries record verifies over the record (e-signature key),
   and the state and signatures shown in ``registry/model.json`` are the ones the entries give.
8. The model card names the same model, record and signatures, and its Markdown and HTML are
   the renderings of its JSON.

A package is verified only when every step holds; :func:`verify_package` returns a report or
raises :class:`~samdops.errors.PackageVerificationError` listing every failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdops.audit.export import verify_entry_proof
from samdops.audit.signer import key_id_for
from samdops.digest import canonical_json, sha256_bytes, sha256_file
from samdops.errors import PackageVerificationError, SamdopsError, VerificationError
from samdops.governance.lifecycle import histories
from samdops.governance.signatures import ElectronicSignature, record_digest
from samdops.inputs import decode_text, field, json_kind, parse_json
from samdops.package import layout as L
from samdops.package import model_signing
from samdops.package.archive import open_package
from samdops.package.card import render_html, render_markdown
from samdops.package.dsse import verify_envelope
from samdops.package.manifest import MANIFEST_FILE, MANIFEST_SIGNATURE, Manifest, check_files
from samdops.package.provenance import dependency_digests, open_statement

_KEYS = (L.SIGNING_PUB, L.PACKAGE_PUB, L.AUDIT_PUB, L.ESIGN_PUB)
# provenance dependency name -> the package file that must carry that digest
_SHIPPED = {
    "dataset/train": L.snapshot("train"),
    "dataset/test": L.snapshot("test"),
    "config/resolved": L.CONFIG,
    "dependency-lock": L.LOCK,
    "pipeline-spec": L.PIPELINE_SPEC,
    "evaluation-report": L.EVALUATION,
    "validation-report": L.VALIDATION_REPORT,
    "registration-record": L.RECORD,
}


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of every step; ``ok`` only when all hold."""

    package: Path
    model: str
    model_sha256: str
    steps: tuple[Step, ...]

    @property
    def failures(self) -> tuple[str, ...]:
        return tuple(f for s in self.steps for f in s.failures)

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        out = []
        for step in self.steps:
            out.append(f"{step.number}. {step.title}: {'ok' if step.ok else 'FAILED'}")
            out += [f"   - {f}" for f in step.failures]
        return out


def verify_package(path: str | Path, *, trusted_keys: str | Path | None = None) -> VerifyReport:
    """Verify the package directory (or ``.tar`` archive) at ``path``; return or raise."""
    with open_package(path) as root:
        return verify_directory(root, Path(path), trusted_keys=trusted_keys)


def verify_directory(
    root: Path, shown: Path, *, trusted_keys: str | Path | None = None
) -> VerifyReport:
    """Verify the package directory ``root`` (named ``shown`` in messages); return or raise."""
    report = _verify(root, shown, trusted_keys)
    if not report.ok:
        raise PackageVerificationError(
            f"{report.package} fails verification: " + "; ".join(report.failures),
            failures=report.failures,
        )
    return report


def inspect_package(path: str | Path, *, trusted_keys: str | Path | None = None) -> VerifyReport:
    """Run every verification step on the package at ``path``; the report says what failed.

    An archive is checked member by member before it is extracted (:mod:`.archive`); a hostile
    one, or a path that is no package, raises :class:`~samdops.errors.PackageVerificationError`.
    """
    with open_package(path) as root:
        return _verify(root, Path(path), trusted_keys)


class _Skipped(Exception):
    """A step needs something an earlier step failed to load."""


class _State(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        raise _Skipped(key)


class _Run:
    """Runs numbered steps; a step's failures are lines naming a file or a signature."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def step(self, title: str, check: Callable[[list[str]], None]) -> None:
        failures: list[str] = []
        try:
            check(failures)
        except _Skipped as exc:
            failures.append(f"not checked: {exc} did not load in an earlier step")
        except SamdopsError as exc:
            failures.append(str(exc))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
        self.steps.append(Step(len(self.steps) + 1, title, tuple(failures)))


def _at(document: Any, source: str, *path: str | int, kind: Any = object) -> Any:
    return field(document, source, *path, kind=kind, error=VerificationError)


def package_bytes(root: Path, rel: str) -> bytes:
    """The file ``rel`` of the package directory ``root``; a missing one is named."""
    try:
        return (root / rel).read_bytes()
    except FileNotFoundError:
        raise VerificationError(f"{rel}: missing") from None
    except IsADirectoryError:
        raise VerificationError(f"{rel}: is a directory, not a file") from None
    except OSError as exc:
        raise VerificationError(f"{rel}: cannot be read: {exc.strerror}") from None


def package_json(root: Path, rel: str, kind: type = dict) -> Any:
    """The JSON document ``rel`` of the package, checked to be of ``kind``."""
    return _at(parse_json(package_bytes(root, rel), rel, error=VerificationError), rel, kind=kind)


def package_text(root: Path, rel: str) -> str:
    """The UTF-8 text of the file ``rel`` of the package directory ``root``."""
    return decode_text(package_bytes(root, rel), rel, error=VerificationError)


def _signature_names(source: str, document: dict[str, Any], *path: str) -> list[tuple[Any, ...]]:
    """(signer, meaning, signed_at) of each signature listed at ``path`` of ``document``."""
    count = len(_at(document, source, *path, kind=list))
    return [
        tuple(
            _at(document, source, *path, i, k, kind=str) for k in ("signer", "meaning", "signed_at")
        )
        for i in range(count)
    ]


def _verify(root: Path, shown: Path, trusted: str | Path | None) -> VerifyReport:
    if trusted is not None and not Path(trusted).is_dir():
        raise PackageVerificationError(
            f"the trusted keys {trusted} are not a directory; give the directory that holds "
            "the public keys your quality system trusts"
        )
    run = _Run()
    keys: dict[str, bytes] = _State()
    state: dict[str, Any] = _State()

    def load(rel: str, kind: type = dict) -> Any:
        return package_json(root, rel, kind)

    def description(fail: list[str]) -> None:
        for rel in _KEYS:
            try:
                keys[rel] = (root / rel).read_bytes()
            except OSError:
                fail.append(f"{rel}: missing public key")
        package = load(L.PACKAGE_FILE)
        listed = _at(package, L.PACKAGE_FILE, "keys", kind=dict) if "keys" in package else {}
        _at(package, L.PACKAGE_FILE, "model", kind=str)
        _at(package, L.PACKAGE_FILE, "model_sha256", kind=str)
        state["package"] = package
        for rel, pem in list(keys.items()):
            try:
                kid = sha256_bytes(pem) if rel == L.SIGNING_PUB else key_id_for(pem)
            except SamdopsError as exc:
                fail.append(f"{rel}: {exc}")
                continue
            if listed.get(rel) != kid:
                fail.append(f"{rel}: key id {kid} is not the one {L.PACKAGE_FILE} lists")
        if trusted:
            for rel, pem in keys.items():
                other = Path(trusted) / Path(rel).name
                if not other.is_file() or other.read_bytes() != pem:
                    fail.append(f"{rel}: not the trusted key {other}")

    def manifest_signature(fail: list[str]) -> None:
        envelope = load(MANIFEST_SIGNATURE)
        try:
            payload = verify_envelope(
                envelope, keys[L.PACKAGE_PUB], payload_type=L.MANIFEST_PAYLOAD_TYPE
            )
        except SamdopsError as exc:
            fail.append(f"{MANIFEST_SIGNATURE}: {exc}")
            return
        data = package_bytes(root, MANIFEST_FILE)
        if payload != data:
            fail.append(
                f"{MANIFEST_FILE}: differs from the manifest signed in {MANIFEST_SIGNATURE}"
            )
        state["manifest"] = Manifest.from_bytes(payload)

    def files(fail: list[str]) -> None:
        fail += check_files(root, state["manifest"])

    def weights(fail: list[str]) -> None:
        try:
            model_signing.verify_model(root / L.MODEL_DIR, root / L.MODEL_SIG, keys[L.SIGNING_PUB])
        except SamdopsError as exc:
            fail.append(f"{L.MODEL_SIG}: {exc}")

    def provenance(fail: list[str]) -> None:
        envelope = load(L.PROVENANCE)
        try:
            statement = open_statement(envelope, keys[L.PACKAGE_PUB])
        except SamdopsError as exc:
            fail.append(f"{L.PROVENANCE}: {exc}")
            return
        state["statement"] = statement
        where = f"{L.PROVENANCE} (statement)"
        subjects = _at(statement, where, "subject", kind=list)
        if len(subjects) != 1:
            raise VerificationError(f"{where}: has {len(subjects)} subjects, not 1")
        name = _at(subjects, where, 0, "name", kind=str)
        digest = _at(subjects, where, 0, "digest", "sha256", kind=str)
        model_digest = sha256_file(root / L.MODEL_FILE)
        if name != L.MODEL_FILE or "sha256:" + digest != model_digest:
            fail.append(f"{L.MODEL_FILE}: hashes to {model_digest}, the provenance subject differs")
        for name, digest in dependency_digests(statement).items():
            rel = _SHIPPED.get(name)
            if rel and (root / rel).is_file() and sha256_file(root / rel) != digest:
                fail.append(f"{rel}: does not have the digest {digest} the provenance states")

    def audit(fail: list[str]) -> None:
        proofs = load(L.AUDIT_PROOFS, list)
        note = package_text(root, L.CHECKPOINT)
        model = state["package"]["model"]
        records = []
        for index, doc in enumerate(proofs):
            where = f"{L.AUDIT_PROOFS}[{index}]"
            if not isinstance(doc, dict):
                fail.append(f"{where}: is {json_kind(doc)}, not an entry proof object")
                continue
            if doc.get("checkpoint") != note:
                fail.append(f"{where}: proven against another checkpoint")
            try:
                record = verify_entry_proof(doc, keys[L.AUDIT_PUB])
            except (SamdopsError, ValueError) as exc:
                fail.append(f"{where} (entry {_short(doc.get('seq'))}): {exc}")
                continue
            if str(record.event.target) != model:
                fail.append(f"{where}: entry is about {record.event.target}")
            records.append(record)
        state["audit"] = records

    def record(fail: list[str]) -> None:
        data = package_bytes(root, L.RECORD)
        document = _at(parse_json(data, L.RECORD, error=VerificationError), L.RECORD, kind=dict)
        if canonical_json(document) != data:
            fail.append(f"{L.RECORD}: not canonical JSON")
        digest = record_digest(document)
        model_digest = sha256_file(root / L.MODEL_FILE)
        named = _at(document, L.RECORD, "model", "sha256", kind=str)
        if named != model_digest:
            fail.append(f"{L.RECORD}: names model {_plain(named)}, not the packaged one")
        if state["package"].get("model_sha256") != model_digest:
            fail.append(f"{L.PACKAGE_FILE}: names another model than {L.MODEL_FILE}")
        ran = _ran_spec(document)
        if ran and sha256_file(root / L.PIPELINE_SPEC) != ran:
            fail.append(f"{L.PIPELINE_SPEC}: is not the pipeline spec the run executed ({ran})")
        model_id = f"{document.get('name')}@{document.get('version')}"
        # What the proven audit entries say: the registered digest, the state, the signatures.
        history = histories(state["audit"]).get(model_id)
        if history is None:
            fail.append(f"{L.AUDIT_PROOFS}: no entry registers {_plain(model_id)}")
            return
        if history.record_sha256 != digest:
            fail.append(
                f"{L.RECORD}: hashes to {digest}, but its audit entry registered "
                f"{history.record_sha256}"
            )
        for signature in history.signatures:
            who = f"e-signature by {signature.signer} ({signature.meaning.value})"
            try:
                signature.verify(document, keys[L.ESIGN_PUB])
            except SamdopsError as exc:
                fail.append(f"{L.RECORD}: {who}: {exc}")
        governed = load(L.GOVERNED)
        shown = []
        for index in range(len(_at(governed, L.GOVERNED, "signatures", kind=list))):
            entry = _at(governed, L.GOVERNED, "signatures", index, kind=dict)
            try:
                shown.append(
                    ElectronicSignature.from_dict(
                        {k: v for k, v in entry.items() if k != "display"}
                    )
                )
            except SamdopsError as exc:
                raise VerificationError(f"{L.GOVERNED}: signatures[{index}]: {exc}") from None
        if [s.digest for s in shown] != [s.digest for s in history.signatures]:
            fail.append(f"{L.GOVERNED}: signatures differ from those in the audit entries")
        if governed.get("state") != history.state.value:
            fail.append(
                f"{L.GOVERNED}: state {_short(governed.get('state'))}, but the audit entries give "
                f"{history.state.value!r}"
            )

    def card(fail: list[str]) -> None:
        card = load(L.CARD_JSON)
        governed = load(L.GOVERNED)
        if _at(card, L.CARD_JSON, "identity", "model_sha256") != state["package"]["model_sha256"]:
            fail.append(f"{L.CARD_JSON}: describes another model")
        record = package_json(root, L.RECORD)
        if _at(card, L.CARD_JSON, "integrity", "record_sha256") != record_digest(record):
            fail.append(f"{L.CARD_JSON}: names another record")
        names = _signature_names(L.CARD_JSON, card, "integrity", "signatures")
        if names != _signature_names(L.GOVERNED, governed, "signatures"):
            fail.append(f"{L.CARD_JSON}: signatures differ from {L.GOVERNED}")
        for rel, render in ((L.CARD_MD, render_markdown), (L.CARD_HTML, render_html)):
            try:
                rendered = render(card)
            except (KeyError, TypeError, AttributeError, IndexError, ValueError):
                fail.append(f"{L.CARD_JSON}: is not a model card that can be rendered as {rel}")
                continue
            if package_text(root, rel) != rendered:
                fail.append(f"{rel}: is not the rendering of {L.CARD_JSON}")

    run.step("package description and public keys", description)
    run.step(f"{MANIFEST_SIGNATURE} signature over {MANIFEST_FILE}", manifest_signature)
    run.step("every file re-hashed against the manifest", files)
    run.step(f"{L.MODEL_SIG} (OpenSSF model-signing) over {L.MODEL_DIR}/", weights)
    run.step("provenance (in-toto SLSA v1, DSSE)", provenance)
    run.step("audit entries: inclusion proofs and signed checkpoint", audit)
    run.step("registration record and e-signatures", record)
    run.step("model card", card)
    package = state.get("package", {})
    return VerifyReport(
        shown, str(package.get("model")), str(package.get("model_sha256")), tuple(run.steps)
    )


def _ran_spec(document: dict[str, Any]) -> Any:
    """The pipeline spec digest the record's lineage names, if it names one."""
    lineage = document.get("lineage") or {}
    spec = _at(lineage, L.RECORD, kind=dict).get("pipeline_spec") or {}
    return _at(spec, f"{L.RECORD} (lineage.pipeline_spec)", kind=dict).get("sha256")


def _plain(text: str) -> str:
    """``text`` as it is when short and printable, else quoted and shortened."""
    return text if text.isprintable() and len(text) <= 80 else _short(text)


def _short(value: Any) -> str:
    """A value from a package document as it can be printed: escaped, at most 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
