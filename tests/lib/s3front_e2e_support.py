"""Helpers for the end-to-end suite and the benchmarks: a real `s3front serve` subprocess,
a small SigV4 signer for hand-made requests, and wrappers around the real clients.

Everything here talks to loopback addresses only and bounds every wait. The signer is written
out (rather than borrowed from botocore) because the bad-input tests need the signing key and
the seed signature to frame aws-chunked bodies byte by byte; `test_harness.py` checks it
against botocore so a broken signer cannot make a negative test pass vacuously.

Its module name is unique because test directories have no __init__.py, so each lands on
sys.path and a plain `support.py` could be shadowed by another; tests/lib is on pytest's
`pythonpath`, and bench scripts reach it through `bench/harness.py`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ACCESS_KEY = "S3FRONTTESTACCESSKEY"
SECRET_KEY = "s3front-test-secret-key-0123456789abcdefgh"
REGION = "us-east-1"
MiB = 1024 * 1024
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
# One id per test session: names that must be known before a server starts (TLS certificates
# for virtual-hosted buckets) are derived from it, and it keeps a shared Cassandra keyspace apart
# from other sessions.
SESSION = uuid.uuid4().hex[:8]


def unique_bucket(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def vhost_bucket(variant: str) -> str:
    """The bucket the virtual-host test uses on one server variant (named in the TLS cert)."""
    return f"vh-{SESSION}-{variant}"


VARIANTS = ("http-sqlite", "https-sqlite", "http-cassandra", "https-cassandra")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------
# Files with random content (generated on disk in 1 MiB pieces; never held whole in memory)


@dataclass(frozen=True)
class DataFile:
    path: Path
    size: int
    sha256: str
    md5: str


def make_random_file(path: Path, size: int) -> DataFile:
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            piece = os.urandom(min(MiB, left))
            sha.update(piece)
            md5.update(piece)
            fh.write(piece)
            left -= len(piece)
    return DataFile(path, size, sha.hexdigest(), md5.hexdigest())


def sha256_file(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for piece in iter(lambda: fh.read(MiB), b""):
            sha.update(piece)
    return sha.hexdigest()


def read_range(path: Path, start: int, end_inclusive: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(start)
        return fh.read(end_inclusive - start + 1)


# --------------------------------------------------------------------------------------------
# TLS material


@dataclass(frozen=True)
class TLSMaterial:
    ca_path: Path
    cert_path: Path
    key_path: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))


def make_tls(directory: Path, extra_names: Sequence[str] = ()) -> TLSMaterial:
    import trustme

    ca = trustme.CA()
    # Wildcards under a single-label name ("*.localhost") are refused by OpenSSL, so
    # virtual-hosted bucket names used over HTTPS are listed one by one.
    cert = ca.issue_cert("127.0.0.1", "localhost", *extra_names)
    directory.mkdir(parents=True, exist_ok=True)
    ca_path = directory / "ca.pem"
    cert_path = directory / "server.pem"
    key_path = directory / "server.key"
    ca.cert_pem.write_to_path(str(ca_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_path), append=True)
    cert.private_key_pem.write_to_path(str(key_path))
    return TLSMaterial(ca_path, cert_path, key_path)


# --------------------------------------------------------------------------------------------
# The server process


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the test process dies, so that an interrupted
    test run (CI timeout, ^C, a killed pytest) leaves no server behind (Linux prctl)."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ServerStartError(RuntimeError):
    pass


@dataclass
class Server:
    """A running `s3front serve` (or any ASGI server answering HTTP on `port`)."""

    scheme: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    workdir: Path
    store_url: str
    tls: TLSMaterial | None = None
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    variant: str = "http-sqlite"
    _log_fh: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def endpoint_localhost(self) -> str:
        return f"{self.scheme}://localhost:{self.port}"

    @property
    def ca_path(self) -> str | None:
        return str(self.tls.ca_path) if self.tls else None

    @property
    def verify(self) -> str | bool:
        return str(self.tls.ca_path) if self.tls else True

    def ssl_context(self) -> ssl.SSLContext | None:
        return self.tls.client_context() if self.tls else None

    # -- log
    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_mark(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, mark: int) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(mark)
                return fh.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def access_log(self, since: int = 0) -> list[dict[str, Any]]:
        """Entries of the server's access log after `since`: the log lines that are JSON
        objects (the server's other lines are plain text)."""
        out = []
        for line in self.log_since(since).splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def alive(self) -> bool:
        return self.proc.poll() is None

    # -- clients
    def client(
        self,
        *,
        addressing: str = "path",
        signature_version: str | None = None,
        endpoint: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        **config: Any,
    ) -> Any:
        import boto3
        from botocore.config import Config

        cfg = Config(
            s3={"addressing_style": addressing},
            signature_version=signature_version,
            retries={"max_attempts": 2, "mode": "standard"},
            connect_timeout=5,
            read_timeout=120,
            **config,
        )
        session = boto3.session.Session()
        return session.client(
            "s3",
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=self.region,
            verify=self.verify,
            config=cfg,
        )

    def raw(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes | Iterable[bytes] = b"",
        payload_hash: str | None = None,
        sign: bool = True,
        access_key: str | None = None,
        secret_key: str | None = None,
        host: str | None = None,
        timeout: float = 60,
    ) -> RawResponse:
        """Send one request with exactly these bytes, SigV4-signed unless `sign` is False.

        `path` is sent as given (percent-encode it yourself); `query` without the "?".
        """
        host_header = host or f"127.0.0.1:{self.port}"
        hdrs = dict(headers or {})
        if sign:
            if payload_hash is None:
                if not isinstance(body, bytes):
                    raise ValueError("give payload_hash for a streamed body")
                payload_hash = hashlib.sha256(body).hexdigest()
            signed = sign_v4(
                method,
                path,
                query,
                {"host": host_header, **hdrs},
                payload_hash,
                access_key or self.access_key,
                secret_key or self.secret_key,
                self.region,
            )
            hdrs = signed.headers
        else:
            hdrs = {"host": host_header, **hdrs}
        return send_raw(
            self.scheme,
            self.port,
            method,
            path + (f"?{query}" if query else ""),
            hdrs,
            body,
            ssl_context=self.ssl_context(),
            timeout=timeout,
        )


def start_server(
    workdir: Path,
    *,
    scheme: str = "http",
    store_url: str | None = None,
    tls: TLSMaterial | None = None,
    extra_args: Sequence[str] = (),
    ready_timeout: float = 30.0,
    variant: str = "http-sqlite",
    env_extra: Mapping[str, str] | None = None,
    python: str = sys.executable,
) -> Server:
    """Start `python -m s3front serve` on a free loopback port and wait until it answers
    (`python`: the interpreter of another installation, e.g. a venv with the built wheel)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if store_url is None:
        data = workdir / "data"
        data.mkdir(exist_ok=True)
        store_url = f"sqlite://{data}"  # -> sqlite:///abs/dir
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    env.update(
        S3FRONT_ROOT_ACCESS_KEY=ACCESS_KEY,
        S3FRONT_ROOT_SECRET_KEY=SECRET_KEY,
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(env_extra or {})
    last_error = ""
    for attempt in range(3):  # a port picked by bind(0) can be taken again before we use it
        port = free_port()
        args = [
            python,
            "-m",
            "s3front",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--store",
            store_url,
            "--domain",
            "localhost",
            "--region",
            REGION,
        ]
        if scheme == "https":
            if tls is None:
                raise ValueError("https needs TLS material")
            args += ["--tls-cert", str(tls.cert_path), "--tls-key", str(tls.key_path)]
        args += list(extra_args)
        log_path = workdir / f"server-{port}.log"
        log_fh = open(log_path, "wb")  # noqa: SIM115 - closed by stop_server
        proc = subprocess.Popen(
            args,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        server = Server(
            scheme=scheme,
            port=port,
            proc=proc,
            log_path=log_path,
            workdir=workdir,
            store_url=store_url,
            tls=tls if scheme == "https" else None,
            variant=variant,
            _log_fh=log_fh,
        )
        try:
            wait_ready(server, ready_timeout)
            return server
        except ServerStartError as exc:
            last_error = str(exc)
            stop_server(server)
            if "address already in use" not in server.log_text().lower() or attempt == 2:
                raise
    raise ServerStartError(last_error)


def wait_ready(server: Server, timeout: float) -> None:
    """Poll GET /-/readyz until 200.

    503 means "starting, not ready yet"; any other answer means the server answers HTTP but has
    no readiness endpoint (yet), which is then good enough.
    """
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise ServerStartError(
                f"server exited with {server.proc.returncode} before answering; log:\n"
                + server.log_text()[-8000:]
            )
        try:
            resp = send_raw(
                server.scheme,
                server.port,
                "GET",
                "/-/readyz",
                {"host": f"127.0.0.1:{server.port}"},
                b"",
                ssl_context=server.ssl_context(),
                timeout=2,
            )
            if resp.status != 503:
                return
            last = f"HTTP {resp.status}"
        except (OSError, http.client.HTTPException) as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise ServerStartError(
        f"server did not become ready within {timeout:.0f}s (last: {last}); log:\n"
        + server.log_text()[-8000:]
    )


def stop_server(server: Server, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; only this process (by PID)."""
    proc = server.proc
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    if server._log_fh is not None:
        server._log_fh.close()
        server._log_fh = None


# --------------------------------------------------------------------------------------------
# Raw HTTP


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def request_id(self) -> str:
        return self.headers.get("x-amz-request-id", "")

    def xml(self) -> ET.Element:
        return ET.fromstring(self.body)

    @property
    def error_code(self) -> str:
        return error_code(self.body)

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.headers} {self.body[:2000]!r}"


