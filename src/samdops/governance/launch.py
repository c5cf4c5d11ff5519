"""Who launched a pipeline run: an authenticated statement in the audit log, bound to the run.

The launcher (``samdops run``) authenticates the person before the first step starts: a user of
the directory with their password, or, only while the directory has no user (the embedded
default), the operating-system account the process runs as, recorded as such (``os:<name>``,
authenticated by ``local_os_user``; the name comes from the process's uid, never from
``$USER``). It appends one ``run-launch`` event on ``run:<run>@1`` to the audit log. The
register step, run by the pipeline's service account, takes the trainer from that event alone;
no environment variable is ever read for it. A run that no person launched (a schedule) is
trained by the service account alone.

Ids starting with ``svc:`` or ``os:`` name service and OS accounts; no user may take one.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterable
from dataclasses import dataclass

from samdops.audit.entry import AuditRecord
from samdops.audit.event import Action, Actor, AuthMethod, EventDraft, Outcome, Source, SourceKind
from samdops.audit.event import Target as AuditTarget
from samdops.audit.log import AuditLog
from samdops.errors import AccessDenied, VerificationError
from samdops.governance.identity import OS_PREFIX, UserDirectory, UserKind
from samdops.governance.roles import Permission, require

LAUNCH_KIND = "run-launch"


@dataclass(frozen=True)
class Launcher:
    """The authenticated person who starts a run."""

    id: str
    auth: AuthMethod

    @property
    def actor(self) -> Actor:
        return Actor(self.id, self.auth)


def os_account() -> str:
    """The name of the operating-system account of this process, from its uid."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid-{os.getuid()}"


def sign_in(
    directory: UserDirectory, user_id: str, password: str, *, permission: Permission
) -> Launcher:
    """The launcher ``user_id`` after checking both components and that a role grants
    ``permission``; a service account cannot launch a run as a person."""
    who = directory.authenticate(user_id, password, source="samdops run")
    if who.user.kind == UserKind.SERVICE:
        raise AccessDenied(f"{user_id} is a service account; a person launches a run")
    require(who.user.id, who.user.roles, permission)
    return Launcher(who.user.id, AuthMethod.PASSWORD)


def os_launcher(directory: UserDirectory) -> Launcher:
    """The OS account as launcher: only while the directory has no user (the embedded default).

    Once users exist, an OS account could not be told apart from the user who later signs, so
    the person must sign in.
    """
    if directory.users():
        raise AccessDenied(
            "this state location has users: sign in to launch a run (--user ID --password-stdin)"
        )
    return Launcher(f"{OS_PREFIX}{os_account()}", AuthMethod.LOCAL_OS_USER)


def launch_target(run: str) -> AuditTarget:
    return AuditTarget(f"run:{run}", "1")


def _launches(records: Iterable[AuditRecord], run: str) -> list[AuditRecord]:
    target = launch_target(run)
    return [
        r
        for r in records
        if r.event.outcome == Outcome.SUCCESS
        and r.event.target == target
        and r.event.detail_map().get("kind") == LAUNCH_KIND
    ]


def record_launch(audit: AuditLog, run: str, launcher: Launcher, *, pipeline: str) -> AuditRecord:
    """Append the statement that ``launcher`` started run ``run`` (the log checkpoints it).

    The check that the run name is new and the append are one step, so two launchers racing
    for a name cannot both claim it.
    """
    if not run.strip():
        raise VerificationError("a launched run needs a name")
    draft = EventDraft(
        actor=launcher.actor,
        action=Action.CREATE,
        target=launch_target(run),
        source=Source(SourceKind.CLI, "samdops run"),
        details={"kind": LAUNCH_KIND, "pipeline": pipeline},
    )
    record = audit.append_if(lambda records: None if _launches(records, run) else draft)
    if record is None:
        raise AccessDenied(f"run {run!r} was already launched; a run name is used once")
    return record


def launched_by(records: Iterable[AuditRecord], run: str) -> Actor | None:
    """Who the audit log says launched ``run``: None if no person did; two claims are refused."""
    found = _launches(records, run)
    if len(found) > 1:
        seqs = ", ".join(str(r.seq) for r in found)
        raise VerificationError(f"run {run!r} has {len(found)} launch events ({seqs}); refused")
    return found[0].event.actor if found else None
