"""The Cassandra store's own CPU per call, in one process: the floor under s3front's cost per
S3 operation on Cassandra (issue 17).

    .venv/bin/python bench/cql_floor.py [--cassandra 127.0.0.1:9042] [--n 2000] [--conc 16]
                                        [--url-params protocol_version=4] [--repeat 3]

Makes a keyspace of its own (`s3front schema apply`), opens the store as the server does, and
times, with `time.process_time` (every thread of this process: the event loop's and the
driver's I/O thread), each of:

  trivial read     one prepared single-partition SELECT of a row that is not there: one round
                   trip and nothing else, the least any statement costs
  object read      `meta.get_object` of a 4 KiB object stored inline (what a GET or HEAD does)
  object write     `meta.put_object` of such a row (what a 4 KiB PUT does, with the bucket read)
  block write      `blocks.put_block` of 1 MiB
  block read       `blocks.get_block` of 1 MiB

`--conc` calls in flight at once (16: as compare.py's 4 KiB phases), `--n` calls per cell, each
cell `--repeat` times; prints the median CPU per call in microseconds. The JVM is another
process and is not counted. The keyspace is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from s3front.schema import apply_schema_sync

from s3front.store.cassandra import CassandraStore, open_cassandra
from s3front.store.cassandra.session import Db, parse_url
from s3front.store.records import ObjectRecord

MiB = 1024 * 1024


async def cpu_per_call(n: int, conc: int, call: Callable[[int], Awaitable[object]]) -> float:
    """CPU microseconds per call, `conc` at a time."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await call(i)

    t0 = time.process_time()
    await asyncio.gather(*(worker() for _ in range(conc)))
    return (time.process_time() - t0) / n * 1e6


def record(key: str, data: bytes) -> ObjectRecord:
    return ObjectRecord(
        key=key, seq=1, version_id="null", size=len(data), etag=hashlib.md5(data).hexdigest(),
        last_modified_ms=time.time_ns() // 1_000_000, owner="bench", manifest_id="",
        inline=data,
    )  # fmt: skip


async def run(url: str, n: int, conc: int, repeat: int, only: str, variants: list[str]) -> None:
    store: CassandraStore = await open_cassandra(url)
    db: Db = store._db  # the session the store's own calls use
    trivial = db.prepare("SELECT written_ms FROM blocks WHERE block_id = ?")
    small = os.urandom(4096)
    big = [os.urandom(MiB) for _ in range(8)]
    ids = [hashlib.sha256(b).digest() for b in big]
    for i in range(64):
        await store.meta.put_object("b", i % 8, record(f"k{i}", small))
    for bid, data in zip(ids, big, strict=True):
        await store.blocks.put_block(bid, data)
    missing = secrets.token_bytes(32)
    cells: dict[str, tuple[int, Callable[[int], Awaitable[object]]]] = {
        "trivial read": (n, lambda i: db.rows(trivial, (missing,))),
        "object read": (n, lambda i: store.meta.get_object("b", i % 8, f"k{i % 64}")),
        "object write": (n, lambda i: store.meta.put_object("b", i % 8, record(f"w{i}", small))),
        "block write 1 MiB": (n // 10, lambda i: store.blocks.put_block(ids[i % 8], big[i % 8])),
        "block read 1 MiB": (n // 10, lambda i: store.blocks.get_block(ids[i % 8])),
    }
    if only:
        cells = {k: v for k, v in cells.items() if k.startswith(only)}
    try:
        for name, (count, call) in cells.items():
            await cpu_per_call(min(count, 200), conc, call)  # warm up
            got: dict[str, list[float]] = {v: [] for v in variants}
            for _ in range(repeat):  # the variants interleaved: the machine's drift hits all
                for v in variants:
                    with VARIANTS[v]():
                        got[v].append(await cpu_per_call(count, conc, call))
            for v, cpu in got.items():
                spread = f"{min(cpu):.0f}-{max(cpu):.0f}"
                label = f"{name} [{v}]" if len(variants) > 1 else name
                print(f"{label:<36}{statistics.median(cpu):8.0f} us/call  ({spread})", flush=True)
    finally:
        await store.close()


@contextlib.contextmanager
def as_is() -> Iterator[None]:
    yield


@contextlib.contextmanager
def old_bridge() -> Iterator[None]:
    """Db._pages as before issue 17: the driver's own request timeout (a timer per request),
    an asyncio.Queue per request and asyncio.timeout per page."""
    saved = Db._pages

    async def pages(self: Db, loop: Any, stmt: Any, params: Any) -> list[Any]:
        q: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue()
        future = self.session.execute_async(stmt, params, timeout=self.cfg.request_timeout)
        future.add_callbacks(
            lambda page: loop.call_soon_threadsafe(q.put_nowait, (page, None)),
            lambda exc: loop.call_soon_threadsafe(q.put_nowait, (None, exc)),
        )
        out: list[Any] = []
        while True:
            async with asyncio.timeout(self.cfg.request_timeout + 5):
                page, error = await q.get()
            if error is not None:
                raise error
            out.extend(page or ())
            if not future.has_more_pages:
                return out
            future.start_fetching_next_page()

    Db._pages = pages  # type: ignore[method-assign]
    try:
        yield
    finally:
        Db._pages = saved  # type: ignore[method-assign]


def io_pieces(size: int) -> Callable[[], contextlib.AbstractContextManager[None]]:
    """The driver's socket reads and writes in pieces of `size` bytes."""

    @contextlib.contextmanager
    def pieces() -> Iterator[None]:
        from s3front.store.cassandra import session

        saved = session.Connection.in_buffer_size, session.Connection.out_buffer_size
        session.Connection.in_buffer_size = session.Connection.out_buffer_size = size
        try:
            yield
        finally:
            session.Connection.in_buffer_size, session.Connection.out_buffer_size = saved

    return pieces


VARIANTS: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {
    "as-is": as_is,
    "old-bridge": old_bridge,
    "io-4k": io_pieces(4096),
    "io-64k": io_pieces(65536),
    "io-256k": io_pieces(262144),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--cassandra", default="127.0.0.1:9042")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--conc", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--variants",
        default="as-is",
        help=f"comma-separated, measured in turn: {', '.join(VARIANTS)}",
    )
    ap.add_argument("--only", default="", help="the cells whose name starts with this")
    ap.add_argument("--url-params", default="", help="extra cassandra:// URL parameters")
    args = ap.parse_args()
    if not (100 <= args.n <= 100_000 and 1 <= args.conc <= 64 and 1 <= args.repeat <= 9):
        ap.error("--n 100..100000, --conc 1..64, --repeat 1..9")
    keyspace = "floor_" + secrets.token_hex(4)
    extra = f"&{args.url_params}" if args.url_params else ""
    url = f"cassandra://{args.cassandra}/{keyspace}?dc=datacenter1{extra}"
    apply_schema_sync(url)
    try:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        variants = args.variants.split(",")
        asyncio.run(run(url, args.n, args.conc, args.repeat, args.only, variants))
    finally:
        db = Db.connect(parse_url(url + "&request_timeout=120", require_keyspace=False))
        try:
            db.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        finally:
            db.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
