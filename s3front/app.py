"""The ASGI application: one entry point for every S3 request, plus the /-/ service endpoints.

Paths under "/-/" can never collide with S3: no bucket name may start with "-".

Per request: parse the request line (`request.from_scope`), resolve the endpoint (pure
routing), authenticate (which yields the verified body), run the operation's handler, and turn
any exception into an S3 error document through `errors.from_exception`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from s3front import errors, metrics, routing, support, xml
from s3front.access_log_delivery import AccessLogDelivery, request_record
from s3front.api import HANDLERS, sse
from s3front.api.context import Ctx
from s3front.api.cors import cors_headers
from s3front.api.document_integrity import checked_body
from s3front.auth import authenticate
from s3front.clock import now_ms
from s3front.config import Settings
from s3front.keys import KeyCache, ensure_root_key, print_credentials
from s3front.lifecycle_worker import lifecycle_loop
from s3front.limits import NO_LINGER, paced
from s3front.objects.gc import gc_loop
from s3front.request import S3Request, from_scope, new_request_id
from s3front.requestlog import RequestLog
from s3front.store import open_store
from s3front.store.bucket_cache import BucketCachingStore
from s3front.store.metered import metered
from s3front.store.protocols import Store

log = logging.getLogger("s3front")


@dataclass(slots=True)
class ServerState:
    settings: Settings
    store: Store
    keys: KeyCache
    request_log: RequestLog
    access_logs: AccessLogDelivery | None = None  # bucket logging (server access logs)


def error_response(err: errors.S3Error, req: S3Request, request_id: str) -> Response:
    if err.status == 304:
        return Response(status_code=304)
    if req.method == "HEAD":
        # HEAD responses carry no body; the status says it all.
        return Response(status_code=err.status, headers={"x-amz-error-code": err.code})
    body = xml.error_document(err, resource=req.raw_path, request_id=request_id)
    return Response(body, status_code=err.status, media_type="application/xml")


class RequestBody:
    """The request body as it arrives (what Starlette's `Request.stream` does, minus a Request),
    noting whether all of it has arrived."""

    __slots__ = ("complete", "completed_at", "receive")

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.complete = False
        self.completed_at: float | None = None  # perf_counter() when the last byte came

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            body: bytes = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                self.complete = True
                self.completed_at = time.perf_counter()
                return

    def unread(self, req: S3Request) -> bool:
        """Whether the request declared a body that has not all been read."""
        if self.complete:
            return False
        declared = req.header("content-length")
        return declared not in ("", "0") or "transfer-encoding" in req.headers


def body_stream(settings: Settings, raw: RequestBody) -> AsyncIterator[bytes]:
    """The body, paced (`s3front.limits.paced`): a client that sends it too slowly gets
    400 RequestTimeout instead of holding its connection and its request slot."""
    deadline = None
    if settings.body_timeout > 0:
        deadline = asyncio.get_running_loop().time() + settings.body_timeout
    return paced(
        aiter(raw),
        idle=settings.body_idle_timeout,
        min_rate=settings.body_min_rate,
        window=settings.body_rate_window,
        deadline=deadline,
    )


async def s3_entry(state: ServerState, scope: Scope, receive: Receive, send: Send) -> None:
    """One S3 request, from ASGI scope to the last byte of the response.

    A plain ASGI callable, not a Starlette route: the router, the two exception middlewares
    and the Request object cost ~40 us per request, which a small GET notices; errors are S3
    documents made here anyway.
    """
    request_id = new_request_id()
    received = time.time()
    started = time.perf_counter()
    req = from_scope(scope)
    access_key = ""  # the key that signed the request, for the access log
    ep: routing.Endpoint | None = None
    tenant = ""
    signed = False
    raw_body = RequestBody(receive)
    try:
        ep = routing.resolve(req, state.settings.domains)
        # Refuse a header asking for what is not done before anything runs (s3front.support).
        support.check_headers(req.headers.items())
        auth = await authenticate(
            req,
            body_stream(state.settings, raw_body),
            bucket=ep.bucket,
            virtual_host=ep.virtual_host,
            lookup=state.keys.lookup,
            region=state.settings.region,
            now=datetime.now(UTC),
        )
        access_key = auth.principal.access_key if auth.principal else ""
        tenant = auth.principal.tenant if auth.principal else ""
        signed = auth.principal is not None
        handler = HANDLERS.get(ep.op)
        # The support table has the last word: a refused operation is refused even where a
        # handler exists (one that answers "not configured" must not take a configuration).
        if handler is None or ep.op in support.REFUSED_OPS:
            raise errors.NotImplemented(f"{ep.op} is not implemented.")
        sse.check_request_headers(ep.op, req)
        body = checked_body(ep.op, req, auth.body)  # Content-MD5 / checksums of documents
        ctx = Ctx(req, ep, auth.principal, body, state.store, state.settings, request_id)
        response = await handler(ctx)
    except Exception as exc:  # every failure becomes an S3 error document
        response = failure_response(exc, req, request_id)
        if isinstance(exc, errors.RequestTimeout):
            scope[NO_LINGER] = True  # a client too slow to send its body: close at once
    if ep is not None and "origin" in req.headers:  # no store read without an Origin header
        try:
            response.headers.update(await cors_headers(state.store, req, ep.bucket, ep.op))
        except Exception as exc:  # the bucket's CORS rules could not be read
            response = failure_response(exc, req, request_id)
    if not signed and raw_body.unread(req):
        # Answered before the body ended (a refused POST form, say): the rest of an anonymous
        # body is not worth reading. A signed client's is discarded as it comes, for a while
        # (s3front.limits), so that its connection can carry the next request.
        response.headers["connection"] = "close"
    # Appended to the raw list: no handler sets these, and `response.headers[...] = ...`
    # builds a MutableHeaders view and rescans the list on every use (~3 us of a small GET).
    rid = request_id.encode()
    response.raw_headers += ((b"x-amz-request-id", rid), (b"x-amz-id-2", rid))
    elapsed = time.perf_counter() - started
    declared = req.header("content-length") or req.header("x-amz-decoded-content-length")
    # Any client text may be here (the request may have failed on exactly this header).
    bytes_in = int(declared) if declared.isascii() and declared.isdigit() else 0
    # A HEAD response's Content-Length is the object's size; no body byte is sent.
    bytes_out = 0 if req.method == "HEAD" else _content_length(response.raw_headers)
    op = ep.op if ep else ""
    metrics.observe_request(op, response.status_code, elapsed, bytes_in, bytes_out)
    client = scope.get("client")
    status = response.status_code
    error_code = _error_code(response) if status >= 300 and status != 304 else ""
    state.request_log.write(
        request_id=request_id,
        client=client[0] if client else "",
        access_key=access_key,
        tenant=tenant,
        op=op,
        method=req.method,
        bucket=ep.bucket or "" if ep else "",
        key=ep.key or "" if ep else "",
        status=status,
        error=error_code,
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        seconds=elapsed,
    )
    cancelled = False
    try:
        await response(scope, receive, send)
    except Exception:
        # The status line is out; all that is left is to end the connection (uvicorn does,
        # seeing the exception) so the client sees a short body, not a wrong one.
        log.exception("request %s: sending the response failed", request_id)
        raise
    except BaseException:
        cancelled = True
        raise
    finally:
        if state.access_logs is not None and ep is not None and ep.bucket and not cancelled:
            # After the last byte (AWS's total time ends there); the record is built only
            # for a bucket whose logging is on (s3front.access_log_delivery).
            done = time.perf_counter()
            await state.access_logs.note(
                ep.bucket,
                lambda bucket: request_record(
                    bucket,
                    req=req,
                    http_version=scope.get("http_version", "1.1"),
                    op=op,
                    key=ep.key or "",
                    requester=tenant,
                    request_id=request_id,
                    status=status,
                    error_code=error_code,
                    response_headers=response.raw_headers,
                    bytes_in=bytes_in,
                    bytes_out=bytes_out,
                    received=received,
                    started=started,
                    body_done=raw_body.completed_at,
                    ready=started + elapsed,
                    done=done,
                ),
            )


def _content_length(raw_headers: list[tuple[bytes, bytes]]) -> int:
    for name, value in raw_headers:
        if name == b"content-length":
            return int(value)
    return 0


_ERROR_CODE = re.compile(rb"<Code>([^<]{1,64})</Code>")


def _error_code(response: Response) -> str:
    """The S3 error code of an error response, for the access log: a HEAD's x-amz-error-code
    header, else the error document's <Code> (read back from the rendered body, which costs
    nothing on success and keeps the error paths as they are)."""
    for name, value in response.raw_headers:
        if name == b"x-amz-error-code":
            return value.decode("latin-1")
    body = getattr(response, "body", None)  # a streamed response has none
    found = _ERROR_CODE.search(body, 0, 2048) if isinstance(body, bytes) else None
    return found.group(1).decode("latin-1") if found else ""


def failure_response(exc: Exception, req: S3Request, request_id: str) -> Response:
    err = errors.from_exception(exc, request_id)
    response = error_response(err, req, request_id)
    if req.header("expect").lower() == "100-continue":
        # Refused before its body was read: a client that waited for "100 Continue"
        # never sends the body, so this connection cannot carry another request.
        response.headers["connection"] = "close"
    elif isinstance(err, errors.RequestTimeout):
        # The body stalled mid-way: whatever the client sends later is not a request.
        response.headers["connection"] = "close"
        metrics.reject("body_timeout")
    return response


class S3Front:
    """The ASGI application: S3 requests go straight to `s3_entry`; the /-/ service endpoints
    and the lifespan (opening the store, the GC loop) are a small Starlette app."""

    SERVICE_PATHS = frozenset({"/-/healthz", "/-/readyz", "/-/metrics"})

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state: ServerState | None = None
        self.service = Starlette(
            routes=[
                Route("/-/healthz", healthz, methods=["GET", "HEAD"]),
                Route("/-/readyz", self.readyz, methods=["GET", "HEAD"]),
                Route("/-/metrics", metrics_endpoint, methods=["GET", "HEAD"]),
            ],
            lifespan=self.lifespan,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.SERVICE_PATHS:
            if self.state is None:  # only before start-up completed: uvicorn waits for it
                await PlainTextResponse("starting\n", 503)(scope, receive, send)
                return
            in_flight = metrics.IN_FLIGHT
            in_flight.value += 1
            try:
                await s3_entry(self.state, scope, receive, send)
            finally:
                in_flight.value -= 1
            return
        await self.service(scope, receive, send)

    async def readyz(self, request: Request) -> Response:
        if self.state is None:
            return PlainTextResponse("starting\n", status_code=503)
        try:
            await self.state.store.ping()
        except Exception as exc:
            log.warning("not ready: %s", exc)
            return PlainTextResponse("store unavailable\n", status_code=503)
        return PlainTextResponse("ready\n")

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        settings = self.settings
        store = BucketCachingStore(
            metered(await open_store(settings.store), settings.store),
            settings.bucket_cache_seconds,
        )
        try:
            generated = await ensure_root_key(
                store.keys,
                settings.root_access_key,
                settings.root_secret_key,
                now_ms(),
                settings.master_key,
            )
            if generated is not None:
                print_credentials(generated.access_key, generated.secret, settings)
            access_logs = AccessLogDelivery(store, settings)
            self.state = ServerState(
                settings,
                store,
                KeyCache(store.keys, settings.master_key),
                RequestLog(settings.access_log),
                access_logs,
            )
            stop = asyncio.Event()
            # Stopped after uvicorn has drained the requests; its last flush delivers what
            # they logged, before the store closes.
            log_task = asyncio.create_task(access_logs.run(stop))
            gc_task = None
            if settings.gc_interval > 0:
                gc_task = asyncio.create_task(
                    gc_loop(
                        store,
                        interval_seconds=settings.gc_interval,
                        grace_seconds=settings.gc_grace,
                        stop=stop,
                    )
                )
            lc_task = None
            if settings.lifecycle_interval > 0:
                lc_task = asyncio.create_task(
                    lifecycle_loop(
                        store,
                        interval_seconds=settings.lifecycle_interval,
                        day_seconds=settings.lifecycle_day_seconds,
                        stop=stop,
                    )
                )
            try:
                yield
            finally:
                stop.set()
                # Both passes are safe to interrupt anywhere: every step is one conditional
                # write, and a lifecycle lease left behind lapses by itself.
                for task in (gc_task, lc_task):
                    if task is not None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                await log_task  # ends with a last flush (stop is set)
                await access_logs.close()
                self.state.request_log.flush()  # normally done: the last turn's lines at most
        finally:
            await store.close()


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n")


async def metrics_endpoint(request: Request) -> Response:
    body, content_type = metrics.metrics_response()
    return Response(body, headers={"content-type": content_type})


def create_app(settings: Settings) -> S3Front:
    return S3Front(settings)
