"""Mutated requests against a live server: no 5xx, no hang, no crash, no data changed, and
everything stored (hostile POST forms and headers included) stays readable.

5,000 requests (S3FRONT_FUZZ_REQUESTS to change; `bench/fuzz.py` runs the long form) from a
fixed seed, so a failure reproduces: the failing requests are printed with their seed index.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import s3front_e2e_support as sup
import s3front_fuzzer as fuzzer

REQUESTS = int(os.environ.get("S3FRONT_FUZZ_REQUESTS", "5000"))
SEED = int(os.environ.get("S3FRONT_FUZZ_SEED", "20260101"))
CLIENT_TIMEOUT = 10.0


def seed_data(srv: Any, rng: random.Random) -> Any:
    seed_bucket, play_bucket = sup.unique_bucket("fzseed"), sup.unique_bucket("fzplay")
    hostile_bucket = sup.unique_bucket("fzhost")
    for name in (seed_bucket, play_bucket, hostile_bucket):
        assert srv.raw("PUT", f"/{name}").status == 200
    contents: dict[str, bytes] = {}
    for i, size in enumerate([0, 1, 100, 40_000, 1_100_000]):
        key, data = f"seed/{i}", rng.randbytes(size)
        resp = srv.raw("PUT", f"/{seed_bucket}/{key}", body=data)
        assert resp.status == 200, resp
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
        hostile_bucket=hostile_bucket,
        region=srv.region,
    )
    return target, contents


def listing(srv: Any, bucket: str) -> list[str]:
    """Every key of `bucket`, percent-encoded (S3 encoding-type=url)."""
    keys: list[str] = []
    token = ""
    for _ in range(100):  # bounded: the run writes far fewer than 100,000 keys
        # encoding-type=url: keys come back percent-encoded, exact even where XML cannot
        # carry them (a NUL), and ready to put in a path.
        query = "encoding-type=url&list-type=2"
        query += f"&continuation-token={quote(token, safe='')}" if token else ""
        resp = srv.raw("GET", f"/{bucket}", query=query)
        assert resp.status == 200, resp
        root = resp.xml()
        keys += sup.find_text(root, "Key")
        token = next(iter(sup.find_text(root, "NextContinuationToken")), "")
        if not token:
            return keys
    raise AssertionError(f"listing {bucket} did not end")


def assert_all_readable(srv: Any, bucket: str) -> int:
    """Every stored object answers GET and HEAD with a complete 200: a stored header the server
    cannot send would make these fail (a 500 or a dropped connection)."""
    keys = listing(srv, bucket)
    for key in keys:
        path = f"/{bucket}/{key}"
        for method in ("GET", "HEAD"):
            resp = srv.raw(method, path, timeout=CLIENT_TIMEOUT)
            assert resp.status == 200, (method, key, resp)
    return len(keys)


def run(
    srv: Any, target: Any, n: int, seed: int, workers: int = 8
) -> tuple[Counter[int], list[str]]:
    def one(i: int) -> tuple[int, str | None]:
        req = fuzzer.make_request(random.Random(seed * 1_000_003 + i), target)
        res = fuzzer.send(target, req, CLIENT_TIMEOUT)
        why = fuzzer.is_failure(req, res)
        return res.status, (f"#{i} {why}: {req.describe()} -> {res.head!r}" if why else None)

    statuses: Counter[int] = Counter()
    failures: list[str] = []
    with ThreadPoolExecutor(workers) as pool:
        for status, failure in pool.map(one, range(n)):
            statuses[status] += 1
            if failure:
                failures.append(failure)
    return statuses, failures


def test_fuzz_requests(fuzz_server: Any) -> None:
    srv = fuzz_server
    rng = random.Random(SEED)
    target, contents = seed_data(srv, rng)
    before = listing(srv, target.seed_bucket)
    started = time.monotonic()
    statuses, failures = run(srv, target, REQUESTS, SEED)
    elapsed = time.monotonic() - started
    print(f"{REQUESTS} requests in {elapsed:.1f}s: {sorted(statuses.items())}")
    assert not failures, "\n".join(failures[:20])
    assert srv.alive(), "the server died"
    assert srv.raw("GET", "/-/healthz", sign=False).status == 200
    # Every status is a real HTTP answer; 0 would be a connection closed without one.
    assert sum(statuses.values()) == REQUESTS
    # Seeded data unchanged: same keys, same bytes.
    assert listing(srv, target.seed_bucket) == before
    for key, data in contents.items():
        resp = srv.raw("GET", f"/{target.seed_bucket}/{key}")
        assert resp.status == 200 and resp.body == data, key
    # Whatever the run stored (hostile POST forms, hostile headers) stays readable, and a
    # browser request still gets a whole answer under whatever CORS rules were stored.
    stored = sum(assert_all_readable(srv, b) for b in (target.play_bucket, target.hostile_bucket))
    print(f"{stored} stored objects readable")
    browser = srv.raw(
        "GET", f"/{target.hostile_bucket}", query="list-type=2", headers={"origin": "http://a"}
    )
    assert browser.status == 200, browser
    assert "Traceback" not in srv.log_text()
