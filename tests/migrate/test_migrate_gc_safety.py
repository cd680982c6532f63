"""GC on the target while a migration writes into it, and after: nothing migrated is freed.

A GC pass with grace 0, run as if a minute later, runs right before every object, part and
upload row the copy writes -- between a row's manifest tree and the row itself, the moment when
what the copy wrote is referenced by nothing yet. With the migration's write intent (which
starts at time 0, `s3front.migrate.guard`) every pass frees nothing; without it the same passes
free migrated blocks and manifests (the control below), so the test can fail.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from migrate_sources import Populated

from s3front.migrate.copier import Copier
from s3front.migrate.guard import MigrationIntent
from s3front.migrate.source import open_source
from s3front.migrate.verify import Verifier
from s3front.objects.gc import GcReport, run_gc
from s3front.store import open_store
from s3front.store.protocols import Store

pytestmark = pytest.mark.anyio


class _GcFirstMeta:
    """The target's MetaStore, but every row write first waits for a whole GC pass."""

    def __init__(self, store: Store, reports: list[GcReport]) -> None:
        self._store, self._reports = store, reports

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store.meta, name)

    async def _gc(self) -> None:
        later = time.time_ns() // 1_000_000 + 60_000
        report = await run_gc(self._store, grace_seconds=0, now_ms=later, clock_skew_seconds=0)
        self._reports.append(report)

    async def put_object(self, *args: Any) -> None:
        await self._gc()
        await self._store.meta.put_object(*args)

    async def put_part(self, *args: Any) -> None:
        await self._gc()
        await self._store.meta.put_part(*args)

    async def put_upload(self, *args: Any) -> None:
        await self._gc()
        await self._store.meta.put_upload(*args)


class _GcFirstStore:
    def __init__(self, store: Store, reports: list[GcReport]) -> None:
        self._store = store
        self.meta = _GcFirstMeta(store, reports)
        self.blocks = store.blocks
        self.keys = store.keys


class _NoIntent(MigrationIntent):
    """The control: a migration that registers nothing."""

    async def start(self) -> None:
        pass

    def check(self) -> None:
        pass

    async def stop(self) -> None:
        pass


@pytest.fixture(params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)])
def gc_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A target nobody else uses: the GC passes here free whatever is unreferenced."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'target'}"
    else:
        yield request.getfixturevalue("fresh_keyspace")


async def _migrate_under_gc(
    source: Populated, url: str, intent_cls: type[MigrationIntent]
) -> tuple[list[GcReport], bool]:
    reports: list[GcReport] = []
    src = await open_source(str(source.path))
    dst = await open_store(url)
    try:
        intent = intent_cls(dst.meta)
        await intent.start()
        try:
            await Copier(src, _GcFirstStore(dst, reports), intent).run()  # type: ignore[arg-type]
        finally:
            await intent.stop()
        verified = await Verifier(src, dst, sample=10_000).run()
    finally:
        await dst.close()
        await src.close()
    return reports, verified.ok


async def test_gc_during_the_migration_frees_nothing(source: Populated, gc_target: str) -> None:
    reports, ok = await _migrate_under_gc(source, gc_target, MigrationIntent)
    assert len(reports) >= len(source.objects)  # a pass before every row
    assert [(r.freed_blocks, r.freed_manifests) for r in reports] == [(0, 0)] * len(reports)
    assert ok
    # And after it (the intent is gone): a pass frees nothing migrated, everything reads back.
    dst = await open_store(gc_target)
    src = await open_source(str(source.path))
    try:
        later = time.time_ns() // 1_000_000 + 60_000
        after = await run_gc(dst, grace_seconds=0, now_ms=later, clock_skew_seconds=0)
        assert (after.freed_blocks, after.freed_manifests) == (0, 0)
        assert after.live_blocks == len(set(source.blocks))
        assert (await Verifier(src, dst, sample=10_000).run()).ok
    finally:
        await src.close()
        await dst.close()


async def test_control_without_the_intent_gc_frees_migrated_data(
    source: Populated, gc_target: str
) -> None:
    reports, ok = await _migrate_under_gc(source, gc_target, _NoIntent)
    assert sum(r.freed_blocks for r in reports) > 0
    assert not ok
