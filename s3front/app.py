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
import sys
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
from s3front.api import HANDLERS
from s3front.api.context import Ctx, now_ms
from s3front.api.cors import cors_headers
from s3front.api.document_integrity import checked_body
from s3front.auth import authenticate
from s3front.config import Settings
from s3front.gc import gc_loop
from s3front.keys import KeyCache, ensure_root_key
from s3front.limits import idle_limited
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


def error_response(err: errors.S3Error, req: S3Request, request_id: str) -> Response:
    if err.status == 304:
        return Response(status_code=304)
    if req.method == "HEAD":
        # HEAD responses carry no body; the status says it all.
        return Response(status_code=err.status, headers={"x-amz-error-code": err.code})
    body = xml.error_document(err, resource=req.raw_path, request_id=request_id)
    return Response(body, status_code=err.status, media_type="application/xml")


async def request_body(receive: Receive) -> AsyncIterator[bytes]:
    """The request body as it arrives (what Starlette's `Request.stream` does, minus a Request)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        body: bytes = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


async def s3_entry(state: ServerState, scope: Scope, receive: Receive, send: Send) -> None:
    """One S3 request, from ASGI scope to the last byte of the response.

    A plain ASGI callable, not a Starlette route: the router, the two exception middlewares
    and the Request object cost ~40 us per request, which a small GET notices; errors are S3
    documents made here anyway.
    """
    request_id = new_request_id()
    started = time.perf_counter()
    req = from_scope(scope)
    ep: routing.Endpoint | None = None
    tenant = ""
    try:
        ep = routing.resolve(req, state.settings.domains)
        # Refuse a header asking for what is not done before anything runs (s3front.support).
        support.check_headers(req.headers.items())
        stream: AsyncIterator[bytes] = request_body(receive)
        if state.settings.body_idle_timeout > 0:
            stream = idle_limited(stream, state.settings.body_idle_timeout)
        auth = await authenticate(
            req,
            stream,
            bucket=ep.bucket,
            virtual_host=ep.virtual_host,
            lookup=state.keys.lookup,
            region=state.settings.region,
            now=datetime.now(UTC),
        )
        tenant = auth.principal.tenant if auth.principal else ""
        handler = HANDLERS.get(ep.op)
        # The support table has the last word: a refused operation is refused even where a
        # handler exists (one that answers "not configured" must not take a configuration).
        if handler is None or ep.op in support.REFUSED_OPS:
            raise errors.NotImplemented(f"{ep.op} is not implemented.")
        body = checked_body(ep.op, req, auth.body)  # Content-MD5 / checksums of documents
        ctx = Ctx(req, ep, auth.principal, body, state.store, state.settings, request_id)
        response = await handler(ctx)
    except Exception as exc:  # every failure becomes an S3 error document
        response = failure_response(exc, req, request_id)
    if ep is not None and "origin" in req.headers:  # no store read without an Origin header
        try:
            response.headers.update(await cors_headers(state.store, req, ep.bucket, ep.op))
        except Exception as exc:  # the bucket's CORS rules could not be read
            response = failure_response(exc, req, request_id)
    # Appended to the raw list: no handler sets these, and `response.headers[...] = ...`
    # builds a MutableHeaders view and rescans the list on every use (~3 us of a small GET).
    rid = request_id.encode()
    response.raw_headers += ((b"x-amz-request-id", rid), (b"x-amz-id-2", rid))
    elapsed = time.perf_counter() - started
    declared = req.header("content-length") or req.header("x-amz-decoded-content-length")
    # Any client text may be here (the request may have failed on exactly this header).
    bytes_in = int(declared) if declared.isascii() and declared.isdigit() else 0
    bytes_out = _content_length(response.raw_headers)
    op = ep.op if ep else ""
    metrics.observe_request(op, response.status_code, elapsed, bytes_in, bytes_out)
    state.request_log.write(
        request_id=request_id,
        tenant=tenant,
        op=op,
        method=req.method,
        bucket=ep.bucket or "" if ep else "",
        key=ep.key or "" if ep else "",
        status=response.status_code,
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        seconds=elapsed,
    )
    try:
        await response(scope, receive, send)
    except Exception:
        # The status line is out; all that is left is to end the connection (uvicorn does,
        # seeing the exception) so the client sees a short body, not a wrong one.
        log.exception("request %s: sending the response failed", request_id)
        raise


def _content_length(raw_headers: list[tuple[bytes, bytes]]) -> int:
    for name, value in raw_headers:
        if name == b"content-length":
            return int(value)
    return 0


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
            await s3_entry(self.state, scope, receive, send)
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
            self.state = ServerState(
                settings,
                store,
                KeyCache(store.keys, settings.master_key),
                RequestLog(settings.access_log),
            )
            stop = asyncio.Event()
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
            try:
                yield
            finally:
                stop.set()
                if gc_task is not None:
                    gc_task.cancel()  # a pass is safe to interrupt anywhere
                    with contextlib.suppress(asyncio.CancelledError):
                        await gc_task
        finally:
            await store.close()


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n")


async def metrics_endpoint(request: Request) -> Response:
    body, content_type = metrics.metrics_response()
    return Response(body, headers={"content-type": content_type})


def print_credentials(access_key: str, secret_key: str, settings: Settings) -> None:
    scheme = "https" if settings.tls_cert else "http"
    endpoint = f"{scheme}://{settings.host}:{settings.port}"
    print(
        f"""
s3front generated a root access key (printed once; keep it safe):
  access key: {access_key}
  secret key: {secret_key}

  s3cmd:   s3cmd --access_key={access_key} --secret_key={secret_key} \\
             --host={settings.host}:{settings.port} --host-bucket={settings.host}:{settings.port} \\
             {"" if settings.tls_cert else "--no-ssl "}ls
  aws:     AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret_key} \\
             aws --endpoint-url {endpoint} s3 ls
  boto3:   boto3.client("s3", endpoint_url="{endpoint}",
             aws_access_key_id="{access_key}", aws_secret_access_key="{secret_key}")
""",
        file=sys.stdout,
        flush=True,
    )


def create_app(settings: Settings) -> S3Front:
    return S3Front(settings)
