"""Throughput of s3front next to a no-op ASGI endpoint on the same machine.

    .venv/bin/python bench/bench.py [--store cassandra://127.0.0.1:9042/ks?dc=datacenter1]
                                    [--client raw|boto3] [--small-ops 2000] [--large-ops 128]
                                    [--concurrency 8]

Starts `s3front serve` on a fresh SQLite store (plus, with --store, a second one on that store)
and `bench/noop_app.py` under uvicorn, each in its own process, then drives each with the same
bounded set of requests from a pool of client threads:

  PUT / GET of 4 KiB objects   -> ops/s
  PUT / GET of 1 MiB objects   -> MB/s (MiB actually: 1 MiB = 1,048,576 bytes)

Requests to s3front are SigV4-signed with the payload SHA-256 (what boto3 does over HTTP); the
no-op gets the very same requests and ignores the signature. Every GET's bytes are compared with
what was PUT. Payloads are random per object (s3front deduplicates identical blocks, so reused
payloads would flatter it) and generated and hashed before the clock starts.

Honesty notes: the client runs on the same cores as the server. With `--client raw` (default) a
request costs the client little (http.client on a kept-alive connection per thread, HMAC
signing); `--client boto3` shows what a real SDK user sees, but botocore spends ~1 ms of CPU per
request, which on a 2-core machine is taken from the server. CPU seconds used by the server and
by this process are printed per phase so the split is visible.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


sup = harness.sup
KiB = 1024
MiB = 1024 * 1024


# ------------------------------------------------------------------------------------------
# Targets


@dataclass
class Target:
    name: str
    server: Any  # support.Server (scheme, port, pid, keys)

    def cpu_seconds(self) -> float:
        """utime + stime of the server process and its children, from /proc."""
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for pid in _process_tree(self.server.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total


def _process_tree(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            out += _process_tree(int(kid))
    return out


def start_noop(workdir: Path) -> Any:
    """bench/noop_app.py under uvicorn, wrapped as a support.Server for uniform handling."""
    port = sup.free_port()
    log_path = workdir / "noop.log"
    log_fh = open(log_path, "wb")  # noqa: SIM115 - closed by stop_server
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "noop_app.py"), str(port)],
        stdout=log_fh,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=workdir,
        start_new_session=True,
    )
    srv = sup.Server(
        scheme="http",
        port=port,
        proc=proc,
        log_path=log_path,
        workdir=workdir,
        store_url="",
        variant="noop",
        _log_fh=log_fh,
    )
    sup.wait_ready(srv, 30)
    return srv


# ------------------------------------------------------------------------------------------
# Clients


class RawConn:
    """One kept-alive http.client connection; SigV4 with a precomputed body hash."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.conn: Any = None

    def _request(self, method: str, path: str, body: bytes, body_sha: str) -> tuple[int, bytes]:
        srv = self.server
        signed = sup.sign_v4(
            method,
            path,
            "",
            {"host": f"127.0.0.1:{srv.port}"},
            body_sha,
            srv.access_key,
            srv.secret_key,
        )
        for attempt in range(2):  # a kept-alive connection may have been closed by the server
            if self.conn is None:
                self.conn = sup.connect(srv.scheme, srv.port, srv.ssl_context(), timeout=60)
            try:
                self.conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for k, v in signed.headers.items():
                    self.conn.putheader(k, v)
                if method == "PUT":
                    self.conn.putheader("Content-Length", str(len(body)))
                self.conn.endheaders(body if method == "PUT" else None)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def put(self, bucket: str, key: str, body: bytes, body_sha: str) -> None:
        status, data = self._request("PUT", f"/{bucket}/{key}", body, body_sha)
        if status != 200:
            raise RuntimeError(f"PUT {key}: HTTP {status} {data[:300]!r}")

    def get(self, bucket: str, key: str) -> bytes:
        status, data = self._request("GET", f"/{bucket}/{key}", b"", sup.EMPTY_SHA256)
        if status != 200:
            raise RuntimeError(f"GET {key}: HTTP {status} {data[:300]!r}")
        return data

    def create_bucket(self, bucket: str) -> None:
        status, data = self._request("PUT", f"/{bucket}", b"", sup.EMPTY_SHA256)
        if status not in (200, 409):
            raise RuntimeError(f"create bucket: HTTP {status} {data[:300]!r}")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