def error_code(body: bytes) -> str:
    """The <Code> of an S3 error document, or "" when the body is not one."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return ""
    if strip_ns(root.tag) != "Error":
        return ""
    for child in root:
        if strip_ns(child.tag) == "Code":
            return child.text or ""
    return ""


def strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def find_text(root: ET.Element, name: str) -> list[str]:
    """Texts of all descendants named `name`, whatever their namespace."""
    return [el.text or "" for el in root.iter() if strip_ns(el.tag) == name]


def connect(
    scheme: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    timeout: float,
    server_hostname: str = "127.0.0.1",
) -> http.client.HTTPConnection:
    if scheme == "https":
        return http.client.HTTPSConnection("127.0.0.1", port, context=ssl_context, timeout=timeout)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def send_raw(
    scheme: str,
    port: int,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes | Iterable[bytes],
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 60,
) -> RawResponse:
    conn = connect(scheme, port, ssl_context, timeout)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        if isinstance(body, bytes):
            has_length = "content-length" in {k.lower() for k in headers}
            if (body or method in ("PUT", "POST")) and not has_length:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
        else:
            conn.endheaders()
            for piece in body:
                conn.send(piece)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# SigV4


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def canonical_query(raw_query: str) -> str:
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


@dataclass(frozen=True)
class Signed:
    headers: dict[str, str]
    signature: str
    key: bytes
    amz_date: str
    scope: str


def sign_v4(
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    payload_hash: str,
    access_key: str,
    secret_key: str,
    region: str = REGION,
    now: dt.datetime | None = None,
) -> Signed:
    """Sign with an Authorization header; every given header is signed.

    S3 canonicalisation: the path is used as sent (no normalisation, no double encoding).
    """
    now = now or dt.datetime.now(dt.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    out = {k.lower(): v for k, v in headers.items()}
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_hash
    names = sorted(out)
    canonical_headers = "".join(f"{n}:{' '.join(str(out[n]).split())}\n" for n in names)
    signed_headers = ";".join(names)
    creq = "\n".join(
        [method, path, canonical_query(raw_query), canonical_headers, signed_headers, payload_hash]
    )
    scope = f"{date}/{region}/s3/aws4_request"
    sts = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()]
    )
    key = signing_key(secret_key, date, region)
    signature = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    out["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return Signed(out, signature, key, amz_date, scope)


def chunk_signature(signed: Signed, previous: str, data: bytes) -> str:
    sts = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            signed.amz_date,
            signed.scope,
            previous,
            EMPTY_SHA256,
            hashlib.sha256(data).hexdigest(),
        ]
    )
    return hmac.new(signed.key, sts.encode(), hashlib.sha256).hexdigest()


def aws_chunked_length(sizes: Sequence[int]) -> int:
    """Encoded length of a signed aws-chunked body with these chunk sizes (plus the final 0)."""
    total = 0
    for size in [*sizes, 0]:
        total += len(f"{size:x};chunk-signature=") + 64 + 2 + size + 2
    return total


def aws_chunked_body(signed: Signed, chunks: Sequence[bytes], tamper: int | None = None) -> bytes:
    """Frame `chunks` as STREAMING-AWS4-HMAC-SHA256-PAYLOAD; `tamper` breaks one chunk's sig."""
    out = bytearray()
    previous = signed.signature
    for i, data in enumerate([*chunks, b""]):
        sig = chunk_signature(signed, previous, data)
        previous = sig
        sent = sig
        if tamper == i:
            sent = ("0" if sig[0] != "0" else "1") + sig[1:]
        out += f"{len(data):x};chunk-signature={sent}\r\n".encode() + data + b"\r\n"
    return bytes(out)


