"""The crash campaign: concurrent S3 clients against a real `s3front serve` that is SIGKILLed at
random moments and restarted on the same store, with a history checker for what must survive.

Used by `tests/faults/test_crash.py` (bounded, a handful of kills) and `bench/crash.py` (the long
form). Lives in tests/lib (on pytest's `pythonpath`) beside the e2e harness it builds on.

The workload. `clients` threads loop over operations on a fixed set of keys in one bucket:
  put-small   1 B..24 KiB (inline in the object row)
  put-large   2..3 MiB (block-backed; half of them share a 2 MiB prefix from a small pool, so
              identical blocks are deduplicated across objects and GC must keep shared blocks)
  multipart   two 5 MiB parts (the first sometimes from the shared pool) and a tail part
  copy        CopyObject from one of the source keys (written only by PUTs, never deleted)
  delete      DeleteObject
Every request is a raw SigV4-signed request (the harness's signer) with no client retries, so
what the checker sees is what the server did. Every payload's SHA-256, MD5 and expected ETag go
into a registry before the request is sent.

The checker. Every operation records its key, the server generation it was sent to, its start
time, and either its acknowledgement time (2xx) or its failure. An operation that failed may still
have taken effect, but only while the server it was sent to lived, so its window ends at that
server's kill. Hence, after a restart, a key may hold the value of operation w only if no
acknowledged operation on the key started after w's window ended (such an operation was ordered
after w and overwrote it). What a check reads becomes an acknowledged pseudo-operation itself, so
the next check may not travel back past it (a resurrected old version fails). Content is compared
by SHA-256 of the whole body: a mix of two versions, a torn block or a wrong length has no entry
in the registry. A deleted key may be absent only if a delete can be the latest operation.

Steady state: every HTTP answer with status >= 400 is recorded as a violation (nothing in this
workload has a reason to be refused), and every server generation must acknowledge operations. Kills are preceded
by a pause flag (clients finish what they have in flight and start nothing new), so clients never
talk to a dead port; the kill itself still lands while requests are in flight.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import s3front_e2e_support as sup

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
KiB = 1024
MiB = 1024 * 1024
ABSENT = "<absent>"  # the "value" of a deleted key


# --------------------------------------------------------------------------------------------
# Payloads


@dataclass(frozen=True)
class Payload:
    sha256: str
    size: int
    etag: str  # the ETag S3 gives it: md5, or md5-of-part-md5s-N for a multipart upload


class Registry:
    """Every payload ever sent (acknowledged or not), by SHA-256 and by ETag."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_sha: dict[str, set[str]] = {}  # sha256 -> etags
        self.by_etag: dict[str, str] = {}  # etag -> sha256
        self.sizes: dict[str, int] = {}

    def add(self, p: Payload) -> None:
        with self._lock:
            self.by_sha.setdefault(p.sha256, set()).add(p.etag)
            self.by_etag[p.etag] = p.sha256
            self.sizes[p.sha256] = p.size


def single(data: bytes) -> Payload:
    return Payload(hashlib.sha256(data).hexdigest(), len(data), hashlib.md5(data).hexdigest())


def multipart(parts: list[bytes]) -> Payload:
    sha = hashlib.sha256()
    for p in parts:
        sha.update(p)
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    etag = f"{hashlib.md5(digests).hexdigest()}-{len(parts)}"
    return Payload(sha.hexdigest(), sum(map(len, parts)), etag)


# --------------------------------------------------------------------------------------------
# History


@dataclass
class Op:
    key: str
    kind: str
    gen: int  # server generation it was sent to
    start: float
    values: frozenset[str]  # what it may have made the key hold (sha256 or ABSENT)
    acked_at: float | None = None
    status: int | None = None  # HTTP status of the last answer, None for a transport error
    error: str = ""
    source: str = ""  # of a copy