class Boto3Conn:
    """A boto3 client (created before the clock starts: creation costs ~100 ms of CPU)."""

    def __init__(self, server: Any) -> None:
        self.client = server.client(max_pool_connections=1)
        self.client.list_buckets()  # warm up: endpoint resolution, connection

    def put(self, bucket: str, key: str, body: bytes, body_sha: str) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=body)

    def get(self, bucket: str, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=bucket, Key=key)["Body"].read())

    def create_bucket(self, bucket: str) -> None:
        self.client.create_bucket(Bucket=bucket)

    def close(self) -> None:
        self.client.close()


class Pool:
    """`size` connections made up front; each job checks one out for one request."""

    def __init__(self, factory: Callable[[], Any], size: int) -> None:
        self.free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.all = [factory() for _ in range(size)]
        for c in self.all:
            self.free.put(c)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        for c in self.all:
            c.close()

    def use(self, fn: Callable[[Any], int]) -> int:
        c = self.free.get()
        try:
            return fn(c)
        finally:
            self.free.put(c)


# ------------------------------------------------------------------------------------------
# Phases


@dataclass
class Result:
    ops: int
    seconds: float
    nbytes: int
    latencies: list[float]
    server_cpu: float
    client_cpu: float

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / MiB / self.seconds

    def pct(self, p: float) -> float:
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000


def run_phase(target: Target, concurrency: int, jobs: Sequence[Callable[[], int]]) -> Result:
    latencies: list[float] = []
    lock = threading.Lock()

    def one(job: Callable[[], int]) -> int:
        t0 = time.perf_counter()
        n = job()
        dt = time.perf_counter() - t0
        with lock:
            latencies.append(dt)
        return n

    cpu0_srv, cpu0_cli = target.cpu_seconds(), time.process_time()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        nbytes = sum(pool.map(one, jobs))
    seconds = time.perf_counter() - t0
    return Result(
        len(jobs),
        seconds,
        nbytes,
        latencies,
        target.cpu_seconds() - cpu0_srv,
        time.process_time() - cpu0_cli,
    )


@dataclass
class Payloads:
    bodies: list[bytes]
    shas: list[str]


def make_payloads(n: int, size: int) -> Payloads:
    bodies = [os.urandom(size) for _ in range(n)]
    return Payloads(bodies, [hashlib.sha256(b).hexdigest() for b in bodies])


def bench_target(
    target: Target,
    pool: Pool,
    small: Payloads,
    large: Payloads,
    conc_small: int,
    conc_large: int,
) -> dict[str, Result]:
    bucket = sup.unique_bucket("bench")
    pool.use(lambda c: c.create_bucket(bucket) or 0)
    results: dict[str, Result] = {}

    for label, payloads, conc in (("4KiB", small, conc_small), ("1MiB", large, conc_large)):

        def putter(i: int, p: Payloads = payloads, label: str = label) -> Callable[[], int]:
            def put(c: Any) -> int:
                c.put(bucket, f"{label}/{i:06d}", p.bodies[i], p.shas[i])
                return len(p.bodies[i])

            return lambda: pool.use(put)

        def getter(i: int, p: Payloads = payloads, label: str = label) -> Callable[[], int]:
            def get(c: Any) -> int:
                data = c.get(bucket, f"{label}/{i:06d}")
                if data != p.bodies[i]:
                    raise AssertionError(f"GET {label}/{i:06d}: wrong bytes ({len(data)} B)")
                return len(data)

            return lambda: pool.use(get)

        n = len(payloads.bodies)
        results[f"PUT {label}"] = run_phase(target, conc, [putter(i) for i in range(n)])
        results[f"GET {label}"] = run_phase(target, conc, [getter(i) for i in range(n)])
    return results


