"""`kill -9` in the middle of a migration, then the same command again: it completes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from migrate_sources import tree_state

from s3front.objects.keys import shard_of
from s3front.objects.manifest_ids import new_manifest_id
from s3front.store import open_store
from s3front.store.records import BucketRecord, ManifestEntry, ObjectRecord

OBJECTS = 400


@pytest.fixture
async def many_objects(anyio_backend: str, tmp_path: Path, prefix: str) -> str:
    """An embedded store of OBJECTS one-block objects (a copy that takes a few seconds)."""
    url = f"sqlite://{tmp_path / 'src'}"
    store = await open_store(url)
    try:
        bucket = BucketRecord(f"{prefix}-many", f"{prefix}-id", "owner", 1, "us-east-1", 4)
        assert await store.meta.insert_bucket(bucket)
        for i in range(OBJECTS):
            data = os.urandom(64 * 1024)
            block_id = hashlib.sha256(data).digest()
            await store.blocks.put_block(block_id, data)
            mid = new_manifest_id()
            await store.meta.put_manifest(mid, [ManifestEntry(0, len(data), block_id=block_id)])
            key = f"obj-{i:04d}"
            rec = ObjectRecord(key, 0, "null", len(data), "e" * 32, 1, "owner", manifest_id=mid)
            await store.meta.put_object(bucket.bucket_id, shard_of(key, 4), rec)
    finally:
        await store.close()
    return url


def _command(src: str, dst: str) -> list[str]:
    return [sys.executable, "-m", "s3front", "migrate", "--from", src, "--to", dst]


def test_sigkill_mid_copy_then_rerun(many_objects: str, tmp_path: Path) -> None:
    src = many_objects
    before = tree_state(tmp_path / "src")
    target_dir = tmp_path / "dst"
    dst = f"sqlite://{target_dir}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3FRONT_")}
    proc = subprocess.Popen(
        _command(src, dst), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        written = 0
        while time.monotonic() < deadline and proc.poll() is None:
            blocks = target_dir / "blocks"
            written = sum(1 for _ in blocks.glob("??/*")) if blocks.exists() else 0
            if written >= 40:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the migration ended before it could be killed"
        assert written >= 40
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    cp = subprocess.run(
        _command(src, dst), env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "verification: OK" in cp.stdout
    assert tree_state(tmp_path / "src") == before
