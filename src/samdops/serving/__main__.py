"""``python -m samdops.serving MODEL [--port N] [--sha256 HEX]``: the model server.

``samdops serve`` runs this in the serving environment. Every refusal before the server
listens (the gate, the journal, a bad argument) is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from samdops import settings
from samdops.errors import SamdopsError

STATE_HELP = "the state location (default: $SAMDOPS_STATE, else $SAMDOPS_HOME, else ./.samdops)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's options (``samdops serve`` takes the same)."""
    parser.add_argument("model", help="NAME@VERSION, or NAME to follow its newest release")
    parser.add_argument("--port", type=_port, default=8080, help="HTTP port (default 8080)")
    parser.add_argument("--sha256", help="the model file's sha256 the deployment pins")
    parser.add_argument("--state", default="", metavar="LOC", help=STATE_HELP)
    parser.add_argument(
        "--journal",
        type=Path,
        help="the journal directory (default: $SAMDOPS_SERVING_JOURNAL, else HOME/serving/NAME)",
    )


def as_argv(args: argparse.Namespace) -> list[str]:
    """The command line that gives ``args`` again (to run the server in its environment)."""
    argv = [args.model, "--port", str(args.port)]
    for option in ("sha256", "state", "journal"):
        value = getattr(args, option)
        if value:
            argv += [f"--{option}", str(value)]
    return argv


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a TCP port (1-65535)")
    return int(text)


def quiet_request_logs() -> None:
    """No log line per request beyond the access log (the metrics have the timings)."""
    logging.getLogger("kserve.trace").setLevel(logging.WARNING)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="samdops serve",
        description="Serve a released model (Open Inference Protocol v2 over REST).",
    )
    add_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.argv = sys.argv[:1]  # kserve parses sys.argv when imported
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from kserve import ModelServer
    from kserve.model_server import app

    from samdops.governance.service import GovernedRegistry
    from samdops.serving.gate import check_sha256, parse_ref
    from samdops.serving.journal import Journal
    from samdops.serving.server import GatedModel, add_handlers

    try:
        name, _ = parse_ref(args.model)
        pinned = check_sha256(args.sha256) if args.sha256 else None
        governed = GovernedRegistry(args.state or None, sinks=[])
        journal = Journal(args.journal or settings.serving_journal(name), governed.state, name)
        model = GatedModel(
            args.model,
            governed,
            journal,
            expect_sha256=pinned,
            poll_seconds=settings.serving_poll_seconds(),
        )
        model.load()
    except SamdopsError as exc:
        print(f"samdops serve: error: {exc}", file=sys.stderr)
        return 2
    assert model.served is not None
    print(
        f"serving {model.served.ref} (sha256 {model.served.model_sha256}) on port {args.port}",
        file=sys.stderr,
        flush=True,
    )
    add_handlers(app)
    quiet_request_logs()
    try:
        server = ModelServer(
            http_port=args.port, enable_grpc=False, workers=1, enable_latency_logging=False
        )
        server.start([model])
    finally:
        model.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
