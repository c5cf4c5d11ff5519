"""`samdops submit` and `samdops schedule` against a loopback server recording KFP API calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from samdops.cli import main
from samdops.cluster.kfp_client import Package, safe_host, validate_cron
from samdops.errors import ConfigError
from tests.fake_kfp import API, FakeKfp, serve

PACKAGE = {
    "pipelineInfo": {"name": "samdops-training"},
    "schemaVersion": "2.1.0",
    "sdkVersion": "kfp-2.17.3",
    "defaultPipelineRoot": "s3://samdops-pipelines/v2",
    "root": {
        "dag": {"tasks": {}},
        "inputDefinitions": {
            "parameters": {
                "config": {"parameterType": "STRING"},
                "data_uri": {"parameterType": "STRING"},
                "data_sha256": {"parameterType": "STRING", "isOptional": True},
                "seed": {"parameterType": "NUMBER_INTEGER", "isOptional": True},
            }
        },
    },
}


@pytest.fixture
def kfp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeKfp]:
    import kfp.client.client as client_module

    monkeypatch.setattr(client_module.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "none.json"))
    monkeypatch.delenv("KF_PIPELINES_UI_ENDPOINT", raising=False)
    yield from serve()


@pytest.fixture
def package(tmp_path: Path) -> Path:
    path = tmp_path / "samdops-training.yaml"
    path.write_text(yaml.safe_dump(PACKAGE, sort_keys=True), encoding="utf-8")
    (tmp_path / "config.json").write_text('{"name": "pima"}\n', encoding="utf-8")
    return path


def _params(package: Path) -> list[str]:
    return [
        "--param",
        f"config=@{package.parent / 'config.json'}",
        "--param",
        "data_uri=s3://samdops-data/pima.csv",
        "--param",
        "seed=7",
    ]


def _submit(kfp: FakeKfp, package: Path, *extra: str) -> int:
    return main(["submit", str(package), "--host", kfp.url, *_params(package), *extra])


def test_submit_uploads_then_runs_the_version(
    kfp: FakeKfp, package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _submit(kfp, package, "--run-name", "first", "--service-account", "runner-sa") == 0
    assert kfp.calls() == [
        ("GET", f"{API}/healthz"),
        ("GET", f"{API}/pipelines"),
        ("POST", f"{API}/pipelines/upload"),
        ("GET", f"{API}/pipelines/pipeline-1/versions"),
        ("GET", f"{API}/experiments"),
        ("POST", f"{API}/experiments"),
        ("POST", f"{API}/runs"),
    ]
    upload = kfp.requests[2]
    assert upload.query["name"] == "samdops-training"
    assert package.read_bytes() in upload.body  # the multipart body carries the package
    assert kfp.requests[5].json() == {"display_name": "samdops", "namespace": ""}
    run = kfp.requests[6].json()
    assert run == {
        "experiment_id": "experiment-3",
        "display_name": "first",
        "pipeline_version_reference": {
            "pipeline_id": "pipeline-1",
            "pipeline_version_id": "version-2",
        },
        "runtime_config": {
            "parameters": {
                "config": '{"name": "pima"}',
                "data_uri": "s3://samdops-data/pima.csv",
                "seed": 7,
            }
        },
        "service_account": "runner-sa",
    }
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "pipeline version samdops-training (uploaded, id version-2)",
        f"created run first (id run-4) on {kfp.url}",
    ]


def test_same_package_reuses_its_version_new_package_adds_one(kfp: FakeKfp, package: Path) -> None:
    assert _submit(kfp, package) == 0
    assert _submit(kfp, package) == 0  # first upload's version is named after the pipeline
    uploads = [r for r in kfp.requests if r.path.startswith(f"{API}/pipelines/upload")]
    assert [u.path for u in uploads] == [
        f"{API}/pipelines/upload",
        f"{API}/pipelines/upload_version",
    ]
    digest = Package.load(package).sha256
    assert uploads[1].query == {
        "name": f"samdops-training-{digest[:12]}",
        "pipelineid": "pipeline-1",
    }
    kfp.requests.clear()
    assert _submit(kfp, package) == 0
    assert not [r for r in kfp.requests if r.path.startswith(f"{API}/pipelines/upload")]
    runs = [r.json() for r in kfp.requests if r.path == f"{API}/runs"]
    assert runs[0]["pipeline_version_reference"]["pipeline_version_id"] == "version-5"
    assert runs[0]["service_account"] == "samdops-steps"


def test_schedule_creates_a_recurring_run(
    kfp: FakeKfp, package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["schedule", str(package), "--host", kfp.url, *_params(package)]
    assert main([*args, "--cron", "0 0 2 * * *", "--pipeline-root", "s3://other/root"]) == 0
    created = [r for r in kfp.requests if (r.method, r.path) == ("POST", f"{API}/recurringruns")]
    assert len(created) == 1
    body = created[0].json()
    assert body["trigger"] == {"cron_schedule": {"cron": "0 0 2 * * *"}}
    assert body["max_concurrency"] == 1
    assert body["no_catchup"] is True
    assert body["mode"] == "ENABLE"
    assert body["display_name"] == "samdops-training-schedule"
    assert body["service_account"] == "samdops-steps"
    assert body["runtime_config"]["pipeline_root"] == "s3://other/root"
    assert body["pipeline_version_reference"]["pipeline_version_id"] == "version-2"
    assert "cron '0 0 2 * * *' (seconds first), max concurrency 1, no catch-up" in (
        capsys.readouterr().out
    )


def test_schedule_refuses_a_duplicate_unless_replace(
    kfp: FakeKfp, package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["schedule", str(package), "--host", kfp.url, *_params(package), "--cron", "0 0 2 * * *"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "samdops: error: recurring run 'samdops-training-schedule' already exists (recurring-4); "
        "recurring runs cannot be updated: pass --replace to delete and re-create it\n"
    )
    kfp.requests.clear()
    assert main([*args, "--replace"]) == 0
    calls = kfp.calls()
    assert ("DELETE", f"{API}/recurringruns/recurring-4") in calls
    assert calls.index(("DELETE", f"{API}/recurringruns/recurring-4")) < calls.index(
        ("POST", f"{API}/recurringruns")
    )
    assert list(kfp.recurring) == ["recurring-6"]


def test_five_field_cron_is_refused_before_any_request(
    kfp: FakeKfp, package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["schedule", str(package), "--host", kfp.url, *_params(package)]
    assert main([*args, "--cron", "0 2 * * *"]) == 2
    assert capsys.readouterr().err == (
        "samdops: error: cron '0 2 * * *' has 5 fields; KFP cron expressions have 6 fields with "
        "seconds first, e.g. '0 0 2 * * *' for 02:00 daily; a 5-field expression would be read "
        "shifted by one field\n"
    )
    assert kfp.requests == []


@pytest.mark.parametrize("cron", ["", "0 0 2 * * * *", "0 0 2 * * ;rm"])
def test_malformed_cron(cron: str) -> None:
    with pytest.raises(ConfigError, match="is not a 6-field cron expression"):
        validate_cron(cron)


def test_cron_is_normalised() -> None:
    assert validate_cron(" 0  0 2 * * 1-5 ") == "0 0 2 * * 1-5"
    assert validate_cron("0 0 9 ? * MON-FRI") == "0 0 9 ? * MON-FRI"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            ["data_uri=s3://x"],
            "samdops-training needs --param for: config (KEY=VALUE or KEY=@FILE)",
        ),
        (["config=x", "data_uri=y", "nope=1"], "samdops-training has no parameter 'nope' (para"),
        (
            ["config=x", "data_uri=y", "seed=seven"],
            "--param seed must be number_integer; got 'seven'",
        ),
        (["config"], "--param must be KEY=VALUE; got 'config'"),
    ],
)
def test_bad_parameters(package: Path, params: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Package.load(package).arguments(params)
    assert str(info.value).startswith(message)


def test_not_a_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("just: text\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"is not a compiled KFP pipeline"):
        Package.load(path)


def test_api_error_is_one_line(
    kfp: FakeKfp, package: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = kfp.handle

    def refuse_runs(req: Any) -> tuple[int, Any]:
        if req.path == f"{API}/runs":
            kfp.requests.append(req)
            return 403, {"code": 7, "message": "service account runner-sa is not allowed"}
        return original(req)

    monkeypatch.setattr(kfp, "handle", refuse_runs)
    assert _submit(kfp, package, "--run-name", "r") == 2
    err = capsys.readouterr().err
    assert err == (
        f"samdops: error: the KFP API at {kfp.url} refused to create run r: 403 Forbidden "
        "(service account runner-sa is not allowed)\n"
    )


def test_unreachable_host_is_one_line_without_credentials(
    package: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import kfp.client.client as client_module

    monkeypatch.setattr(client_module.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "none.json"))
    host = "http://admin:hunter2@127.0.0.1:9"  # discard port: nothing listens
    assert main(["submit", str(package), "--host", host, *_params(package)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("samdops: error: cannot reach the KFP API at http://127.0.0.1:9 ")
    assert "hunter2" not in err and err.count("\n") == 1


def test_safe_host() -> None:
    assert (
        safe_host("https://u:p@kfp.example:8443/pipeline?x=1")
        == "https://kfp.example:8443/pipeline"
    )


def test_requests_are_json_without_secrets(kfp: FakeKfp, package: Path) -> None:
    assert _submit(kfp, package) == 0
    for request in kfp.requests:
        if request.method == "POST" and "upload" not in request.path:
            assert "password" not in json.dumps(request.json()).lower()


def test_config_defaults_to_the_built_in_config(kfp: FakeKfp, package: Path) -> None:
    from samdops.config import default_config_path, load_config

    args = ["submit", str(package), "--host", kfp.url, "--param", "data_uri=s3://b/pima.csv"]
    assert main(args) == 0
    run = next(r.json() for r in kfp.requests if r.path == f"{API}/runs")
    expected = load_config(default_config_path()).to_json()
    assert run["runtime_config"]["parameters"]["config"] == expected


def test_config_given_twice_is_refused(
    kfp: FakeKfp, package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from samdops.config import default_config_path

    args = ["submit", str(package), "--host", kfp.url, *_params(package)]
    assert main([*args, "--config", str(default_config_path())]) == 2
    assert (
        "give the config either as --config FILE or as --param config=" in capsys.readouterr().err
    )
    assert kfp.requests == []


def test_pipeline_root_override_must_be_s3(
    kfp: FakeKfp, package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _submit(kfp, package, "--pipeline-root", "/tmp/root") == 2
    assert capsys.readouterr().err == (
        "samdops: error: --pipeline-root must be an s3:// URI; got '/tmp/root'\n"
    )
    assert kfp.requests == []
