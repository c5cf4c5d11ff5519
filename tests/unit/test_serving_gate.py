"""The gate a model passes before it is served, attacked at each of its checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from samdops.errors import AuditError, ServingRefused
from samdops.governance.lifecycle import State
from samdops.governance.model_signature import BUNDLES, KEYS, ModelSignature
from samdops.governance.service import GovernedRegistry
from samdops.package.model_signing import KEY_NAME
from samdops.serving.gate import load_released, parse_ref, retirement_reason
from tests.serving_helpers import PIMA, STAFF, released_home

SHA = "9b70716bf008ea35eea8cad05a349817759746842553b3840d1908963710ff4f"


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return released_home(tmp_path_factory.mktemp("released"))


@pytest.fixture
def home(released: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(released, tmp_path / "home"))


def governed(home: Path) -> GovernedRegistry:
    return GovernedRegistry(home, sinks=[])


def refusal(home: Path, ref: str = PIMA, **options: str) -> str:
    with pytest.raises(ServingRefused) as caught:
        load_released(governed(home), ref, **options)
    return str(caught.value)


def _signature(home: Path) -> ModelSignature:
    details = governed(home).get(f"{PIMA}@1").history.release_details
    signature = ModelSignature.from_details(details)
    assert signature is not None
    return signature


def test_a_released_model_passes_by_name_and_by_version(home: Path) -> None:
    served = load_released(governed(home), PIMA, expect_sha256=SHA)
    assert (served.ref, served.version, served.model_sha256) == (f"{PIMA}@1", 1, f"sha256:{SHA}")
    assert load_released(governed(home), f"{PIMA}@1").ref == f"{PIMA}@1"


def test_the_release_names_its_model_signature_by_digest(home: Path) -> None:
    signature = _signature(home)
    assert (home / BUNDLES / f"{signature.bundle_sha256[7:]}.json").is_file()
    assert (home / KEYS / f"{signature.key_sha256[7:]}.pem").is_file()
    assert (home / "keys" / KEY_NAME).is_file()  # the releaser's key, as a package export's


def test_a_model_that_is_not_released_is_refused(tmp_path: Path, home: Path) -> None:
    g = governed(home)
    g.transition(f"{PIMA}@1", State.RETIRED, "max", STAFF["max"][2], reason="recalled")
    assert refusal(home, f"{PIMA}@1") == (
        f"{PIMA}@1 is retired, not released: only a released model is served"
    )
    assert refusal(home).startswith(f"no version of '{PIMA}' is released, so none is served")


def test_a_pinned_digest_that_differs_is_refused(home: Path) -> None:
    assert refusal(home, expect_sha256="0" * 64) == (
        f"{PIMA}@1 has model sha256 {SHA}, not the pinned {'0' * 64}: pin the digest that "
        "`samdops registry show` gives"
    )


@pytest.mark.hostile
def test_changed_model_bytes_are_refused(home: Path) -> None:
    path = home / "store" / "sha256" / SHA
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    assert refusal(home).startswith(f"{PIMA}@1 is not served: ")


@pytest.mark.hostile
def test_a_replaced_signature_bundle_is_refused(home: Path) -> None:
    path = home / BUNDLES / f"{_signature(home).bundle_sha256[7:]}.json"
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b'"sig":"', b'"sig":"A'))
    assert refusal(home) == (
        f"{PIMA}@1 is not served: the model-signing signature bundle "
        f"{BUNDLES}/{_signature(home).bundle_sha256[7:]}.json was changed after the release "
        "signed it"
    )


@pytest.mark.hostile
def test_a_bundle_and_key_of_another_signer_are_refused(home: Path, tmp_path: Path) -> None:
    """An attacker re-signs the model with their own key and stores bundle and key under the
    names the release event gives: the digests no longer match."""
    from samdops.governance.model_signature import sign_model_bytes
    from samdops.store.state import open_state

    other = open_state(tmp_path / "attacker")
    model = (home / "store" / "sha256" / SHA).read_bytes()
    forged = sign_model_bytes(other, model, GovernedRegistry(other, sinks=[]).esign_key)
    signature = _signature(home)
    for prefix, real, fake, suffix in (
        (BUNDLES, signature.bundle_sha256, forged.bundle_sha256, "json"),
        (KEYS, signature.key_sha256, forged.key_sha256, "pem"),
    ):
        target = home / prefix / f"{real[7:]}.{suffix}"
        target.chmod(0o644)
        target.write_bytes((tmp_path / "attacker" / prefix / f"{fake[7:]}.{suffix}").read_bytes())
    assert refusal(home).endswith("was changed after the release signed it")


@pytest.mark.hostile
def test_a_tampered_audit_log_is_refused(home: Path) -> None:
    last = sorted((home / "audit" / "entries").glob("*.entry"))[-1]
    last.chmod(0o644)
    last.write_bytes(last.read_bytes().replace(b"released", b"relaxed!"))
    with pytest.raises(AuditError) as caught:  # before any model is looked at
        load_released(governed(home), PIMA)
    assert str(caught.value).startswith(
        f"the audit log is damaged, refusing to use it: entry {int(last.stem)} was altered"
    )


def test_retirement_reason_names_the_state_and_why(home: Path) -> None:
    g = governed(home)
    served = load_released(g, PIMA)
    assert retirement_reason(g, served) is None
    g.transition(f"{PIMA}@1", State.RETIRED, "max", STAFF["max"][2], reason="field safety notice")
    assert retirement_reason(governed(home), served) == (
        f"{PIMA}@1 is retired (field safety notice); it is no longer served"
    )


@pytest.mark.hostile
@pytest.mark.parametrize("ref", ["", "@1", "x@", "x@one", "x@-1"])
def test_a_malformed_reference_is_refused(ref: str) -> None:
    with pytest.raises(ServingRefused) as caught:
        parse_ref(ref)
    assert str(caught.value) == (
        f"model reference {ref!r} is not NAME or NAME@VERSION (e.g. sepsis-risk@1)"
    )
