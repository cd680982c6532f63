"""A lean asyncio S3 client for benchmarks: raw HTTP/1.1 on kept-alive connections, SigV4.

It spends as little CPU as a Python client can, because on a small machine the client's CPU is
taken from the server under test: the signing key is derived once per day, the request head is
one bytes object, the response parser reads only the status line, Content-Length and
Transfer-Encoding, and a GET body is compared with the expected bytes (memcmp) rather than
hashed. Payload SHA-256s are computed by the caller before the clock starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"


class Signer:
    def __init__(self, access_key: str, secret_key: str, region: str = "us-east-1") -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self._date = ""
        self._key = b""
        self._second = -1
        self._amz_date = ""

    def _now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
            date = self._amz_date[:8]
            if date != self._date:
                key = ("AWS4" + self.secret_key).encode()
                for part in (date, self.region, "s3", "aws4_request"):
                    key = hmac.new(key, part.encode(), hashlib.sha256).digest()
                self._date, self._key = date, key
        return self._amz_date

    def headers(
        self,
        method: str,
        path: str,
        query: str,
        host: str,
        payload_hash: str,
        extra: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Signed headers; `query` must already be canonical (sorted, URI-encoded)."""
        amz_date = self._now()
        hdrs = {"host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
        if extra:
            hdrs.update({k.lower(): v for k, v in extra.items()})
        names = sorted(hdrs)
        canon = "".join(f"{n}:{hdrs[n]}\n" for n in names)
        signed = ";".join(names)
        creq = f"{method}\n{path}\n{query}\n{canon}\n{signed}\n{payload_hash}"
        scope = f"{self._date}/{self.region}/s3/aws4_request"
        sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
        sig = hmac.new(self._key, sts.encode(), hashlib.sha256).hexdigest()
        hdrs["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={sig}"
        )
        return hdrs


def q(value: str) -> str:
    return quote(value, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{q(k)}={q(v)}" for k, v in sorted(params.items()))


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class HttpError(RuntimeError):
    pass


class Conn:
    """One kept-alive connection. Not shared between coroutines."""

    def __init__(self, port: int, signer: Signer) -> None:
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.signer = signer
        self._r: asyncio.StreamReader | None = None
        self._w: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._r is None or self._w is None:
            self._r, self._w = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
        return self._r, self._w

    def close(self) -> None:
        if self._w is not None:
            self._w.close()
        self._r = self._w = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes | memoryview = b"",
        payload_hash: str = EMPTY_SHA256,
        extra: Mapping[str, str] | None = None,
        sink: Callable[[bytes], None] | None = None,
    ) -> Response:
        """Send one request; with `sink`, a response body is passed to it piece by piece."""
        hdrs = self.signer.headers(method, path, query, self.host, payload_hash, extra)
        target = path + ("?" + query if query else "")
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        if body or method in ("PUT", "POST"):
            head += f"content-length: {len(body)}\r\n"
        head += "\r\n"
        for attempt in range(2):  # a kept-alive connection may have been closed by the server
            r, w = await self._open()
            try:
                w.write(head.encode())
                if body:
                    w.write(body)
                await w.drain()
                return await self._read(r, method, sink)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _read(
        self, r: asyncio.StreamReader, method: str, sink: Callable[[bytes], None] | None
    ) -> Response:
        raw = await r.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        close_after = headers.get("connection", "").lower() == "close"
        body = b""
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            pass
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await r.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await r.readuntil(b"\r\n")
                    break
                data = await r.readexactly(size)
                await r.readexactly(2)
                if sink is not None:
                    sink(data)
                else:
                    parts.append(data)
            body = b"".join(parts)
        elif "content-length" in headers:
            left = int(headers["content-length"])
            if sink is None:
                body = await r.readexactly(left)
            else:
                while left:
                    data = await r.read(min(left, 1 << 20))
                    if not data:
                        raise asyncio.IncompleteReadError(b"", left)
                    sink(data)
                    left -= len(data)
        else:
            body = await r.read()
            close_after = True
        if close_after:
            self.close()
        return Response(status, headers, body)


def expect(resp: Response, what: str, *statuses: int) -> Response:
    if resp.status not in statuses:
        raise HttpError(f"{what}: HTTP {resp.status} {resp.body[:300]!r}")
    return resp
