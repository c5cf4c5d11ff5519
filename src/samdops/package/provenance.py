"""SLSA Provenance v1 in an in-toto Statement v1, for one registered model.

``buildDefinition.externalParameters`` holds the full resolved configuration (canonical JSON,
seeds included) and the data digests the run was given; ``resolvedDependencies`` names the git
commit of the training code, every dataset digest, the component image digest, the dependency
lock digest, the compiled pipeline spec digest and the source archive; ``runDetails`` names the
builder (KFP or in-process) and the pipeline run. The statement is signed in a DSSE envelope.
"""

from __future__ import annotations

import json
import re
from typing import Any

from samdops.audit.signer import Signer
from samdops.errors import VerificationError
from samdops.inputs import field, parse_json
from samdops.package.dsse import INTOTO_PAYLOAD_TYPE, sign_envelope, verify_envelope

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:samdops:build-type:training-pipeline:v1"
_PINNED = re.compile(r"@(sha256:[0-9a-f]{64})$")


def _digest(value: str) -> dict[str, str]:
    algorithm, _, hexdigest = value.partition(":")
    return {algorithm: hexdigest}


def dependency(name: str, digest: str | None, uri: str | None = None) -> dict[str, Any]:
    """A SLSA ResourceDescriptor (digest as ``{"sha256": hex}``)."""
    out: dict[str, Any] = {"name": name}
    if uri:
        out["uri"] = uri
    if digest:
        out["digest"] = _digest(digest)
    return out


def build_statement(
    record: dict[str, Any],
    *,
    config: dict[str, Any],
    model_file: str,
    extra_dependencies: list[dict[str, Any]],
    byproducts: list[dict[str, Any]],
) -> dict[str, Any]:
    """The in-toto statement (SLSA v1 predicate) for the model of registration ``record``."""
    lineage = record["lineage"]
    code = lineage["code"]
    artifacts = record["artifacts"]
    image = str(lineage.get("component_image") or "")
    pinned = _PINNED.search(image)
    deps = [
        {
            "name": "training-code",
            "uri": f"git+samdops@{code.get('git_commit')}",
            "digest": {"gitCommit": str(code.get("git_commit"))},
            "annotations": {"dirty": code.get("git_dirty"), "version": code["samdops_version"]},
        },
        dependency(
            "dataset/source", lineage["source_data"]["sha256"], lineage["source_data"]["uri"]
        ),
        *(
            dependency(f"dataset/{key}", artifacts[key]["sha256"], artifacts[key]["uri"])
            for key in ("dataset", "train", "test")
        ),
        dependency("config/resolved", lineage["config"]["sha256"], lineage["config"]["uri"]),
        dependency("dependency-lock", code.get("lock_sha256"), "requirements/app.lock"),
        {
            "name": "component-image",
            "uri": image,
            **({"digest": _digest(pinned.group(1))} if pinned else {}),
            "annotations": {"pinned": bool(pinned)},
        },
        *extra_dependencies,
    ]
    builder = (
        "urn:samdops:builder:kfp" if pinned or "/" in image else "urn:samdops:builder:in-process"
    )
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model_file, "digest": _digest(record["model"]["sha256"])}],
        "predicateType": SLSA_PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "config": config,
                    "seeds": lineage["seeds"],
                    "data": {"sha256": lineage["source_data"]["sha256"]},
                },
                "internalParameters": {
                    "python": code.get("python"),
                    "samdops_version": code.get("samdops_version"),
                },
                "resolvedDependencies": deps,
            },
            "runDetails": {
                "builder": {"id": builder, "version": {"samdops": code.get("samdops_version")}},
                "metadata": {
                    "invocationId": lineage["pipeline_run"],
                    "startedOn": lineage["test_set_registered_at"],
                    "finishedOn": record["registered_at"],
                },
                "byproducts": byproducts,
            },
        },
    }


def sign_statement(statement: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """The statement in a DSSE envelope signed by ``signer``."""
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return sign_envelope(payload, INTOTO_PAYLOAD_TYPE, signer)


def open_statement(envelope: Any, public_pem: bytes) -> dict[str, Any]:
    """Verify the envelope and return the SLSA v1 statement inside, or raise."""
    payload = verify_envelope(envelope, public_pem, payload_type=INTOTO_PAYLOAD_TYPE)
    statement = parse_json(payload, "the provenance payload", error=VerificationError)
    if (
        not isinstance(statement, dict)
        or statement.get("_type") != STATEMENT_TYPE
        or statement.get("predicateType") != SLSA_PREDICATE_TYPE
    ):
        raise VerificationError("the provenance is not an in-toto v1 SLSA v1 statement")
    return statement


def dependency_digests(statement: dict[str, Any]) -> dict[str, str]:
    """``name -> sha256:<hex>`` of every resolved dependency and byproduct with a sha256."""
    where = "the provenance statement"

    def listed(*path: str) -> list[Any]:
        return list(field(statement, where, "predicate", *path, kind=list, error=VerificationError))

    entries = [
        *listed("buildDefinition", "resolvedDependencies"),
        *listed("runDetails", "byproducts"),
    ]
    out = {}
    for index, entry in enumerate(entries):
        digest = entry.get("digest", {}) if isinstance(entry, dict) else None
        if not isinstance(digest, dict):
            raise VerificationError(f"{where}: dependency {index} is not a resource descriptor")
        if "sha256" in digest:
            out[str(entry.get("name"))] = "sha256:" + str(digest["sha256"])
    return out
