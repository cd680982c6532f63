"""A lifecycle pass over many objects, half of them expiring: speed and memory.

    .venv/bin/python bench/lifecycle.py [--objects 20000,100000] [--store sqlite|cassandra://...]

For each count: a fresh store (a temporary SQLite directory, or a new keyspace on the given
Cassandra cluster, dropped afterwards), one never-versioned bucket of 8 shards with a rule
"expire after 1 day", and that many objects written straight into the object index -- every
other one 10 days old. Then one `run_lifecycle` pass, timed, in this process, with the kernel's
peak-RSS mark (VmHWM) reset just before it (/proc/self/clear_refs), so the peak printed is the
pass's own. Prints objects scanned and expired per second and the peak RSS over the RSS before
the pass: it should not grow with the object count (the worker holds one page per shard).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
import uuid
from pathlib import Path

from s3front.lifecycle_worker import run_lifecycle
from s3front.objects import lifecycle
from s3front.objects.listing import shard_of
from s3front.store import open_store
from s3front.store.protocols import Store
from s3front.store.records import NULL_VERSION, BucketRecord, ObjectRecord

DAY_MS = 86_400_000
RULE = (
    b"<LifecycleConfiguration><Rule><ID>exp</ID><Filter/><Status>Enabled</Status>"
    b"<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>"
)


def kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux: "5" to /proc/self/clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


async def load(store: Store, count: int) -> BucketRecord:
    now = time.time_ns() // 1_000_000
    bucket = BucketRecord(
        name="bench" + secrets.token_hex(6),
        bucket_id=uuid.uuid4().hex,
        owner="bench",
        created_ms=now,
        region="us-east-1",
        shards=8,
        attrs={"lifecycle": lifecycle.dumps(lifecycle.parse_configuration(RULE))},
    )
    assert await store.meta.insert_bucket(bucket)
    gate = asyncio.Semaphore(64)

    async def put(i: int) -> None:
        key = f"data/{i:08d}"
        age = 10 * DAY_MS if i % 2 else 0
        rec = ObjectRecord(key, 0, NULL_VERSION, 100, secrets.token_hex(16), now - age, "bench")
        async with gate:
            await store.meta.put_object(bucket.bucket_id, shard_of(key, 8), rec)

    started = time.monotonic()
    for start in range(0, count, 5000):  # bounded: never `count` coroutines at once
        await asyncio.gather(*(put(i) for i in range(start, min(count, start + 5000))))
    print(f"  loaded {count:,} objects in {time.monotonic() - started:.1f}s")
    return bucket


async def one(url: str, count: int) -> None:
    store = await open_store(url)
    try:
        await load(store, count)
        before = kib("VmRSS")
        reset_peak()
        report = await run_lifecycle(store)
        peak = kib("VmHWM")
        s = report.seconds
        expired = report.expired
        print(
            f"  {count:>8,} objects: pass {s:.1f}s, scanned {report.scanned / s:,.0f}/s,"
            f" expired {expired:,} ({expired / s:,.0f}/s); RSS before {before / 1024:.0f} MiB,"
            f" peak during the pass {peak / 1024:.0f} MiB (+{(peak - before) / 1024:.1f} MiB)"
        )
        assert report.scanned == count and expired == count // 2, report.summary()
    finally:
        await store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", default="20000,100000")
    ap.add_argument("--store", default="sqlite", help="sqlite, or a cassandra:// URL (cluster)")
    args = ap.parse_args()
    counts = [int(c) for c in args.objects.split(",")]
    for count in counts:
        if args.store == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                print(f"sqlite, {count:,} objects")
                asyncio.run(one(f"sqlite://{tmp}/store", count))
        else:
            from s3front.store.cassandra.schema import apply_schema_sync
            from s3front.store.cassandra.session import Db, parse_url

            base = parse_url(args.store, require_keyspace=False)
            keyspace = f"s3bench_{secrets.token_hex(5)}"
            hosts, _, query = args.store.partition("?")
            hosts = hosts.split("/")[2]
            url = f"cassandra://{hosts}/{keyspace}" + (f"?{query}" if query else "")
            print(f"cassandra ({keyspace}), {count:,} objects")
            apply_schema_sync(url)
            try:
                asyncio.run(one(url, count))
            finally:
                db = Db.connect(base)
                try:
                    db.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
                finally:
                    db.shutdown()


if __name__ == "__main__":
    main()
