"""Hostile and careless model packages (issue #16): one line, exit 2, nothing written outside.

A hostile archive is refused before anything is extracted, naming the member; malformed JSON
inside a package is a failure naming the file and what is wrong; `reproduce` takes the `.tar`.
One model is trained (~5 s) and exported once for the module; each test works on its own copy.
"""

from __future__ import annotations

import base64
import copy
import gzip
import io
import json
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samdops.audit.event import Actor, AuthMethod
from samdops.audit.signer import LocalEd25519Signer
from samdops.cli import main
from samdops.errors import PackageVerificationError, SamdopsError
from samdops.launch.compiler import compile_pipeline
from samdops.package import layout as L
from samdops.package.archive import open_package
from samdops.package.dsse import INTOTO_PAYLOAD_TYPE, sign_envelope
from samdops.package.export import export_package
from samdops.package.manifest import MANIFEST_FILE, MANIFEST_SIGNATURE, build_manifest
from samdops.package.reproduce import reproduce_package
from samdops.package.verify import inspect_package, verify_package
from tests.package_helpers import trained_reviewed_home
from tests.unit.test_package_access import STAFF, add_staff

READER = Actor("os:packager", AuthMethod.LOCAL_OS_USER)
HOW = "give the package directory or the .tar that `samdops package export --tar` wrote"
SHAPE = (
    "; a package archive holds one directory of regular files, as `samdops package export "
    "--tar` writes it"
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``base/pkg`` and ``base/pkg.tar`` of the reviewed Pima model; ``base/home`` its state."""
    base = tmp_path_factory.mktemp("hostile-package")
    home = trained_reviewed_home(base)
    add_staff(home)  # max, a release manager, exports with the CLI
    export = partial(export_package, compile_spec=compile_pipeline, by=READER)
    export("pima-diabetes-onset@1", base / "pkg", state=home, tar=True)
    return base


@pytest.fixture
def package(exported: Path, tmp_path: Path) -> Path:
    copy_ = tmp_path / "pkg"
    shutil.copytree(exported / "pkg", copy_)
    return copy_


@pytest.fixture
def no_extraction(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of members extracted (none, for an archive refused before extraction)."""
    extracted: list[str] = []
    original = tarfile.TarFile.extract

    def extract(self: tarfile.TarFile, member: Any, *args: Any, **kwargs: Any) -> None:
        extracted.append(getattr(member, "name", member))
        original(self, member, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "extract", extract)
    return extracted


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI; it must exit 2 with one ``samdops: error:`` line; return the message."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.endswith("\n") and captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("samdops: error: ")
    return captured.err.removeprefix("samdops: error: ").rstrip("\n")


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", data: bytes = b"x") -> Any:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    info.size = len(data) if info.isreg() else 0
    return info, (io.BytesIO(data) if info.isreg() else None)


def _tar(path: Path, members: list[Any], *, base: Path | None = None) -> Path:
    """Write ``path``: the members of the archive ``base`` (if given), then ``members``."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as out:
        if base is not None:
            with tarfile.open(base) as source:
                for info in source.getmembers():
                    out.addfile(info, source.extractfile(info))
        for info, data in members:
            out.addfile(info, io.BytesIO(data.getvalue()) if data else None)
    return path


# name -> (extra members after the real package's, the refusal, after "{path} is refused
# before extraction: ")
APPENDED = {
    "dot-dot": (
        [_member("pkg/../../escape.txt")],
        "member 'pkg/../../escape.txt' climbs out of the archive with '..'",
    ),
    "absolute": ([_member("/tmp/escape.txt")], "member '/tmp/escape.txt' has an absolute path"),
    "symlink-out": (
        [_member("pkg/evil", tarfile.SYMTYPE, "/etc/passwd")],
        "member 'pkg/evil' is a symbolic link",
    ),
    "relative-symlink-out": (
        [_member("pkg/up", tarfile.SYMTYPE, "../../.."), _member("pkg/up/escape.txt")],
        "member 'pkg/up' is a symbolic link",
    ),
    "hardlink-out": (
        [_member("pkg/evil", tarfile.LNKTYPE, "/etc/passwd")],
        "member 'pkg/evil' is a hard link",
    ),
    "character-device": (
        [_member("pkg/null", tarfile.CHRTYPE)],
        "member 'pkg/null' is a character device",
    ),
    "block-device": ([_member("pkg/sda", tarfile.BLKTYPE)], "member 'pkg/sda' is a block device"),
    "fifo": ([_member("pkg/fifo", tarfile.FIFOTYPE)], "member 'pkg/fifo' is a FIFO"),
    "two-top-level-directories": (
        [_member("other/x.txt")],
        "it holds 2 top-level entries ('other', 'pkg'), not one directory",
    ),
    "duplicate-member": (
        [_member("pkg/package.json", data=b"{}")],
        "member 'pkg/package.json' appears twice",
    ),
    "newline-in-name": (
        [_member("pkg/a\nb", tarfile.SYMTYPE, "/etc")],
        "member 'pkg/a\\nb' is a symbolic link",
    ),
}


@pytest.mark.parametrize("case", sorted(APPENDED))
def test_a_hostile_member_is_refused_before_extraction(
    case: str,
    exported: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_extraction: list[str],
) -> None:
    members, why = APPENDED[case]
    archive = _tar(tmp_path / "hostile.tar", members, base=exported / "pkg.tar")
    message = _one_line_error(["package", "verify", str(archive)], capsys)
    assert message == f"{archive} is refused before extraction: {why}{SHAPE}"
    assert no_extraction == []
    assert not Path("/tmp/escape.txt").exists()


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ([], "it is an empty tar archive"),
        ([_member("package.json")], "it holds no package directory, only the file 'package.json'"),
        ([_member("a.txt"), _member("b.txt")], "it holds 2 top-level entries ('a.txt', 'b.txt')"),
    ],
    ids=["empty-tar", "no-directory", "only-files"],
)
def test_an_archive_without_one_package_directory_is_refused(
    members: list[Any],
    why: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_extraction: list[str],
) -> None:
    archive = _tar(tmp_path / "odd.tar", members)
    message = _one_line_error(["package", "verify", str(archive)], capsys)
    if why.startswith("it holds 2"):
        why += ", not one directory"
    assert message == f"{archive} is refused before extraction: {why}{SHAPE}"
    assert no_extraction == []


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2 + 77]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda _: b"", "{path} is an empty file; " + HOW),
        (
            lambda _: b"hello, not a tar\n" * 100,
            "{path} is neither a package directory nor a tar archive; " + HOW,
        ),
        (
            lambda _: bytes(range(256)) * 8,
            "{path} is neither a package directory nor a tar archive; " + HOW,
        ),
        (
            _truncated,
            "{path} is a damaged or truncated tar archive (unexpected end of data);"
            " export it again",
        ),
        (
            lambda data: gzip.compress(data, mtime=0)[:5000],
            "{path} is a damaged or truncated tar archive (Compressed file ended before the "
            "end-of-stream marker was reached); export it again",
        ),
    ],
    ids=["empty-file", "text", "binary", "truncated-tar", "truncated-gzip"],
)
def test_a_file_that_is_no_intact_archive_is_one_line(
    content: Callable[[bytes], bytes],
    message: str,
    exported: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "package.tar"
    path.write_bytes(content((exported / "pkg.tar").read_bytes()))
    assert _one_line_error(["package", "verify", str(path)], capsys) == message.format(path=path)


def test_a_member_below_a_file_cannot_be_extracted_and_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _tar(tmp_path / "clash.tar", [_member("pkg/a"), _member("pkg/a/b")])
    message = _one_line_error(["package", "verify", str(archive)], capsys)
    assert message.startswith(f"{archive}: member 'pkg/a/b' cannot be extracted (")
    assert message.endswith("); the archive is damaged or truncated: export it again")


def test_a_missing_path_and_a_fifo_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.tar"
    assert _one_line_error(["package", "verify", str(missing)], capsys) == (
        f"{missing} does not exist; {HOW}"
    )
    fifo = tmp_path / "fifo.tar"
    os.mkfifo(fifo)
    assert _one_line_error(["package", "verify", str(fifo)], capsys) == (
        f"package {fifo} is not a regular file; give a file"
    )


def test_a_gzipped_package_archive_verifies(exported: Path, tmp_path: Path) -> None:
    archive = tmp_path / "pkg.tar.gz"
    archive.write_bytes(gzip.compress((exported / "pkg.tar").read_bytes()))
    assert verify_package(archive).ok


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_a_package_directory_with_a_link_or_fifo_is_refused_before_reading(
    kind: str, package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = package / L.MODEL_FILE
    target.unlink()
    if kind == "symlink":
        target.symlink_to("/dev/zero")  # hashing it would never end
        what = "a symbolic link"
    else:
        os.mkfifo(target)  # reading it would block
        what = "a special file"
    assert _one_line_error(["package", "verify", str(package)], capsys) == (
        f"{package} is refused: '{L.MODEL_FILE}' is {what}; a package directory holds only "
        "regular files and directories"
    )


def test_trusted_keys_that_are_a_file_are_one_line(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys.pem"
    keys.write_text("not a directory")
    assert _one_line_error(["package", "verify", str(package), "--keys", str(keys)], capsys) == (
        f"the trusted keys {keys} are not a directory; give the directory that holds the public "
        "keys your quality system trusts"
    )


# Malformed JSON inside a package: the file and what is wrong, as one failure line.
DEEP = b"[" * 100_000 + b"]" * 100_000


def _set(rel: str, edit: Callable[[Any], None]) -> Callable[[Path], None]:
    def apply(package: Path) -> None:
        document = json.loads((package / rel).read_bytes())
        edit(document)
        (package / rel).write_text(json.dumps(document))

    return apply


def _write(rel: str, data: bytes) -> Callable[[Path], None]:
    return lambda package: (package / rel).write_bytes(data)


def _directory(rel: str) -> Callable[[Path], None]:
    def apply(package: Path) -> None:
        (package / rel).unlink()
        (package / rel).mkdir()

    return apply


MALFORMED = {
    "package-json-array": (
        _write(L.PACKAGE_FILE, b"[]"),
        "package.json: the document is an array, not an object",
    ),
    "entries-of-numbers": (
        _write(L.AUDIT_PROOFS, b"[1]"),
        "audit/entries.json[0]: is a number, not an entry proof object",
    ),
    "entries-object": (
        _write(L.AUDIT_PROOFS, b"{}"),
        "audit/entries.json: the document is an object, not an array",
    ),
    "deep-package-json": (_write(L.PACKAGE_FILE, DEEP), "package.json nests deeper than 64 levels"),
    "deep-entries": (
        _write(L.AUDIT_PROOFS, b"[" * 100 + b"]" * 100),
        "audit/entries.json nests deeper than 64 levels",
    ),
    "signatures-as-strings": (
        _set(L.GOVERNED, lambda d: d.update(signatures=["abc"])),
        "registry/model.json: signatures[0] is a string, not an object",
    ),
    "signature-field-number": (
        _set(L.GOVERNED, lambda d: d["signatures"][0].update(signer=7)),
        "registry/model.json: signatures[0].signer is a number, not a string",
    ),
    "card-signatures-string": (
        _set(L.CARD_JSON, lambda d: d["integrity"].update(signatures="x")),
        "card/model-card.json: integrity.signatures is a string, not an array",
    ),
    "card-without-identity": (
        _set(L.CARD_JSON, lambda d: d.pop("identity")),
        "card/model-card.json: identity is missing",
    ),
    "keys-string": (
        _set(L.PACKAGE_FILE, lambda d: d.update(keys="abc")),
        "package.json: keys is a string, not an object",
    ),
    "model-name-number": (
        _set(L.PACKAGE_FILE, lambda d: d.update(model=1)),
        "package.json: model is a number, not a string",
    ),
    "record-array": (
        _write(L.RECORD, b"[]"),
        "registry/record.json: the document is an array, not an object",
    ),
    "record-model-string": (
        _set(L.RECORD, lambda d: d.update(model="x")),
        "registry/record.json: model is a string, not an object",
    ),
    "binary-package-json": (
        _write(L.PACKAGE_FILE, bytes(range(256))),
        "package.json is not UTF-8 text (invalid byte at offset 128); give a text file",
    ),
    "nan": (
        _write(L.PACKAGE_FILE, b'{"model": NaN}'),
        "package.json is not valid JSON: NaN is not a JSON number",
    ),
    "truncated-json": (
        _write(L.PACKAGE_FILE, b'{"a":'),
        "package.json is not valid JSON at line 1, column 6: Expecting value",
    ),
    "manifest-signatures-strings": (
        _set(MANIFEST_SIGNATURE, lambda d: d.update(signatures=["abc"])),
        "MANIFEST.dsse.json: malformed DSSE envelope: TypeError",
    ),
    "provenance-non-ascii-signature": (
        _set(L.PROVENANCE, lambda d: d["signatures"][0].update(sig="é")),
        "provenance/provenance.dsse.json: malformed DSSE envelope: ValueError",
    ),
    "provenance-string": (
        _write(L.PROVENANCE, b'"x"'),
        "provenance/provenance.dsse.json: the document is a string, not an object",
    ),
    "model-sig-array": (
        _write(L.MODEL_SIG, b"[]"),
        "model.sig: model.sig is not a model-signing bundle (TypeError)",
    ),
    "binary-checkpoint": (
        _write(L.CHECKPOINT, b"\xff\xfe"),
        "audit/checkpoint.note is not UTF-8 text (invalid byte at offset 0); give a text file",
    ),
    "package-json-directory": (
        _directory(L.PACKAGE_FILE),
        "package.json: is a directory, not a file",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_json_is_a_failure_naming_the_file(
    case: str, package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit, failure = MALFORMED[case]
    edit(package)
    with pytest.raises(PackageVerificationError) as caught:
        verify_package(package)
    assert failure in caught.value.failures
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)
    assert main(["package", "verify", str(package)]) == 1
    assert f"   - {failure}\n" in capsys.readouterr().out


def test_reproduce_accepts_the_tar_and_verifies_it_first(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = reproduce_package(exported / "pkg.tar", by=READER, state=exported / "home")
    assert result.match
    hostile = _tar(tmp_path / "hostile.tar", APPENDED["dot-dot"][0], base=exported / "pkg.tar")
    assert _one_line_error(["reproduce", str(hostile)], capsys) == (
        f"{hostile} is refused before extraction: {APPENDED['dot-dot'][1]}{SHAPE}"
    )


def test_reproduce_refuses_a_directory_as_the_training_snapshot(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _one_line_error(["reproduce", str(package), "--train", str(tmp_path)], capsys) == (
        f"training snapshot {tmp_path} is a directory; give a file"
    )


def test_reproduce_of_a_re_signed_package_with_a_malformed_datasets_file_is_one_line(
    exported: Path, package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (package / L.DATASETS).write_text("[1]")
    _resign_manifest(exported, package)
    assert _one_line_error(["reproduce", str(package)], capsys) == (
        "data/datasets.json: the document is an array, not an object"
    )


def _resign_manifest(exported: Path, package: Path) -> None:
    """Rewrite and re-sign the manifest with the exporter's key: a self-consistent package."""
    signer = LocalEd25519Signer.load_or_create(exported / "home" / "keys" / L.PACKAGE_KEY_NAME)
    manifest = build_manifest(package).to_bytes()
    (package / MANIFEST_FILE).write_bytes(manifest)
    envelope = sign_envelope(manifest, L.MANIFEST_PAYLOAD_TYPE, signer)
    (package / MANIFEST_SIGNATURE).write_text(json.dumps(envelope))


def _resign_provenance(exported: Path, package: Path, statement: Any) -> None:
    signer = LocalEd25519Signer.load_or_create(exported / "home" / "keys" / L.PACKAGE_KEY_NAME)
    payload = json.dumps(statement).encode()
    envelope = sign_envelope(payload, INTOTO_PAYLOAD_TYPE, signer)
    (package / L.PROVENANCE).write_text(json.dumps(envelope))


# Property tests: no input makes the readers raise anything but samdops errors.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
JSON_FILES = (
    L.PACKAGE_FILE,
    MANIFEST_SIGNATURE,
    L.MODEL_SIG,
    L.PROVENANCE,
    L.AUDIT_PROOFS,
    L.RECORD,
    L.GOVERNED,
    L.CARD_JSON,
    "provenance statement (re-signed)",
)


def _replace_somewhere(data: st.DataObject, document: Any) -> Any:
    """``document`` with the value at a drawn path (possibly the root) replaced."""
    document = copy.deepcopy(document)
    parent: Any = None
    key: Any = None
    node = document
    while isinstance(node, dict | list) and node and data.draw(st.booleans()):
        keys = sorted(node) if isinstance(node, dict) else list(range(len(node)))
        parent, key = node, data.draw(st.sampled_from(keys))
        node = node[key]
    value = data.draw(JSON_VALUES)
    if parent is None:
        return value
    parent[key] = value
    return document


def _statement(package: Path) -> Any:
    envelope = json.loads((package / L.PROVENANCE).read_bytes())
    return json.loads(base64.b64decode(envelope["payload"]))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_wrong_type_anywhere_in_a_package_document_is_a_samdops_error(
    data: st.DataObject, exported: Path, package: Path
) -> None:
    target = data.draw(st.sampled_from(JSON_FILES))
    saved = {rel: (package / rel).read_bytes() for rel in (*JSON_FILES[:-1], MANIFEST_FILE)}
    try:
        if target == JSON_FILES[-1]:
            _resign_provenance(exported, package, _replace_somewhere(data, _statement(package)))
        else:
            document = json.loads(saved[target])
            (package / target).write_text(json.dumps(_replace_somewhere(data, document)))
        if data.draw(st.booleans()):
            _resign_manifest(exported, package)  # so that the edit is not caught by step 2 only
        try:
            report = inspect_package(package)
        except SamdopsError:
            return
        assert all("\n" not in failure for failure in report.failures)
    finally:
        for rel, content in saved.items():
            (package / rel).write_bytes(content)


TAR_TYPES = st.sampled_from(
    [
        tarfile.REGTYPE,
        tarfile.AREGTYPE,
        tarfile.DIRTYPE,
        tarfile.SYMTYPE,
        tarfile.LNKTYPE,
        tarfile.CHRTYPE,
        tarfile.BLKTYPE,
        tarfile.FIFOTYPE,
        tarfile.CONTTYPE,
        tarfile.GNUTYPE_SPARSE,
        b"Z",
    ]
)
NAME_PARTS = st.sampled_from(["pkg", "..", ".", "", "/", "a", "b\n", "keys", "/tmp", "é"])
MEMBER_NAMES = st.lists(NAME_PARTS, min_size=1, max_size=4).map("/".join)


@st.composite
def _archives(draw: st.DrawFn) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for _ in range(draw(st.integers(0, 5))):
            kind = draw(TAR_TYPES)
            info, content = _member(
                draw(MEMBER_NAMES) or "x", kind, draw(MEMBER_NAMES), draw(st.binary(max_size=20))
            )
            tar.addfile(info, content)
    data = buffer.getvalue()
    cut = draw(st.integers(0, len(data)))
    flips = draw(st.lists(st.integers(0, max(len(data) - 1, 0)), max_size=3))
    damaged = bytearray(data[:cut] if draw(st.booleans()) else data)
    for index in flips:
        if index < len(damaged):
            damaged[index] ^= 0xFF
    if draw(st.booleans()):
        return gzip.compress(bytes(damaged), mtime=0)
    return bytes(damaged)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory that holds the temporary directories of the reader, and the cwd."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(archive=_archives())
def test_no_archive_makes_the_reader_raise_anything_but_a_samdops_error(
    archive: bytes, sandbox: Path
) -> None:
    path = sandbox / "package.tar"
    path.write_bytes(archive)
    before = sorted(p.relative_to(sandbox) for p in sandbox.rglob("*"))
    try:
        with open_package(path) as root:
            assert root.is_dir() and not root.is_symlink()
            assert all(p.is_dir() or p.is_file() for p in root.rglob("*"))
            assert all(not p.is_symlink() for p in root.rglob("*"))
    except PackageVerificationError as exc:
        assert "\n" not in str(exc)
    assert sorted(p.relative_to(sandbox) for p in sandbox.rglob("*")) == before


TOKEN = "hvs.CAESIJm3dGVzdC10b2tlbi1ub3QtYS1yZWFsLW9uZQ"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            bytes(range(256)),
            "{card} is not UTF-8 text (invalid byte at offset 128); give a text file",
        ),
        (
            "model: Größe\n".encode("latin-1"),
            "{card} is not UTF-8 text (invalid byte at offset 9); give a text file",
        ),
        (
            f"model: {TOKEN}\n  bad: [\n".encode(),
            "{card} is not valid YAML at line 2, column 6: mapping values are not allowed here",
        ),
        (b"[" * 100_000, "{card} nests deeper than 64 levels"),
        (None, "{card} is a directory; give a file"),
    ],
    ids=["binary", "latin-1", "malformed-yaml", "deep", "directory"],
)
def test_export_with_a_card_that_cannot_be_read_is_one_line(
    content: bytes | None,
    message: str,
    exported: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(STAFF["max"][1] + "\n"))
    card = tmp_path / "card.yaml"
    if content is None:
        card.mkdir()
    else:
        card.write_bytes(content)
    out = tmp_path / "out"
    argv = ["package", "export", "latest", str(out), "--card", str(card)]
    argv += ["--state", str(exported / "home"), "--user", "max", "--password-stdin"]
    error = _one_line_error(argv, capsys)
    assert error == "model card text " + message.format(card=card)
    assert TOKEN not in error and not out.exists()


def test_export_with_a_card_that_is_no_mapping_is_one_line(
    exported: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(STAFF["max"][1] + "\n"))
    card = tmp_path / "card.yaml"
    card.write_text(f"- {TOKEN}\n")
    argv = ["package", "export", "latest", str(tmp_path / "out"), "--card", str(card)]
    argv += ["--state", str(exported / "home"), "--user", "max", "--password-stdin"]
    error = _one_line_error(argv, capsys)
    assert (
        error == f"{card}: (top level): Input should be a valid dictionary or instance of CardText"
    )
