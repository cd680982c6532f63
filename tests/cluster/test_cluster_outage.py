"""Cassandra nodes lost under load: one node SIGKILLed, then two nodes down.

One node down (RF 3, LOCAL_QUORUM): the service goes on. Mixed load (PUT/GET/LIST/DELETE/
multipart from 8 clients spread over three servers) runs before, during and after the kill;
every failure must be a retryable 503 (SlowDown or ServiceUnavailable), never a 500 or a wrong
answer, and every acknowledged write must read back with its ETag and bytes once the node is
back. The restarted node must be used again by the running servers: a second node is then
killed, and the service can only go on if the servers reach the first one again.

The load's length after the kill is S3FRONT_CLUSTER_LOAD_SECONDS (default 90, read when the
test runs). The counts are one line in the run's "cluster suite" section: requests that
succeeded, failed requests by status and code (and how many came later than 15 s after the
kill, once the driver should have marked the node down), acknowledged keys verified, lost
(missing or different) and torn (an unacknowledged write read back as neither old nor new).
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import s3front_e2e_support as sup
from botocore.exceptions import ClientError, ReadTimeoutError
from conftest import Cluster, s3

RETRYABLE = {(503, "SlowDown"), (503, "ServiceUnavailable")}
PART = 5 * 1024 * 1024


def _status(exc: ClientError) -> tuple[int, str]:
    return (
        int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)),
        str(exc.response.get("Error", {}).get("Code", "")),
    )


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    ok: Counter[str] = field(default_factory=Counter)
    failed: Counter[tuple[str, str, int, str]] = field(default_factory=Counter)  # phase, op, ...
    wrong: list[str] = field(default_factory=list)
    phase: str = "before"
    killed_at: float | None = None
    late: int = 0  # failures more than 15 s after the kill
    # key -> (etag, sha256) of every acknowledged write still expected to exist
    acked: dict[str, tuple[str, str]] = field(default_factory=dict)
    # key -> sha256s of bodies whose write was not acknowledged (it may or may not have landed)
    unsure: dict[str, set[str]] = field(default_factory=dict)

    def fail(self, op: str, exc: Exception) -> None:
        if isinstance(exc, ClientError):
            status, code = _status(exc)
        else:
            status, code = 0, type(exc).__name__
        with self.lock:
            self.failed[(self.phase, op, status, code)] += 1
            if self.killed_at is not None and time.monotonic() - self.killed_at > 15:
                self.late += 1


def _worker(n: int, servers: list[sup.Server], bucket: str, tally: Tally, stop: threading.Event):
    rng = random.Random(n)
    clients = [s3(s) for s in servers]
    mine: list[str] = []  # this worker's acknowledged keys (it alone writes and deletes them)
    seq = 0
    while not stop.is_set():
        client = clients[rng.randrange(3)]
        op = rng.choices(["put", "get", "list", "delete", "mpu"], [40, 30, 10, 12, 3])[0]
        if op in ("get", "delete") and not mine:
            op = "put"
        try:
            if op == "put":
                seq += 1
                key = f"w{n}/k{seq}"
                body = rng.randbytes(rng.choice([100, 5000, 70_000, 300_000]))
                digest = hashlib.sha256(body).hexdigest()
                with tally.lock:
                    tally.unsure.setdefault(key, set()).add(digest)
                etag = client.put_object(Bucket=bucket, Key=key, Body=body)["ETag"]
                with tally.lock:
                    tally.acked[key] = (etag, digest)
                    tally.unsure.pop(key, None)
                mine.append(key)
            elif op == "get":
                key = rng.choice(mine)
                got = client.get_object(Bucket=bucket, Key=key)
                data = got["Body"].read()
                etag, digest = tally.acked[key]
                if got["ETag"] != etag or hashlib.sha256(data).hexdigest() != digest:
                    with tally.lock:
                        tally.wrong.append(f"GET {key}: etag {got['ETag']} want {etag}")
            elif op == "list":
                expected = set(mine)
                keys: set[str] = set()
                token: dict[str, Any] = {}
                while True:
                    page = client.list_objects_v2(Bucket=bucket, Prefix=f"w{n}/", **token)
                    keys |= {o["Key"] for o in page.get("Contents", [])}
                    if not page.get("IsTruncated"):
                        break
                    token = {"ContinuationToken": page["NextContinuationToken"]}
                if expected - keys:
                    with tally.lock:
                        tally.wrong.append(f"LIST w{n}/ misses {sorted(expected - keys)[:5]}")
            elif op == "delete":
                key = mine.pop(rng.randrange(len(mine)))
                with tally.lock:
                    etag, digest = tally.acked.pop(key)
                    tally.unsure.setdefault(key, set()).add(digest)  # may still exist on failure
                client.delete_object(Bucket=bucket, Key=key)
                with tally.lock:
                    tally.unsure[key] = {"deleted"}
            else:
                seq += 1
                key = f"w{n}/m{seq}"
                parts = [rng.randbytes(PART), rng.randbytes(rng.randrange(1, 100_000))]
                whole = hashlib.sha256(b"".join(parts)).hexdigest()
                with tally.lock:
                    tally.unsure.setdefault(key, set()).add(whole)
                upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
                done = []
                for i, data in enumerate(parts, start=1):
                    part_client = clients[(i + n) % 3]  # parts on different servers
                    etag = part_client.upload_part(
                        Bucket=bucket, Key=key, UploadId=upload, PartNumber=i, Body=data
                    )["ETag"]
                    done.append({"PartNumber": i, "ETag": etag})
                etag = clients[n % 3].complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": done}
                )["ETag"]
                with tally.lock:
                    tally.acked[key] = (etag, whole)
                    tally.unsure.pop(key, None)
                mine.append(key)
            with tally.lock:
                tally.ok[op] += 1
        except (ClientError, ReadTimeoutError, ConnectionError) as exc:
            tally.fail(op, exc)
            if isinstance(exc, ClientError) and _status(exc) not in RETRYABLE:
                with tally.lock:
                    tally.wrong.append(f"{op}: {_status(exc)}")
            time.sleep(0.2)


def _until_ok(fn: Any, seconds: float) -> float:
    """Retry fn until it succeeds; the seconds it took (fails the test after `seconds`)."""
    t0 = time.monotonic()
    last: Exception | None = None
    while time.monotonic() - t0 < seconds:
        try:
            fn()
            return time.monotonic() - t0
        except ClientError as exc:
            assert _status(exc) in RETRYABLE, exc
            last = exc
        time.sleep(1)
    raise AssertionError(f"no success within {seconds}s: {last}")


# The load length is a parameter; restarts under load take a minute; run alone (-k), the
# test's setup also starts the cluster and the servers.
@pytest.mark.timeout(1200)
def test_one_node_killed_under_mixed_load(
    cluster: Cluster, servers: list[sup.Server], summary: list[str]
) -> None:
    load_seconds = float(os.environ.get("S3FRONT_CLUSTER_LOAD_SECONDS", "90"))
    bucket = sup.unique_bucket("kill")
    s3(servers[0]).create_bucket(Bucket=bucket)
    time.sleep(1.5)  # bucket_cache_seconds: every server knows the bucket
    tally, stop = Tally(), threading.Event()
    workers = [
        threading.Thread(target=_worker, args=(n, servers, bucket, tally, stop), daemon=True)
        for n in range(8)
    ]
    for w in workers:
        w.start()
    timeline = []
    try:
        time.sleep(10)
        tally.phase = "after-kill"
        cluster.kill(3)
        t_kill = tally.killed_at = time.monotonic()
        time.sleep(load_seconds)
        tally.phase = "restarting"
        cluster.start(3)
        timeline.append(f"node 3 down {time.monotonic() - t_kill:.0f}s")
        tally.phase = "after-restart"
        time.sleep(15)
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=180)
    assert not any(w.is_alive() for w in workers), "a client hung"

    # Every acknowledged write reads back whole, from every server; nothing torn exists.
    clients = [s3(s) for s in servers]

    def lost(item: tuple[int, tuple[str, tuple[str, str]]]) -> str | None:
        """The key if it does not read back exactly as acknowledged, else None."""
        i, (key, (etag, digest)) = item
        try:
            got = clients[i % 3].get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            return f"{key}: {_status(exc)}"
        if got["ETag"] != etag or hashlib.sha256(got["Body"].read()).hexdigest() != digest:
            return f"{key}: other ETag or bytes"
        return None

    with ThreadPoolExecutor(6) as pool:
        lost_keys = [k for k in pool.map(lost, enumerate(sorted(tally.acked.items()))) if k]
    torn: list[str] = []
    for key, digests in tally.unsure.items():
        try:
            got = clients[0].get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _status(exc)[0] != 404:
                torn.append(f"{key}: {_status(exc)}")
            continue
        if hashlib.sha256(got["Body"].read()).hexdigest() not in digests:
            torn.append(key)

    # The servers use the restarted node again without restarting: with node 1 down as well,
    # LOCAL_QUORUM needs node 3.
    cluster.kill(1)
    try:

        def round_trip() -> None:
            for c in clients:
                c.put_object(Bucket=bucket, Key="probe", Body=b"p")
                assert c.get_object(Bucket=bucket, Key="probe")["Body"].read() == b"p"

        rejoin = _until_ok(round_trip, 90)
        timeline.append(f"served on nodes 2+3 after {rejoin:.1f}s")
    finally:
        cluster.start(1)
    cluster.settle_schema()  # leave the cluster as the next test expects it

    by_code = Counter[str]()
    for (_phase, _op, status, code), count in tally.failed.items():
        by_code[f"{status} {code}"] += count
    line = (
        f"node-kill campaign: {load_seconds:.0f}s of load after SIGKILL, 8 clients, 3 servers: "
        f"{sum(tally.ok.values())} requests ok ({', '.join(f'{k} {v}' for k, v in sorted(tally.ok.items()))}); "
        f"{sum(tally.failed.values())} failed ({', '.join(f'{k}: {v}' for k, v in sorted(by_code.items())) or 'none'}; "
        f"{tally.late} of them >15 s after the kill); "
        f"{len(tally.acked)} acknowledged keys verified, {len(lost_keys)} lost, {len(torn)} torn; "
        f"{'; '.join(timeline)}"
    )  # fmt: skip
    summary.append(line)
    print("\n" + line)
    assert not lost_keys, lost_keys[:20]
    assert not torn, torn[:20]
    assert not tally.wrong, tally.wrong[:20]
    for (_phase, _op, status, code), _count in tally.failed.items():
        assert (status, code) in RETRYABLE, tally.failed


def test_two_nodes_down_fail_fast_then_resume(
    cluster: Cluster, servers: list[sup.Server], summary: list[str]
) -> None:
    clients = [s3(s, read_timeout=90) for s in servers]
    bucket = sup.unique_bucket("two")
    clients[0].create_bucket(Bucket=bucket)
    before = os.urandom(100_000)
    etag = clients[0].put_object(Bucket=bucket, Key="before", Body=before)["ETag"]
    cluster.kill(3)
    cluster.kill(2)
    attempted: list[tuple[str, bytes]] = []
    times: list[float] = []
    try:
        ops: list[tuple[str, Any]] = []
        for i, c in enumerate(clients):
            body = os.urandom(300_000)
            attempted.append((f"during-{i}", body))
            ops.append(("put", lambda c=c, i=i, body=body: c.put_object(
                Bucket=bucket, Key=f"during-{i}", Body=body)))  # fmt: skip
            ops.append(("get", lambda c=c: c.get_object(Bucket=bucket, Key="before")))
            ops.append(("list", lambda c=c: c.list_objects_v2(Bucket=bucket)))
            ops.append(("head", lambda c=c: c.head_object(Bucket=bucket, Key="before")))
        for name, op in ops:
            t0 = time.monotonic()
            try:
                op()
                raise AssertionError(f"{name} succeeded with two of three nodes down")
            except ClientError as exc:
                took = time.monotonic() - t0
                times.append(took)
                status, code = _status(exc)
                # HEAD has no body, so no code: the status alone.
                assert status == 503 and (code in {c for _, c in RETRYABLE} or name == "head"), (
                    name,
                    status,
                    code,
                )
                # The driver's request timeout is 10 s; a couple of store calls per request.
                assert took < 60, (name, took)
    finally:
        cluster.start(2)
        cluster.start(3)

    def resumed() -> None:
        for c in clients:
            assert c.get_object(Bucket=bucket, Key="before")["Body"].read() == before

    resumed_after = _until_ok(resumed, 120)
    summary.append(
        f"two nodes down: {len(times)} requests, each 503 within {max(times):.1f}s; "
        f"service back {resumed_after:.1f}s after the nodes' CQL answered"
    )
    for key, body in attempted:  # no partial objects: absent or whole
        try:
            got = clients[1].get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            assert _status(exc)[0] == 404, exc
            continue
        assert got["Body"].read() == body
    assert clients[2].head_object(Bucket=bucket, Key="before")["ETag"] == etag
    cluster.settle_schema()
