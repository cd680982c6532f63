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

Hostile documents (`hostile_request`, when the target has a `hostile_bucket`): browser POST
forms with hostile field values (CR/LF, NUL, non-Latin-1, long values, bad names, bad
content-length-range bounds) under a validly signed policy; CORS configurations and bucket
policies with many-wildcard patterns, control characters and huge numbers; then browser and
anonymous requests that make the server match against whatever was stored. They all address
the hostile bucket, so its stored patterns never slow the rest of the run. Wildcard patterns
and the strings matched against them have bounded sizes (a backtracking matcher is
polynomial in them), so a run stays bounded even where matching is not linear.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import random
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
    hostile_bucket: str = ""  # empty: no hostile documents
    region: str = "us-east-1"


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
    if t.hostile_bucket and rng.random() < 0.25:
        return hostile_request(rng, t)
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


# -- hostile documents ------------------------------------------------------------------------

# Strings matched against stored patterns (keys, origins, requested headers): short where a
# character repeats (the costly case for a backtracking matcher), long only in a character
# no pattern uses.
SUBJECTS = ["a", "ab" * 8, "a" * 16, "a-b-a-b", "q" * 1000, "x-amz-date", ""]
HOSTILE_VALUES = [
    "v", "a\r\nb", "a\nx-injected: 1", "nul\x00", "bell\x07", "del\x7f", "snow \u2603",
    "\U0001f600", "caf\xe9", "\t", "x" * 5000, "9" * 3000, "=?UTF-8?B?4piD?=", "\r\n\r\n<h1>",
    "\ufffd", " ",
]  # fmt: skip
FORM_FIELDS = [
    "content-type", "cache-control", "content-disposition", "content-encoding",
    "content-language", "expires", "x-amz-meta-a", "x-amz-meta-a b", "x-amz-meta-a:b",
    "x-amz-meta-\u2603", "x-amz-meta-", "x-amz-meta-" + "n" * 300, "success_action_redirect",
    "redirect", "success_action_status", "acl",
]  # fmt: skip
REDIRECTS = [
    "https://app.example.com/done", "https://app.example.com/\r\nset-cookie: x=1",
    "https://app.example.com/\u2603", "javascript:alert(1)", "/" * 3000,
]  # fmt: skip
LENGTH_RANGES: list[list[Any]] = [
    [0, 100], [0, float("inf")], [0, float("nan")], [-1, 5], [5, 1], [0, 1e308], [0, 10**30],
    ["--5", 9], [0, "9" * 5000], [True, 5], [0.5, 9], ["1", "100"], [None, 1],
]  # fmt: skip
MAX_AGES = ["600", "--5", "9" * 5000, "-1", "2147483648", "\u0663", "1e3", "", " 7 "]
EXPOSE = ["ETag", "x-amz-request-id", "a&#13;&#10;b", "x-\u2603", "x" * 2000, "Set-Cookie", "a b"]


def _pattern(rng: random.Random) -> str:
    """A wildcard pattern with many `*` (and `?`), of bounded size."""
    choice = rng.randrange(7)
    if choice == 0:
        return "*a" * rng.randrange(1, 40) + "*b"
    if choice == 1:
        return "a*" * rng.randrange(1, 40)
    if choice == 2:
        return "*" * rng.randrange(1, 3) + "a"
    if choice == 3:
        return "*" + "x" * rng.randrange(1, 1100) + "*"
    if choice == 4:
        return "?a*" * rng.randrange(1, 20) + "c"
    if choice == 5:
        return "*-*" * rng.randrange(1, 30)
    return rng.choice(["*", "x-amz-*", "a&#13;&#10;b", "\u2603*", "*\t*"])


def _xml_text(value: str) -> str:
    """XML-escape, leaving the character references the tables spell out."""
    return value.replace("&", "&amp;").replace("&amp;#", "&#").replace("<", "&lt;")


def _signed(
    t: Target, method: str, path: str, query: str, headers: dict[str, str], body: bytes
) -> Request:
    hdrs = {"host": f"127.0.0.1:{t.port}", **headers}
    if body or method in ("PUT", "POST"):
        hdrs["content-length"] = str(len(body))
    s = t.sign_v4(
        method, path, query, hdrs, hashlib.sha256(body).hexdigest(), t.access_key, t.secret_key
    )
    return Request(method, path, query, dict(s.headers), body, True)


def _cors_request(rng: random.Random, t: Target) -> Request:
    rules = []
    for _ in range(rng.randrange(1, 4)):
        parts = [
            f"<AllowedOrigin>{_xml_text(rng.choice(['*', 'http://a', '*' * rng.randrange(1, 40), 'http://a&#10;b', 'http://' + _pattern(rng)]))}</AllowedOrigin>"
        ]
        parts += [
            f"<AllowedMethod>{m}</AllowedMethod>"
            for m in rng.sample(["GET", "PUT", "HEAD", "POST"], 2)
        ]
        parts += [
            f"<AllowedHeader>{_xml_text(_pattern(rng))}</AllowedHeader>"
            for _ in range(rng.randrange(0, 5))
        ]
        parts += [
            f"<ExposeHeader>{_xml_text(rng.choice(EXPOSE))}</ExposeHeader>"
            for _ in range(rng.randrange(0, 3))
        ]
        if rng.random() < 0.7:
            parts.append(f"<MaxAgeSeconds>{rng.choice(MAX_AGES)}</MaxAgeSeconds>")
        rules.append("<CORSRule>" + "".join(parts) + "</CORSRule>")
    body = f"<CORSConfiguration>{''.join(rules)}</CORSConfiguration>".encode()
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    req = _signed(t, "PUT", f"/{t.hostile_bucket}", "cors", {"content-md5": md5}, body)
    req.notes.append("cors-doc")
    return req


