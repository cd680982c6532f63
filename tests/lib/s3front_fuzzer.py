"""A request fuzzer for a live s3front: mutated S3 requests over raw sockets.

Used by `tests/fuzz/test_fuzz.py` (bounded, in CI) and `bench/fuzz.py` (the long run). Each
request is a plausible S3 request (from a table of operations) with a few mutations of its
method, path, query, headers or body, then signed with the real key (a valid signature over the
mutated bytes) or sent unsigned, or signed and then tampered with. Requests go out on fresh
loopback connections with `Connection: close` and a bounded client timeout.

Data safety rule, so that "stored data intact" is checkable: signed requests that may write
(anything but GET/HEAD) always address the playground bucket; the seed bucket is only ever
read with valid credentials. Unsigned and tampered requests go anywhere: they must never change
anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

READ_METHODS = ("GET", "HEAD")
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE", "FOO", "get")
SUBRESOURCES = [
    "uploads", "uploadId=zzz", "partNumber=1", "partNumber=10001", "partNumber=%C2%B2",
    "partNumber=" + "9" * 5000, "acl", "tagging", "versioning", "versions", "delete",
    "list-type=2", "list-type=x", "policy", "cors", "location", "x-id=PutObject",
    "versionId=null", "versionId=%ff", "attributes", "select", "website", "lifecycle",
    "max-keys=-1", "max-keys=" + "9" * 5000, "max-keys=%C2%B2", "prefix=%ff", "delimiter=",
    "delimiter=/", "encoding-type=url", "encoding-type=bogus", "continuation-token=%00",
    "marker=" + "m" * 3000, "start-after=%C0%AF", "max-parts=%C2%B2", "part-number-marker=x",
    "max-uploads=" + "9" * 5000, "uploads&uploadId=x", "X-Amz-Algorithm=AWS4-HMAC-SHA256",
    "X-Amz-Credential=a%2Fb", "X-Amz-Expires=%C2%B2", "X-Amz-Signature=00",
    "AWSAccessKeyId=x&Signature=y&Expires=%C2%B2", "Expires=99999999999999",
    "response-content-type=%0d%0aX:%20y", "=", "&&&", "%", "a=%zz",
]  # fmt: skip
HEADERS: list[tuple[str, Callable[[random.Random], str]]] = [
    ("range", lambda r: r.choice(["bytes=0-0", "bytes=-1", "bytes=5-", "bytes=9-1", "bytes=-0",
                                  "bytes=" + "1" * 5000 + "-", "bytes=0-1,2-3", "items=0-1",
                                  "bytes=\xb2-"])),
    ("x-amz-copy-source", lambda r: r.choice(["", "/", "b", "/nobucket/k", "%ff%fe/%ff",
                                              "{seed}/seed/0?versionId=", "{seed}/seed/0?versionId=%ff",
                                              "{seed}/" + "k" * 1100, "{seed}/seed/0"])),
    ("x-amz-copy-source-range", lambda r: r.choice(["bytes=0-0", "bytes=1-0", "bytes=0-" + "9" * 5000,
                                                    "bytes=", "bytes=\xb2-\xb3"])),
    ("content-md5", lambda r: r.choice(["", "xx", "1B2M2Y8AsgTpgAmY7PhCfg==", "\xff" * 24])),
    ("x-amz-checksum-crc32", lambda r: r.choice(["", "AAAAAA==", "not base64", "A" * 100])),
    ("x-amz-checksum-sha256", lambda r: r.choice(["", "=", "x" * 44])),
    ("x-amz-checksum-algorithm", lambda r: r.choice(["CRC32", "crc32c", "MD5", "", "\xb2"])),
    ("x-amz-sdk-checksum-algorithm", lambda r: r.choice(["CRC64NVME", "bogus"])),
    ("x-amz-trailer", lambda r: r.choice(["x-amz-checksum-crc32", "bogus", ""])),
    ("x-amz-decoded-content-length", lambda r: r.choice(["0", "-1", "\xb2", "9" * 30, "5"])),
    ("expect", lambda r: r.choice(["100-continue", "100-Continue", "bogus"])),
    ("content-encoding", lambda r: r.choice(["aws-chunked", "gzip", "aws-chunked,gzip", ""])),
    ("x-amz-meta-a", lambda r: r.choice(["v", "\xff\xfe", "x" * 3000, " "])),
    ("x-amz-tagging", lambda r: r.choice(["a=b", "a=b&a=c", "%ff=%fe", "=" * 50, "k" * 200 + "=v"])),
    ("x-amz-acl", lambda r: r.choice(["private", "public-read", "bogus"])),
    ("x-amz-grant-read", lambda r: r.choice(['id="x"', "uri=http://bogus", "emailAddress=a@b", "junk"])),
    ("x-amz-storage-class", lambda r: r.choice(["STANDARD", "GLACIER", "bogus"])),
    ("if-match", lambda r: r.choice(["*", '"x"', "", "\xff"])),
    ("if-none-match", lambda r: r.choice(["*", '"x"'])),
    ("if-modified-since", lambda r: r.choice(["Sun, 06 Nov 1994 08:49:37 GMT", "garbage", "9" * 40])),
    ("x-amz-object-attributes", lambda r: r.choice(["ETag", "ETag,Bogus", "", "ObjectParts"])),
    ("x-amz-max-parts", lambda r: r.choice(["1", "\xb2", "9" * 5000])),
    ("x-amz-part-number-marker", lambda r: r.choice(["1", "x"])),
    ("x-amz-date", lambda r: r.choice(["20000101T000000Z", "garbage", "99999999T999999Z"])),
    ("date", lambda r: r.choice(["garbage", "Sun, 06 Nov 1994 08:49:37 GMT"])),
    ("origin", lambda r: r.choice(["http://a", "null", "\xff"])),
    ("access-control-request-method", lambda r: r.choice(["GET", "BOGUS"])),
    ("content-type", lambda r: r.choice(["multipart/form-data; boundary=xx", "multipart/form-data",
                                         "application/xml", "text/plain"])),
    ("x-amz-bucket-object-lock-enabled", lambda r: "true"),
    ("x-amz-metadata-directive", lambda r: r.choice(["COPY", "REPLACE", "bogus"])),
    ("x-amz-tagging-directive", lambda r: r.choice(["COPY", "REPLACE", "bogus"])),
    ("x-amz-checksum-mode", lambda r: "ENABLED"),
    ("x-amz-expected-bucket-owner", lambda r: r.choice(["1", "x"])),
    ("transfer-encoding", lambda r: "chunked"),
]  # fmt: skip
AUTH_GARBAGE = [
    "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=", "AWS x", "AWS :", "AWS a:b",
    "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=S3FRONTTESTACCESSKEY/\xb2\xb2\xb2\xb2\xb2\xb2\xb2\xb2/r/s3/aws4_request,SignedHeaders=host,Signature=x",
    "Bearer x", "\xff", " ", "AWS4-HMAC-SHA256 " + "a" * 5000,
]  # fmt: skip
PAYLOAD_HASHES = [
    "UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "x" * 64, "", "0" * 64,
]  # fmt: skip


@dataclass
class Request:
    method: str
    path: str  # raw, as sent
    query: str
    headers: dict[str, str]
    body: bytes
    signed: bool
    incomplete: bool = False  # declared more body than sent: a timeout answer is expected
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.method} {self.path[:200]!r}?{self.query[:200]!r} signed={self.signed} "
            f"headers={ {k: v[:80] for k, v in self.headers.items()} } body={self.body[:80]!r} "
            f"notes={self.notes}"
        )


@dataclass
class Target:
    scheme: str
    port: int
    access_key: str
    secret_key: str
    seed_bucket: str
    play_bucket: str
    seed_keys: list[str]
    sign_v4: Callable[..., Any]
    ssl_context: ssl.SSLContext | None = None


def _key_garbage(rng: random.Random, seed_keys: list[str]) -> str:
    choice = rng.randrange(12)
    if choice == 0:
        return "k" * rng.choice([1024, 1025, 3000])
    if choice == 1:
        return "%ff%fe%C0%AF"
    if choice == 2:
        return "a/../../b"
    if choice == 3:
        return "//x//"
    if choice == 4:
        return "%" + rng.choice(["", "z", "2", "zz"])
    if choice == 5:
        return quote(rng.choice(seed_keys), safe="/")
    if choice == 6:
        return "".join(rng.choice("abc/%.+ ~*?#") for _ in range(rng.randrange(1, 30)))
    if choice == 7:
        return "\xff\xfe\x80"  # raw non-UTF-8 bytes on the wire (latin-1 here)
    if choice == 8:
        return quote("é☃\U0001f600", safe="") + "%00"
    if choice == 9:
        return ""
    return f"fz/{rng.randrange(100)}"


def _body(rng: random.Random) -> bytes:
    choice = rng.randrange(9)
    if choice == 0:
        return b""
    if choice == 1:
        return rng.randbytes(rng.randrange(1, 3000))
    if choice == 2:
        return b"<Delete><Object><Key>fz/1</Key></Object></Delete>"
    if choice == 3:
        parts = "".join(
            f"<Part><PartNumber>{rng.choice(['1', '2', '10001', '-1', '٣'])}</PartNumber>"
            f"<ETag>x</ETag></Part>"
            for _ in range(rng.randrange(3))
        )
        return f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
    if choice == 4:
        return b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    if choice == 5:
        return b"ffffffff\r\n" + rng.randbytes(50)
    if choice == 6:
        return b'{"Statement": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    if choice == 7:
        return b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a SYSTEM 'file:///etc/passwd'>]><Tagging>&a;</Tagging>"
    return b'--xx\r\nContent-Disposition: form-data; name="key"\r\n\r\nfz/p\r\n--xx--\r\n'


def make_request(rng: random.Random, t: Target) -> Request:
    method = rng.choice(["GET", "GET", "HEAD", "PUT", "PUT", "POST", "DELETE"])
    key = rng.choice([*t.seed_keys, "fz/a", "fz/b", ""])
    query_parts: list[str] = []
    if rng.random() < 0.6:
        query_parts += rng.sample(SUBRESOURCES, rng.randrange(1, 3))
    headers: dict[str, str] = {}
    for name, gen in rng.sample(HEADERS, rng.randrange(0, 4)):
        headers[name] = gen(rng).replace("{seed}", t.seed_bucket)
    body = _body(rng) if method in ("PUT", "POST") or rng.random() < 0.1 else b""
    notes: list[str] = []
    if rng.random() < 0.3:
        method = rng.choice(METHODS)
        notes.append("method")
    if rng.random() < 0.4:
        key = _key_garbage(rng, t.seed_keys)
        notes.append("key")
    if rng.random() < 0.15:
        query_parts.append(
            rng.choice(["a=" + "b" * rng.choice([100, 8000]), "uploads&uploads", "acl=&acl"])
        )
    mode = rng.choices(["signed", "unsigned", "tampered", "garbage-auth"], [6, 2, 1, 1])[0]
    signed = mode == "signed"
    writes = method.upper() not in READ_METHODS
    bucket = t.play_bucket if writes else rng.choice([t.seed_bucket, t.play_bucket])
    if mode != "signed" and rng.random() < 0.5:
        bucket = t.seed_bucket  # anonymous and forged requests aim at the data we check
    vhost = rng.random() < 0.1
    path = f"/{key}" if vhost else f"/{bucket}/{key}" if key or rng.random() < 0.7 else f"/{bucket}"
    if rng.random() < 0.05:
        path = rng.choice(["/", "*", "//", "/-/healthz/x", "/-/../" + bucket, "/" + "b" * 300])
        if signed and writes:
            path = "/" if path != "/" else path
            method = "GET"
    host = f"{bucket}.localhost:{t.port}" if vhost else f"127.0.0.1:{t.port}"
    query = "&".join(query_parts)
    incomplete = False
    if rng.random() < 0.05 and body:
        headers["content-length"] = str(len(body) + rng.randrange(1, 100))
        incomplete = True
        notes.append("short-body")
    if mode in ("signed", "tampered"):
        payload = rng.choice([hashlib.sha256(body).hexdigest(), *PAYLOAD_HASHES])
        hdrs = {"host": host, **headers}
        if "content-length" not in hdrs and (body or method in ("PUT", "POST")):
            hdrs["content-length"] = str(len(body))
        s = t.sign_v4(method, path, query, hdrs, payload, t.access_key, t.secret_key)
        headers = dict(s.headers)
        if mode == "tampered":
            headers["authorization"] = headers["authorization"][:-1] + (
                "0" if headers["authorization"][-1] != "0" else "1"
            )
    else:
        headers = {"host": host, **headers}
        if mode == "garbage-auth":
            headers["authorization"] = rng.choice(AUTH_GARBAGE)
        if rng.random() < 0.3:
            headers["x-amz-content-sha256"] = rng.choice(PAYLOAD_HASHES)
    if rng.random() < 0.1:
        headers["x-amz-content-sha256"] = rng.choice(PAYLOAD_HASHES)  # after signing: breaks it
        notes.append("hash-after-sign")
    if "transfer-encoding" in headers:
        headers.pop("content-length", None)
        incomplete = True  # a chunked transfer that never sends its last chunk waits
    return Request(method, path, query, headers, body, signed, incomplete, notes)


def encode(req: Request) -> bytes:
    target = req.path + (f"?{req.query}" if req.query else "")
    lines = [f"{req.method} {target} HTTP/1.1"]
    headers = dict(req.headers)
    if (
        "content-length" not in headers
        and "transfer-encoding" not in headers
        and (req.body or req.method in ("PUT", "POST"))
    ):
        headers["content-length"] = str(len(req.body))
    headers["connection"] = "close"
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + req.body


@dataclass
class Result:
    status: int  # 0: no parseable response (connection closed or reset)
    elapsed: float
    timed_out: bool
    head: bytes


def send(t: Target, req: Request, timeout: float) -> Result:
    started = time.monotonic()
    data = bytearray()
    timed_out = False
    try:
        sock = socket.create_connection(("127.0.0.1", t.port), timeout=timeout)
        if t.ssl_context is not None:
            sock = t.ssl_context.wrap_socket(sock, server_hostname="127.0.0.1")
        with sock:
            sock.settimeout(timeout)
            # The server may answer and close before the whole body is sent.
            with contextlib.suppress(OSError):
                sock.sendall(encode(req))
            deadline = started + timeout
            while len(data) < 1 << 20:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                piece = sock.recv(65536)
                if not piece:
                    break
                data += piece
    except TimeoutError:
        timed_out = True
    except OSError:
        pass
    status = 0
    if data.startswith(b"HTTP/1.1 "):
        try:
            status = int(data[9:12])
        except ValueError:
            status = 0
    head = bytes(data).split(b"\r\n\r\n", 1)
    detail = head[0][:300] + (b" | " + head[1][:300] if len(head) > 1 else b"")
    return Result(status, time.monotonic() - started, timed_out, detail)


def is_failure(req: Request, res: Result) -> str | None:
    """Why this response is a server bug, or None."""
    if res.timed_out and not req.incomplete:
        return "client timeout"
    if res.status >= 500 and not (res.status == 501 and b"NotImplemented" in res.head):
        return f"HTTP {res.status}"
    return None
