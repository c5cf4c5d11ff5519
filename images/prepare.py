"""Host-side inputs of `make images`: everything the image build would otherwise fetch itself.

Nothing inside the image build touches a network: pip inside a build cannot reach PyPI on every
machine (on the development machines it fails on TLS, because their package access goes through
a CA only the host knows). So the host prepares the inputs, with its own pip configuration, and
the build installs them offline, checking each file against the lock's hashes again.

    prepare.py wheels DEST LOCK...   the locked files for CPython 3.11 on x86_64 glibc <= 2.36
                                     (Debian bookworm, the image's OS), downloaded with
                                     --require-hashes into DEST; files already there are kept,
                                     files no lock names any more are removed
    prepare.py project DEST          the samdops wheel, built from a clean copy of the sources
                                     (a stale build/lib in the checkout never leaks into it);
                                     rebuilt only when a source file changed; prints its path
    prepare.py inputs [--text S]... FILE...
                                     sha256 over the given strings and files: the image's input
                                     digest (build.sh labels the image with it and skips a build
                                     whose inputs are unchanged)
    prepare.py registry HOST:PORT    exit status 0 if a container registry answers at
                                     http://HOST:PORT/v2/ (the one `make kind-up` runs), else 1
    prepare.py mirror                the Debian archive mirror and the security mirror (or "-")
                                     that this machine's apt uses, read from /etc/apt/sources.list
                                     and /etc/apt/sources.list.d/*.list and *.sources

Every failure is one line on stderr and exit status 1.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The image's interpreter and OS: Debian bookworm (glibc 2.36), CPython 3.11, x86_64. Both bases
# (python:3.11-slim-bookworm and the one debootstrapped from bookworm) are that. pip's --platform
# takes every tag it may accept, so each manylinux level from the image's glibc down is listed.
_GLIBC_MINOR = 36
_PLATFORMS = [
    *(f"manylinux_2_{minor}_x86_64" for minor in range(_GLIBC_MINOR, 16, -1)),
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]
# kfp-server-api is published as a pure-Python sdist only; the image builds it from that sdist
# (whose hash is in the lock) with the hash-locked setuptools, offline.
_SDISTS = ["kfp-server-api"]
# What goes into the samdops wheel: the same paths .dockerignore lets into the build context.
_PROJECT = ["pyproject.toml", "README.md", "src", "components", "pipelines"]
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")
_PIP_NOISE = "WARNING: Location"  # this machine's pip.conf names find-links that may not exist


def fail(message: str) -> None:
    print(f"make images: {message}", file=sys.stderr)
    raise SystemExit(1)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lock_hashes(lock: Path) -> dict[str, set[str]]:
    """``name==version -> allowed sha256s`` for every entry of a hashed lock file."""
    entries: dict[str, set[str]] = {}
    current = None
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = _ENTRY.match(line)
        if match:
            current = f"{match.group(1)}=={match.group(2)}"
            entries[current] = set()
        if current:
            entries[current].update(_HASH.findall(line))
        if not line.startswith(" ") and not match:
            current = None
    return entries


def _pip(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        lines = [ln for ln in lines if not ln.startswith(_PIP_NOISE)] or ["(no output)"]
        errors = [ln for ln in lines if ln.startswith("ERROR")] or lines[-1:]
        fail(f"pip {args[0]} failed: {errors[0].strip()}")


def _download(
    dest: Path, names: list[str], wanted: dict[str, set[str]], platform_args: list[str]
) -> None:
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as tmp:
        wanted_lock = Path(tmp) / "missing.lock"
        wanted_lock.write_text(
            "".join(
                f"{name} " + " ".join(f"--hash=sha256:{h}" for h in sorted(wanted[name])) + "\n"
                for name in names
            ),
            encoding="utf-8",
        )
        files = Path(tmp) / "files"
        _pip(
            "download", "--quiet", "--require-hashes", "--no-deps", "--no-build-isolation",
            "--only-binary=:all:", *(f"--no-binary={name}" for name in _SDISTS),
            "--python-version", "3.11", "--implementation", "cp",
            "--abi", "cp311", "--abi", "abi3", "--abi", "none", *platform_args,
            "--dest", str(files), "-r", str(wanted_lock),
        )  # fmt: skip
        for path in files.iterdir():
            os.replace(path, dest / path.name)


def wheels(dest: Path, locks: list[Path]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {k: v for lock in locks for k, v in lock_hashes(lock).items()}
    present = {sha256_file(p): p for p in dest.iterdir() if p.is_file()}
    missing = [name for name, hashes in wanted.items() if not hashes & present.keys()]
    if missing:
        print(
            f"make images: downloading {len(missing)} of {len(wanted)} locked files into {dest}",
            file=sys.stderr,
        )
        platform_args = [arg for tag in _PLATFORMS for arg in ("--platform", tag)]
        # One pip call per lock: two images may pin one package at two versions (Pillow), which
        # a single call would refuse as a conflict. Only the missing entries, into a private
        # directory first, then renamed in: a concurrent run never sees half a file.
        left = set(missing)
        for lock in locks:
            names = [name for name in lock_hashes(lock) if name in left]
            left -= set(names)
            if names:
                _download(dest, names, wanted, platform_args)
        present = {sha256_file(p): p for p in dest.iterdir() if p.is_file()}
        still = [name for name, hashes in wanted.items() if not hashes & present.keys()]
        if still:
            fail(f"pip download left {', '.join(still[:3])} out of {dest}")
    allowed = set().union(*wanted.values())
    for digest, path in present.items():
        if digest not in allowed:
            path.unlink()  # a version no lock names any more


def _source_digest() -> str:
    digest = hashlib.sha256()
    for top in _PROJECT:
        root = REPO / top
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            rel = path.relative_to(REPO)
            if any(part == "__pycache__" or part.endswith(".egg-info") for part in rel.parts):
                continue
            if path.suffix == ".pyc":
                continue
            digest.update(f"{rel.as_posix()}\0{sha256_file(path)}\0".encode())
    return digest.hexdigest()


def project(dest: Path) -> Path:
    source = _source_digest()
    stamp = dest / ".source-sha256"
    built = sorted(dest.glob("samdops-*.whl"))
    if len(built) == 1 and stamp.is_file() and stamp.read_text().strip() == source:
        return built[0]
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".samdops-wheel-", dir=dest.parent) as tmp:
        tree = Path(tmp) / "samdops"
        tree.mkdir()
        for top in _PROJECT:
            src = REPO / top
            if src.is_dir():
                shutil.copytree(src, tree / top, ignore=_SKIP)
            else:
                shutil.copy2(src, tree / top)
        # Fixed zip timestamps: the same sources give the same wheel bytes.
        os.environ["SOURCE_DATE_EPOCH"] = "315532800"
        out = Path(tmp) / "out"
        _pip(
            "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
            "--wheel-dir", str(out), str(tree),
        )  # fmt: skip
        built = sorted(out.glob("samdops-*.whl"))
        if len(built) != 1:
            fail(f"expected one samdops wheel from {tree}, found {len(built)}")
        for old in dest.iterdir():  # the context `project` holds this one wheel and its stamp
            old.unlink()
        wheel = dest / built[0].name
        os.replace(built[0], wheel)
        (out / "stamp").write_text(source + "\n")
        os.replace(out / "stamp", stamp)
    return wheel


def inputs(argv: list[str]) -> str:
    digest = hashlib.sha256()
    args = iter(argv)
    for arg in args:
        if arg == "--text":
            digest.update(b"text\0" + next(args).encode() + b"\0")
        else:
            path = Path(arg)
            digest.update(f"file\0{arg}\0{sha256_file(path)}\0".encode())
    return "sha256:" + digest.hexdigest()


def registry_answers(host: str) -> bool:
    """Whether a registry (Docker Registry HTTP API V2) answers at ``http://host/v2/``."""
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    try:
        with opener.open(f"http://{host}/v2/", timeout=2) as response:
            headers = response.headers
    except urllib.error.HTTPError as exc:  # 401 from a registry that wants a login still counts
        headers = exc.headers
    except (OSError, ValueError):
        return False
    return "Docker-Distribution-Api-Version" in headers


