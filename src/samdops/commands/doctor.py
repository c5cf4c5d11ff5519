"""``samdops doctor``: what is wrong with the state, Vault, S3, the keys, the log, the anchors.

One line per check, ``<check>: ok|FAIL|not configured|skipped <what, and how to fix it>``; exit 0
when every configured check passes, else 1. A check that needs one that failed is ``skipped``,
saying which. Each check runs at most ``--timeout`` seconds (a hanging server is a failure). The
doctor only reads: it creates no key, no file and no audit entry (reading the log is not an
audited action).
"""

from __future__ import annotations

import argparse
import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from samdops import settings
from samdops.audit.anchor import NO_ANCHOR, Anchor, anchor_status, configured_anchors
from samdops.audit.log import AuditLog
from samdops.audit.signer import LocalEd25519Signer
from samdops.audit.store import state_entry_store
from samdops.audit.verify import build_tree, load_checkpoints, verify_log
from samdops.commands._state import STATE_HELP
from samdops.errors import (
    AuditVerificationError,
    ConfigError,
    SamdopsError,
    SecretsUnavailable,
    StoreError,
)
from samdops.governance.identity import AUDIT_KEY_NAME
from samdops.governance.keys import DEFAULT_TRANSIT_KEY, platform_signer
from samdops.governance.service import ESIGN_KEY_NAME
from samdops.secrets import SecretsBackend, secrets_from_env
from samdops.store.state import StateLocation, open_state

OK, FAIL, NOT_CONFIGURED, SKIPPED = "ok", "FAIL", "not configured", "skipped"
DEFAULT_TIMEOUT = 30.0
_VAULT_FIX = (
    "check VAULT_ADDR and the Vault credentials (VAULT_TOKEN, VAULT_ROLE_ID and VAULT_SECRET_ID, "
    "or SAMDOPS_VAULT_ROLE)"
)
_S3_FIX = "check SAMDOPS_S3_ENDPOINT, the bucket, and the S3 credentials in the secrets backend"
_ALTERED = (
    "the log or its checkpoints were altered, or the signing key replaced: keep the state as "
    "evidence and see `samdops audit verify`"
)
_T = TypeVar("_T")


@dataclass(frozen=True)
class Finding:
    """The outcome of one check."""

    check: str
    status: str
    detail: str

    def line(self) -> str:
        return f"{self.check}: {self.status} {self.detail}"


class _TimedOut(Exception):
    """A check did not return within its time."""


class _Stop(Exception):
    """Ends a check with ``status`` (a check that cannot run, or has nothing to check)."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class _Context:
    """What the checks found so far, for the checks after them."""

    override: str
    location: str = ""
    state: StateLocation | None = None
    secrets: SecretsBackend | None = None
    vault_client: Any = None
    public_key: bytes | None = None
    failed: set[str] = field(default_factory=set)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``samdops doctor``."""
    doctor = subparsers.add_parser(
        "doctor",
        help="check the state, Vault, S3, the keys, the audit log and its anchors (reads only)",
        description="One line per check: ok, FAIL, not configured or skipped, with what is wrong "
        "and how to fix it. Exit 0 when every configured check passes, else 1.",
    )
    doctor.add_argument("--state", dest="state", default="", metavar="LOC", help=STATE_HELP)
    doctor.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="how long each check may take (default: %(default)s)",
    )
    doctor.set_defaults(func=_doctor)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a number of seconds in (0, 3600]")
    return value


def _doctor(args: argparse.Namespace) -> int:
    findings = diagnose(args.state, timeout=args.timeout)
    for finding in findings:
        print(finding.line(), flush=True)
    return 1 if any(f.status in (FAIL, SKIPPED) for f in findings) else 0


