"""Package building blocks without a trained model: DSSE PAE, manifest, model.sig, helpers."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from samdops.audit.signer import LocalEd25519Signer
from samdops.errors import SignatureInvalid, VerificationError
from samdops.package import model_signing
from samdops.package.dsse import pae, sign_envelope, verify_envelope
from samdops.package.manifest import build_manifest, check_files
from samdops.package.reproduce import first_difference, lock_pins


def test_pae_matches_the_dsse_spec_vector() -> None:
    # secure-systems-lab/dsse protocol.md, "Test vectors".
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    assert pae("t", b"") == b"DSSEv1 1 t 0 "


def test_dsse_envelope_verifies_and_refuses_a_swapped_signature(tmp_path: Path) -> None:
    key = LocalEd25519Signer.load_or_create(tmp_path / "a.pem")
    other = LocalEd25519Signer.load_or_create(tmp_path / "b.pem")
    envelope = sign_envelope(b'{"x":1}', "application/x", key)
    assert verify_envelope(envelope, key.public_key_pem(), payload_type="application/x") == (
        b'{"x":1}'
    )
    swapped = json.loads(json.dumps(envelope))
    forged = other.sign(pae("application/x", b'{"x":1}'))
    swapped["signatures"][0]["sig"] = base64.b64encode(forged).decode()
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_envelope(swapped, key.public_key_pem(), payload_type="application/x")
    with pytest.raises(SignatureInvalid, match="no signature by key"):
        verify_envelope(envelope, other.public_key_pem(), payload_type="application/x")
    tampered = {**envelope, "payload": base64.b64encode(b'{"x":2}').decode()}
    with pytest.raises(SignatureInvalid):
        verify_envelope(tampered, key.public_key_pem(), payload_type="application/x")


def test_manifest_names_changed_missing_and_added_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    (tmp_path / "y.txt").write_text("y")
    manifest = build_manifest(tmp_path)
    assert [p for p, _ in manifest.files] == ["a/x.txt", "y.txt"]
    assert check_files(tmp_path, manifest) == []
    (tmp_path / "a" / "x.txt").write_text("X")
    (tmp_path / "y.txt").unlink()
    (tmp_path / "z.txt").write_text("z")
    problems = check_files(tmp_path, manifest)
    assert [p.split(":")[0] for p in problems] == ["a/x.txt", "z.txt", "y.txt"]
    assert "missing" in problems[2] and "added" in problems[1]


def test_model_signature_round_trip_and_tamper(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text('{"w": 1}')
    key = model_signing.load_or_create_key(tmp_path / "k.pem")
    pub = model_signing.public_pem(key)
    model_signing.sign_model(model, key, tmp_path / "model.sig")
    first = (tmp_path / "model.sig").read_bytes()
    model_signing.sign_model(model, key, tmp_path / "model.sig")
    assert (tmp_path / "model.sig").read_bytes() == first  # deterministic ECDSA
    model_signing.verify_model(model, tmp_path / "model.sig", pub)
    (model / "model.json").write_text('{"w": 2}')
    with pytest.raises(VerificationError, match=r"model\.json differ"):
        model_signing.verify_model(model, tmp_path / "model.sig", pub)
    other = model_signing.public_pem(model_signing.load_or_create_key(tmp_path / "o.pem"))
    with pytest.raises(SignatureInvalid, match="another key"):
        model_signing.verify_model(model, tmp_path / "model.sig", other)


def test_first_difference_and_lock_pins() -> None:
    assert first_difference({"a": [1, {"b": "xyz"}]}, {"a": [1, {"b": "xyz"}]}) is None
    assert first_difference({"a": [1, {"b": "xyz"}]}, {"a": [1, {"b": "xqz"}]}) == (
        "/a[1]/b at character 1: packaged 'yz', rebuilt 'qz'"
    )
    lock = "numpy==1.26.4 \\\n    --hash=sha256:ab\nPyYAML==6.0.2 ; python_version >= '3'\n# c==1\n"
    assert lock_pins(lock) == {"numpy": "1.26.4", "pyyaml": "6.0.2"}


def test_rebuild_env_refuses_an_existing_directory(tmp_path: Path) -> None:
    from samdops.errors import ConfigError
    from samdops.package.reproduce import rebuild_environment

    with pytest.raises(ConfigError, match="exists; give a new directory"):
        rebuild_environment(tmp_path, tmp_path)
