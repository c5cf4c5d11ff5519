"""``model.sig``: a signature over the ``model/`` directory in the OpenSSF model-signing format.

The format is the one the PyPI ``model-signing`` package (v1.x) writes with ``sign key`` and
checks with ``model_signing verify key MODEL --signature SIG --public_key PEM``: a Sigstore bundle
v0.3 (JSON) holding a DSSE envelope whose payload is an in-toto Statement v1 with predicate type
``https://model_signing/signature/v1.0``. The predicate lists every file of the model directory
(``serialization.method = files``, sha256 of each file) and the subject digest is the sha256 of
the concatenated file digests in path order. The signature is ECDSA over the DSSE PAE with an
EC P-256 key; deterministic ECDSA (RFC 6979) makes the signature a function of the model and key.

samdops writes and checks this format itself (the ``model-signing`` library is not importable in
the application environment); the integration tests check it with the official CLI.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from samdops.atomic import atomic_write_bytes
from samdops.errors import ConfigError, SignatureInvalid, VerificationError
from samdops.inputs import field, parse_json
from samdops.package.dsse import INTOTO_PAYLOAD_TYPE, pae

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
KEY_NAME = "model-signing-p256.pem"
_IGNORED = (".gitattributes", ".gitignore", ".git", ".github")


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The EC P-256 model-signing key at ``path`` (PKCS#8 PEM, mode 0600), created if absent."""
    if not path.exists():
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileExistsError):
            atomic_write_bytes(path, pem, exclusive=True, mode=0o600)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the model-signing key {path}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ConfigError(f"{path} must hold an EC P-256 private key")
    return key


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _resources(model_dir: Path) -> list[dict[str, str]]:
    files = sorted(
        p.relative_to(model_dir).as_posix()
        for p in model_dir.rglob("*")
        if p.is_file() and p.relative_to(model_dir).parts[0] not in _IGNORED
    )
    return [
        {"name": name, "algorithm": "sha256", "digest": _sha256_hex(model_dir / name)}
        for name in files
    ]


def _sha256_hex(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def statement(model_dir: Path) -> dict[str, Any]:
    """The in-toto statement model-signing signs for ``model_dir``."""
    resources = _resources(model_dir)
    root = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model_dir.name, "digest": {"sha256": root}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {
                "method": "files",
                "ignore_paths": list(_IGNORED),
                "hash_type": "sha256",
                "allow_symlinks": False,
            },
            "resources": resources,
        },
    }


def _key_hint(public_key_pem: bytes) -> str:
    return hashlib.sha256(public_key_pem).hexdigest()


def sign_model(model_dir: Path, key: ec.EllipticCurvePrivateKey, signature_path: Path) -> None:
    """Write the model-signing bundle for ``model_dir`` to ``signature_path``."""

    def ecdsa(data: bytes) -> bytes:
        return key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))

    sign_model_with(model_dir, ecdsa, public_pem(key), signature_path)


def sign_model_with(
    model_dir: Path, sign: Callable[[bytes], bytes], public_key_pem: bytes, signature_path: Path
) -> None:
    """The bundle of :func:`sign_model`, signed by ``sign`` (an EC P-256 key's ECDSA-SHA256, as
    the model-signing CLI checks, or an Ed25519 key's signature: a Vault Transit key)."""
    payload = json.dumps(statement(model_dir), indent=2).encode("utf-8")
    raw = sign(pae(INTOTO_PAYLOAD_TYPE, payload))
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": _key_hint(public_key_pem)},
            "tlogEntries": [],
        },
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode("ascii"),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(raw).decode("ascii"), "keyid": ""}],
        },
    }
    atomic_write_bytes(signature_path, json.dumps(bundle, separators=(",", ":")).encode())


def verify_model(model_dir: Path, signature_path: Path, public_key_pem: bytes) -> None:
    """Raise unless ``signature_path`` is a valid model-signing bundle for ``model_dir``.

    1. The bundle parses and names the given key (its hint is the sha256 of the PEM).
    2. The ECDSA signature verifies over the DSSE PAE of the payload.
    3. The payload is a model-signing v1.0 statement whose subject digest matches its resources.
    4. The files of ``model_dir`` hash to exactly the listed resources (none added or missing).
    """
    name = signature_path.name
    try:
        bundle = json.loads(signature_path.read_bytes())
        envelope = bundle["dsseEnvelope"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        raw = base64.b64decode(envelope["signatures"][0]["sig"], validate=True)
        hint = bundle["verificationMaterial"]["publicKey"]["hint"]
        media_type = bundle["mediaType"]
    except (OSError, ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
        raise VerificationError(
            f"{name} is not a model-signing bundle ({type(exc).__name__})"
        ) from None
    if media_type != BUNDLE_MEDIA_TYPE:
        raise VerificationError(f"{name} has media type {str(media_type)[:80]!r}")
    if hint != _key_hint(public_key_pem):
        raise SignatureInvalid(f"{name} was made with another key (hint {str(hint)[:80]!r})")
    try:
        key = serialization.load_pem_public_key(public_key_pem)
    except (ValueError, UnsupportedAlgorithm):
        raise SignatureInvalid("the model-signing public key is not a PEM public key") from None
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(raw, pae(INTOTO_PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(raw, pae(INTOTO_PAYLOAD_TYPE, payload))
        else:
            raise SignatureInvalid("the model-signing public key is neither EC nor Ed25519")
    except InvalidSignature:
        raise SignatureInvalid(f"the signature in {name} does not verify") from None
    signed = parse_json(payload, f"the payload of {name}", error=VerificationError)
    if not isinstance(signed, dict) or signed.get("predicateType") != PREDICATE_TYPE:
        raise VerificationError(f"{name} has an unexpected predicate type")
    expected = statement(model_dir)
    resources = field(signed, name, "predicate", "resources", kind=list, error=VerificationError)
    if resources != expected["predicate"]["resources"]:
        listed = {
            str(field(resources, name, i, "name", error=VerificationError)): resources[i].get(
                "digest"
            )
            for i in range(len(resources))
            if isinstance(resources[i], dict)
        }
        actual = {r["name"]: r["digest"] for r in expected["predicate"]["resources"]}
        differ = sorted(n for n in set(listed) | set(actual) if listed.get(n) != actual.get(n))
        raise VerificationError(
            f"{name} does not cover the model as it is now: {', '.join(differ)} differ"
        )
    if signed.get("subject") != expected["subject"]:
        raise VerificationError(f"{name}: subject digest does not match resources")