# -- apt sources -------------------------------------------------------------------------------

_DEBIAN_SUITES = {"bullseye", "bookworm", "trixie", "forky", "sid"}
_DEBIAN_SUITES |= {"oldstable", "stable", "testing", "unstable"}


def _one_line_entries(text: str) -> list[tuple[str, str]]:
    entries = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "deb":
            continue
        words = words[1:]
        if words[0].startswith("["):  # options: [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words.pop(0)
            words = words[1:]
        if len(words) >= 2:
            entries.append((words[0], words[1]))
    return entries


def _deb822_entries(text: str) -> list[tuple[str, str]]:
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1].isspace() and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            entries.extend((uri, suite) for suite in fields.get("suites", "").split())
    return entries


def apt_entries(root: Path = Path("/etc/apt")) -> list[tuple[str, str]]:
    """``(uri, suite)`` of every enabled ``deb`` source, in apt's reading order."""
    entries = []
    main = root / "sources.list"
    if main.is_file():
        entries += _one_line_entries(main.read_text(encoding="utf-8", errors="replace"))
    parts = root / "sources.list.d"
    for path in sorted(parts.iterdir()) if parts.is_dir() else []:
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".list":
            entries += _one_line_entries(text)
        elif path.suffix == ".sources":
            entries += _deb822_entries(text)
    return entries


def mirrors(entries: list[tuple[str, str]], codename: str = "bookworm") -> tuple[str, str, bool]:
    """The archive mirror, the security mirror ("-" if none), and whether -updates is served."""

    def release(suite: str) -> str:
        return suite.split("-", 1)[0] if "-" in suite else suite

    debian = [(uri, suite) for uri, suite in entries if release(suite) in _DEBIAN_SUITES]
    archive = [uri for uri, suite in debian if suite == codename]
    archive += [uri for uri, suite in debian if suite in _DEBIAN_SUITES]
    if not archive:
        fail(
            "no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/ (needed to "
            "build the base from Debian packages); set SAMDOPS_DEBIAN_MIRROR"
        )
    security = [uri for uri, suite in debian if suite.endswith("-security")]
    updates = any(uri == archive[0] and suite.endswith("-updates") for uri, suite in debian)
    return archive[0], (security[0] if security else "-"), updates


def main(argv: list[str]) -> int:
    command, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    if command == "wheels" and len(args) >= 2:
        wheels(Path(args[0]), [Path(a) for a in args[1:]])
    elif command == "project" and len(args) == 1:
        print(project(Path(args[0])))
    elif command == "inputs":
        print(inputs(args))
    elif command == "registry" and len(args) == 1:
        return 0 if registry_answers(args[0]) else 1
    elif command == "mirror" and not args:
        archive, security, updates = mirrors(apt_entries())
        print(archive, security, "updates" if updates else "-")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
