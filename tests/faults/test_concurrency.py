"""50 writers on one key, readers alongside: every read is exactly one whole version (SHA-256 of
the body is one that was written, lengths and ETag agree), ranged reads are slices of the
version their ETag names, no read returns a version older than one acknowledged before the read
began, and the final state is a version that could be the latest."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import s3front_e2e_support as sup
import s3front_faults_crashkit as ck

WRITERS = 50
READERS = 8
KEY = "contended/object"
MAX_SECONDS = 60.0  # bound on the whole race; it takes a few seconds


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    store_url = request.getfixturevalue("cassandra_url") if request.param == "cassandra" else None
    srv = sup.start_server(
        tmp_path_factory.mktemp(f"race-{request.param}"),
        store_url=store_url,
        ready_timeout=60,
    )
    try:
        yield srv
    finally:
        sup.stop_server(srv)


@dataclass(frozen=True)
class Read:
    start: float
    end: float
    sha256: str


def test_writers_and_readers_on_one_key(server: Any) -> None:
    bucket = sup.unique_bucket("race")
    path = f"/{bucket}/{KEY}"
    assert server.raw("PUT", f"/{bucket}").status == 200
    rng = random.Random()
    payloads = [os.urandom(rng.randint(100 * ck.KiB, 2 * ck.MiB)) for _ in range(WRITERS + 1)]
    by_etag = {hashlib.md5(p).hexdigest(): p for p in payloads}
    by_sha = {hashlib.sha256(p).hexdigest(): p for p in payloads}
    history = ck.History([KEY], [])
    # A first version, so that readers never meet a missing key.
    first = history.begin(KEY, "put", 1, [hashlib.sha256(payloads[0]).hexdigest()])
    assert server.raw("PUT", path, body=payloads[0]).status == 200
    history.ack(first)

    go = threading.Barrier(WRITERS + READERS, timeout=30)
    writers_done = threading.Event()
    failures: list[str] = []
    reads: list[Read] = []
    ranged: list[float] = []  # start times
    deadline = time.monotonic() + MAX_SECONDS

    def write(data: bytes) -> None:
        go.wait()
        op = history.begin(KEY, "put", 1, [hashlib.sha256(data).hexdigest()])
        resp = server.raw("PUT", path, body=data, timeout=MAX_SECONDS)
        if (
            resp.status != 200
            or resp.headers.get("etag", "").strip('"') != hashlib.md5(data).hexdigest()
        ):
            failures.append(f"PUT: {resp}")
            return
        history.ack(op)

    def read(seed: int) -> None:
        rr = random.Random(seed)
        go.wait()
        while not writers_done.is_set() and time.monotonic() < deadline:
            if rr.random() < 0.3:
                start_t = time.monotonic()
                start = rr.randrange(100 * ck.KiB)
                resp = server.raw(
                    "GET", path, headers={"range": f"bytes={start}-{start + 200_000}"}
                )
                etag = resp.headers.get("etag", "").strip('"')
                whole = by_etag.get(etag)
                if (
                    resp.status != 206
                    or whole is None
                    or resp.body != whole[start : start + 200_001]
                ):
                    failures.append(f"ranged GET: {resp.status} etag {etag} {len(resp.body)} bytes")
                ranged.append(start_t)
                continue
            t0 = time.monotonic()
            resp = server.raw("GET", path)
            t1 = time.monotonic()
            sha = hashlib.sha256(resp.body).hexdigest()
            data = by_sha.get(sha)
            if (
                resp.status != 200
                or data is None
                or int(resp.headers["content-length"]) != len(data)
                or resp.headers["etag"].strip('"') != hashlib.md5(data).hexdigest()
            ):
                failures.append(
                    f"GET: {resp.status}, {len(resp.body)} bytes that no writer sent as one version"
                )
            reads.append(Read(t0, t1, sha))

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads[1:]]
    threads += [threading.Thread(target=read, args=(i,)) for i in range(READERS)]
    t_start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads[:WRITERS]:
        t.join(timeout=max(1.0, deadline - time.monotonic()))
    writers_done.set()
    for t in threads:
        t.join(timeout=max(1.0, deadline + 10 - time.monotonic()))
    seconds = time.monotonic() - t_start
    assert not any(t.is_alive() for t in threads), f"threads still running after {seconds:.0f}s"
    assert not failures, failures[:10]
    ops = history.ops[KEY]
    assert all(o.acked_at is not None for o in ops), "a PUT was not acknowledged"

    # No stale read: a read may not return a version that an acknowledged write, complete
    # before the read began, had already been ordered after.
    writer_of = {next(iter(o.values)): o for o in ops}
    for r in reads:
        w = writer_of[r.sha256]
        assert w.start < r.end, "read a version before its PUT was sent"
        newer = [
            o
            for o in ops
            if o.acked_at is not None and o.acked_at < r.start and o.start > w.acked_at
        ]
        assert not newer, f"stale read: version acked {w.acked_at:.3f}, newer acked before the read"

    final = server.raw("GET", path)
    assert final.status == 200
    sha = hashlib.sha256(final.body).hexdigest()
    assert sha in history.possible(KEY), "final state is not a version that could be the latest"
    # The reads must have raced the writes, or none of the above says anything.
    last_ack = max(o.acked_at or 0.0 for o in ops)
    racing = [t for t in [r.start for r in reads] + ranged if t < last_ack]
    assert len(racing) >= READERS, f"only {len(racing)} reads began while writes were going on"
    print(
        f"{WRITERS} writers, {len(reads)} whole + {len(ranged)} ranged reads "
        f"({len(racing)} racing the writes) in {seconds:.1f}s"
    )


COPY_RACE_SECONDS = 5.0


def test_copy_while_its_source_is_overwritten(server: Any) -> None:
    """CopyObject of a key that always exists, while PUTs replace it: every copy succeeds and
    the copy holds exactly the version its ETag names."""
    bucket = sup.unique_bucket("copyrace")
    src = f"/{bucket}/source"
    assert server.raw("PUT", f"/{bucket}").status == 200
    written: dict[str, bytes] = {}
    lock = threading.Lock()

    def put_source() -> None:
        data = os.urandom(100 * ck.KiB)  # block-backed: copies pin the source's manifest
        with lock:
            written[hashlib.md5(data).hexdigest()] = data
        resp = server.raw("PUT", src, body=data)
        assert resp.status == 200, str(resp)

    put_source()
    stop = threading.Event()
    failures: list[str] = []
    copies: list[tuple[str, str]] = []  # (destination path, etag)
    deadline = time.monotonic() + COPY_RACE_SECONDS

    def overwrite() -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            put_source()

    def copy(i: int) -> None:
        n = 0
        while not stop.is_set() and time.monotonic() < deadline:
            dst = f"/{bucket}/copy-{i}-{n}"
            n += 1
            resp = server.raw("PUT", dst, headers={"x-amz-copy-source": src})
            if resp.status != 200 or b"CopyObjectResult" not in resp.body:
                failures.append(f"copy: {resp.status} {resp.error_code}")
                stop.set()  # one is enough to know
                return
            copies.append((dst, sup.find_text(resp.xml(), "ETag")[0].strip('"')))

    threads = [threading.Thread(target=overwrite) for _ in range(2)]
    threads += [threading.Thread(target=copy, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=COPY_RACE_SECONDS + 60)
    assert not any(t.is_alive() for t in threads)
    assert not failures, f"{failures[0]} after {len(copies)} good copies"
    assert len(written) > 2 and copies, "no race happened"
    for dst, etag in copies[:: max(1, len(copies) // 50)]:
        resp = server.raw("GET", dst)
        assert resp.status == 200 and resp.body == written[etag], dst
