"""``samdops audit verify | export | checkpoint``: offline checks and exports of the audit log.

Reading the log (``export``) is itself audited: a ``query`` event by a named user whose role
grants ``export-audit`` (``--user ID --password-stdin``), or, while the state location has no users
(first use), by the OS account (``os:NAME``), as for who launches a run
(:meth:`GovernedRegistry.authorize_read`). A refused read is appended as a denied ``query`` and
raised in one line. ``verify`` reads no patient data and
needs only the public key, so it stays usable offline, without a user, and is not audited.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from samdops import settings
from samdops.audit.anchor import (
    NO_ANCHOR,
    Anchors,
    configured_anchors,
    describe,
    read_anchors,
)
from samdops.audit.checkpoint import Checkpoint
from samdops.audit.event import EventKind, Source, SourceKind
from samdops.audit.export import EXPORT_QUERY, export_log, verify_export
from samdops.audit.log import AuditLog
from samdops.audit.selection import Selection
from samdops.audit.siem import EventSink
from samdops.audit.signer import DEFAULT_KEY_NAME, LocalEd25519Signer
from samdops.audit.store import state_entry_store
from samdops.audit.verify import VerifiedLog, verify_log
from samdops.commands._auth import add_reader_args, reader_from
from samdops.commands._state import add_state_argument
from samdops.errors import (
    AuditError,
    AuditVerificationError,
    ConfigError,
    SamdopsError,
)
from samdops.governance.identity import UserDirectory
from samdops.governance.keys import platform_signer
from samdops.governance.roles import Permission
from samdops.governance.service import GovernedRegistry, sinks_from_env
from samdops.settings import samdops_home
from samdops.store.state import StateLocation, open_state

_KINDS = ", ".join(k.value for k in EventKind)
_EXPORT_SOURCE = Source(SourceKind.CLI, "samdops audit export")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``samdops audit`` and its subcommands."""
    audit = subparsers.add_parser("audit", help="verify, export and checkpoint the audit log")
    commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    verify = commands.add_parser(
        "verify",
        help="verify the whole log, one entry against a checkpoint, or an export (offline)",
    )
    _log_arg(verify)
    verify.add_argument("--public-key", type=Path, metavar="PEM", help="trusted public key (PEM)")
    verify.add_argument("--entry", type=int, metavar="N", help="check only this entry's inclusion")
    verify.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="a checkpoint note anchored elsewhere: with --entry, prove inclusion in it; "
        "alone, check the whole log against it too",
    )
    verify.add_argument(
        "--export", type=Path, metavar="DIR", help="verify an export directory instead"
    )
    verify.add_argument(
        "--require-anchor",
        action="store_true",
        help="fail when no anchor outside the state holds the log's checkpoints "
        f"(default: ${settings.AUDIT_REQUIRE_ANCHOR_ENV})",
    )
    verify.set_defaults(func=_verify)

    export = commands.add_parser(
        "export",
        help="write text and HTML reports and JSONL with proofs (of the log, or a selection)",
        description="Export the audit log, or the entries a filter selects, each with its "
        "inclusion proof. Filters combine (all must hold). The export is audited as a query by "
        "--user (a role granting export-audit), or by the OS account while there are no users.",
    )
    _log_arg(export)
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="export directory")
    export.add_argument(
        "--key", type=Path, metavar="PEM", help="private signing key (default: local key)"
    )
    _selection_args(export)
    add_reader_args(export)
    export.set_defaults(func=_export)

    checkpoint = commands.add_parser("checkpoint", help="sign a checkpoint of the current log")
    _log_arg(checkpoint)
    checkpoint.add_argument(
        "--key", type=Path, metavar="PEM", help="private signing key (default: local key)"
    )
    checkpoint.set_defaults(func=_checkpoint)

    public = commands.add_parser("public-key", help="print the signing key's public half (PEM)")
    public.add_argument(
        "--key", type=Path, metavar="PEM", help="private signing key (default: local key)"
    )
    public.set_defaults(func=_public)


