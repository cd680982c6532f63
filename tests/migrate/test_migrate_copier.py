"""The migration at the store level: a populated embedded store copied into an embedded and a
Cassandra target, then checked row by row and byte by byte through the store protocols, apart
from the migration's own verification."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from migrate_sources import Populated, populate, tree_state

from s3front.migrate import migrate
from s3front.migrate.copier import EXIT_AFTER_CODE, EXIT_AFTER_ENV
from s3front.migrate.streams import object_digest, paired, same_object
from s3front.store import open_store
from s3front.store.records import BucketRecord, ObjectRecord

pytestmark = pytest.mark.anyio


async def run(src: str, dst: str, sample: int = 10_000) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = await migrate(src, dst, sample=sample, out=out, err=err)
    return rc, out.getvalue(), err.getvalue()


def table(report: str) -> dict[str, list[int]]:
    """The report's count table: kind -> [source, target, written, present] (-1 for '-')."""
    rows = {}
    for line in report.splitlines():
        m = re.fullmatch(r"([a-z ]+?)\s+(\d+)\s+(\d+)\s+(\d+|-)\s+(\d+|-)", line)
        if m:
            rows[m[1]] = [int(v) if v != "-" else -1 for v in m.groups()[1:]]
    return rows


async def test_copies_every_kind_and_reads_back(source: Populated, target_url: str) -> None:
    rc, out, err = await run(source.url, target_url)
    assert rc == 0, out + err
    assert "verification: OK" in out
    counts = table(out)
    n_objects = len(source.objects)
    markers = sum(r.delete_marker for _, _, r in source.objects)
    n_parts = sum(len(p) for _, _, p in source.uploads)
    assert counts["access keys"][:3] == [3, 3, 3]
    assert counts["tenants"][:2] == [2, 2]  # alice, and bob with two keys
    assert counts["buckets"][:3] == [2, 2, 2]
    assert counts["object versions"][:3] == [n_objects] * 3
    assert counts["delete markers"][:3] == [markers] * 3
    assert counts["uploads"][:3] == [2, 2, 2]
    assert counts["parts"][:3] == [n_parts] * 3
    with_data = [r for _, _, r in source.objects if r.size > 0]
    assert f"{len(with_data)}/{len(with_data)} sampled objects read back identical" in out
    # Secrets are counted, never shown.
    assert source.secret not in out + err and "sealed:v2:" not in out + err

    src = await open_store(source.url)
    dst = await open_store(target_url)
    try:
        for k in source.keys:
            assert await dst.keys.get_key(k.access_key) == k  # sealed or not: as stored
        for b in source.buckets:
            assert await dst.meta.get_bucket(b.name) == b
            assert await dst.meta.get_bucket_mark(b.name) == await src.meta.get_bucket_mark(b.name)
            owned = await dst.meta.list_owner_buckets(b.owner)
            assert any(o.name == b.name and o.created_ms == b.created_ms for o in owned)
        for bucket, shard, rec in source.objects:
            got = await dst.meta.get_object(bucket.bucket_id, shard, rec.key, rec.seq)
            assert got is not None and same_object(got, rec), rec.key
            assert await object_digest(dst.meta, dst.blocks, got) == await object_digest(
                src.meta, src.blocks, rec
            )
        for bucket, upload, parts in source.uploads:
            assert await dst.meta.get_upload(bucket.bucket_id, upload.key, upload.upload_id) == (
                upload
            )
            assert await dst.meta.list_parts(upload.upload_id) == parts
        for block_id in source.blocks:  # every referenced block, byte for byte
            assert await dst.blocks.get_block(block_id) == await src.blocks.get_block(block_id)
        # Garbage stays behind.
        assert await dst.blocks.get_block(source.garbage_block) is None
        assert await dst.meta.get_manifest(source.garbage_manifest) == []
    finally:
        await src.close()
        await dst.close()


async def test_source_store_is_left_untouched(source: Populated, tmp_path: Path) -> None:
    """Not a byte, not a modification time, not a file more (no -wal, -shm or tmp dir)."""
    before = tree_state(source.path)
    rc, out, err = await run(source.url, f"sqlite://{tmp_path / 'copy'}")
    assert rc == 0, out + err
    assert tree_state(source.path) == before


async def test_second_run_writes_nothing_and_verifies_the_same(
    source: Populated, target_url: str
) -> None:
    rc1, out1, _ = await run(source.url, target_url)
    rc2, out2, err2 = await run(source.url, target_url)
    assert rc1 == rc2 == 0, out2 + err2
    first, second = table(out1), table(out2)
    assert {k: v[:2] for k, v in first.items()} == {k: v[:2] for k, v in second.items()}
    for kind, (src_n, _, written, present) in second.items():
        if written >= 0:
            assert (written, present) == (0, src_n), kind
    assert "written by this run: 0 blocks (0 bytes), 0 manifest pages" in out2
    assert out1.splitlines()[-1] == out2.splitlines()[-1]  # the same verification line
    # Not one write: with the hook set to stop at the first write, a third run completes.
    cp = _cli(source.url, target_url, {EXIT_AFTER_ENV: "1"})
    assert cp.returncode == 0, cp.stdout + cp.stderr