def report(all_results: dict[str, dict[str, Result]]) -> None:
    names = list(all_results)
    width = max(24, *(len(n) + 2 for n in names))
    print()
    print(f"{'':18}" + "".join(f"{n:>{width}}" for n in names))
    for phase in ("PUT 4KiB", "GET 4KiB", "PUT 1MiB", "GET 1MiB"):
        cells = []
        for n in names:
            r = all_results[n][phase]
            if phase.endswith("4KiB"):
                cells.append(f"{r.ops_per_s:8.0f} ops/s p50 {r.pct(0.5):5.1f}ms")
            else:
                cells.append(f"{r.mb_per_s:8.1f} MB/s p50 {r.pct(0.5):5.1f}ms")
        print(f"{phase:18}" + "".join(f"{c:>{width}}" for c in cells))
    print()
    print("CPU seconds per phase (server / client):")
    for phase in ("PUT 4KiB", "GET 4KiB", "PUT 1MiB", "GET 1MiB"):
        cells = [
            f"{all_results[n][phase].server_cpu:6.1f} / {all_results[n][phase].client_cpu:5.1f}"
            for n in names
        ]
        print(f"{phase:18}" + "".join(f"{c:>{width}}" for c in cells))
    print()
    for n in names:
        p99 = {ph: f"{r.pct(0.99):.1f}" for ph, r in all_results[n].items()}
        print(f"p99 ms {n}: {p99}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument(
        "--store",
        action="append",
        default=[],
        help="extra store URL to benchmark (e.g. cassandra://...); repeatable",
    )
    ap.add_argument("--client", choices=["raw", "boto3"], default="raw")
    ap.add_argument("--small-ops", type=int, default=2000, help="4 KiB objects (PUT, then GET)")
    ap.add_argument("--large-ops", type=int, default=128, help="1 MiB objects (PUT, then GET)")
    ap.add_argument("--concurrency", type=int, default=8, help="threads for 4 KiB phases")
    ap.add_argument("--large-concurrency", type=int, default=4, help="threads for 1 MiB phases")
    ap.add_argument("--no-noop", action="store_true", help="skip the no-op baseline")
    args = ap.parse_args(argv)
    if args.small_ops < 1 or args.large_ops < 1 or args.small_ops > 200_000:
        ap.error("op counts must be between 1 and 200000")

    print(
        f"cores: {os.cpu_count()}, client: {args.client}, 4 KiB x {args.small_ops} @ "
        f"{args.concurrency} threads, 1 MiB x {args.large_ops} @ {args.large_concurrency}"
    )
    small = make_payloads(args.small_ops, 4 * KiB)
    large = make_payloads(args.large_ops, MiB)
    conn_class = RawConn if args.client == "raw" else Boto3Conn
    nconn = max(args.concurrency, args.large_concurrency)

    def run_on(name: str, srv: Any) -> dict[str, Result]:
        with Pool(lambda: conn_class(srv), nconn) as pool:
            return bench_target(
                Target(name, srv), pool, small, large, args.concurrency, args.large_concurrency
            )

    results: dict[str, dict[str, Result]] = {}
    with tempfile.TemporaryDirectory(prefix="s3front-bench-") as tmp:
        specs: list[tuple[str, str | None]] = [("s3front sqlite", None)]
        specs += [(f"s3front {url.split(':', 1)[0]}", url) for url in args.store]
        servers: list[Any] = []
        try:
            for i, (name, url) in enumerate(specs):
                srv = sup.start_server(Path(tmp) / f"s{i}", store_url=url, ready_timeout=60)
                servers.append(srv)
                print(f"{name}: pid {srv.pid} port {srv.port}", flush=True)
                results[name] = run_on(name, srv)
                sup.stop_server(srv)
            if not args.no_noop:
                noop = start_noop(Path(tmp))
                servers.append(noop)
                print(f"no-op: pid {noop.pid} port {noop.port}", flush=True)
                results["no-op"] = run_on("no-op", noop)
        finally:
            for srv in servers:
                sup.stop_server(srv)
    report(results)
    print("\nevery GET verified byte for byte; servers and client share the machine's cores.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
