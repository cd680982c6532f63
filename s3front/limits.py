"""Limits on what one connection may cost the server: header size, header time, body idle time.

uvicorn with httptools (what `uvicorn[standard]` runs) bounds none of these by itself:
`h11_max_incomplete_event_size` applies to the h11 parser only, and a connection's first request
has no timer at all (uvicorn arms `timeout_keep_alive` only after a response). So a client could
send a header of any size (httptools buffers a header value whole before handing it over), or
open connections and send half a request line, and hold them (and a `limit_concurrency` slot)
forever. `GuardedHttpToolsProtocol` is uvicorn's httptools protocol plus two guards:

- the request head (request line and headers) is limited to `max_header_bytes`; a longer one is
  answered `400 RequestHeaderSectionTooLarge` (what S3 sends) and the connection closed. Raw
  bytes are counted while the head is incomplete, so memory stays bounded even for one endless
  header line (the count may include at most one read's worth of body bytes: an upper bound);
- a request head must arrive within `header_timeout` seconds of the connection opening (or of
  the previous request starting to be parsed); else the connection is closed, with
  `400 RequestTimeout` if any byte of the request had arrived.

uvicorn's `limit_concurrency` (connections or requests in flight per worker) answers a request
over the limit with a plain-text 503; S3 clients expect an error document there, and `SlowDown`
is the one their retry logic knows (botocore and the AWS CLI back off and retry on it). The
protocol makes that choice itself and hands uvicorn `slow_down` as the request's app.

The body is guarded in the application (`idle_limited`): a body that stalls for
`body_idle_timeout` seconds between chunks ends the request with `400 RequestTimeout`.

These are plain subclass overrides of uvicorn's protocol: `tests/limits/` checks each of them
against a live server, so an incompatible uvicorn release fails there first.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from s3front import metrics, xml
from s3front.errors import RequestHeaderSectionTooLarge, RequestTimeout, S3Error, SlowDown
from s3front.request import new_request_id

__all__ = [
    "GuardedHttpToolsProtocol",
    "idle_limited",
    "protocol_factory",
]


async def idle_limited(stream: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    """`stream`, failing with RequestTimeout when no chunk arrives for `seconds`.

    The first wait (headers received, body not started) counts too: a client that declares a
    body and never sends it is the slowest client of all.
    """
    it = stream.__aiter__()
    while True:
        try:
            async with asyncio.timeout(seconds):
                chunk = await anext(it)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise RequestTimeout() from None
        yield chunk


_REASONS = {400: b"Bad Request"}


async def slow_down(scope: Scope, receive: Receive, send: Send) -> None:
    """The answer to a request over `limit_concurrency`: 503 SlowDown, and the connection closed
    (as uvicorn's own answer does: a worker that is over its limit sheds the connection too)."""
    err, request_id = SlowDown(), new_request_id()
    metrics.reject("concurrency_limit")
    headers = [(b"x-amz-request-id", request_id.encode()), (b"connection", b"close")]
    if scope["method"] == "HEAD":  # no body: the code goes in a header, as for other errors
        body = b""
        headers.append((b"x-amz-error-code", err.code.encode()))
    else:
        raw_path: bytes = scope.get("raw_path") or b""
        body = xml.error_document(err, resource=raw_path.decode("latin-1"), request_id=request_id)
        headers.append((b"content-type", b"application/xml"))
    headers.append((b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _error_bytes(err: S3Error) -> bytes:
    body = xml.error_document(err, resource="", request_id="")
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (err.status, _REASONS.get(err.status, b"Error")),
            b"content-type: application/xml\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self, *args: Any, max_header_bytes: int, header_timeout: float, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # The limit is checked here (on_headers_complete), so that the answer is S3's.
        self._limit = self.limit_concurrency
        self.limit_concurrency = None
        self._max_head = max_header_bytes
        self._head_timeout = header_timeout
        self._in_head = True
        self._head_raw = 0  # raw bytes received while the head is incomplete (upper bound)
        self._head_exact = 0  # request line and header bytes as parsed
        self._head_seen = False  # any byte of the current request has arrived
        self._head_too_large = False
        self._head_timer: asyncio.TimerHandle | None = None

    # -- uvicorn's protocol interface
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_raw += len(data)
            self._head_seen = True
        super().data_received(data)
        if self._in_head and self._head_raw > self._max_head and not self.transport.is_closing():
            self._reject(RequestHeaderSectionTooLarge())

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:
            self._reject(RequestHeaderSectionTooLarge())
        else:
            super().send_400_response(msg)

    # -- parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_seen = True
        self._head_exact = 0
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_raw = 0
        self._head_seen = False
        self._cancel_head_timer()
        limit = self._limit
        if limit is None or (len(self.connections) < limit and len(self.tasks) < limit):
            super().on_headers_complete()
            return
        self.logger.warning("over limit_concurrency (%d): 503 SlowDown", limit)
        app, self.app = self.app, slow_down  # uvicorn starts (or queues) the request's app
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    # -- internals
    def _count(self, n: int) -> None:
        self._head_exact += n
        if self._head_exact > self._max_head:
            self._head_too_large = True
            # httptools turns this into HttpParserCallbackError; uvicorn then calls
            # send_400_response, which answers with the S3 error above.
            raise ValueError("request head too large")

    def _arm_head_timer(self) -> None:
        if self._head_timeout > 0:
            self._cancel_head_timer()
            self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_seen:
            self._reject(RequestTimeout())
        else:
            self.transport.close()

    def _reject(self, err: S3Error) -> None:
        metrics.reject("header_timeout" if isinstance(err, RequestTimeout) else "header_too_large")
        self._cancel_head_timer()
        self.logger.info("closing a connection: %s", err.code)
        self.transport.write(_error_bytes(err))
        self.transport.close()


def protocol_factory(*, max_header_bytes: int, header_timeout: float) -> Any:
    """What to pass as uvicorn's `http=`: picklable, so `--workers` processes get it too."""
    return functools.partial(
        GuardedHttpToolsProtocol, max_header_bytes=max_header_bytes, header_timeout=header_timeout
    )
