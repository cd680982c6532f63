"""End to end: a part re-sent under the same number while its first send is still running, with
`s3front gc --grace 0` passes in between, corrupts neither send (issue 19 item 4).

Send A of part 1 (3 MiB) stalls after two blocks; send B of part 1 (sharing A's first block,
content-addressed) runs and completes; a GC pass runs while A stalls (A's blocks are kept by
its write intent, B's by its part row); A then completes last and wins; a second pass frees B's
now unreferenced blocks but not the one A shares. Complete refuses B's ETag and takes A's, and
GET returns A's exact bytes. A real `s3front serve` on SQLite and Cassandra (a keyspace of the
GC suite's own), raw http.client with the harness's SigV4 signer.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
import s3front_e2e_support as sup

from s3front.store import open_store

MiB = 1024 * 1024


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sup.Server]:
    store_url = request.getfixturevalue("cassandra_url") if request.param == "cassandra" else None
    srv = sup.start_server(
        tmp_path_factory.mktemp(f"gc-resend-{request.param}"),
        store_url=store_url,
        variant=f"http-{request.param}",
        ready_timeout=60,
        # Send A stalls across a whole GC pass: more than the default 30 s of body idle time.
        env_extra={"S3FRONT_BODY_IDLE_TIMEOUT": "250"},
    )
    try:
        yield srv
    finally:
        sup.stop_server(srv)


def _stored(store_url: str, ids: list[bytes]) -> list[bool]:
    async def check() -> list[bool]:
        store = await open_store(store_url)
        try:
            return [await store.blocks.get_block(b) is not None for b in ids]
        finally:
            await store.close()

    return asyncio.run(check())


def _gc(server: sup.Server) -> int:
    """One pass with no grace; the number of blocks it freed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3FRONT_")}
    done = subprocess.run(
        [sys.executable, "-m", "s3front", "gc", "--grace", "0", "--store", server.store_url],
        capture_output=True,
        cwd=server.workdir,
        env=env,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    freed = re.search(r"freed (\d+)/\d+ blocks", done.stdout.decode())
    assert freed is not None, done.stdout
    return int(freed.group(1))


def _blocks(data: bytes) -> list[bytes]:
    return [hashlib.sha256(data[i : i + MiB]).digest() for i in range(0, len(data), MiB)]


def test_part_resent_during_first_send_across_gc_passes(server: sup.Server) -> None:
    s3 = server.client()
    bucket = sup.unique_bucket("gcr")
    s3.create_bucket(Bucket=bucket)
    up = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    shared = os.urandom(MiB)
    body_a = shared + os.urandom(2 * MiB)
    body_b = shared + os.urandom(MiB + 17)
    query = f"partNumber=1&uploadId={up}"
    go_on = threading.Event()
    out: dict[str, Any] = {}

    def pieces() -> Iterator[bytes]:
        yield body_a[: 2 * MiB + MiB // 2]  # two whole blocks handed on, the third pending
        assert go_on.wait(200)
        yield body_a[2 * MiB + MiB // 2 :]

    def send_a() -> None:
        out["a"] = server.raw(
            "PUT",
            f"/{bucket}/k",
            query=query,
            headers={"content-length": str(len(body_a))},
            body=pieces(),
            payload_hash=hashlib.sha256(body_a).hexdigest(),
            timeout=300,
        )

    thread = threading.Thread(target=send_a)
    thread.start()
    try:
        for _ in range(200):  # bounded: 20 s for the server to store A's first two blocks
            if all(_stored(server.store_url, _blocks(body_a)[:2])):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the server never stored send A's first two blocks")
        resp_b = server.raw("PUT", f"/{bucket}/k", query=query, body=body_b)
        assert resp_b.status == 200, str(resp_b)
        time.sleep(1.5)  # older than GC's clock-skew allowance: only intents and rows keep them
        _gc(server)
        assert all(_stored(server.store_url, _blocks(body_a)[:2] + _blocks(body_b)))
    finally:
        go_on.set()
        thread.join(240)
    assert not thread.is_alive()
    assert out["a"].status == 200, str(out["a"])
    etag_a, etag_b = out["a"].headers["etag"], resp_b.headers["etag"]
    time.sleep(1.5)
    assert _gc(server) >= 2  # B's own blocks, unreferenced since A's part row replaced B's
    assert _stored(server.store_url, _blocks(body_b)[1:]) == [False, False]
    assert all(_stored(server.store_url, _blocks(body_a)))  # the shared block too
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=up,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag_b}]},
        )
    assert "InvalidPart" in str(exc.value)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag_a}]},
    )
    got = s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(body_a).digest()
