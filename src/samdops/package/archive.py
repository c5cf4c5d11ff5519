"""Opening a package given as a directory or as the ``.tar`` that ``package export --tar`` writes.

Every member of an archive is checked before anything is extracted, and the first hostile one is
named: a path that is absolute or climbs out with ``..``, a member that is not a regular file or
a directory (symbolic and hard links, devices, FIFOs, sparse files), a name given twice, anything
but exactly one top-level package directory, or more bytes than :data:`MAX_ARCHIVE_BYTES`. The
members are then extracted one by one into a private temporary directory (with tarfile's
``data`` filter as a second guard), which is removed when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from samdops.errors import PackageVerificationError
from samdops.inputs import regular_file

MAX_ARCHIVE_BYTES = 16 << 30  # the declared size of all members; a package is far smaller
_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE)
_KINDS = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
    tarfile.GNUTYPE_SPARSE: "a sparse file",
}
# What a damaged or truncated archive raises while it is read (gzip, bzip2 and xz included).
_DAMAGED = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError)
_HOW = "give the package directory or the .tar that `samdops package export --tar` wrote"


@contextlib.contextmanager
def open_package(path: str | Path) -> Iterator[Path]:
    """The package directory at ``path``, or the one directory of the archive at ``path``
    extracted into a temporary directory for the duration of the ``with`` block."""
    source = Path(path)
    if source.is_dir():
        check_tree(source)
        yield source
        return
    if not source.exists():
        raise PackageVerificationError(f"{source} does not exist; {_HOW}")
    regular_file(source, "package", error=PackageVerificationError)
    with tempfile.TemporaryDirectory(prefix="samdops-package-") as tmp:
        yield _extract(source, Path(tmp))


def check_tree(root: Path) -> None:
    """Raise naming the first entry under the package directory ``root`` that is not a regular
    file or a directory: a link could lead anywhere, and a FIFO or device never ends."""
    for directory, subdirectories, files in os.walk(root):
        for name in sorted([*subdirectories, *files]):
            path = Path(directory, name)
            mode = path.lstat().st_mode
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "a special file"
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                rel = _shown(path.relative_to(root).as_posix())
                raise PackageVerificationError(
                    f"{root} is refused: {rel} is {kind}; a package directory holds only "
                    "regular files and directories"
                )


def _extract(source: Path, destination: Path) -> Path:
    with open(source, "rb") as stream, _tar(source, stream) as tar:
        try:
            members = tar.getmembers()
        except _DAMAGED as exc:
            raise _damaged(source, exc) from None
        top = check_members(source, members)
        for member in members:
            try:
                tar.extract(member, destination, filter="data")
            except _DAMAGED as exc:
                raise PackageVerificationError(
                    f"{source}: member {_shown(member.name)} cannot be extracted "
                    f"({_reason(exc)}); the archive is damaged or truncated: export it again"
                ) from None
    return destination / top


def _tar(source: Path, stream: BinaryIO) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=stream, mode="r:*")
    except _DAMAGED:
        empty = source.stat().st_size == 0
        what = "an empty file" if empty else "neither a package directory nor a tar archive"
        raise PackageVerificationError(f"{source} is {what}; {_HOW}") from None


def check_members(source: Path, members: list[tarfile.TarInfo]) -> str:
    """The one top-level directory of the archive's ``members``; raise naming the first member
    that a package archive cannot hold."""
    seen: set[PurePosixPath] = set()
    tops: dict[str, bool] = {}  # top-level name -> whether something lies inside it
    size = 0
    for member in members:
        name = _shown(member.name)
        path = PurePosixPath(member.name)
        if member.name.startswith("/") or path.is_absolute():
            raise _refused(source, f"member {name} has an absolute path")
        if ".." in path.parts:
            raise _refused(source, f"member {name} climbs out of the archive with '..'")
        if not path.parts:
            raise _refused(source, f"member {name} has no name")
        if not member.isdir() and member.type not in _FILE_TYPES:
            kind = _KINDS.get(member.type, f"of tar type {member.type!r}")
            raise _refused(source, f"member {name} is {kind}")
        if path in seen:
            raise _refused(source, f"member {name} appears twice")
        seen.add(path)
        size += member.size
        if size > MAX_ARCHIVE_BYTES:
            raise _refused(source, f"its members hold more than {MAX_ARCHIVE_BYTES} bytes")
        inside = len(path.parts) > 1
        tops[path.parts[0]] = tops.get(path.parts[0], False) or inside or member.isdir()
    if not tops:
        raise _refused(source, "it is an empty tar archive")
    if len(tops) > 1:
        names = ", ".join(_shown(n) for n in sorted(tops)[:3])
        more = ", ..." if len(tops) > 3 else ""
        raise _refused(
            source, f"it holds {len(tops)} top-level entries ({names}{more}), not one directory"
        )
    ((top, is_directory),) = tops.items()
    if not is_directory:
        raise _refused(source, f"it holds no package directory, only the file {_shown(top)}")
    return top


def _refused(source: Path, why: str) -> PackageVerificationError:
    return PackageVerificationError(
        f"{source} is refused before extraction: {why}; a package archive holds one directory "
        "of regular files, as `samdops package export --tar` writes it"
    )


def _damaged(source: Path, exc: BaseException) -> PackageVerificationError:
    return PackageVerificationError(
        f"{source} is a damaged or truncated tar archive ({_reason(exc)}); export it again"
    )


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0][:100] if text else type(exc).__name__


def _shown(name: str) -> str:
    """A member name as it can be printed: escaped, and shortened when long."""
    return repr(name if len(name) <= 80 else name[:77] + "...")
