"""GC runs in deployments: on by default inside the server, one pass per interval across every
server of a store (a lease), and the long CLI jobs log progress when not on a terminal."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import pytest

from s3front import cli, config
from s3front.objects.gc import gc_loop
from s3front.store import open_store

pytestmark = pytest.mark.anyio


def test_gc_and_lifecycle_are_on_by_default() -> None:
    settings = config.load(env={})
    assert settings.gc_interval == 3600
    assert settings.lifecycle_interval == 3600
    assert settings.lifecycle_day_seconds == 86400
    env = {"S3FRONT_LIFECYCLE_INTERVAL": "5", "S3FRONT_LIFECYCLE_DAY_SECONDS": "2"}
    settings = config.load(env=env)
    assert (settings.lifecycle_interval, settings.lifecycle_day_seconds) == (5, 2)
    with pytest.raises(ValueError):
        config.load(env={"S3FRONT_LIFECYCLE_DAY_SECONDS": "0"})


async def test_two_servers_share_one_gc_pass_per_interval(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two servers' loops on one store, 1 s interval, stopped after 1.6 s: each would have run a
    pass at ~1 s; the lease lets only one of them."""
    caplog.set_level(logging.INFO, logger="s3front.gc")
    url = f"sqlite://{tmp_path / 'store'}"
    stores = [await open_store(url), await open_store(url)]
    stop = asyncio.Event()
    loops = [asyncio.create_task(gc_loop(s, interval_seconds=1.0, stop=stop)) for s in stores]
    try:
        await asyncio.sleep(1.6)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*loops), 30)
        for s in stores:
            await s.close()
    passes = [r for r in caplog.records if r.getMessage().startswith("gc pass: ")]
    failed = [r for r in caplog.records if "failed" in r.getMessage()]
    assert not failed, [r.getMessage() for r in failed]
    assert len(passes) == 1


def test_progress_logger_writes_lines_off_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = io.StringIO()  # not a terminal
    monkeypatch.setattr("sys.stderr", err)
    show = cli._progress_logger("gc", every=0.0)
    show("12 rows")
    show("24 rows")
    assert err.getvalue().splitlines() == ["gc: 12 rows", "gc: 24 rows"]
    quiet = cli._progress_logger("gc", every=3600.0)
    quiet("nothing yet")
    assert err.getvalue().count("\n") == 2