def _selection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kind",
        action="append",
        default=[],
        metavar="KIND",
        help=f"only events of this kind ({_KINDS}); repeat for several",
    )
    parser.add_argument("--actor", metavar="ID", help="only events by this user or service id")
    parser.add_argument(
        "--target",
        metavar="PREFIX",
        help="only events on targets (id@version) starting with PREFIX, e.g. dataset/ or "
        "model/pima",
    )
    parser.add_argument(
        "--since",
        metavar="TIME",
        help="only events at or after TIME (RFC 3339, e.g. 2026-01-31T12:00:00Z)",
    )
    parser.add_argument("--until", metavar="TIME", help="only events at or before TIME")
    parser.add_argument(
        "--run",
        metavar="RUN",
        help="only events of this pipeline run; the reports then show its whole trace",
    )


def _selection(args: argparse.Namespace) -> Selection:
    return Selection.parse(
        kinds=args.kind,
        actor=args.actor,
        target=args.target,
        since=args.since,
        until=args.until,
        run=args.run,
    )


def _log_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log", type=Path, metavar="DIR", help="log directory (default: audit/ of the state)"
    )
    add_state_argument(parser, home_alias=False)


def _default_key(args: argparse.Namespace) -> Path:
    """The local key beside a local state (``keys/``), else in the home."""
    directory = (
        None
        if getattr(args, "log", None)
        else open_state(getattr(args, "state", "") or None).directory
    )
    return (directory or samdops_home()) / "keys" / DEFAULT_KEY_NAME


def _open_log(
    args: argparse.Namespace,
    signer: LocalEd25519Signer | None = None,
    state: StateLocation | None = None,
    sinks: Sequence[EventSink] = (),
) -> AuditLog:
    """The log in ``--log DIR``, else under ``audit/`` of the state location (directory or S3)."""
    if args.log is not None:
        if not args.log.is_dir():
            raise ConfigError(f"no audit log at {args.log}; pass --log DIR or --state LOC")
        return AuditLog.open(args.log, signer=signer, sinks=sinks)
    state = state or open_state(args.state or None)
    if state.directory is not None and not (state.directory / "audit").is_dir():
        raise ConfigError(
            f"no audit log at {state.directory / 'audit'}; pass --log DIR or --state LOC, "
            "or set SAMDOPS_STATE"
        )
    return AuditLog(state_entry_store(state), signer=signer, sinks=sinks)


