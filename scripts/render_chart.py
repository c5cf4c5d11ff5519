"""Render helm/samdops with Helm's own Go SDK (no helm binary needed), in apply order.

Usage: python scripts/render_chart.py [-f VALUES.yaml ...] [--namespace NS] > samdops.yaml
       python scripts/render_chart.py --lint [-f VALUES.yaml ...]   (helm lint --strict)

`make chart-test` renders every values set this way and `make deploy` applies the output with
kubectl. Later ``-f`` files override earlier ones key by key (as ``helm -f``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "helm" / "samdops"
_ORDER = ["Namespace", "ServiceAccount", "ConfigMap", "Role", "RoleBinding", "NetworkPolicy",
          "Service", "PersistentVolumeClaim", "StatefulSet", "CronJob", "Job",
          "InferenceService"]  # fmt: skip


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def render(values: dict[str, Any], namespace: str, release: str = "samdops") -> list[Any]:
    from helm_python import Chart

    rendered = Chart.load(str(CHART)).render(values, name=release, namespace=namespace)
    objects = [
        doc
        for path, text in sorted(rendered.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    return sorted(objects, key=lambda o: _ORDER.index(o["kind"]) if o["kind"] in _ORDER else 99)


def lint(values: dict[str, Any], namespace: str) -> int:
    import helm_python

    result = helm_python.lint(
        str(CHART), values, strict=True, namespace=namespace, kube_version="1.31.0"
    )
    for message in result["messages"]:
        print(f"lint: [{message['severity']}] {message['path']}: {message['error']}")
    failed = bool(result["errors"]) or any(m["severity"] > 1 for m in result["messages"])
    print(f"lint: {'FAILED' if failed else 'ok'} ({result['total_charts_linted']} chart)")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-f", "--values", action="append", type=Path, default=[])
    parser.add_argument("--namespace", default="samdops")
    parser.add_argument("--lint", action="store_true", help="lint (strict) instead of rendering")
    args = parser.parse_args(argv)
    values: dict[str, Any] = {}
    for path in args.values:
        values = merge(values, yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    if args.lint:
        return lint(values, args.namespace)
    try:
        objects = render(values, args.namespace)
    except Exception as exc:  # Helm's message names the key at fault; show it as one line
        message = " ".join(str(exc).split())
        print(f"render_chart: {message}", file=sys.stderr)
        return 2
    sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
