"""Keeping the target's GC away from a migration in progress: one write intent from time 0.

The migration writes in the order GC's safety argument needs (s3front.gc): a block before any
manifest entry that names it, a whole manifest tree before the object or part row that
references it. But a GC pass running on the target meanwhile (a server's periodic pass, or
`s3front gc`) would still see blocks and manifests that no row references *yet*, and the
migrated ones look old to it: manifest ids keep the creation time they got on the source
(`objects.manifest_ids`), so they are not "young", and a pass could free a manifest between its
write and its row's.

Every writer protects itself the same way: a write intent (`objects.intents`), whose start GC
treats as its horizon -- nothing stamped at or after the start of a live intent is freed. The
migration's stamps go back as far as the source's history, so its intent starts at 0: while it
is live, GC on the target frees no block and no time-stamped manifest at all. (The exception:
a manifest with an id from before ids carried a time, written by an old s3front, counts as old
whatever the horizon; a pass that ran exactly between its write and its row's would free it.
The verification compares every manifest tree and would report it; a rerun writes it again.
Better still, run no GC on the target until the migration is done.) The intent is refreshed in the background every third of its TTL; if a
refresh fails for long enough that GC may have judged it expired, `check` fails the run before
the next row is written (a rerun repairs whatever a pass freed). The row is deleted at the end.
An interrupted run's intent lapses by itself after its TTL; what it had written without a row
is garbage then, and the rerun writes it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

from s3front.objects.intents import INTENT_TTL_MS, IntentLapsed
from s3front.store.errors import StoreError
from s3front.store.protocols import MetaStore
from s3front.store.records import IntentRecord

log = logging.getLogger("s3front.migrate")


def _clock_ms() -> int:
    return time.time_ns() // 1_000_000


class MigrationIntent:
    """The migration's write intent (see the module docstring)."""

    def __init__(self, meta: MetaStore, *, ttl_ms: int = INTENT_TTL_MS) -> None:
        self._meta = meta
        self._ttl_ms = ttl_ms
        self.intent_id = f"migrate-{secrets.token_hex(12)}"
        self._valid_until = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._write()
        self._task = asyncio.create_task(self._refresh())

    async def _write(self) -> None:
        now = _clock_ms()
        await self._meta.put_intent(IntentRecord(self.intent_id, 0, now + self._ttl_ms))
        self._valid_until = now + self._ttl_ms

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                await self._write()
            except StoreError as e:  # the next turn tries again; check() judges the margin
                log.warning("could not refresh the migration's write intent: %s", e)

    def check(self) -> None:
        """Raise IntentLapsed unless the intent stays live for a third of its TTL more."""
        if _clock_ms() > self._valid_until - self._ttl_ms // 3:
            raise IntentLapsed(
                "the migration could not keep its write intent alive (the target's GC may have "
                "freed what it wrote); run it again"
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self._meta.delete_intent(self.intent_id)
        except StoreError as e:  # it lapses by its TTL anyway
            log.warning("could not delete the migration's write intent: %s", e)
