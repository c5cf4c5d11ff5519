"""The Helm chart configures the audit witness and requires an anchor by default (issue #16)."""

from __future__ import annotations

from typing import Any

import pytest

from samdops.cluster.kube import RUNTIME_CONFIG_MAP
from tests.unit.test_helm_chart import NAMESPACE, _find, _objects, _render

helm_python = pytest.importorskip("helm_python")


def _runtime(values: dict[str, Any]) -> dict[str, str]:
    objects = _objects(_render(values))
    data: dict[str, str] = _find(objects, "ConfigMap", RUNTIME_CONFIG_MAP, NAMESPACE)["data"]
    return data


def test_the_witness_and_the_anchor_requirement_are_on_by_default() -> None:
    runtime = _runtime({})
    assert runtime["SAMDOPS_AUDIT_WITNESS"] == "s3://samdops-pipelines/audit-witness"
    assert runtime["SAMDOPS_AUDIT_REQUIRE_ANCHOR"] == "1"
    assert not runtime["SAMDOPS_STATE"].startswith(runtime["SAMDOPS_AUDIT_WITNESS"])


def test_a_witness_bucket_of_its_own_and_no_requirement_can_be_set() -> None:
    runtime = _runtime({"audit": {"witness": "s3://qa-witness/samdops", "requireAnchor": False}})
    assert runtime["SAMDOPS_AUDIT_WITNESS"] == "s3://qa-witness/samdops"
    assert runtime["SAMDOPS_AUDIT_REQUIRE_ANCHOR"] == "0"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"audit": {"witness": "/var/witness"}}, "at '/audit/witness'"),
        ({"audit": {"witness": "s3://u:p@bucket/w"}}, "at '/audit/witness'"),
        ({"audit": {"requireAnchor": "yes"}}, "at '/audit/requireAnchor'"),
        ({"audit": {"witnesses": []}}, "additional properties 'witnesses'"),
    ],
)
def test_a_wrong_audit_value_fails_naming_the_key(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError) as info:
        _render(values)
    assert message in str(info.value)
