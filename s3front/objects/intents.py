"""Write intents: a write in progress tells GC, before it stores anything, when it started.

Every request that writes blocks or manifests (PUT, UploadPart, POST upload, CopyObject,
UploadPartCopy, CompleteMultipartUpload) holds one `WriteIntent` from before its first block or
manifest write until its object (or part) row is written:

    async with WriteIntent(store.meta) as intent:
        result = await write_object_data(..., intent=intent)   # intent.ensure() inside
        await commit(...)                                       # after intent.check()

The intent row (id, started_ms, expires_ms) is written lazily, by `ensure()`, right before the
first block or manifest: a small PUT stored inline in its object row never writes one. GC keeps
every block and manifest stamped at or after the oldest live intent's start (`s3front.objects.gc` has
the argument), so a write that takes longer than the grace period still finds its blocks.

Expiry: the row names a time `ttl_ms` ahead, and the writer rewrites it once a third of that
has passed, as body chunks arrive (`keep_alive`; a body idle for long ends the request anyway,
`body_idle_timeout`), so a crashed server's intents lapse within `ttl_ms` and a slow upload keeps
its own alive. If the intent was not refreshed in time -- GC may already have judged it expired
-- `check()` refuses to let the write be acknowledged (503): its blocks may be gone. The row is
deleted when the write ends, acknowledged or not.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import replace
from types import TracebackType

from s3front import clock
from s3front.store.errors import StoreError, StoreUnavailable
from s3front.store.protocols import MetaStore
from s3front.store.records import IntentRecord

log = logging.getLogger("s3front.intents")

# Longer than a request runs between two refreshes, short enough that a crashed server's
# intents hold GC back for minutes, not hours.
INTENT_TTL_MS = 15 * 60_000


class IntentLapsed(StoreUnavailable):
    """The intent could not be kept alive: GC may have freed what this write stored."""


class WriteIntent:
    """One write's intent; see the module docstring. Not shared between requests."""

    def __init__(self, meta: MetaStore, *, ttl_ms: int = INTENT_TTL_MS) -> None:
        self._meta = meta
        self._ttl_ms = ttl_ms
        self._rec: IntentRecord | None = None
        # Until when (this server's clock) the row surely says it is live, and whether it ever
        # may not have (a refresh that landed too late).
        self._valid_until = 0
        self._refreshed_at = 0
        self._lapsed = False
        self._lock = asyncio.Lock()

    @property
    def started_ms(self) -> int | None:
        """When the intent was registered (None: not yet, nothing written)."""
        return None if self._rec is None else self._rec.started_ms

    async def ensure(self) -> None:
        """Register the intent unless it is already, or refresh it when a third of its TTL has
        passed. Call before the first block or manifest write (everything the write stamps
        afterwards, block written times and manifest ids, is at or after `started_ms` on this
        server's clock) and as the body arrives (`keep_alive`)."""
        if self._rec is not None and not self._refresh_due():
            return
        async with self._lock:
            if self._rec is None:
                now = clock.now_ms()
                rec = IntentRecord(secrets.token_hex(16), now, now + self._ttl_ms)
            elif self._refresh_due():
                now = clock.now_ms()
                rec = replace(self._rec, expires_ms=now + self._ttl_ms)
            else:
                return
            await self._meta.put_intent(rec)
            if self._rec is not None and clock.now_ms() >= self._valid_until:
                self._lapsed = True  # GC may have judged it expired before the refresh landed
            self._rec, self._refreshed_at = rec, now
            self._valid_until = max(self._valid_until, rec.expires_ms)

    async def keep_alive(self) -> None:
        """Refresh the intent if it is registered and due (a clock read when it is not)."""
        if self._rec is not None and self._refresh_due():
            await self.ensure()

    def _refresh_due(self) -> bool:
        return clock.now_ms() - self._refreshed_at >= self._ttl_ms // 3

    def check(self) -> None:
        """Raise IntentLapsed unless the intent has been live all along and will stay so for a
        third of its TTL -- the margin covers the commit that follows and the difference
        between this server's clock and GC's. Call right before the object or part row is
        written. A write that never registered (nothing stored) passes."""
        if self._rec is None:
            return
        if self._lapsed or clock.now_ms() > self._valid_until - self._ttl_ms // 3:
            raise IntentLapsed("the write took too long to keep its data safe from GC; retry")

    async def release(self) -> None:
        """Delete the row (best effort: it expires anyway)."""
        if self._rec is not None:
            rec, self._rec = self._rec, None
            try:
                await self._meta.delete_intent(rec.intent_id)
            except StoreError as e:
                log.warning("could not delete write intent %s: %s", rec.intent_id, e)

    async def __aenter__(self) -> WriteIntent:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.release()
