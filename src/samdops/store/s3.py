"""The S3 store, through the ``minio`` client (MinIO, SeaweedFS, AWS S3): ``<prefix>/sha256/<hex>``.

Writes:

1. Hash the content: its sha256 names the key.
2. If the key exists with the same size and checksum (or ETag), stop: content is stored once.
3. Upload. A single PUT carries ``x-amz-checksum-sha256``, which the server verifies; parts of a
   multipart upload carry a signed payload hash or Content-MD5 that the server verifies. A file is
   hashed again while it is sent: if it changed since step 1 the upload is aborted before it
   completes, so nothing is ever readable under a key its bytes do not hash to.
4. Check the server's answer: the sha256 it echoes for a single PUT, else the ETag against the
   MD5s of the parts (computed while the upload runs).

Object Lock retention is set on each object when ``retention_days`` > 0 and the bucket has Object
Lock enabled. Reads hash every byte as it arrives (a large object in a second thread, so that
the hashing overlaps the download, into memory backed by huge pages) and raise
:class:`DigestMismatch` unless it hashes to its key; one GET per read, no HEAD.
S3 offers no create-if-absent through this client; two writers of the same content both succeed
(the content, hence the object, is the same; a versioned bucket keeps both versions).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import http.client
import io
import logging
import math
import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, TypeVar
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, Filter
from minio.credentials.providers import StaticProvider
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import check_bucket_name
from minio.lifecycleconfig import AbortIncompleteMultipartUpload, LifecycleConfig, Rule
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.retention import Retention
from minio.versioningconfig import VersioningConfig
from urllib3 import BaseHTTPResponse

from samdops import settings as samdops_settings
from samdops.clock import object_lock_date
from samdops.digest import parse_digest
from samdops.errors import ConfigError, DigestMismatch, StoreError
from samdops.retry import GaveUp, RetryPolicy, retry_call
from samdops.secrets.base import Secret
from samdops.store._pages import advise_huge_pages

_T = TypeVar("_T")
_log = logging.getLogger(__name__)
_MiB = 1 << 20
_CHUNK = 1 << 20
_PARALLEL_FROM = 8 * _MiB  # bodies this large are hashed while they download
_SLOTS = 4  # chunks read ahead of the hashing thread
_MAX_PARTS = 10_000
_TRANSIENT_CODES = frozenset(
    {"InternalError", "SlowDown", "ServiceUnavailable", "RequestTimeout", "Throttling"}
)


@dataclass(frozen=True)
class S3Settings:
    """Where and how to store; nothing here is secret.

    ``endpoint`` is ``http(s)://host[:port]``; ``retention_days`` > 0 locks each object version
    for that long in ``retention_mode`` when the bucket has Object Lock enabled; set
    ``verify_etag=False`` for servers whose ETag is not the MD5 of the content (SSE-KMS, SSE-C).
    """

    endpoint: str
    bucket: str
    prefix: str = ""
    region: str | None = None
    retention_days: int = 0
    retention_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    part_size: int = 64 * _MiB
    verify_etag: bool = True
    timeout: float = 120.0
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(attempts=4, timeout=30.0))

    def __post_init__(self) -> None:
        url = urlsplit(self.endpoint)
        if url.username or url.password:
            raise ConfigError(
                "the S3 endpoint must not contain credentials; they are read from the secrets "
                "backend (see samdops.store.open_store)"
            )
        if url.scheme not in ("http", "https") or not url.hostname or url.path not in ("", "/"):
            raise ConfigError(
                f"S3 endpoint {self.endpoint!r} must look like https://host[:port] (no path)"
            )
        try:
            check_bucket_name(self.bucket, strict=True)
        except ValueError:
            raise ConfigError(f"{self.bucket!r} is not a valid S3 bucket name") from None
        if self.retention_days < 0:
            raise ConfigError(f"retention_days must be >= 0; got {self.retention_days}")
        if self.retention_mode not in ("GOVERNANCE", "COMPLIANCE"):
            raise ConfigError(
                f"retention_mode must be GOVERNANCE or COMPLIANCE; got {self.retention_mode!r}"
            )
        if not 5 * _MiB <= self.part_size <= 5 * 1024 * _MiB:
            raise ConfigError(f"part_size must be between 5 MiB and 5 GiB; got {self.part_size}")
        object.__setattr__(self, "prefix", self.prefix.strip("/"))

    @property
    def secure(self) -> bool:
        return urlsplit(self.endpoint).scheme == "https"

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).netloc


class S3Store:
    """Content-addressed store in an S3 bucket. Every read verifies the digest."""

    def __init__(
        self,
        settings: S3Settings,
        access_key: Secret,
        secret_key: Secret,
        session_token: Secret | None = None,
    ) -> None:
        self.settings = settings
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=10.0, read=settings.timeout),
            maxsize=10,
            retries=False,  # retries are ours: bounded, and only for transient errors
            cert_reqs="CERT_REQUIRED",
            ca_certs=samdops_settings.ca_bundle() or certifi.where(),
        )
        self._client = Minio(
            settings.host,
            secure=settings.secure,
            region=settings.region,
            http_client=http,
            credentials=StaticProvider(
                access_key.reveal(),
                secret_key.reveal(),
                session_token.reveal() if session_token else None,
            ),
        )
        self._lock_enabled: bool | None = None

    def __repr__(self) -> str:
        return f"S3Store({self.settings.endpoint!r}, {self._location()!r})"

    @property
    def client(self) -> Minio:
        """The authenticated minio client (for other write-once data, such as the audit log)."""
        return self._client

    # -- ArtifactStore ---------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> str:
        plan = _Plan.of_bytes(data, self._part_size(len(data)))
        return self._put(plan, _BytesOpener(data), source="bytes")

    def put_file(self, path: str | Path) -> str:
        source = Path(path)
        try:
            size = source.stat().st_size
            plan = _Plan.of_file(source, size, self._part_size(size))
        except OSError as exc:
            raise StoreError(f"cannot store {source}: {exc.strerror}") from None
        return self._put(plan, lambda: self._open_source(source), source=str(source))

    def get_bytes(self, digest: str) -> bytes:
        key = self._key(digest)

        def download() -> tuple[bytes, str]:
            response = self._client.get_object(self.settings.bucket, key)
            try:
                return _read_body(response)
            finally:
                response.close()
                response.release_conn()

        data, got = self._call(f"read {digest} from", key, download)
        self._verify(digest, got)
        return data

    def get_file(self, digest: str, dest: str | Path) -> Path:
        key = self._key(digest)
        target = Path(dest)
        target.parent.mkdir(parents=True, exist_ok=True)

        def download() -> tuple[str, str]:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    os.fchmod(out.fileno(), 0o644)
                    response = self._client.get_object(self.settings.bucket, key)
                    try:
                        got = _write_body(response, out)
                    finally:
                        response.close()
                        response.release_conn()
                    out.flush()
                    os.fsync(out.fileno())
            except BaseException:
                os.unlink(tmp)
                raise
            return tmp, got

        tmp, got = self._call(f"read {digest} from", key, download)
        try:
            self._verify(digest, got)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target

    def exists(self, digest: str) -> bool:
        return self._stat(self._key(digest)) is not None

    def uri(self, digest: str) -> str:
        return f"s3://{self.settings.bucket}/{self._key(digest)}"

    # -- bucket setup ----------------------------------------------------------------------------

    def ensure_bucket(self, *, object_lock: bool = True, default_retention_days: int = 0) -> None:
        """Create the bucket if needed, with versioning, Object Lock (only possible at creation)
        and a rule that aborts incomplete multipart uploads after a day. Idempotent."""

        def setup() -> None:
            bucket = self.settings.bucket
            if not self._client.bucket_exists(bucket):
                self._client.make_bucket(bucket, self.settings.region, object_lock=object_lock)
            self._client.set_bucket_versioning(bucket, VersioningConfig(ENABLED))
            if default_retention_days:
                self._client.set_object_lock_config(
                    bucket,
                    ObjectLockConfig(self.settings.retention_mode, default_retention_days, DAYS),
                )
            rule = Rule(
                ENABLED,
                rule_id="samdops-abort-incomplete-uploads",
                abort_incomplete_multipart_upload=AbortIncompleteMultipartUpload(1),
                rule_filter=Filter(prefix=self.settings.prefix),
            )
            self._client.set_bucket_lifecycle(bucket, LifecycleConfig([rule]))

        self._call("set up", "", setup)
        self._lock_enabled = None

    def check_bucket(self) -> None:
        """Raise :class:`StoreError` unless the endpoint answers, takes the credentials and holds
        the bucket (a read: ``samdops doctor``)."""

        def probe() -> None:
            if not self._client.bucket_exists(self.settings.bucket):
                raise StoreError(
                    f"bucket {self.settings.bucket} does not exist at {self.settings.endpoint}"
                )

        self._call("reach", "", probe)

    # -- internals -------------------------------------------------------------------------------

    def _open_source(self, path: Path) -> IO[bytes]:
        """Open the file to upload (tests override this to simulate read failures)."""
        return open(path, "rb")

    def _location(self) -> str:
        prefix = f"/{self.settings.prefix}" if self.settings.prefix else ""
        return f"s3://{self.settings.bucket}{prefix}"

    def _key(self, digest: str) -> str:
        hexdigest = parse_digest(digest).split(":", 1)[1]
        prefix = f"{self.settings.prefix}/" if self.settings.prefix else ""
        return f"{prefix}sha256/{hexdigest}"

    def _part_size(self, size: int) -> int:
        needed = math.ceil(size / _MAX_PARTS / _MiB) * _MiB
        return max(self.settings.part_size, needed)

    def _put(self, plan: _Plan, opener: Callable[[], IO[bytes]], *, source: str) -> str:
        key = self._key(plan.digest)
        retention = self._retention()
        if not plan.multipart and self._put_if_absent(plan, opener, key, retention, source):
            return plan.digest
        stat = self._stat(key)
        if stat is not None and stat.size == plan.size and self._holds(stat, plan):
            _log.debug("%s is already stored at %s", plan.digest, self.uri(plan.digest))
            return plan.digest
        headers: dict[str, str | list[str] | tuple[str]] = {}
        if not plan.multipart:  # one PUT: the server checks the whole object's sha256
            headers = {
                "x-amz-sdk-checksum-algorithm": "SHA256",
                "x-amz-checksum-sha256": plan.checksum_b64,
            }

        def upload() -> Any:
            with opener() as raw:
                stream = _VerifyingReader(raw, plan, source)
                return self._client.put_object(
                    self.settings.bucket,
                    key,
                    stream,  # type: ignore[arg-type]
                    plan.size,
                    part_size=plan.part_size,
                    metadata=headers,
                    retention=retention,
                )

        try:
            with ThreadPoolExecutor(1) as pool:  # the expected ETag is computed during the upload
                etag = (
                    pool.submit(plan.etag) if plan.multipart and self.settings.verify_etag else None
                )
                result = self._call(f"store {plan.digest} in", key, upload)
                if etag is not None:
                    etag.result()
        except OSError as exc:
            raise StoreError(
                f"cannot store {plan.digest} from {source}: reading the source failed "
                f"({exc.strerror or exc}); nothing was stored under its key"
            ) from None
        self._check_written(plan, key, result)
        if retention is not None and plan.multipart:
            # Not every server applies the lock headers of CreateMultipartUpload; set it again.
            self._call(
                "set retention on",
                key,
                lambda: self._client.set_object_retention(
                    self.settings.bucket, key, retention, version_id=result.version_id
                ),
            )
        _log.debug("stored %s at %s", plan.digest, self.uri(plan.digest))
        return plan.digest

    def _put_if_absent(
        self,
        plan: _Plan,
        opener: Callable[[], IO[bytes]],
        key: str,
        retention: Retention | None,
        source: str,
    ) -> bool:
        """One conditional PUT (``If-None-Match: *``); ``False`` when the key already exists.

        New content then costs one request, like the bare client, instead of HEAD + PUT; an
        existing key is checked by the caller (and stored again if it no longer holds the
        content). ``Minio.put_object`` would send the header as user metadata, so this goes
        through the client's request method.
        """
        try:
            with opener() as raw:
                data = _VerifyingReader(raw, plan, source).read()
        except OSError as exc:
            raise StoreError(
                f"cannot store {plan.digest} from {source}: reading the source failed "
                f"({exc.strerror or exc}); nothing was stored under its key"
            ) from None
        headers: dict[str, str | list[str] | tuple[str]] = {
            "If-None-Match": "*",
            "Content-Type": "application/octet-stream",
            "x-amz-sdk-checksum-algorithm": "SHA256",
            "x-amz-checksum-sha256": plan.checksum_b64,
        }
        if retention is not None:
            headers["x-amz-object-lock-mode"] = str(retention.mode)
            until = retention.retain_until_date
            headers["x-amz-object-lock-retain-until-date"] = object_lock_date(until)

        def upload() -> Any:
            try:
                return self._client._execute(
                    "PUT", self.settings.bucket, key, body=data, headers=headers
                )
            except S3Error as exc:
                if exc.code in ("PreconditionFailed", "ConditionalRequestConflict"):
                    return None
                raise

        response = self._call(f"store {plan.digest} in", key, upload)
        if response is None:
            return False
        result = _Written(
            http_headers=response.headers,
            etag=response.headers.get("etag"),
            version_id=response.headers.get("x-amz-version-id"),
        )
        self._check_written(plan, key, result)
        _log.debug("stored %s at %s", plan.digest, self.uri(plan.digest))
        return True

    def _holds(self, stat: Any, plan: _Plan) -> bool:
        """Whether the existing object ``stat`` has the planned content (size already equal)."""
        stored = stat.metadata.get("x-amz-checksum-sha256")
        if stored:
            return bool(stored == plan.checksum_b64)
        if not self.settings.verify_etag:
            return True
        return bool((stat.etag or "").strip('"') == plan.etag())

    def _check_written(self, plan: _Plan, key: str, result: Any) -> None:
        echoed = (result.http_headers or {}).get("x-amz-checksum-sha256")
        etag = (result.etag or "").strip('"')
        problem = None
        if not plan.multipart and echoed:  # the sha256 the server verified
            if echoed != plan.checksum_b64:
                problem = f"the server computed checksum {echoed}, expected {plan.checksum_b64}"
        elif self.settings.verify_etag and etag and etag != plan.etag():
            problem = f"the server's ETag is {etag}, expected {plan.etag()}"
        if problem is None:
            return
        with contextlib.suppress(S3Error, ServerError, urllib3.exceptions.HTTPError):
            self._client.remove_object(self.settings.bucket, key, version_id=result.version_id)
        raise StoreError(
            f"S3 stored different bytes than were sent for {plan.digest} ({problem}); reads of "
            "this digest fail verification until it is stored again. If the server encrypts "
            "objects (SSE-KMS/SSE-C) its ETag is not an MD5: set verify_etag=False"
        )

    def _verify(self, digest: str, got_hex: str) -> None:
        want = parse_digest(digest)
        if "sha256:" + got_hex != want:
            raise DigestMismatch(
                f"stored object {want} at {self.uri(want)} now hashes to sha256:{got_hex}; "
                "it was changed behind the store's back"
            )

    def _stat(self, key: str) -> Any:
        def stat() -> Any:
            try:
                return self._client.stat_object(
                    self.settings.bucket, key, extra_headers={"x-amz-checksum-mode": "ENABLED"}
                )
            except S3Error as exc:
                if exc.code in ("NoSuchKey", "NoSuchVersion"):
                    return None
                raise

        return self._call("look up", key, stat)

    def _retention(self) -> Retention | None:
        if not self.settings.retention_days:
            return None
        if self._lock_enabled is None:

            def probe() -> bool:
                try:
                    config = self._client.get_object_lock_config(self.settings.bucket)
                except S3Error as exc:
                    if exc.code == "ObjectLockConfigurationNotFoundError":
                        return False
                    raise
                return config is not None

            self._lock_enabled = self._call("read the Object Lock configuration of", "", probe)
            if not self._lock_enabled:
                _log.warning(
                    "bucket %s has no Object Lock; artifacts are stored without retention",
                    self.settings.bucket,
                )
        if not self._lock_enabled:
            return None
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=self.settings.retention_days)
        return Retention(self.settings.retention_mode, until)

    def _call(self, action: str, key: str, fn: Callable[[], _T]) -> _T:
        where = f"s3://{self.settings.bucket}/{key}" if key else f"s3://{self.settings.bucket}"
        what = f"{action} {where}"
        try:
            return retry_call(fn, transient=_is_transient, what=what, policy=self.settings.retry)
        except GaveUp as exc:
            reason = (
                f"{_explain(exc.last, self.settings)}; gave up after {exc.attempts} attempt(s) "
                f"in {exc.elapsed:.1f} s"
            )
        except (S3Error, ServerError, InvalidResponseError, urllib3.exceptions.HTTPError) as exc:
            reason = _explain(exc, self.settings)
        raise StoreError(f"cannot {what}: {reason}") from None


# -- helpers ------------------------------------------------------------------------------------


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, urllib3.exceptions.SSLError):
        return False
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return True
    if isinstance(exc, ServerError):
        return exc.status_code >= 500
    return isinstance(exc, S3Error) and exc.code in _TRANSIENT_CODES


def _explain(exc: BaseException, settings: S3Settings) -> str:
    if isinstance(exc, urllib3.exceptions.IncompleteRead):
        return (
            f"the connection to {settings.endpoint} closed after {exc.partial} of "
            f"{exc.partial + exc.expected} bytes"
        )
    if isinstance(exc, urllib3.exceptions.HTTPError):
        reason = getattr(exc, "reason", None) or exc
        text = str(reason)
        for known in ("Connection refused", "timed out", "Name or service not known"):
            if known.lower() in text.lower():
                return f"the S3 endpoint {settings.endpoint} is unreachable ({known.lower()})"
        if isinstance(exc, urllib3.exceptions.ProtocolError):  # connected, then cut off
            cause = exc.args[-1] if exc.args else exc
            return f"the connection to {settings.endpoint} broke ({type(cause).__name__})"
        return f"the S3 endpoint {settings.endpoint} is unreachable ({type(exc).__name__})"
    if isinstance(exc, S3Error):
        if exc.code == "AccessDenied":
            return (
                "access denied (check the S3 credentials from the secrets backend and the "
                "bucket policy, or a retention lock)"
            )
        if exc.code == "NoSuchBucket":
            return f"bucket {settings.bucket} does not exist at {settings.endpoint}"
        return f"{exc.code}: {exc.message}"
    if isinstance(exc, ServerError):
        return f"the S3 server failed with HTTP {exc.status_code}"
    if isinstance(exc, InvalidResponseError):
        return f"{settings.endpoint} answered with something that is not an S3 response"
    return type(exc).__name__


def _body_size(response: BaseHTTPResponse) -> int | None:
    """The body's length when it arrives as stored (Content-Length, no transfer or content
    coding), else ``None``."""
    headers = response.headers
    if (
        headers.get("transfer-encoding")
        or headers.get("content-encoding", "identity").lower() != "identity"
    ):
        return None
    length = headers.get("content-length", "")
    return int(length) if length.isascii() and length.isdigit() else None


def _read_body(response: BaseHTTPResponse) -> tuple[bytes, str]:
    """The body of ``response`` and its sha256 (hex)."""
    size = _body_size(response)
    if size is None:
        data: bytes = response.read()
        return data, hashlib.sha256(data).hexdigest()
    # The body is read straight into the bytes object returned: bytes(size) gets pages the OS
    # zero-fills on first write, BytesIO adopts it when nothing else refers to it, and
    # getvalue() returns it once no view is left (CPython; elsewhere these copy, still correctly).
    # Huge pages spare a large body most of its page faults, which pays for hashing it.
    buffer = io.BytesIO(bytes(size))
    with buffer.getbuffer() as view:
        advise_huge_pages(view)
        got = _receive(response, size, into=view)
    return buffer.getvalue(), got


def _write_body(response: BaseHTTPResponse, out: IO[bytes]) -> str:
    """Write the body of ``response`` to ``out`` and return its sha256 (hex)."""
    size = _body_size(response)
    if size is not None:
        return _receive(response, size, sink=out.write)
    sha = hashlib.sha256()
    for chunk in response.stream(_CHUNK):
        sha.update(chunk)
        out.write(chunk)
    return sha.hexdigest()


def _receive(
    response: BaseHTTPResponse,
    size: int,
    *,
    into: memoryview | None = None,
    sink: Callable[[memoryview], object] | None = None,
) -> str:
    """Read the ``size`` bytes of the body of ``response`` chunk by chunk, into ``into`` if given
    (else into a few reused buffers), pass each chunk to ``sink`` and return their sha256 (hex).

    A large body is hashed (and sunk) in a second thread, a chunk at a time, while the next chunk
    downloads: verifying it then adds little to the download time instead of half of it.
    """
    parallel = size >= _PARALLEL_FROM
    slots = _SLOTS if parallel else 1
    ring = [] if into is not None else [bytearray(min(size, _CHUNK)) for _ in range(slots)]
    read = _reader(response)
    sha = hashlib.sha256()

    def slot(index: int, length: int) -> memoryview:
        if into is not None:
            return into[index * _CHUNK : index * _CHUNK + length]
        return memoryview(ring[index % slots])[:length]

    def process(chunk: memoryview) -> None:
        with chunk:  # released now, not later: BytesIO.getvalue() copies while a view lives
            sha.update(chunk)
            if sink is not None:
                sink(chunk)

    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(ThreadPoolExecutor(1)) if parallel else None
        pending: deque[Future[None]] = deque()
        for index, start in enumerate(range(0, size, _CHUNK)):
            while len(pending) >= slots:  # a ring buffer is refilled only once processed
                pending.popleft().result()
            chunk = slot(index, min(_CHUNK, size - start))
            _read_exactly(read, chunk, start, size)
            if pool is None:
                process(chunk)
            else:
                pending.append(pool.submit(process, chunk))
        while pending:
            pending.popleft().result()
    return sha.hexdigest()


def _reader(response: BaseHTTPResponse) -> Callable[[memoryview], int]:
    # urllib3's readinto() reads into a new bytes object and copies that; the http.client
    # response underneath reads from the socket straight into the buffer given.
    raw = getattr(response, "_fp", None)
    if isinstance(raw, http.client.HTTPResponse):
        return raw.readinto
    return response.readinto


def _read_exactly(
    read: Callable[[memoryview], int], chunk: memoryview, start: int, size: int
) -> None:
    """Fill ``chunk``, bytes ``start``... of a ``size``-byte body, or raise a transient error."""
    done = 0
    while done < len(chunk):
        try:
            n = read(chunk[done:] if done else chunk)
        except (OSError, http.client.HTTPException) as exc:  # what urllib3's own reads raise
            raise urllib3.exceptions.ProtocolError(f"Connection broken: {exc!r}", exc) from exc
        if not n:
            raise urllib3.exceptions.IncompleteRead(start + done, size - start - done)
        done += n


@dataclass(frozen=True)
class _Written:
    """The parts of a PUT response that :meth:`S3Store._check_written` reads."""

    http_headers: Mapping[str, str]  # case-insensitive (urllib3's HTTPHeaderDict)
    etag: str | None
    version_id: str | None


class _BytesOpener:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def __call__(self) -> IO[bytes]:
        return io.BytesIO(self._data)


class _Plan:
    """What an upload must produce: digest, size and part size; the ETag is computed on demand."""

    def __init__(
        self,
        digest: str,
        size: int,
        part_size: int,
        md5_parts: Callable[[], list[bytes]],
        *,
        hash_again: bool,
    ) -> None:
        self.digest = digest
        self.size = size
        self.part_size = part_size
        self.hash_again = hash_again  # re-hash while uploading: a file may change meanwhile
        self._md5_parts = md5_parts
        self._etag: str | None = None
        self._lock = threading.Lock()

    @property
    def multipart(self) -> bool:
        return self.size > self.part_size

    @property
    def checksum_b64(self) -> str:
        return base64.b64encode(bytes.fromhex(self.digest.split(":", 1)[1])).decode("ascii")

    def etag(self) -> str:
        """The ETag of the upload: MD5 of the content, or of the part MD5s plus ``-<parts>``."""
        with self._lock:
            if self._etag is None:
                md5s = self._md5_parts()
                self._etag = (
                    md5s[0].hex()
                    if len(md5s) == 1
                    else f"{hashlib.md5(b''.join(md5s)).hexdigest()}-{len(md5s)}"
                )
            return self._etag

    @classmethod
    def of_bytes(cls, data: bytes, part_size: int) -> _Plan:
        def md5s() -> list[bytes]:
            view = memoryview(data)
            starts = _starts(len(data), part_size)
            return [hashlib.md5(view[i : i + part_size]).digest() for i in starts]

        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        return cls(digest, len(data), part_size, md5s, hash_again=False)

    @classmethod
    def of_file(cls, path: Path, size: int, part_size: int) -> _Plan:
        sha = hashlib.sha256()
        seen = 0
        with open(path, "rb") as f:
            for chunk in _chunks(f, size):
                seen += len(chunk)
                sha.update(chunk)
            if seen != size or f.read(1):
                raise OSError(0, "the file changed size while it was being hashed")

        def md5s() -> list[bytes]:
            result = []
            with open(path, "rb") as f:
                for _ in _starts(size, part_size):
                    md5 = hashlib.md5()
                    for chunk in _chunks(f, part_size):
                        md5.update(chunk)
                    result.append(md5.digest())
            return result

        return cls("sha256:" + sha.hexdigest(), size, part_size, md5s, hash_again=True)


def _starts(size: int, part_size: int) -> range:
    return range(0, max(size, 1), part_size)


def _chunks(f: IO[bytes], limit: int) -> Iterator[bytes]:
    left = limit
    while left:
        chunk = f.read(min(_CHUNK * 8, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


class _VerifyingReader:
    """Passes the source through to the client, hashing it; raises before the last byte is
    handed over if the content no longer hashes to the planned digest (so the upload aborts)."""

    def __init__(self, raw: IO[bytes], plan: _Plan, source: str) -> None:
        self._raw = raw
        self._plan = plan
        self._source = source
        self._sha = hashlib.sha256() if plan.hash_again else None
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        left = self._plan.size - self._pos
        chunk = self._raw.read(left if n < 0 else min(n, left))
        self._pos += len(chunk)
        if self._sha is not None:
            self._sha.update(chunk)
            if self._pos == self._plan.size:
                self._check(self._sha.hexdigest())
            elif not chunk and left:
                self._check(None)
        return chunk

    def _check(self, got_hex: str | None) -> None:
        if got_hex is not None and "sha256:" + got_hex == self._plan.digest:
            return
        raise DigestMismatch(
            f"{self._source} changed while it was being stored as {self._plan.digest}; "
            "the upload was aborted and nothing was stored under that key"
        )