@dataclass
class History:
    keys: list[str]
    sources: list[str]
    registry: Registry = field(default_factory=Registry)
    ops: dict[str, list[Op]] = field(default_factory=dict)
    kill_times: dict[int, float] = field(default_factory=dict)  # generation -> killed at
    violations: list[str] = field(default_factory=list)  # error answers and other breaches
    source_values: dict[str, set[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for k in [*self.keys, *self.sources]:
            self.ops.setdefault(k, [])
            self.source_values.setdefault(k, set())

    def begin(self, key: str, kind: str, gen: int, values: Iterable[str], source: str = "") -> Op:
        op = Op(key, kind, gen, time.monotonic(), frozenset(values), source=source)
        with self.lock:
            self.ops[key].append(op)
            if kind != "delete":
                self.source_values[key].update(op.values)
        return op

    def ack(self, op: Op, values: Iterable[str] | None = None) -> None:
        op.acked_at = time.monotonic()
        if values is not None:
            op.values = frozenset(values)

    def window_end(self, op: Op) -> float:
        if op.acked_at is not None:
            return op.acked_at
        # A failed op can have taken effect only while its server lived.
        return self.kill_times.get(op.gen, float("inf"))

    def possible(self, key: str) -> set[str]:
        """Values `key` may hold now (call only while no operation is in flight)."""
        with self.lock:
            ops = list(self.ops[key])
        acked_starts = sorted(o.start for o in ops if o.acked_at is not None)
        latest_acked_start = acked_starts[-1] if acked_starts else float("-inf")
        out: set[str] = set()
        for o in ops:
            if latest_acked_start <= self.window_end(o):
                if o.kind == "copy" and o.acked_at is None:
                    # It read its source at some moment of its window: any value ever sent there.
                    with self.lock:
                        out |= self.source_values[o.source]
                else:
                    out |= o.values
        return out

    def observe(self, key: str, value: str) -> None:
        """What a check read is the key's state now: later checks may not go back past it."""
        now = time.monotonic()
        op = Op(key, "observed", -1, now, frozenset([value]), acked_at=now, status=200)
        with self.lock:
            self.ops[key].append(op)

    def acked_per_generation(self) -> dict[int, int]:
        out: dict[int, int] = {}
        with self.lock:
            for ops in self.ops.values():
                for o in ops:
                    if o.kind != "observed" and o.acked_at is not None:
                        out[o.gen] = out.get(o.gen, 0) + 1
        return out

    def counts(self) -> dict[str, int]:
        acked: dict[str, int] = {}
        failed = 0
        with self.lock:
            for ops in self.ops.values():
                for o in ops:
                    if o.kind == "observed":
                        continue
                    if o.acked_at is not None:
                        acked[o.kind] = acked.get(o.kind, 0) + 1
                    else:
                        failed += 1
        return {**{f"acked_{k}": v for k, v in sorted(acked.items())}, "failed": failed}


# --------------------------------------------------------------------------------------------
# The server under test


class Target:
    """The current `s3front serve` on one store; killed and restarted by the campaign."""

    def __init__(self, workdir: Path, store_url: str | None, ready_timeout: float) -> None:
        self.workdir = workdir
        self.store_url = store_url
        self.ready_timeout = ready_timeout
        self.gen = 0
        self.server: Any = None
        self.start_seconds: list[float] = []

    def start(self) -> None:
        t0 = time.monotonic()
        self.server = sup.start_server(
            self.workdir, store_url=self.store_url, ready_timeout=self.ready_timeout
        )
        self.store_url = self.server.store_url
        self.start_seconds.append(time.monotonic() - t0)
        self.gen += 1

    def kill(self, history: History) -> None:
        srv = self.server
        os.kill(srv.pid, signal.SIGKILL)  # our own child, by PID
        srv.proc.wait(timeout=30)
        history.kill_times[self.gen] = time.monotonic()
        sup.stop_server(srv)  # closes the log file; the process is gone already
        assert srv.proc.returncode == -signal.SIGKILL, srv.proc.returncode

    def stop(self, history: History) -> None:
        sup.stop_server(self.server)
        history.kill_times[self.gen] = time.monotonic()


# --------------------------------------------------------------------------------------------
# Clients


@dataclass
class Config:
    clients: int = 6
    keys: int = 10
    sources: int = 3
    timeout: float = 60.0  # per request
    weights: dict[str, int] = field(
        default_factory=lambda: {
            "put-small": 30,
            "put-large": 25,
            "multipart": 8,
            "copy": 20,
            "delete": 15,
        }
    )


class Campaign:
    def __init__(self, target: Target, cfg: Config, seed: int) -> None:
        self.target = target
        self.cfg = cfg
        self.rng = random.Random(seed)
        self.bucket = sup.unique_bucket("crash")
        self.history = History(
            [f"k/{i:02d}" for i in range(cfg.keys)], [f"src/{i}" for i in range(cfg.sources)]
        )
        self.pool = [os.urandom(2 * MiB) for _ in range(2)]
        self.pool5 = os.urandom(5 * MiB)
        self.run_flag = threading.Event()  # set: clients may start new operations
        self.stop_flag = threading.Event()
        self.busy = 0
        self.busy_cv = threading.Condition()
        self.threads: list[threading.Thread] = []
        self.thread_errors: list[BaseException] = []
        self.requests = 0
        self.kills = 0
        self.checks = 0
        self.checked_reads = 0

    # -- plumbing
    def _send(
        self,
        op: Op,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Any:
        """One request to the server op was begun on; None on a transport error."""
        srv = self.target.server
        with self.busy_cv:
            self.requests += 1
        try:
            resp = srv.raw(
                method, path, query=query, headers=headers, body=body, timeout=self.cfg.timeout
            )
        except (OSError, http.client.HTTPException) as exc:
            op.status, op.error = None, repr(exc)
            return None
        op.status = resp.status
        # Nothing in this workload has a reason to be refused (copy sources are never deleted,
        # an upload never outlives its server generation), so a 4xx is as wrong as a 5xx.
        # (A CopyObject whose source is overwritten while it runs once answered NoSuchKey; it
        # now starts over from the new version -- test_copy_while_its_source_is_overwritten.)
        if resp.status >= 400:
            self.history.violations.append(
                f"gen {op.gen} {op.kind} {method} {path}?{query} -> {resp.status} "
                f"{resp.error_code}: {resp.body[:300]!r}"
            )
        return resp

    def _path(self, key: str) -> str:
        return f"/{self.bucket}/{key}"

    # -- operations
    def _put(self, key: str, data: bytes, kind: str) -> None:
        p = single(data)
        self.history.registry.add(p)
        op = self.history.begin(key, kind, self.target.gen, [p.sha256])
        resp = self._send(op, "PUT", self._path(key), body=data)
        if resp is not None and resp.status == 200:
            if resp.headers.get("etag", "").strip('"') != p.etag:
                self.history.violations.append(f"PUT {key}: ETag {resp.headers.get('etag')}")
            self.history.ack(op)

    def _large(self, rng: random.Random) -> bytes:
        tail = os.urandom(rng.randint(0, MiB))
        if rng.random() < 0.5:
            return rng.choice(self.pool) + tail
        return os.urandom(2 * MiB) + tail

    def _multipart(self, key: str, rng: random.Random) -> None:
        parts = [
            self.pool5 if rng.random() < 0.5 else os.urandom(5 * MiB),
            os.urandom(5 * MiB),
            os.urandom(rng.randint(1, 300 * KiB)),
        ]
        p = multipart(parts)
        self.history.registry.add(p)
        op = self.history.begin(key, "multipart", self.target.gen, [p.sha256])
        resp = self._send(op, "POST", self._path(key), query="uploads")
        if resp is None or resp.status != 200:
            return
        upload_id = sup.find_text(resp.xml(), "UploadId")[0]
        etags = []
        for n, part in enumerate(parts, 1):
            resp = self._send(
                op, "PUT", self._path(key), query=f"partNumber={n}&uploadId={upload_id}", body=part
            )
            if resp is None or resp.status != 200:
                return
            etags.append(resp.headers["etag"])
        doc = "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
            for n, e in enumerate(etags, 1)
        )
        body = f"<CompleteMultipartUpload>{doc}</CompleteMultipartUpload>".encode()
        resp = self._send(op, "POST", self._path(key), query=f"uploadId={upload_id}", body=body)
        # Complete can answer 200 with an error document; only a result document is an ack.
        if (
            resp is not None
            and resp.status == 200
            and b"CompleteMultipartUploadResult" in resp.body
        ):
            got = sup.find_text(resp.xml(), "ETag")[0].strip('"')
            if got != p.etag:
                self.history.violations.append(f"complete {key}: ETag {got} != {p.etag}")
            self.history.ack(op)

    def _copy(self, key: str, source: str) -> None:
        # Values are known only once it is acknowledged (the ETag names the version copied).
        op = self.history.begin(key, "copy", self.target.gen, [], source=source)
        resp = self._send(
            op, "PUT", self._path(key), headers={"x-amz-copy-source": self._path(source)}
        )
        if resp is not None and resp.status == 200 and b"CopyObjectResult" in resp.body:
            etag = sup.find_text(resp.xml(), "ETag")[0].strip('"')
            sha = self.history.registry.by_etag.get(etag)
            with self.history.lock:
                ever = sha in self.history.source_values[source]
            if sha is None or not ever:
                self.history.violations.append(f"copy {source} -> {key}: unknown ETag {etag}")
                return
            self.history.ack(op, [sha])  # the ETag names the exact version copied

    def _delete(self, key: str) -> None:
        op = self.history.begin(key, "delete", self.target.gen, [ABSENT])
        resp = self._send(op, "DELETE", self._path(key))
        if resp is not None and resp.status == 204:
            self.history.ack(op)

    def _one(self, rng: random.Random) -> None:
        kinds = list(self.cfg.weights)
        kind = rng.choices(kinds, [self.cfg.weights[k] for k in kinds])[0]
        h = self.history
        if kind == "put-small":
            key = rng.choice(h.keys + h.sources)
            self._put(key, os.urandom(rng.randint(1, 24 * KiB)), kind)
        elif kind == "put-large":
            key = rng.choice(h.keys + h.sources)
            self._put(key, self._large(rng), kind)
        elif kind == "multipart":
            self._multipart(rng.choice(h.keys), rng)
        elif kind == "copy":
            self._copy(rng.choice(h.keys), rng.choice(h.sources))
        else:
            self._delete(rng.choice(h.keys))

    def _client(self, seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not self.stop_flag.is_set():
                if not self.run_flag.wait(timeout=0.2):
                    continue
                with self.busy_cv:
                    if not self.run_flag.is_set():
                        continue
                    self.busy += 1
                try:
                    self._one(rng)
                finally:
                    with self.busy_cv:
                        self.busy -= 1
                        self.busy_cv.notify_all()
        except BaseException as exc:  # reported by finish(); a thread must not die silently
            self.thread_errors.append(exc)

    # -- phases
    def setup(self) -> None:
        """Start the server, create the bucket and give every key a first, acknowledged value."""
        self.target.start()
        srv = self.target.server
        resp = srv.raw("PUT", f"/{self.bucket}")
        assert resp.status == 200, str(resp)
        for key in self.history.keys + self.history.sources:
            self._put(key, os.urandom(self.rng.randint(1, 4 * KiB)), "put-small")
            assert self.history.ops[key][-1].acked_at is not None, key
        for _ in range(self.cfg.clients):
            t = threading.Thread(target=self._client, args=(self.rng.getrandbits(64),), daemon=True)
            t.start()
            self.threads.append(t)

    def pause(self, timeout: float = 120.0) -> None:
        """No new operations; wait (bounded) for the ones in flight."""
        with self.busy_cv:
            self.run_flag.clear()
            if not self.busy_cv.wait_for(lambda: self.busy == 0, timeout=timeout):
                raise AssertionError(f"clients still busy after {timeout}s")

    def _quiesce_for_kill(self) -> None:
        # Pause *before* the kill so nobody starts a request towards a dead port; what is in
        # flight right now still meets the kill.
        with self.busy_cv:
            self.run_flag.clear()

    def kill_and_restart(self, while_down: Callable[[Campaign], None] | None = None) -> None:
        self._quiesce_for_kill()
        self.target.kill(self.history)
        self.kills += 1
        self.pause()
        if while_down is not None:  # the checker's own tests tamper with the store here
            while_down(self)
        self.target.start()
        self.check()
        self.run_flag.set()

    def run_for(self, seconds: float) -> None:
        self.run_flag.set()
        time.sleep(seconds)

    def read_all(self) -> dict[str, str]:
        """Current value of every key (sha256 or ABSENT), checked for internal consistency."""
        srv = self.target.server
        reg = self.history.registry
        out: dict[str, str] = {}
        for key in self.history.keys + self.history.sources:
            resp = srv.raw("GET", self._path(key), timeout=self.cfg.timeout)
            self.checked_reads += 1
            if resp.status == 404 and resp.error_code == "NoSuchKey":
                out[key] = ABSENT
                continue
            assert resp.status == 200, f"GET {key} after restart: {resp}"
            sha = hashlib.sha256(resp.body).hexdigest()
            assert sha in reg.by_sha, (
                f"{key}: {len(resp.body)} bytes that no client ever wrote (a mix or a torn "
                f"version); content-length {resp.headers.get('content-length')}"
            )
            assert len(resp.body) == reg.sizes[sha] == int(resp.headers["content-length"])
            assert resp.headers["etag"].strip('"') in reg.by_sha[sha], (key, resp.headers)
            out[key] = sha
        return out

    def check(self) -> dict[str, str]:
        """After a restart, with no operation in flight: every key holds a possible latest value."""
        self.checks += 1
        state = self.read_all()
        for key, value in state.items():
            possible = self.history.possible(key)
            if value not in possible:
                ops = self.history.ops[key][-8:]
                raise AssertionError(
                    f"{key} holds {value[:12]} after restart {self.target.gen}; possible: "
                    f"{sorted(v[:12] for v in possible)}; last ops: "
                    + "; ".join(
                        f"{o.kind} gen{o.gen} t={o.start:.3f} ack={o.acked_at} "
                        f"values={sorted(v[:12] for v in o.values)[:3]} status={o.status}"
                        for o in ops
                    )
                )
            self.history.observe(key, value)
        return state

    def finish(self) -> None:
        self.stop_flag.set()
        self.run_flag.clear()
        for t in self.threads:
            t.join(timeout=self.cfg.timeout + 30)
        assert not any(t.is_alive() for t in self.threads), "client threads did not stop"
        if self.thread_errors:
            raise self.thread_errors[0]


# --------------------------------------------------------------------------------------------
# GC


_FREED = re.compile(r"freed (\d+)/(\d+) blocks \((\d+) bytes\), (\d+)/(\d+) manifests")


@dataclass(frozen=True)
class GcRun:
    freed_blocks: int
    scanned_blocks: int
    freed_bytes: int
    freed_manifests: int
    seconds: float
    output: str


def run_gc(store_url: str, grace: float = 0.0, timeout: float = 300.0) -> GcRun:
    """`s3front gc --grace G` as an operator runs it (the server must be stopped for grace 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "s3front", "gc", "--grace", str(grace), "--store", store_url],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    seconds = time.monotonic() - t0
    assert done.returncode == 0, f"s3front gc exited {done.returncode}:\n{done.stdout}{done.stderr}"
    m = _FREED.search(done.stdout)
    assert m, f"no summary in gc output: {done.stdout!r}"
    return GcRun(int(m[1]), int(m[2]), int(m[3]), int(m[4]), seconds, done.stdout.strip())


# --------------------------------------------------------------------------------------------
# The whole campaign


@dataclass
class Result:
    kills: int
    checks: int
    requests: int
    checked_reads: int
    counts: dict[str, int]
    violations: list[str]
    seconds: float
    restart_seconds: list[float]
    gc: GcRun
    gc_again: GcRun
    final: dict[str, str]
    seed: int
    acked_per_generation: dict[int, int]  # server generation -> acknowledged operations

    def summary(self) -> str:
        starts = sorted(self.restart_seconds)
        return (
            f"{self.kills} SIGKILLs survived in {self.seconds:.1f} s; {self.requests} requests, "
            f"{self.checks} post-restart checks ({self.checked_reads} verified GETs); "
            f"ops {self.counts}; restarts to ready: median {starts[len(starts) // 2]:.2f} s, "
            f"max {starts[-1]:.2f} s; gc --grace 0: {self.gc.output} ({self.gc.seconds:.1f} s); "
            f"second gc freed {self.gc_again.freed_blocks} blocks; "
            f"{sum(v != ABSENT for v in self.final.values())}/{len(self.final)} keys present; "
            f"4xx/5xx/violations: {len(self.violations)}; seed {self.seed}"
        )


def campaign(
    workdir: Path,
    *,
    store_url: str | None = None,
    kills: int = 8,
    duration: float | None = None,
    min_run: float = 0.5,
    max_run: float = 3.0,
    cfg: Config | None = None,
    seed: int | None = None,
    ready_timeout: float = 30.0,
    on_kill: Callable[[int, Campaign], None] | None = None,
) -> Result:
    """Run the workload, SIGKILL the server `kills` times at random moments (or fewer, if
    `duration` seconds run out first), check after each restart, then stop it, run
    `s3front gc --grace 0` on its store and check every key again."""
    seed = random.randrange(1 << 32) if seed is None else seed
    c = Campaign(Target(workdir, store_url, ready_timeout), cfg or Config(), seed)
    t0 = time.monotonic()
    try:
        c.setup()
        for i in range(kills):
            if duration is not None and time.monotonic() - t0 >= duration:
                break
            c.run_for(c.rng.uniform(min_run, max_run))
            c.kill_and_restart()
            if on_kill is not None:
                on_kill(i + 1, c)
        c.pause()
        c.finish()
        before = c.check()
        c.target.stop(c.history)
        assert c.target.store_url is not None
        gc = run_gc(c.target.store_url)
        c.target.start()
        after = c.read_all()
        mismatched = {k: (before[k][:12], v[:12]) for k, v in after.items() if before[k] != v}
        assert not mismatched, f"keys changed by gc --grace 0 (before, after): {mismatched}"
        c.target.stop(c.history)
        gc_again = run_gc(c.target.store_url)
    finally:
        c.stop_flag.set()
        c.run_flag.set()  # wake waiting clients so they see stop_flag
        if c.target.server is not None and c.target.server.alive():
            sup.stop_server(c.target.server)
    return Result(
        kills=c.kills,
        checks=c.checks,
        requests=c.requests,
        checked_reads=c.checked_reads,
        counts=c.history.counts(),
        violations=list(c.history.violations),
        seconds=time.monotonic() - t0,
        restart_seconds=c.target.start_seconds[1:] or c.target.start_seconds,
        gc=gc,
        gc_again=gc_again,
        final=after,
        seed=seed,
        acked_per_generation=c.history.acked_per_generation(),
    )