def signed_streaming_put(
    server: Server,
    path: str,
    chunks: Sequence[bytes],
    *,
    tamper: int | None = None,
    content_encoding: bool = True,
) -> RawResponse:
    decoded = sum(len(c) for c in chunks)
    hdrs = {
        "host": f"127.0.0.1:{server.port}",
        "x-amz-decoded-content-length": str(decoded),
        "content-length": str(aws_chunked_length([len(c) for c in chunks])),
    }
    if content_encoding:
        hdrs["content-encoding"] = "aws-chunked"
    signed = sign_v4(
        "PUT",
        path,
        "",
        hdrs,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        server.access_key,
        server.secret_key,
        server.region,
    )
    body = aws_chunked_body(signed, chunks, tamper=tamper)
    assert len(body) == int(hdrs["content-length"])
    return send_raw(
        server.scheme,
        server.port,
        "PUT",
        path,
        signed.headers,
        body,
        ssl_context=server.ssl_context(),
    )


def content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def crc32_b64(data: bytes) -> str:
    import zlib

    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def open_raw_socket(server: Server, timeout: float = 15) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    if server.scheme == "https":
        ctx = server.ssl_context()
        assert ctx is not None
        return ctx.wrap_socket(sock, server_hostname="127.0.0.1")
    return sock


