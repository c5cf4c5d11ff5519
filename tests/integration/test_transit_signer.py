"""Signatures made by a Vault Transit key (OpenBao) verify offline; the key cannot be exported."""

from __future__ import annotations

from typing import Any

import hvac.exceptions
import pytest

from samdops.audit.checkpoint import sign_checkpoint
from samdops.audit.signer import verify_signature
from samdops.audit.transit import TransitSigner
from samdops.errors import SecretsUnavailable, SignatureInvalid
from samdops.governance.signatures import Meaning, sign_record


def test_transit_signature_verifies_offline(vault_bootstrapped: Any) -> None:
    signer = TransitSigner(vault_bootstrapped.client(), "samdops-audit")
    signature = signer.sign(b"record bytes")
    verify_signature(signer.public_key_pem(), b"record bytes", signature)
    with pytest.raises(SignatureInvalid):
        verify_signature(signer.public_key_pem(), b"other bytes", signature)
    assert signer.key_id.startswith("sha256:")


def test_transit_signs_checkpoints_and_e_signatures(vault_bootstrapped: Any) -> None:
    signer = TransitSigner(vault_bootstrapped.client(), "samdops-audit")
    checkpoint = sign_checkpoint("samdops-audit", 3, b"\x01" * 32, signer)
    checkpoint.verify(signer.public_key_pem())
    document = {"name": "pima", "version": 1, "metrics": {}}
    esig = sign_record(
        document,
        meaning=Meaning.APPROVAL,
        signer_id="max",
        name="Max",
        signed_at="2026-11-28T14:00:00.000Z",
        key=signer,
    )
    esig.verify(document, signer.public_key_pem())


def test_private_key_cannot_be_exported(vault_bootstrapped: Any) -> None:
    client = vault_bootstrapped.client()
    with pytest.raises(hvac.exceptions.InvalidRequest, match="not exportable"):
        client.secrets.transit.export_key("samdops-audit", key_type="signing-key")


def _login(vault: Any, approle_login: Any, role: str) -> Any:
    credentials = approle_login(role)
    client = vault.client(token="")
    client.auth.approle.login(
        role_id=credentials.role_id.reveal(), secret_id=credentials.secret_id.reveal()
    )
    return client


def test_register_role_signs(vault_bootstrapped: Any, approle_login: Any) -> None:
    signer = TransitSigner(_login(vault_bootstrapped, approle_login, "register"), "samdops-audit")
    verify_signature(signer.public_key_pem(), b"x", signer.sign(b"x"))


def test_every_step_signs_its_checkpoints_and_other_roles_cannot_sign(
    vault_bootstrapped: Any, approle_login: Any
) -> None:
    for step in ("ingest", "validate", "train", "evaluate", "drift-monitor"):
        signer = TransitSigner(_login(vault_bootstrapped, approle_login, step), "samdops-audit")
        verify_signature(signer.public_key_pem(), b"x", signer.sign(b"x"))
    server = TransitSigner(_login(vault_bootstrapped, approle_login, "serving"), "samdops-audit")
    with pytest.raises(
        SecretsUnavailable,
        match="cannot sign with Transit key transit/samdops-audit: permission denied",
    ):
        server.sign(b"x")  # the server reads the public half only
    runner = _login(vault_bootstrapped, approle_login, "pipeline-runner")
    with pytest.raises(
        SecretsUnavailable, match="cannot read Transit key transit/samdops-audit: permission denied"
    ):
        TransitSigner(runner, "samdops-audit")


def test_governed_registry_signs_with_transit_when_vault_is_configured(
    vault_bootstrapped: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from samdops.governance.identity import UserKind
    from samdops.governance.roles import Role
    from samdops.governance.service import GovernedRegistry

    monkeypatch.setenv("VAULT_ADDR", vault_bootstrapped.addr)
    monkeypatch.setenv("VAULT_TOKEN", vault_bootstrapped.root_token)
    home = tmp_path / "home"
    gov = GovernedRegistry(home, sinks=[])
    gov.users.bootstrap_admin("admin", "Ada Admin", "admin-password-1")
    admin = gov.users.authenticate("admin", "admin-password-1")
    gov.users.add(
        admin,
        "quinn",
        "Quinn Person",
        {Role.QA_REVIEWER},
        kind=UserKind.PERSON,
        temporary_password="temporary-password",
    )
    gov.users.change_password("quinn", "temporary-password", "reviewer-password")
    fields = {
        "status": "registered",
        "model": {"sha256": "sha256:" + "ab" * 32},
        "gate": {"passed": True, "criteria": []},
        "metrics": {},
    }
    ref = gov.register_model("pima", fields, trained_by="eve", run="r1").id
    signed = gov.sign(ref, Meaning.REVIEW, "quinn", "reviewer-password")
    transit = TransitSigner(vault_bootstrapped.client(), "samdops-audit")
    (signature,) = signed.history.signatures
    assert signature.key_id == transit.key_id  # the e-signature was made by Vault
    signature.verify(signed.record.document, transit.public_key_pem())
    assert gov.audit.verify(transit.public_key_pem()).size == len(gov.audit)
    assert not (home / "keys").exists()  # no private key was written locally
