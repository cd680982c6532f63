"""The long request fuzz: 100,000 mutated requests (by default) against a fresh local server.

    .venv/bin/python bench/fuzz.py [--requests 100000] [--seed 1] [--workers 8] [--scheme http]

Starts `s3front serve` on a fresh SQLite store (body idle timeout 1 s), seeds a bucket, sends
the requests of `tests/lib/s3front_fuzzer.py` from a pool of client threads, and prints the counts by
status, the throughput and the slowest requests. Exits 1 on any failure: a 5xx (other than 501
NotImplemented), a client timeout on a complete request, a dead server, seeded data changed, or
a traceback in the server log. `tests/fuzz/test_fuzz.py` is the bounded CI form of the same.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import harness

ROOT = Path(__file__).resolve().parent.parent


sup = harness.sup
fuzzer = harness.fuzzer


def seed(srv: Any, rng: random.Random) -> tuple[Any, dict[str, bytes]]:
    seed_bucket, play_bucket = sup.unique_bucket("fzseed"), sup.unique_bucket("fzplay")
    for name in (seed_bucket, play_bucket):
        assert srv.raw("PUT", f"/{name}").status == 200
    contents = {}
    for i, size in enumerate([0, 1, 100, 40_000, 1_100_000]):
        key, data = f"seed/{i}", rng.randbytes(size)
        assert srv.raw("PUT", f"/{seed_bucket}/{key}", body=data).status == 200
        contents[key] = data
    target = fuzzer.Target(
        scheme=srv.scheme,
        port=srv.port,
        access_key=srv.access_key,
        secret_key=srv.secret_key,
        seed_bucket=seed_bucket,
        play_bucket=play_bucket,
        seed_keys=list(contents),
        sign_v4=sup.sign_v4,
        ssl_context=srv.ssl_context(),
    )
    return target, contents


def keys(srv: Any, bucket: str) -> list[str]:
    resp = srv.raw("GET", f"/{bucket}", query="list-type=2")
    return list(sup.find_text(resp.xml(), "Key")) if resp.status == 200 else [f"HTTP {resp.status}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=10.0, help="client timeout per request")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="s3front-fuzz-") as tmp:
        srv = sup.start_server(Path(tmp), env_extra={"S3FRONT_BODY_IDLE_TIMEOUT": "1"})
        try:
            return run(srv, args)
        finally:
            sup.stop_server(srv)


def run(srv: Any, args: argparse.Namespace) -> int:
    target, contents = seed(srv, random.Random(args.seed))
    before = keys(srv, target.seed_bucket)
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    slowest: list[tuple[float, str]] = []

    def one(i: int) -> tuple[int, float, str, str | None]:
        req = fuzzer.make_request(random.Random(args.seed * 1_000_003 + i), target)
        res = fuzzer.send(target, req, args.timeout)
        why = fuzzer.is_failure(req, res)
        text = f"#{i} {req.describe()} -> {res.head[:200]!r}"
        return res.status, res.elapsed, text, (f"{why}: {text}" if why else None)

    started = time.monotonic()
    with ThreadPoolExecutor(args.workers) as pool:
        for n, (status, elapsed, text, failure) in enumerate(
            pool.map(one, range(args.requests)), 1
        ):
            statuses[status] += 1
            slowest = sorted([*slowest, (elapsed, text)], reverse=True)[:5]
            if failure:
                failures.append(failure)
            if n % 10_000 == 0:
                rate = n / (time.monotonic() - started)
                print(f"{n:>8} requests, {rate:,.0f}/s, {len(failures)} failures", flush=True)
    elapsed = time.monotonic() - started

    print(f"\n{args.requests} requests in {elapsed:.1f}s ({args.requests / elapsed:,.0f}/s)")
    print("by status: " + ", ".join(f"{s or 'none'}: {c}" for s, c in sorted(statuses.items())))
    print("slowest:")
    for t, text in slowest:
        print(f"  {t:6.2f}s {text[:300]}")
    alive = srv.alive() and srv.raw("GET", "/-/healthz", sign=False).status == 200
    intact = keys(srv, target.seed_bucket) == before and all(
        srv.raw("GET", f"/{target.seed_bucket}/{k}").body == v for k, v in contents.items()
    )
    traceback = "Traceback" in srv.log_text()
    print(f"server alive: {alive}; seeded data intact: {intact}; traceback in log: {traceback}")
    for f in failures[:30]:
        print("FAIL", f[:1500])
    ok = not failures and alive and intact and not traceback
    print("OK" if ok else f"FAILED ({len(failures)} failing requests)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
