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

import json
import tarfile
import tempfile
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
from samdops.package import layout as L
from samdops.package import model_signing
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
    report = inspect_package(path, trusted_keys=trusted_keys)
    if not report.ok:
        raise PackageVerificationError(
            f"{report.package} fails verification: " + "; ".join(report.failures),
            failures=report.failures,
        )
    return report


def inspect_package(path: str | Path, *, trusted_keys: str | Path | None = None) -> VerifyReport:
    """Run every verification step on the package at ``path``; the report says what failed."""
    source = Path(path)
    if source.is_file() and tarfile.is_tarfile(source):
        with tempfile.TemporaryDirectory() as tmp:
            with tarfile.open(source) as tar:
                tar.extractall(tmp, filter="data")
            (root,) = [p for p in Path(tmp).iterdir() if p.is_dir()]
            return _verify(root, source, trusted_keys)
    if not source.is_dir():
        raise PackageVerificationError(f"{source} is neither a package directory nor a .tar")
    return _verify(source, source, trusted_keys)


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
        except (SamdopsError, OSError, ValueError, KeyError, TypeError) as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
        self.steps.append(Step(len(self.steps) + 1, title, tuple(failures)))


def _verify(root: Path, shown: Path, trusted: str | Path | None) -> VerifyReport:
    run = _Run()
    keys: dict[str, bytes] = _State()
    state: dict[str, Any] = _State()

    def load(rel: str) -> Any:
        try:
            return json.loads((root / rel).read_bytes())
        except FileNotFoundError:
            raise VerificationError(f"{rel}: missing") from None
        except (OSError, ValueError) as exc:
            raise VerificationError(f"{rel}: cannot be read as JSON: {exc}") from None

    def description(fail: list[str]) -> None:
        for rel in _KEYS:
            try:
                keys[rel] = (root / rel).read_bytes()
            except OSError:
                fail.append(f"{rel}: missing public key")
        state["package"] = load(L.PACKAGE_FILE)
        listed = state["package"].get("keys", {})
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
        data = (root / MANIFEST_FILE).read_bytes()
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
        try:
            statement = open_statement(load(L.PROVENANCE), keys[L.PACKAGE_PUB])
        except SamdopsError as exc:
            fail.append(f"{L.PROVENANCE}: {exc}")
            return
        state["statement"] = statement
        (subject,) = statement["subject"]
        model_digest = sha256_file(root / L.MODEL_FILE)
        if subject["name"] != L.MODEL_FILE or "sha256:" + subject["digest"]["sha256"] != (
            model_digest
        ):
            fail.append(f"{L.MODEL_FILE}: hashes to {model_digest}, the provenance subject differs")
        for name, digest in dependency_digests(statement).items():
            rel = _SHIPPED.get(name)
            if rel and (root / rel).is_file() and sha256_file(root / rel) != digest:
                fail.append(f"{rel}: does not have the digest {digest} the provenance states")

    def audit(fail: list[str]) -> None:
        proofs = load(L.AUDIT_PROOFS)
        note = (root / L.CHECKPOINT).read_text("utf-8")
        model = state["package"]["model"]
        records = []
        for index, doc in enumerate(proofs):
            if doc.get("checkpoint") != note:
                fail.append(f"{L.AUDIT_PROOFS}[{index}]: proven against another checkpoint")
            try:
                record = verify_entry_proof(doc, keys[L.AUDIT_PUB])
            except SamdopsError as exc:
                fail.append(f"{L.AUDIT_PROOFS}[{index}] (entry {doc.get('seq')}): {exc}")
                continue
            if str(record.event.target) != model:
                fail.append(f"{L.AUDIT_PROOFS}[{index}]: entry is about {record.event.target}")
            records.append(record)
        state["audit"] = records

    def record(fail: list[str]) -> None:
        data = (root / L.RECORD).read_bytes()
        document = json.loads(data)
        if canonical_json(document) != data:
            fail.append(f"{L.RECORD}: not canonical JSON")
        digest = record_digest(document)
        model_digest = sha256_file(root / L.MODEL_FILE)
        if document["model"]["sha256"] != model_digest:
            fail.append(
                f"{L.RECORD}: names model {document['model']['sha256']}, not the packaged one"
            )
        if state["package"].get("model_sha256") != model_digest:
            fail.append(f"{L.PACKAGE_FILE}: names another model than {L.MODEL_FILE}")
        ran = ((document.get("lineage") or {}).get("pipeline_spec") or {}).get("sha256")
        if ran and sha256_file(root / L.PIPELINE_SPEC) != ran:
            fail.append(f"{L.PIPELINE_SPEC}: is not the pipeline spec the run executed ({ran})")
        model_id = f"{document.get('name')}@{document.get('version')}"
        # What the proven audit entries say: the registered digest, the state, the signatures.
        history = histories(state["audit"]).get(model_id)
        if history is None:
            fail.append(f"{L.AUDIT_PROOFS}: no entry registers {model_id}")
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
        shown = [
            ElectronicSignature.from_dict({k: v for k, v in e.items() if k != "display"})
            for e in governed["signatures"]
        ]
        if [s.digest for s in shown] != [s.digest for s in history.signatures]:
            fail.append(f"{L.GOVERNED}: signatures differ from those in the audit entries")
        if governed.get("state") != history.state.value:
            fail.append(
                f"{L.GOVERNED}: state {governed.get('state')!r}, but the audit entries give "
                f"{history.state.value!r}"
            )

    def card(fail: list[str]) -> None:
        card = load(L.CARD_JSON)
        governed = load(L.GOVERNED)
        if card["identity"]["model_sha256"] != state["package"]["model_sha256"]:
            fail.append(f"{L.CARD_JSON}: describes another model")
        if card["integrity"]["record_sha256"] != record_digest(
            json.loads((root / L.RECORD).read_bytes())
        ):
            fail.append(f"{L.CARD_JSON}: names another record")
        names = [
            (s["signer"], s["meaning"], s["signed_at"]) for s in card["integrity"]["signatures"]
        ]
        if names != [(s["signer"], s["meaning"], s["signed_at"]) for s in governed["signatures"]]:
            fail.append(f"{L.CARD_JSON}: signatures differ from {L.GOVERNED}")
        if (root / L.CARD_MD).read_text("utf-8") != render_markdown(card):
            fail.append(f"{L.CARD_MD}: is not the rendering of {L.CARD_JSON}")
        if (root / L.CARD_HTML).read_text("utf-8") != render_html(card):
            fail.append(f"{L.CARD_HTML}: is not the rendering of {L.CARD_JSON}")

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
