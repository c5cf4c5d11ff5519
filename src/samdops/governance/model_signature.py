"""The model-signing signature a release makes over the model file, and its check at serving.

A release signs the model in the OpenSSF model-signing format (:mod:`samdops.package.model_signing`,
over a ``model/model.json`` directory, as in an exported package): on a local state with the
releaser's EC P-256 model-signing key beside it (the key a package export signs with), on a
shared state (S3) with the platform's signing key in Vault Transit (Ed25519), so that no private
key lies on the releaser's disk. The bundle and the public key are stored as
content-addressed documents, and the release's audit event names both digests, so the signature
is as tamper-evident as the audit log: a server that finds another bundle, another key, or a
model file the bundle does not cover refuses to start.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from samdops.audit.signer import Signer
from samdops.digest import sha256_bytes
from samdops.errors import VerificationError
from samdops.store.state import StateLocation

# The package modules are imported where used: samdops.package imports the governed registry.

BUNDLES = "registry/model-signatures"
KEYS = "registry/model-signing-keys"
BUNDLE_DETAIL = "model_sig.bundle_sha256"
KEY_DETAIL = "model_sig.key_sha256"


@dataclass(frozen=True)
class ModelSignature:
    """Where a release's model-signing bundle and key are (the digests its audit event names)."""

    bundle_sha256: str
    key_sha256: str

    def details(self) -> dict[str, str]:
        return {BUNDLE_DETAIL: self.bundle_sha256, KEY_DETAIL: self.key_sha256}

    @classmethod
    def from_details(cls, details: dict[str, str]) -> ModelSignature | None:
        bundle, key = details.get(BUNDLE_DETAIL), details.get(KEY_DETAIL)
        return None if bundle is None or key is None else cls(bundle, key)


def sign_model_bytes(state: StateLocation, model: bytes, platform: Signer) -> ModelSignature:
    """Sign ``model`` and store the bundle and the public key (write-once, by digest).

    ``platform`` signs on a state without a directory (S3); a local state uses its own EC
    P-256 key, created on first use."""
    from samdops.package import model_signing

    with tempfile.TemporaryDirectory(prefix="samdops-sign-") as tmp:
        root = _model_dir(Path(tmp), model)
        if state.directory is None:
            public = platform.public_key_pem()
            model_signing.sign_model_with(root, platform.sign, public, Path(tmp) / "model.sig")
        else:
            # the local state's own key, the one a package export signs with too
            key_path = state.directory / "keys" / model_signing.KEY_NAME
            key = model_signing.load_or_create_key(key_path)
            public = model_signing.public_pem(key)
            model_signing.sign_model(root, key, Path(tmp) / "model.sig")
        bundle = (Path(tmp) / "model.sig").read_bytes()
    signature = ModelSignature(sha256_bytes(bundle), sha256_bytes(public))
    state.documents.create(_key(BUNDLES, signature.bundle_sha256, "json"), bundle)
    state.documents.create(_key(KEYS, signature.key_sha256, "pem"), public)
    return signature


def verify_model_bytes(state: StateLocation, model: bytes, signature: ModelSignature) -> None:
    """Raise :class:`VerificationError` unless the stored bundle is the one the audit event
    names and verifies over ``model`` with the key the event names."""
    from samdops.package import model_signing

    bundle = _read(state, _key(BUNDLES, signature.bundle_sha256, "json"), "signature bundle")
    public = _read(state, _key(KEYS, signature.key_sha256, "pem"), "signing key")
    with tempfile.TemporaryDirectory(prefix="samdops-verify-") as tmp:
        root = _model_dir(Path(tmp), model)
        (Path(tmp) / "model.sig").write_bytes(bundle)
        model_signing.verify_model(root, Path(tmp) / "model.sig", public)


def _model_dir(tmp: Path, model: bytes) -> Path:
    from samdops.package.layout import MODEL_FILE

    path = tmp / MODEL_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(model)
    return path.parent


def _key(prefix: str, digest: str, suffix: str) -> str:
    return f"{prefix}/{digest.removeprefix('sha256:')}.{suffix}"


def _read(state: StateLocation, key: str, what: str) -> bytes:
    data = state.documents.read(key)
    if data is None:
        raise VerificationError(f"the model-signing {what} {key} is missing from {state.location}")
    digest = key.rsplit("/", 1)[1].rsplit(".", 1)[0]
    if sha256_bytes(data).removeprefix("sha256:") != digest:
        raise VerificationError(
            f"the model-signing {what} {key} was changed after the release signed it"
        )
    return data
