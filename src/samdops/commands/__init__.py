"""Subcommands of the ``samdops`` CLI, one module each (see ``samdops.cli``)."""
