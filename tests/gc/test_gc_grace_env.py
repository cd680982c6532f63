"""`s3front gc` without --grace takes the grace period from S3FRONT_GC_GRACE, as the server's GC
does; an explicit --grace still wins. (It used to ignore the variable and keep 24 h.)

The store holds one block that nothing references, written more than the clock-skew allowance
(1 s) ago: grace 0 frees it, grace 24 h keeps it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from s3front.store import open_store


def _orphan_block(store_url: str) -> bytes:
    async def put() -> bytes:
        store = await open_store(store_url)
        try:
            data = b"unreferenced block"
            block_id = hashlib.sha256(data).digest()
            await store.blocks.put_block(block_id, data)
            return block_id
        finally:
            await store.close()

    return asyncio.run(put())


@pytest.mark.parametrize(
    ("env_grace", "args", "freed"),
    [
        ("0", [], 1),  # the variable alone: grace 0
        ("0", ["--grace", "86400"], 0),  # --grace wins over the variable
        ("86400", [], 0),
    ],
)
def test_gc_grace_comes_from_the_environment(
    tmp_path: Path, env_grace: str, args: list[str], freed: int
) -> None:
    store_url = f"sqlite://{tmp_path / 'store'}"
    _orphan_block(store_url)
    time.sleep(1.5)  # past the GC's clock-skew allowance
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3FRONT_")}
    env["S3FRONT_GC_GRACE"] = env_grace
    done = subprocess.run(
        [sys.executable, "-m", "s3front", "gc", "--store", store_url, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = re.search(r"freed (\d+)/(\d+) blocks", done.stdout)
    assert found is not None, done.stdout
    assert (int(found[1]), int(found[2])) == (freed, 1), done.stdout
