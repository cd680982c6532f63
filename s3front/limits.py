"""Limits on what one connection may cost the server: header size and time, body pace, share.

uvicorn with httptools (what `uvicorn[standard]` runs) bounds none of these by itself:
`h11_max_incomplete_event_size` applies to the h11 parser only, and a connection's first request
has no timer at all (uvicorn arms `timeout_keep_alive` only after a response). So a client could
send a header of any size (httptools buffers a header value whole before handing it over), or
open connections and send half a request line, and hold them (and a `limit_concurrency` slot)
forever. `GuardedHttpToolsProtocol` is uvicorn's httptools protocol plus these guards:

- the request head (request line and headers) is limited to `max_header_bytes`; a longer one is
  answered `400 RequestHeaderSectionTooLarge` (what S3 sends) and the connection closed. Raw
  bytes are counted while the head is incomplete, so memory stays bounded even for one endless
  header line (the count may include at most one read's worth of body bytes: an upper bound);
- a request head must arrive within `header_timeout` seconds of the connection opening (or of
  the previous request starting to be parsed); else the connection is closed, with
  `400 RequestTimeout` if any byte of the request had arrived;
- a response sent before its request's body has all arrived (an error answered early, such as
  AccessDenied before a PUT body) gives the rest of the body `header_timeout` seconds to arrive
  and be discarded; then the connection is closed. uvicorn itself discards such a body with no
  timer at all (data cancels its keep-alive timer), so a client could trickle a large declared
  body into the void forever. When such a response says `Connection: close`, the connection is
  half-closed and the rest discarded for that time too (a lingering close, as nginx and Go do):
  closing a socket with unread data sends a reset, which can destroy the response before the
  client (a browser still sending its form, say) has read it. Not for a request refused over the
  limit, nor for a body cut for its pace (the app sets `NO_LINGER`): those are shed at once.

uvicorn's `limit_concurrency` (connections or requests in flight per worker) answers a request
over the limit with a plain-text 503; S3 clients expect an error document there, and `SlowDown`
is the one their retry logic knows (botocore and the AWS CLI back off and retry on it). The
protocol makes that choice itself and hands uvicorn `slow_down` as the request's app. It also
keeps a share of the limit for requests that carry credentials (an Authorization header or a
presigned query), so that anonymous clients cannot starve signed ones (issue 14, item 5):

- an anonymous request is admitted while the worker has fewer than `limit_concurrency`
  connections and requests, fewer than `anonymous_share x limit_concurrency` anonymous requests
  in flight and (if `anonymous_per_client` is set) fewer than that many from its client address;
- a request with credentials is admitted while fewer than `limit_concurrency` requests are in
  flight, whatever the number of connections: idle or half-sent connections cost an attacker
  nothing, so they must not lock out signed clients. Credentials are only looked at, not
  verified, here; false ones fail in `authenticate` before any body is read, and the request
  ends at once (its unread body is then bounded as above).

A browser POST upload is anonymous at this point (its signature is in the form), so it shares the
anonymous part. The counts are per worker process, as `limit_concurrency` is.

The body is paced in the application (`paced`): a body that stalls for `body_idle_timeout`
seconds between chunks, falls below `body_min_rate` bytes/s (a token bucket of `body_rate_window`
seconds of waiting), or is still arriving `body_timeout` seconds after the request started ends
with `400 RequestTimeout`, AWS's answer to a client that does not keep its socket busy.

These are plain subclass overrides of uvicorn's protocol: `tests/limits/` checks each of them
against a live server, so an incompatible uvicorn release fails there first.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import AsyncIterator
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from s3front import metrics, xml
from s3front.errors import RequestHeaderSectionTooLarge, RequestTimeout, S3Error, SlowDown
from s3front.request import new_request_id

__all__ = [
    "NO_LINGER",
    "GuardedHttpToolsProtocol",
    "has_credentials",
    "paced",
    "protocol_factory",
]


async def paced(
    stream: AsyncIterator[bytes],
    *,
    idle: float,
    min_rate: float,
    window: float,
    deadline: float | None,
) -> AsyncIterator[bytes]:
    """`stream`, failing with RequestTimeout when the client sends too slowly:

    - no chunk for `idle` seconds (0: no idle limit). The first wait counts too: a client that
      declares a body and never sends it is the slowest client of all;
    - below `min_rate` bytes/s (0: no minimum). A token bucket of waiting time: the client starts
      with `window` seconds, spends the time the server waits for its next chunk and earns
      1/min_rate seconds per byte, never holding more than `window`. So a body may start slowly
      or pause for up to `window` seconds (as long as `idle` allows), and over any longer stretch
      averages `min_rate` at least; a fast start banks no more than `window`. Only time spent
      waiting for the client counts: a slow store never makes a client late;
    - the event loop's clock passing `deadline` (None: no deadline).
    """
    loop = asyncio.get_running_loop()
    it = stream.__aiter__()
    credit = window
    while True:
        waits = [idle] if idle > 0 else []
        if min_rate > 0:
            waits.append(credit)
        if deadline is not None:
            waits.append(deadline - loop.time())
        started = loop.time()
        try:
            async with asyncio.timeout(min(waits) if waits else None):
                chunk = await anext(it)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise RequestTimeout() from None
        if min_rate > 0:
            credit = min(window, credit - (loop.time() - started) + len(chunk) / min_rate)
        yield chunk


# A scope key the app sets when the rest of an unread body is not worth a lingering close.
NO_LINGER = "s3front.no_linger"

_QUERY_CREDENTIALS = frozenset(
    {b"X-Amz-Algorithm", b"X-Amz-Credential", b"X-Amz-Signature", b"AWSAccessKeyId", b"Signature"}
)


def has_credentials(headers: list[tuple[bytes, bytes]], target: bytes) -> bool:
    """Whether a request claims credentials (what `s3front.auth` looks for; not verified)."""
    for name, _ in headers:  # a plain loop: this runs for every request
        if name == b"authorization":
            return True
    if b"?" not in target:
        return False
    for item in target.partition(b"?")[2].split(b"&"):
        if item.partition(b"=")[0] in _QUERY_CREDENTIALS:
            return True
    return False


class _AnonymousShare:
    """The anonymous requests in flight in one worker, in all and per client address."""

    def __init__(self) -> None:
        self.total = 0
        self.by_client: dict[str, int] = {}

    def take(self, client: str) -> None:
        self.total += 1
        self.by_client[client] = self.by_client.get(client, 0) + 1

    def give(self, client: str) -> None:
        self.total -= 1
        left = self.by_client[client] - 1
        if left:
            self.by_client[client] = left
        else:
            del self.by_client[client]


# One share per uvicorn ServerState: the connections of one server (one worker) share it.
_SHARES: weakref.WeakKeyDictionary[object, _AnonymousShare] = weakref.WeakKeyDictionary()


class _Counted:
    """An anonymous request's app: holds its place in the share until the app returns (or the
    connection is lost before a pipelined request started)."""

    __slots__ = ("app", "client", "held", "share")

    def __init__(self, app: ASGIApp, share: _AnonymousShare, client: str) -> None:
        self.app, self.share, self.client = app, share, client
        share.take(client)
        self.held = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            self.release()

    def release(self) -> None:
        if self.held:
            self.held = False
            self.share.give(self.client)


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


def _declares_body(headers: list[tuple[bytes, bytes]]) -> bool:
    # A plain loop, per request: any() over a generator costs ~4x as much.
    for name, _ in headers:  # noqa: SIM110 - a request without these has no body
        if name == b"content-length" or name == b"transfer-encoding":
            return True
    return False


class _LingeringClose:
    """The transport as a request's cycle sees it: `close()` after a complete response whose
    request body has not all arrived half-closes instead (see the module docstring)."""

    def __init__(self, protocol: GuardedHttpToolsProtocol, transport: asyncio.Transport) -> None:
        self._protocol, self._transport = protocol, transport
        self.cycle: Any = None
        # What a cycle calls per response, bound here rather than found through __getattr__.
        self.write = transport.write
        self.is_closing = transport.is_closing

    def close(self) -> None:
        p, t = self._protocol, self._transport
        if (
            self.cycle is not None
            and self.cycle.response_complete
            and p.cycle is self.cycle
            and not p._message_done
            and p._head_timeout > 0
            and not p._shedding
            and not self.cycle.scope.get(NO_LINGER)
            and t.can_write_eof()
            and not t.is_closing()
        ):
            t.write_eof()  # after the response; uvicorn then arms the drain timer
            p._lingering = True
        else:
            t.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        *args: Any,
        max_header_bytes: int,
        header_timeout: float,
        anonymous_share: float = 1.0,
        anonymous_per_client: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # The limit is checked here (on_headers_complete), so that the answer is S3's.
        self._limit = self.limit_concurrency
        self.limit_concurrency = None
        self._anon_limit = max(1, int(self._limit * anonymous_share)) if self._limit else 0
        self._anon_per_client = anonymous_per_client
        share = _SHARES.get(self.server_state)
        if share is None:
            share = _SHARES[self.server_state] = _AnonymousShare()
        self._share = share
        self._max_head = max_header_bytes
        self._head_timeout = header_timeout
        self._in_head = True
        self._head_raw = 0  # raw bytes received while the head is incomplete (upper bound)
        self._head_exact = 0  # request line and header bytes as parsed
        self._head_seen = False  # any byte of the current request has arrived
        self._head_too_large = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._message_done = False  # the current request's body has all arrived
        self._drain_timer: asyncio.TimerHandle | None = None
        self._lingering = False  # half-closed after a response; the body is being discarded
        self._shedding = False  # the current request was refused over the limit: no lingering

    # -- uvicorn's protocol interface
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._cancel_drain_timer()
        # A pipelined request that never started gives its place back (uvicorn starts none
        # once the transport is closing).
        for _, app in self.pipeline:
            if isinstance(app, _Counted):
                app.release()
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

    def on_response_complete(self) -> None:
        # With a pipelined request queued, the parser has gone past this request's body.
        body_done = self._message_done or bool(self.pipeline)
        super().on_response_complete()
        if not body_done and self._head_timeout > 0 and not self.transport.is_closing():
            # Answered before the body ended: uvicorn discards the rest as it comes, and
            # would wait for it forever (each byte cancels its keep-alive timer).
            self._drain_timer = self.loop.call_later(self._head_timeout, self._drain_timed_out)

    # -- parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_seen = True
        self._head_exact = 0
        self._message_done = False
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
        self._shedding = False
        app = self._admit(self._limit) if self._limit is not None else self.app
        saved, self.app = self.app, app  # uvicorn starts (or queues) the request's app
        if not _declares_body(self.headers):
            try:
                super().on_headers_complete()
            finally:
                self.app = saved
            return
        transport = self.transport
        lingering = _LingeringClose(self, transport)
        self.transport = lingering  # type: ignore[assignment]  # the cycle's view of it
        try:
            super().on_headers_complete()
        finally:
            self.app, self.transport = saved, transport
        lingering.cycle = self.cycle

    def on_body(self, body: bytes) -> None:
        # uvicorn's own on_body appends every piece to a bytearray, and its `receive` copies that
        # into a new bytes object: two copies of every byte of a body on top of the parser's.
        # Holding the parser's bytes object instead lets `receive`'s bytes(...) return it as it
        # is (bytes of bytes is the same object); pieces that arrive before the app asks for
        # them are joined once. Measured under a bare ASGI app, one worker, 1 MiB PUTs: 0.49
        # -> 0.30 ms of server CPU per MiB received (raw uvloop + httptools: 0.19).
        cycle = self.cycle
        if cycle.response_complete or (self.parser.should_upgrade() and self._should_upgrade()):
            return
        held = cycle.body
        cycle.body = held + body if held else body  # type: ignore[assignment]
        if len(cycle.body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()

    def on_message_complete(self) -> None:
        self._message_done = True
        self._cancel_drain_timer()
        if self._lingering:
            self.transport.close()
            return
        super().on_message_complete()

    # -- internals
    def _admit(self, limit: int) -> Any:
        """The app for the request whose head just ended: the server's, or `slow_down`."""
        if has_credentials(self.headers, self.url):
            admitted = len(self.tasks) < limit
        else:
            client = self.client[0] if self.client else ""
            share, per_client = self._share, self._anon_per_client
            admitted = (
                len(self.connections) < limit
                and len(self.tasks) < limit
                and share.total < self._anon_limit
                and (not per_client or share.by_client.get(client, 0) < per_client)
            )
            if admitted:
                return _Counted(self.app, share, client)
        if not admitted:
            self.logger.warning("over limit_concurrency (%d): 503 SlowDown", limit)
            self._shedding = True  # an overloaded worker sheds the connection at once
            return slow_down
        return self.app

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

    def _cancel_drain_timer(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_seen:
            self._reject(RequestTimeout())
        else:
            self.transport.close()

    def _drain_timed_out(self) -> None:
        self._drain_timer = None
        if not self._message_done and not self.transport.is_closing():
            self.logger.info("closing a connection: the unread body did not end in time")
            self.transport.close()

    def _reject(self, err: S3Error) -> None:
        metrics.reject("header_timeout" if isinstance(err, RequestTimeout) else "header_too_large")
        self._cancel_head_timer()
        self.logger.info("closing a connection: %s", err.code)
        self.transport.write(_error_bytes(err))
        self.transport.close()


def protocol_factory(
    *,
    max_header_bytes: int,
    header_timeout: float,
    anonymous_share: float = 1.0,
    anonymous_per_client: int = 0,
) -> Any:
    """What to pass as uvicorn's `http=`: picklable, so `--workers` processes get it too."""
    return functools.partial(
        GuardedHttpToolsProtocol,
        max_header_bytes=max_header_bytes,
        header_timeout=header_timeout,
        anonymous_share=anonymous_share,
        anonymous_per_client=anonymous_per_client,
    )