def _read_pem(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read public key {path}: {exc.strerror}") from None


def _public_key(args: argparse.Namespace) -> bytes:
    if args.public_key is not None:
        return _read_pem(args.public_key)
    key = _default_key(args)
    if not key.exists():
        raise ConfigError(f"no --public-key given and no local signing key at {key}")
    print(f"note: using the public half of the local key {key}; pass --public-key to check")
    return LocalEd25519Signer.load(key).public_key_pem()


def _read_checkpoint(path: Path) -> Checkpoint:
    try:
        return Checkpoint.from_note(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read checkpoint {path}: {exc}") from None


def _verify(args: argparse.Namespace) -> int:
    if args.export is not None:
        given = _read_pem(args.public_key) if args.public_key else None
        result = verify_export(args.export, given)
        if given is None:
            print("note: checked with the key inside the export; pass --public-key to check")
        root = f"sha256:{result.checkpoint.root.hex()}"
        if result.selection is None:
            print(f"export OK: {result.size} entries included in checkpoint {root}")
        else:
            print(
                f"export OK: a selection of {result.selected} of {result.size} entries "
                f"({result.selection.describe()}, as query entry {result.query_entry} recorded) "
                f"included in checkpoint {root}"
            )
        return 0
    state = None if args.log else open_state(args.state or None)
    log = _open_log(args, state=state)
    pem = _public_key(args) if args.log or not settings.vault_address() else _vault_key()
    rewritten: list[str] = getattr(log.store, "rewritten", list)()
    if rewritten:
        raise AuditVerificationError(
            f"{len(rewritten)} audit object(s) have a second version written over the "
            f"original: {', '.join(rewritten[:5])}"
        )
    if args.entry is not None:
        if args.checkpoint is None:
            raise ConfigError("--entry needs --checkpoint FILE (the checkpoint to prove against)")
        checkpoint = _read_checkpoint(args.checkpoint)
        record = log.verify_entry(args.entry, checkpoint, pem)
        print(
            f"entry {record.seq} ({record.digest}) is included in the checkpoint at size "
            f"{checkpoint.size}, root sha256:{checkpoint.root.hex()}"
        )
        return 0
    trusted = [_read_checkpoint(args.checkpoint)] if args.checkpoint else []
    require = args.require_anchor or settings.audit_require_anchor()
    anchors = configured_anchors(state)
    copies = read_anchors(anchors.readable)
    verified = verify_log(log.store, pem, trusted=trusted, origin=log.origin, anchors=copies)
    _check_anchored(verified, anchors, require)
    cp = verified.checkpoint
    anchor = f"checkpoint at size {cp.size}, root sha256:{cp.root.hex()}" if cp else "no entries"
    print(
        f"audit log OK: {verified.size} entries, {anchor}, "
        f"{verified.checkpoints_checked} checkpoints checked, "
        f"{verified.unanchored} entries after the latest checkpoint"
    )
    for match in verified.anchors:
        print(f"anchor {match.anchor}: {describe(match.size, verified.size)}")
    return 0


def _check_anchored(verified: VerifiedLog, anchors: Anchors, require: bool) -> None:
    """Say (or, with ``require``, fail) when no anchor can catch a rollback of this log."""
    if not anchors.readable:
        write_only = (
            f" ({', '.join(anchors.write_only)} is write-only)" if anchors.write_only else ""
        )
        problem, fix = f"no anchor outside the state is configured{write_only}", NO_ANCHOR
    elif verified.size and all(m.size is None for m in verified.anchors):
        problem = "no anchor holds a checkpoint of this log yet"
        fix = "run `samdops audit checkpoint` to anchor the log as it is now"
    else:
        return
    if require:
        raise AuditVerificationError(
            f"{problem}, so a rollback of the audit log cannot be detected; {fix}"
        )
    print(f"warning: {problem}; a rollback cannot be detected ({fix})", file=sys.stderr)


def _vault_key() -> bytes:
    """The public half of the Vault Transit key that signs the log's checkpoints."""
    from samdops.governance.keys import DEFAULT_TRANSIT_KEY

    name = settings.transit_key(DEFAULT_TRANSIT_KEY)
    print(f"note: checking with Vault Transit key {name}; pass --public-key to check offline")
    signer = platform_signer(open_state(None), "unused")
    return signer.public_key_pem()


def _signed_log(
    args: argparse.Namespace, sinks: Sequence[EventSink] = ()
) -> tuple[AuditLog, LocalEd25519Signer]:
    signer = LocalEd25519Signer.load_or_create(args.key or _default_key(args))
    return _open_log(args, signer, sinks=sinks), signer


def _export(args: argparse.Namespace) -> int:
    selection = _selection(args)  # bad input is refused before anything is read or written
    log, signer = _signed_log(args, sinks=sinks_from_env())
    # The reader signs in against the users this log names; a refusal is audited (and covered).
    # (esign_key: a read signs nothing; passed so that no other key is looked for)
    registry = GovernedRegistry(
        args.state or None, esign_key=signer, audit_key=signer, sinks=log.sinks
    )
    registry.audit, registry.users = log, UserDirectory(registry.state, audit=log)
    filters = selection.filters()
    source = _EXPORT_SOURCE.ref
    with log.covered():
        reader = reader_from(args, registry, source=source)
        registry.authorize_read(
            reader, Permission.EXPORT_AUDIT, EXPORT_QUERY, source=source, filters=filters
        )
    result = export_log(
        log,
        args.out,
        signer.public_key_pem(),
        selection=selection,
        reader=reader.actor,
        source=_EXPORT_SOURCE,
    )
    if result.selected is None:
        print(f"exported {result.size} entries to {args.out}")
    else:
        print(
            f"exported {result.selected} of {result.size} entries "
            f"({selection.describe()}) to {args.out}"
        )
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    log, _ = _signed_log(args)
    checkpoint = log.checkpoint()
    # Sent here, not by the log: the log sends only a checkpoint it just created, and this one
    # may exist already, e.g. from before the witness was configured.
    for sink in sinks_from_env():
        try:
            sink.emit_checkpoint(checkpoint)
        except (OSError, SamdopsError) as exc:
            raise AuditError(
                f"the checkpoint at size {checkpoint.size} is stored, but {sink!r} did not "
                f"take it: {exc}"
            ) from None
    print(checkpoint.to_note(), end="")
    return 0


def _public(args: argparse.Namespace) -> int:
    signer = LocalEd25519Signer.load_or_create(args.key or _default_key(args))
    print(signer.public_key_pem().decode(), end="")
    print(f"key id {signer.key_id}", file=sys.stderr)
    return 0