def _cli(src: str, dst: str, env_extra: dict[str, str] | None = None) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3FRONT_")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "s3front", "migrate", "--from", src, "--to", dst, "--sample", "999"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )


def test_interrupted_runs_resume(source: Populated, target_url: str) -> None:
    """Runs cut short after a few writes each (as abruptly as a kill: no cleanup) -- after a
    block, inside a manifest tree, between a manifest and its row -- and a last run that
    completes: the target ends identical and verified."""
    before = tree_state(source.path)
    interrupted = 0
    for n in [9, 15, 12] * 8:  # each run gets a little further; the copy is ~70 writes
        cp = _cli(source.url, target_url, {EXIT_AFTER_ENV: str(n)})
        if cp.returncode == 0:
            break
        assert cp.returncode == EXIT_AFTER_CODE, cp.stdout + cp.stderr
        interrupted += 1
    assert interrupted >= 3
    cp = _cli(source.url, target_url)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "verification: OK" in cp.stdout
    counts = table(cp.stdout)
    assert counts["object versions"][1] == len(source.objects)
    assert counts["object versions"][3] > 0  # some were there from the interrupted runs
    assert tree_state(source.path) == before


def test_the_test_hook_stops_mid_copy(source: Populated, tmp_path: Path) -> None:
    """The resume test is not vacuous: a run stopped after 30 writes left the copy incomplete."""
    target = f"sqlite://{tmp_path / 'partial'}"
    assert _cli(source.url, target, {EXIT_AFTER_ENV: "30"}).returncode == EXIT_AFTER_CODE
    cp = _cli(source.url, target)
    counts = table(cp.stdout)
    assert cp.returncode == 0 and counts["object versions"][2] > 0  # the rest written now


async def test_conflicting_bucket_and_key_are_reported_not_overwritten(
    source: Populated, target_url: str, prefix: str
) -> None:
    dst = await open_store(target_url)
    theirs = BucketRecord(source.buckets[0].name, f"{prefix}-theirs", "someone", 1, "us-east-1", 1)
    other_key = replace(source.keys[0], display_name="someone else")
    try:
        assert await dst.meta.insert_bucket(theirs)
        await dst.keys.put_key(other_key)
    finally:
        await dst.close()
    rc, out, _ = await run(source.url, target_url)
    assert rc == 1
    assert f"conflict: bucket {theirs.name}: the target has another bucket" in out
    assert f"conflict: access key {other_key.access_key}" in out
    assert "verification: FAILED" in out
    dst = await open_store(target_url)
    try:
        assert await dst.meta.get_bucket(theirs.name) == theirs
        assert await dst.keys.get_key(other_key.access_key) == other_key
        bucket = source.buckets[0]
        for shard in range(bucket.shards):  # nothing copied under the name's real owner either
            assert await dst.meta.scan_objects(bucket.bucket_id, shard, limit=10) == []
        assert await dst.meta.get_bucket(source.buckets[1].name) == source.buckets[1]
    finally:
        await dst.close()


async def test_lost_source_block_fails_that_object_only(source: Populated, target_url: str) -> None:
    bucket, shard, victim = next((b, s, r) for b, s, r in source.objects if r.key == "three-blocks")
    src = await open_store(source.url)
    try:
        assert victim.manifest_id is not None
        lost = (await src.meta.get_manifest(victim.manifest_id))[1].block_id
    finally:
        await src.close()
    assert lost is not None
    h = lost.hex()
    os.unlink(source.path / "blocks" / h[:2] / h)
    rc, out, _ = await run(source.url, target_url)
    assert rc == 1
    assert f"error: bucket {bucket.name}: 'three-blocks' version null: block {h} is missing" in out
    assert "verification: FAILED" in out
    counts = table(out)
    assert counts["object versions"][:2] == [len(source.objects), len(source.objects) - 1]
    dst = await open_store(target_url)
    try:
        assert await dst.meta.get_object(bucket.bucket_id, shard, "three-blocks") is None
    finally:
        await dst.close()


async def test_paired_merges_in_code_point_order() -> None:
    async def walk(keys: list[str]) -> Any:
        for k in keys:
            yield ObjectRecord(k, 0, "null", 0, "", 0, "o")

    left = ["a", "é", "\U0001f600"]  # U+FF5A sorts before U+1F600 as UTF-8, after it as UTF-16
    right = ["a", "\uff5a", "\U0001f600"]
    got = [
        (a.key if a else None, b.key if b else None)
        async for a, b in paired(walk(left), walk(right), lambda r: (r.key, -r.seq))
    ]
    assert got == [("a", "a"), ("é", None), (None, "\uff5a"), ("\U0001f600", "\U0001f600")]


async def test_populate_makes_a_store_the_server_can_open(tmp_path: Path, prefix: str) -> None:
    """The fixture itself: its store opens and lists (guards the tests above from testing an
    unreadable store)."""
    pop = await populate(tmp_path / "s", prefix)
    store = await open_store(pop.url)
    try:
        assert [b.name for b in await store.meta.list_buckets("", 10)] == sorted(
            b.name for b in pop.buckets
        )
    finally:
        await store.close()
