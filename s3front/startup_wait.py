"""`s3front serve --wait-for-store`: wait for the store instead of exiting.

Without the flag a server whose store cannot be reached, or whose Cassandra keyspace is missing
or older than `REQUIRED_VERSION`, exits at once with one line (exit 1). On Kubernetes that is a
crash loop with growing back-off while the schema Job is still running, so the first servers
come up minutes after the schema is in place. With the flag the server instead keeps its port
and answers only the probes until the store opens with the schema it needs:

    GET /-/healthz  200  (the process is alive: liveness must not restart it)
    GET /-/readyz   503  "waiting for the schema: ..." / "waiting for the store: ..."
    anything else   503  ServiceUnavailable (an S3 XML error)

It tries again every few seconds, logs each new reason once (the full driver message, which
may name hosts, goes only to the log; the probe answer says what is missing, not where), and
then closes this listener and starts the real server on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time

from s3front.config import Settings
from s3front.store import open_store
from s3front.store.errors import SchemaOutdated, StoreError

log = logging.getLogger("s3front.startup")

_HEAD_LIMIT = 8192
_HEAD_TIMEOUT = 5.0
_REPEAT_LOG_SECONDS = 60.0


async def wait_for_store(settings: Settings, interval: float = 3.0) -> None:
    """Return once `settings.store` opens with a current schema; meanwhile answer probes."""
    state = {"reason": "starting"}
    server: asyncio.Server | None = None
    logged, logged_at = "", 0.0
    try:
        while True:
            reason, detail = await _not_ready(settings.store)
            if reason is None:
                if server is not None:
                    log.info("store ready; starting the server")
                return
            state["reason"] = reason
            if detail != logged or time.monotonic() - logged_at > _REPEAT_LOG_SECONDS:
                log.warning("not ready, waiting: %s", detail)
                logged, logged_at = detail, time.monotonic()
            if server is None:
                server = await _hold(settings, state)
            await asyncio.sleep(interval)
    finally:
        if server is not None:
            server.close()
            await server.wait_closed()


async def _not_ready(url: str) -> tuple[str | None, str]:
    """(None, "") if the store opens; else (the reason for the probe, the detail for the log)."""
    # The driver logs a failed connection with tracebacks, every attempt; the one line below
    # says the same.
    driver_log = logging.getLogger("cassandra")
    level = driver_log.level
    driver_log.setLevel(logging.CRITICAL)
    try:
        store = await open_store(url)
    except SchemaOutdated as exc:
        # The message names the keyspace and the versions only: fine to show on the probe.
        return f"waiting for the schema: {_one_line(exc)}", _one_line(exc)
    except StoreError as exc:
        return (
            "waiting for the store: unreachable, or it refused the login (see the log)",
            _one_line(exc),
        )
    except ValueError:
        raise  # a bad store URL: waiting cannot help
    except Exception as exc:
        # Anything else while the store is being set up (a schema job half way) is one more
        # reason to wait, never a crash loop: logged, and tried again.
        log.debug("opening the store failed", exc_info=True)
        return "waiting for the store: it failed to open (see the log)", _one_line(exc)
    finally:
        driver_log.setLevel(level)
    await store.close()
    return None, ""


async def _hold(settings: Settings, state: dict[str, str]) -> asyncio.Server:
    context = None
    if settings.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(settings.tls_cert, settings.tls_key)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_HEAD_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            method, _, rest = head[:_HEAD_LIMIT].decode("latin-1").partition(" ")
            path = rest.split(" ", 1)[0].split("?", 1)[0]
            if path == "/-/healthz":
                status, ctype, body = "200 OK", "text/plain", "ok (waiting for the store)\n"
            elif path == "/-/readyz":
                status, ctype, body = (
                    "503 Service Unavailable",
                    "text/plain",
                    state["reason"] + "\n",
                )
            else:
                status, ctype = "503 Service Unavailable", "application/xml"
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable'
                    "</Code><Message>The server is starting: it waits for its store."
                    "</Message></Error>"
                )
            data = body.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
                "Retry-After: 5\r\nConnection: close\r\n\r\n".encode()
                + (b"" if method == "HEAD" else data)
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a probe that hung up or sent junk gets nothing
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    return await asyncio.start_server(
        answer, settings.host, settings.port, ssl=context, limit=_HEAD_LIMIT, reuse_address=True
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


__all__ = ["wait_for_store"]
