"""Registration records are immutable, versioned and never collide."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from samdops.errors import RegistryError
from samdops.governance.records import Registry

DIGEST = "sha256:" + "ab" * 32


def test_versions_increase_and_records_are_read_back(home: Path) -> None:
    registry = Registry()
    assert registry.state.location == str(home.resolve())
    first = registry.register("pima", {"status": "registered", "model": {"sha256": DIGEST}})
    second = registry.register("pima", {"status": "gate_failed", "model": {"sha256": DIGEST}})
    assert (first.id, second.id) == ("pima@1", "pima@2")
    assert registry.get("pima").id == "pima@2"
    assert registry.get("pima@1").status == "registered"
    assert registry.get("latest").id == "pima@2"
    assert [r.id for r in registry.records()] == ["pima@1", "pima@2"]


def test_records_are_write_once_files(home: Path) -> None:
    record = Registry().register("pima", {"status": "registered", "model": {"sha256": DIGEST}})
    path = home / "registry" / "models" / "pima" / "000001.json"
    assert path.read_bytes().startswith(b'{"model"')
    assert record.document["registered_at"].endswith("Z")


def test_concurrent_registrations_get_distinct_versions(home: Path) -> None:
    registry = Registry()
    with ThreadPoolExecutor(8) as pool:
        ids = list(
            pool.map(
                lambda i: (
                    registry.register(
                        "pima", {"status": "registered", "n": i, "model": {"sha256": DIGEST}}
                    ).id
                ),
                range(40),
            )
        )
    assert sorted(ids, key=lambda i: int(i.split("@")[1])) == [f"pima@{v}" for v in range(1, 41)]
    assert len(os.listdir(home / "registry" / "models" / "pima")) == 40


def test_lookup_errors_say_what_exists(home: Path) -> None:
    registry = Registry()
    with pytest.raises(RegistryError, match=r"is empty; run `samdops run train`"):
        registry.get("latest")
    registry.register("pima", {"status": "registered", "model": {"sha256": DIGEST}})
    with pytest.raises(
        RegistryError, match=r"^no model named 'other' in the registry; known: pima$"
    ):
        registry.get("other")
    with pytest.raises(RegistryError, match=r"^pima has no version 7; latest is pima@1$"):
        registry.get("pima@7")
    with pytest.raises(
        RegistryError, match=r"^'pima@' names no version; write pima@N, or pima for its latest$"
    ):
        registry.get("pima@")
    with pytest.raises(RegistryError, match="model name 'Bad Name' is invalid"):
        registry.register("Bad Name", {})


def test_test_set_registration_keeps_the_first_time(home: Path) -> None:
    registry = Registry()
    first = registry.register_test_set(DIGEST, run="r1", rows=154)
    again = registry.register_test_set(DIGEST, run="r2", rows=154)
    assert again == first and registry.test_set(DIGEST)["run"] == "r1"
    with pytest.raises(RegistryError, match="was never registered"):
        registry.test_set("sha256:" + "cd" * 32)