def read_http_response(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Whatever the server sends until it closes or goes quiet (bounded)."""
    data = bytearray()
    with contextlib.suppress(OSError, TimeoutError):
        while len(data) < limit:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
            if b"\r\n\r\n" in data:
                head, _, rest = bytes(data).partition(b"\r\n\r\n")
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length" and len(rest) >= int(value):
                        return bytes(data)
    return bytes(data)


def parse_http_response(data: bytes) -> RawResponse | None:
    if not data.startswith(b"HTTP/"):
        return None
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(status, headers, rest)


# --------------------------------------------------------------------------------------------
# Command-line clients


def run(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    try:
        cp = subprocess.run(
            list(cmd),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"timed out after {timeout}s: {' '.join(cmd)}\nstdout: {exc.stdout!r}\n"
            f"stderr: {exc.stderr!r}"
        ) from None
    if check and cp.returncode != 0:
        raise AssertionError(
            f"exit {cp.returncode}: {' '.join(cmd)}\nstdout:\n{cp.stdout[-4000:]}\n"
            f"stderr:\n{cp.stderr[-4000:]}"
        )
    return cp


def client_env(tmp: Path, server: Server) -> dict[str, str]:
    """Environment for the AWS CLI / s3cmd: our keys only, no user config anywhere."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    empty = tmp / "empty-aws-config"
    empty.write_text("")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "S3FRONT_", "BOTO_", "REQUESTS_CA", "SSL_CERT"))
    }
    env.update(
        HOME=str(home),
        AWS_ACCESS_KEY_ID=server.access_key,
        AWS_SECRET_ACCESS_KEY=server.secret_key,
        AWS_DEFAULT_REGION=server.region,
        AWS_CONFIG_FILE=str(empty),
        AWS_SHARED_CREDENTIALS_FILE=str(empty),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_RETRY_MODE="standard",
        AWS_MAX_ATTEMPTS="2",
        AWS_PAGER="",
    )
    return env


def aws_cmd(server: Server, *args: str) -> list[str]:
    cmd = [str(BIN / "aws"), "--endpoint-url", server.endpoint, "--output", "json"]
    if server.tls:
        cmd += ["--ca-bundle", str(server.tls.ca_path)]
    return [*cmd, *args]


def s3cmd_config(path: Path, server: Server, *, v2: bool) -> Path:
    lines = [
        "[default]",
        f"access_key = {server.access_key}",
        f"secret_key = {server.secret_key}",
        f"host_base = 127.0.0.1:{server.port}",
        f"host_bucket = 127.0.0.1:{server.port}",
        f"use_https = {server.scheme == 'https'}",
        f"signature_v2 = {v2}",
        f"bucket_location = {server.region}",
        "multipart_chunk_size_mb = 15",
        "enable_multipart = True",
        "progress_meter = False",
        "check_ssl_certificate = True",
        "check_ssl_hostname = True",
        # Fail fast instead of s3cmd's ~45 s of retries on a 5xx; a retry hides a bug anyway.
        "max_retries = 2",
        "socket_timeout = 60",
    ]
    if server.tls:
        lines.append(f"ca_certs_file = {server.tls.ca_path}")
    path.write_text("\n".join(lines) + "\n")
    return path


def s3cmd_cmd(config: Path, *args: str) -> list[str]:
    return [sys.executable, str(BIN / "s3cmd"), "-c", str(config), *args]


def iter_file(path: Path, piece: int = MiB) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        yield from iter(lambda: fh.read(piece), b"")


@dataclass(frozen=True)
class TenantKey:
    """A tenant's access key, as `s3front keys create` prints it."""

    access_key: str
    secret_key: str
    tenant: str  # the canonical id


def keys_cli(server: Any, *args: str) -> str:
    """`s3front keys <args>` on the server's store, as the operator runs it; its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "s3front", "keys", *args, "--store", server.store_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def create_key(server: Any, tenant: str) -> TenantKey:
    """A new tenant's key, made with `s3front keys create`."""
    out = keys_cli(server, "create", "--tenant", tenant)
    f = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return TenantKey(f["access key"].strip(), f["secret key"].strip(), f["canonical id"].strip())