def _policy_request(rng: random.Random, t: Target) -> Request:
    arn = f"arn:aws:s3:::{t.hostile_bucket}"
    resources = [f"{arn}/{_pattern(rng)}" for _ in range(rng.randrange(1, 4))]
    if rng.random() < 0.3:
        resources.append(f"arn:aws:s3:::{t.hostile_bucket[:3]}{'*' * rng.randrange(1, 4)}")
    # Runs of consecutive wildcards stay short: each one multiplies a backtracking matcher's work.
    action = rng.choice(["s3:GetObject", "s3:Get*", "s3:" + "*" * rng.randrange(1, 4) + "Object",
                         "s3:" + "?*" * rng.randrange(1, 6), "s3:" + "G*e*t*O*b*j*e*c*t*"])  # fmt: skip
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": resources}
        ],
    }
    req = _signed(t, "PUT", f"/{t.hostile_bucket}", "policy", {}, json.dumps(doc).encode())
    req.notes.append("bucket-policy")
    return req


def _form_request(rng: random.Random, t: Target) -> Request:
    """A browser POST, validly signed, whose policy admits every field sent."""
    now = datetime.now(UTC)
    date = now.strftime("%Y%m%d")
    credential = f"{t.access_key}/{date}/{t.region}/s3/aws4_request"
    # Many keys, so that a later good upload seldom hides an earlier bad one.
    fields: dict[str, str] = {"key": f"h/{rng.choice(SUBJECTS[:4])}/{rng.randrange(40)}"}
    for name in rng.sample(FORM_FIELDS, rng.randrange(1, 4)):
        redirect = name in ("success_action_redirect", "redirect")
        fields[name] = rng.choice(REDIRECTS if redirect and rng.random() < 0.6 else HOSTILE_VALUES)
    conditions: list[Any] = [{"bucket": t.hostile_bucket}]
    conditions += [["starts-with", f"${n}", ""] for n in fields]
    if rng.random() < 0.5:
        conditions.append(["content-length-range", *rng.choice(LENGTH_RANGES)])
    fields.update(
        {
            "x-amz-algorithm": "AWS4-HMAC-SHA256",
            "x-amz-credential": credential,
            "x-amz-date": now.strftime("%Y%m%dT%H%M%SZ"),
        }
    )
    conditions += [{n: fields[n]} for n in ("x-amz-algorithm", "x-amz-credential", "x-amz-date")]
    expiration = (now + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = base64.b64encode(
        json.dumps({"expiration": expiration, "conditions": conditions}).encode()
    ).decode()
    key = b"AWS4" + t.secret_key.encode()
    for part in (date, t.region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    fields["policy"] = policy
    fields["x-amz-signature"] = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
    boundary = f"fzb{rng.getrandbits(64):x}"
    body = bytearray()
    for name, value in fields.items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        body += value.encode("utf-8", "surrogatepass") + b"\r\n"
    file_type = rng.choice(["text/plain", "text/\u2603", "a\x01b", "image/jpeg"])
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n'
        f"Content-Type: {file_type}\r\n\r\n"
    ).encode()
    body += rng.randbytes(rng.randrange(0, 200)) + f"\r\n--{boundary}--\r\n".encode()
    headers = {
        "host": f"127.0.0.1:{t.port}",
        "content-type": f"multipart/form-data; boundary={boundary}",
    }
    req = Request("POST", f"/{t.hostile_bucket}", "", headers, bytes(body), False)
    req.notes.append("post-form")
    return req


def _browser_request(rng: random.Random, t: Target) -> Request:
    """A request that matches stored CORS rules and policy patterns: a preflight, or a GET or
    HEAD with an Origin, anonymous or signed."""
    key = f"h/{rng.choice(SUBJECTS)}"
    origin = rng.choice(["http://a", "http://" + rng.choice(SUBJECTS), "null"])
    path = f"/{t.hostile_bucket}/{key}"
    headers = {"origin": origin}
    if rng.random() < 0.4:
        requested = ", ".join(rng.choice(SUBJECTS[:-1]) for _ in range(rng.randrange(1, 5)))
        headers |= {"access-control-request-method": "GET",
                    "access-control-request-headers": requested}  # fmt: skip
        req = Request("OPTIONS", path, "", {"host": f"127.0.0.1:{t.port}", **headers}, b"", False)
    elif rng.random() < 0.5:
        method = rng.choice(READ_METHODS)
        req = Request(method, path, "", {"host": f"127.0.0.1:{t.port}", **headers}, b"", False)
    else:
        req = _signed(t, rng.choice(READ_METHODS), path, "", headers, b"")
    req.notes.append("browser")
    return req


WELL_FORMED = frozenset({"post-form", "cors-doc", "bucket-policy", "browser"})


def hostile_request(rng: random.Random, t: Target) -> Request:
    kind = rng.choices([_form_request, _cors_request, _policy_request, _browser_request],
                       [4, 2, 1, 4])[0]  # fmt: skip
    return kind(rng, t)


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
    if res.status == 0 and WELL_FORMED.intersection(req.notes):
        # Hostile documents travel in well-formed HTTP: the answer must arrive whole, not a
        # connection dropped halfway (what a header the server cannot send leads to).
        return "no answer"
    return None