def diagnose(state: str = "", *, timeout: float = DEFAULT_TIMEOUT) -> list[Finding]:
    """Run every check in order; each later check sees what the earlier ones found."""
    ctx = _Context(state)
    findings: list[Finding] = []
    for name, check in _CHECKS:
        try:
            found = _bounded(functools.partial(check, ctx), timeout)
        except _Stop as stop:
            found = [Finding(name, stop.status, stop.detail)]
        except _TimedOut:
            found = [Finding(name, FAIL, f"no answer within {timeout:g} s; {_fix(name)}")]
        except (SamdopsError, OSError) as exc:
            found = [Finding(name, FAIL, _failure(name, exc))]
        if any(f.status in (FAIL, SKIPPED) for f in found):
            ctx.failed.add(name)
        findings += found
    return findings


def _bounded(call: Callable[[], _T], seconds: float) -> _T:
    """``call()`` in a daemon thread; :class:`_TimedOut` if it has not returned in time (the
    thread is left to end on its own: it only reads)."""
    done: list[_T] = []
    raised: list[BaseException] = []

    def run() -> None:
        try:
            done.append(call())
        except BaseException as exc:  # handed to the caller's thread
            raised.append(exc)

    thread = threading.Thread(target=run, name="samdops-doctor-check", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise _TimedOut(seconds)
    if raised:
        raise raised[0]
    return done[0]


def _failure(check: str, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        target = f"{exc.filename}: " if exc.filename else ""
        return f"{target}{exc.strerror or type(exc).__name__}; {_fix(check)}"
    text = str(exc)
    if check == "vault" and isinstance(exc, SecretsUnavailable):
        return f"{text}; {_VAULT_FIX}"
    if check == "s3" and isinstance(exc, StoreError | SecretsUnavailable):
        return f"{text}; {_S3_FIX}"
    if check == "audit" and isinstance(exc, AuditVerificationError):
        return f"{text}; {_ALTERED}"
    return text


def _fix(check: str) -> str:
    return {
        "vault": _VAULT_FIX,
        "s3": _S3_FIX,
        "keys": "check the key files' owner and mode (600)",
    }.get(check, "check that the state and the anchors are reachable and readable by this user")


def _needs(ctx: _Context, check: str, why: str) -> None:
    if check in ctx.failed:
        raise _Stop(SKIPPED, f"{why}, and the {check} check did not pass (see {check})")


# -- the checks ---------------------------------------------------------------------------------


def _state(ctx: _Context) -> list[Finding]:
    ctx.location = settings.state_location(ctx.override or None)
    if ctx.location.startswith("s3://"):
        return [Finding("state", OK, f"{ctx.location} (on S3: see s3)")]
    ctx.state = open_state(ctx.location)
    made = "" if Path(ctx.location).is_dir() else ", not created yet: the first run creates it"
    return [Finding("state", OK, f"{ctx.location} (a directory{made})")]


def _vault(ctx: _Context) -> list[Finding]:
    from samdops.secrets.vault import VaultSecrets

    if not settings.vault_address():
        ctx.secrets = secrets_from_env()
        raise _Stop(
            NOT_CONFIGURED,
            "VAULT_ADDR is unset: secrets come from the environment and local keys sign",
        )
    backend = secrets_from_env()
    if not isinstance(backend, VaultSecrets):  # pragma: no cover - VAULT_ADDR selects Vault
        raise ConfigError("VAULT_ADDR is set but the secrets backend is not Vault")
    ctx.vault_client = backend.client()  # logs in
    ctx.secrets = backend
    return [
        Finding("vault", OK, f"logged in to {backend.describe()} with {backend.auth.describe()}")
    ]


def _s3(ctx: _Context) -> list[Finding]:
    from samdops.store.s3 import S3Store

    _needs(ctx, "state", "it needs the state location")
    if not ctx.location.startswith("s3://"):
        raise _Stop(NOT_CONFIGURED, f"the state is the directory {ctx.location}")
    _needs(ctx, "vault", "the S3 credentials come from Vault")
    state = open_state(ctx.location, secrets=ctx.secrets)
    store = state.artifacts
    assert isinstance(store, S3Store)
    store.check_bucket()
    ctx.state = state
    days = store.settings.retention_days
    retention = f", Object Lock retention {days} day{'s' * (days != 1)}" if days else ""
    return [Finding("s3", OK, f"{ctx.location} at {store.settings.endpoint} answers{retention}")]


def _keys(ctx: _Context) -> list[Finding]:
    if settings.vault_address():
        return [_transit_key(ctx)]
    _needs(ctx, "state", "the local keys lie beside the state")
    _needs(ctx, "s3", "the local keys lie beside the state")
    state = ctx.state
    assert state is not None
    platform_signer(state, AUDIT_KEY_NAME)  # refuses a state on S3 without Vault (no key made)
    assert state.directory is not None
    return [_local_keys(ctx, state, state.directory / "keys")]


def _transit_key(ctx: _Context) -> Finding:
    from samdops.audit.transit import TransitSigner

    _needs(ctx, "vault", "the Transit key is in Vault")
    signer = TransitSigner(ctx.vault_client, settings.transit_key(DEFAULT_TRANSIT_KEY))
    ctx.public_key = signer.public_key_pem()
    return Finding(
        "keys",
        OK,
        f"Vault Transit key {signer.mount}/{signer.key} v{signer.version} (ed25519, not "
        f"exportable) signs checkpoints and e-signatures; key id {signer.key_id}",
    )


def _local_keys(ctx: _Context, state: StateLocation, keys: Path) -> Finding:
    """The local audit and e-signature keys: readable, private, and there when the log needs
    them (its checkpoints and e-signatures name the key that made them)."""
    checkpoints, signatures = _key_ids_used(state)
    found, problems = [], []
    for label, name, used, what in (
        ("audit", AUDIT_KEY_NAME, checkpoints, "checkpoints"),
        ("e-signature", ESIGN_KEY_NAME, signatures, "e-signatures"),
    ):
        path = keys / name
        if not os.path.lexists(path):
            if used:
                problems.append(
                    f"the {label} key {path} is missing, but the log holds {what} made with key "
                    f"{', '.join(sorted(used))}; restore it from a backup (a new key cannot "
                    "vouch for them)"
                )
            else:
                found.append(f"{label} key: none yet (the first one that signs creates {path})")
            continue
        try:
            signer = LocalEd25519Signer.load(path)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        if label == "audit":
            ctx.public_key = signer.public_key_pem()
        others = used - {signer.key_id}
        if label == "e-signature" and others:
            problems.append(
                f"the e-signature key {path} is {signer.key_id}, but the log holds e-signatures "
                f"made with {', '.join(sorted(others))}: they will not verify; restore the key "
                "that made them"
            )
            continue
        found.append(f"{label} key {path} ({signer.key_id})")
    if problems:
        return Finding("keys", FAIL, "; ".join(problems))
    return Finding("keys", OK, "; ".join(found))


def _key_ids_used(state: StateLocation) -> tuple[set[str], set[str]]:
    """The key ids of the log's checkpoints and e-signatures (none when the log is unreadable:
    the audit check says why)."""
    log = AuditLog(state_entry_store(state))
    try:
        checkpoints = {c.key_id for c in log.checkpoints()}
        signatures = {
            str(dict(r.event.details).get("sig.key_id"))
            for r in log.entries()
            if "sig.key_id" in dict(r.event.details)
        }
    except SamdopsError:
        return set(), set()
    return checkpoints, signatures


def _audit(ctx: _Context) -> list[Finding]:
    _needs(ctx, "state", "it needs the state location")
    _needs(ctx, "s3", "the log is on S3")
    state = ctx.state
    assert state is not None
    log = AuditLog(state_entry_store(state))
    where = f"{state.location}/audit"
    rewritten: list[str] = getattr(log.store, "rewritten", list)()
    if rewritten:
        return [
            Finding(
                "audit",
                FAIL,
                f"{len(rewritten)} audit object(s) at {where} have a second version written "
                f"over the original: {', '.join(rewritten[:5])}; {_ALTERED}",
            )
        ]
    if ctx.public_key is None and log.store.checkpoint_sizes():
        size = len(build_tree(log.store))
        held = len(load_checkpoints(log.store))
        if "keys" in ctx.failed:
            raise _Stop(
                SKIPPED,
                f"{size} entries at {where} read and chained, but their {held} signed "
                "checkpoints need the signing key, and the keys check did not pass (see keys)",
            )
        return [
            Finding(
                "audit",
                FAIL,
                f"{size} entries and {held} signed checkpoints at {where}, but no signing key "
                "to check them; restore the key that signed them",
            )
        ]
    verified = verify_log(log.store, ctx.public_key or b"", origin=log.origin)
    if not verified.size:
        return [Finding("audit", OK, f"no entries yet at {where}")]
    cp = verified.checkpoint
    assert cp is not None  # verify_log requires one for a log with entries
    return [
        Finding(
            "audit",
            OK,
            f"{verified.size} entries at {where}, checkpoint at size {cp.size} (root "
            f"sha256:{cp.root.hex()}), {verified.checkpoints_checked} checkpoints verified, "
            f"{verified.unanchored} entries after the latest",
        )
    ]


def _anchors(ctx: _Context) -> list[Finding]:
    _needs(ctx, "state", "it needs the state location")
    _needs(ctx, "s3", "the log is on S3")
    _needs(ctx, "audit", "the anchors are compared with the log")
    state = ctx.state
    assert state is not None
    require = settings.audit_require_anchor()
    anchors = configured_anchors(state)
    if not anchors.readable:
        write_only = (
            f" ({', '.join(anchors.write_only)} is write-only)" if anchors.write_only else ""
        )
        raise _Stop(
            FAIL if require else NOT_CONFIGURED,
            f"no anchor outside the state{write_only}, so a rollback of the audit log cannot be "
            f"detected; {NO_ANCHOR}",
        )
    log = AuditLog(state_entry_store(state))
    if ctx.public_key is None:
        return [_unkeyed(anchor, "keys" in ctx.failed) for anchor in anchors.readable]
    status = anchor_status(log.store, ctx.public_key, anchors.readable, origin=log.origin)
    findings = [Finding("anchor", OK if s.ok else FAIL, f"{s.anchor}: {s.detail}") for s in status]
    if require and len(log) and all(s.ok and s.size is None for s in status):
        findings.append(
            Finding(
                "anchor",
                FAIL,
                "no anchor holds a checkpoint of this log yet, so a rollback cannot be detected; "
                "run `samdops audit checkpoint` to anchor the log as it is now",
            )
        )
    return findings


def _unkeyed(anchor: Anchor, key_failed: bool) -> Finding:
    """An anchor when there is no key to check it with: it must hold nothing."""
    try:
        held = len(anchor.read().checkpoints)
    except SamdopsError as exc:
        return Finding("anchor", FAIL, f"{anchor.name}: {exc}")
    if not held:
        return Finding("anchor", OK, f"{anchor.name}: holds no checkpoint of this log yet")
    if key_failed:
        return Finding(
            "anchor",
            SKIPPED,
            f"{anchor.name}: holds {held} checkpoints, but checking them needs the signing key, "
            "and the keys check did not pass (see keys)",
        )
    return Finding(
        "anchor",
        FAIL,
        f"{anchor.name}: holds {held} checkpoints of this log, but the log has no signing key: "
        "it was rolled back or its key deleted; restore both from a backup",
    )


_CHECKS: tuple[tuple[str, Callable[[_Context], list[Finding]]], ...] = (
    ("state", _state),
    ("vault", _vault),
    ("s3", _s3),
    ("keys", _keys),
    ("audit", _audit),
    ("anchor", _anchors),
)
