"""``samdops serve MODEL [--port N]``: serve a released model (see :mod:`samdops.serving`).

The server runs on the KServe SDK, which lives in its own environment (``.venv-serving``, from
``requirements/serving.lock``): this command runs it there unless KServe is importable here.
"""

from __future__ import annotations

import argparse
import importlib.util
import os

from samdops import settings
from samdops.errors import ConfigError
from samdops.serving import __main__ as server_main


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``samdops serve``."""
    serve = subparsers.add_parser(
        "serve",
        help="serve a released, verified model over the Open Inference Protocol (REST)",
        description="Serve a released model: only a released version whose e-signatures and "
        "model-signing signature verify starts; every prediction is recorded in the state "
        "location before it is answered.",
    )
    server_main.add_arguments(serve)
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    argv = server_main.as_argv(args)
    if importlib.util.find_spec("kserve") is not None:
        return server_main.main(argv)
    python = settings.serving_python()
    if not os.access(python, os.X_OK):
        raise ConfigError(
            f"the serving environment {python} does not exist: create it with "
            "`make serving-venv`, or set $SAMDOPS_SERVING_PYTHON to its interpreter"
        )
    os.execv(python, [str(python), "-m", "samdops.serving", *argv])
