"""End to end: `s3front gc --grace 0` runs to completion while a real server holds a 3 MiB PUT
whose body has stalled after two blocks; the PUT then finishes, and GET returns its exact bytes.

A real `s3front serve` subprocess on a loopback port (SQLite and Cassandra), the PUT sent by
raw http.client with the harness's SigV4 signer, GC as the operator runs it. The pass also
frees a deleted object of the test's own, so it is a pass that collects, not one that keeps
everything.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import s3front_e2e_support as sup

from s3front.store import open_store

MiB = 1024 * 1024
CHUNK = 256 * 1024
PAUSE_AT = 2 * MiB + 512 * 1024  # two whole blocks handed to the store, the third pending


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sup.Server]:
    store_url = request.getfixturevalue("cassandra_url") if request.param == "cassandra" else None
    srv = sup.start_server(
        tmp_path_factory.mktemp(f"gc-e2e-{request.param}"),
        store_url=store_url,
        variant=f"http-{request.param}",
        ready_timeout=60,
        # The PUT waits for a whole GC pass, which on the session's shared Cassandra keyspace
        # walks every other test's objects: more than the default 30 s of body idle time.
        env_extra={"S3FRONT_BODY_IDLE_TIMEOUT": "250"},
    )
    try:
        yield srv
    finally:
        sup.stop_server(srv)


def _stored(store_url: str, ids: list[bytes]) -> bool:
    async def check() -> bool:
        store = await open_store(store_url)
        try:
            return all([await store.blocks.get_block(b) is not None for b in ids])
        finally:
            await store.close()

    return asyncio.run(check())


def _gc(store_url: str, workdir: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3FRONT_")}
    done = subprocess.run(
        [sys.executable, "-m", "s3front", "gc", "--grace", "0", "--store", store_url],
        capture_output=True,
        cwd=workdir,
        env=env,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode()


def test_put_paused_across_gc_grace_0_keeps_its_data(server: sup.Server) -> None:
    s3 = server.client()
    bucket = sup.unique_bucket("gce")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="garbage", Body=os.urandom(2 * MiB + 77))
    s3.delete_object(Bucket=bucket, Key="garbage")

    data = os.urandom(3 * MiB)
    first_two = [hashlib.sha256(data[i : i + MiB]).digest() for i in (0, MiB)]
    summaries: list[str] = []

    def body() -> Iterator[bytes]:
        for i in range(0, len(data), CHUNK):
            if i == PAUSE_AT:
                for _ in range(200):  # bounded: 20 s for the server to store two blocks
                    if _stored(server.store_url, first_two):
                        break
                    time.sleep(0.1)
                else:
                    raise AssertionError("the server never stored the first two blocks")
                # Older than any clock-skew allowance GC makes: only the intent protects them.
                time.sleep(1.5)
                summaries.append(_gc(server.store_url, server.workdir))
            yield data[i : i + CHUNK]

    resp = server.raw(
        "PUT",
        f"/{bucket}/big",
        headers={"content-length": str(len(data))},
        body=body(),
        payload_hash="UNSIGNED-PAYLOAD",
        timeout=300,
    )
    assert resp.status == 200, str(resp)
    (summary,) = summaries
    freed = re.search(r"freed (\d+)/\d+ blocks", summary)
    assert freed is not None and int(freed.group(1)) >= 3, summary  # the garbage object's
    got = s3.get_object(Bucket=bucket, Key="big")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
