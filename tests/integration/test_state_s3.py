"""The state location on S3 (moto) with Vault (OpenBao): every durable record in the bucket,
written once, versions claimed without races, tampering seen (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from samdops.audit.event import Action, Outcome, SourceKind
from samdops.errors import AuthenticationFailed, ConfigError
from samdops.governance.records import Registry
from samdops.governance.roles import Role
from samdops.governance.service import GovernedRegistry
from samdops.serving.gate import load_released
from samdops.store.s3_documents import S3Documents
from samdops.store.state import open_state
from tests.cli_helpers import train_pima
from tests.integration.conftest import PREFIX, S3State
from tests.integration.test_pccp_cycle import NAME, PLAN_FILE, PW, release_under_plan

pytestmark = pytest.mark.slow


def test_a_governed_lifecycle_keeps_every_record_in_the_bucket(
    s3_state: S3State, tmp_path: Path
) -> None:
    train_pima(s3_state.location, tmp_path / "work")
    release_under_plan(s3_state.location, f"{NAME}@1", PLAN_FILE)
    assert GovernedRegistry(sinks=[]).get(f"{NAME}@1").state.value == "released"
    kinds = {key.split("/")[1] for key in s3_state.object_names()}
    assert kinds == {"store", "registry", "audit", "identity"}
    assert not s3_state.home.exists()  # nothing on the host's disk: no key either
    # the release signed the model with the Transit key (Ed25519), and a server's gate checks it
    served = load_released(GovernedRegistry(sinks=[]), f"{NAME}@1")
    assert served.ref == f"{NAME}@1"

    verified = s3_state.samdops("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "audit log OK:" in verified.stdout and "Vault Transit key samdops-audit" in (
        verified.stdout
    )
    reader = ("--user", "max", "--password-stdin")
    shown = s3_state.samdops("registry", "show", f"{NAME}@1", *reader, stdin=PW["max"] + "\n")
    assert shown.returncode == 0 and "state: released" in shown.stdout, shown.stderr

    package = tmp_path / "package"
    exported = s3_state.samdops(
        "package", "export", f"{NAME}@1", str(package), *reader, stdin=PW["max"] + "\n"
    )
    assert exported.returncode == 0, exported.stderr
    checked = s3_state.samdops("package", "verify", str(package))
    assert checked.returncode == 0 and "VERIFIED" in checked.stdout, checked.stdout
    assert sorted(p.name for p in s3_state.home.iterdir()) == ["keys"]  # the exporter's keys


def test_four_training_runs_at_once_register_four_versions(s3_state: S3State) -> None:
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "samdops.cli", "run", "train"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **s3_state.env},
        )
        for i in range(4)
    ]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, outputs
    records = Registry().records(NAME)
    assert [r.version for r in records] == [1, 2, 3, 4]
    assert len({r.document["lineage"]["pipeline_run"] for r in records}) == 4
    assert len({r.model_sha256 for r in records}) == 1  # the same inputs, the same model bytes
    verified = s3_state.samdops("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("note: checking with Vault Transit key")
    events = [r.event for r in GovernedRegistry(sinks=[]).audit.entries()]
    assert f"audit log OK: {len(events)} entries" in verified.stdout
    by_run: dict[str, list[Any]] = {}
    for event in events:
        if event.source.kind is SourceKind.PIPELINE_RUN:
            by_run.setdefault(event.source.ref, []).append(event)
    assert len(by_run) == 4
    for run_events in by_run.values():  # each run's whole trace, interleaved with the others
        ends = [e for e in run_events if e.action is Action.STEP_END]
        assert [e.detail_map()["step"] for e in ends] == [
            "ingest", "validate", "train", "evaluate", "register"
        ]  # fmt: skip
        assert {e.outcome for e in ends} == {Outcome.SUCCESS}
        reads = [e for e in run_events if e.action is Action.SECRET_READ]
        assert reads and all(e.detail_map()["vault_request_id"] for e in reads)
    test_sets = [e for e in events if e.action is Action.CREATE and e.target.id == "test-set"]
    assert len(test_sets) == 1  # the same split: registered once, by the first run
    assert [p.name for p in s3_state.home.iterdir()] == ["runs"]  # only the runs' logs


def test_a_second_version_over_a_record_or_an_entry_is_seen(
    s3_state: S3State, tmp_path: Path
) -> None:
    train_pima(s3_state.location, tmp_path / "work")
    client = s3_state.server.client()
    record_key = f"{PREFIX}/registry/models/{NAME}/000001.json"
    original = json.loads(client.get_object(s3_state.bucket, record_key).read())
    forged = json.dumps({**original, "status": "released"}).encode()
    client.put_object(s3_state.bucket, record_key, _stream(forged), len(forged))
    assert Registry().get(f"{NAME}@1").status == original["status"]  # the original is read
    documents = open_state().documents
    assert isinstance(documents, S3Documents)
    assert documents.rewritten("registry") == [record_key]

    entry_key = f"{PREFIX}/audit/entries/000000000000.entry"
    client.put_object(s3_state.bucket, entry_key, _stream(b"forged\n"), 7)
    verified = s3_state.samdops("audit", "verify")
    assert verified.returncode == 2
    assert verified.stderr == (
        "samdops: error: 1 audit object(s) have a second version written over the original: "
        f"{entry_key}\n"
    )


def test_concurrent_creates_of_one_key_have_one_winner(s3_state: S3State) -> None:
    documents = open_state().documents
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def create(i: int) -> None:
        barrier.wait()
        if documents.create("race/key.json", f"writer {i}".encode()):
            wins.append(i)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert documents.read("race/key.json") == f"writer {wins[0]}".encode()


def test_concurrent_user_changes_on_s3_lose_nothing(s3_state: S3State) -> None:
    gov = GovernedRegistry(sinks=[])
    gov.users.bootstrap_admin("admin", "Ada Admin", PW["admin"])
    admin = gov.users.authenticate("admin", PW["admin"])
    barrier = threading.Barrier(4)
    failures: list[Exception] = []

    def add(i: int) -> None:
        barrier.wait()
        gov.users.add(admin, f"user{i}", f"User {i}", {Role.AUDITOR}, temporary_password="t" * 12)

    def fail_once() -> None:
        barrier.wait()
        try:
            gov.users.authenticate("admin", "wrong-password-x")
        except AuthenticationFailed as exc:
            failures.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(2)]
    threads += [threading.Thread(target=fail_once) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(u.id for u in gov.users.users()) == ["admin", "user0", "user1"]
    assert len(failures) == 2
    with pytest.raises(AuthenticationFailed, match=r"signing is now locked$"):
        gov.users.authenticate("admin", "wrong-password-x")  # the third: both were counted


def test_an_s3_state_without_vault_refuses_local_signing_keys(
    s3_state: S3State, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VAULT_ADDR")
    monkeypatch.setenv("SAMDOPS_SECRET_SAMDOPS_S3__ACCESS_KEY", s3_state.server.access_key)
    monkeypatch.setenv("SAMDOPS_SECRET_SAMDOPS_S3__SECRET_KEY", s3_state.server.secret_key)
    with pytest.raises(ConfigError, match=r"set VAULT_ADDR so that the Vault Transit key signs$"):
        GovernedRegistry(sinks=[])


def _stream(data: bytes) -> Any:
    import io

    return io.BytesIO(data)
