"""What each benchmark target promises on a PUT, checked from outside.

    .venv/bin/python bench/peer_promises.py [--only s3front-sqlite,rclone,seaweedfs,minio]

The side-by-side table (compare.py) compares speeds; this says what the speeds buy. For every
target it checks two things a PUT acknowledges, and prints them:

- **the signed payload hash**: a 1 MiB PUT whose signed `x-amz-content-sha256` is the hash of
  other bytes (a valid signature over a body that does not match it). S3 answers 400
  XAmzContentSHA256Mismatch and stores nothing; a server that answers 200 has stored bytes the
  client never signed, and did not spend the SHA-256 pass that catches them;
- **durability at acknowledgement**: the sync system calls (fsync, fdatasync, sync_file_range,
  syncfs, msync) the server's process tree makes for 20 PUTs of 1 MiB and for 4 parts of 8 MiB,
  counted with `strace -f -c`. Zero means an acknowledged object lives in the page cache until
  the kernel writes it back: a power loss (or a crash of the machine) within that time loses it.

The sync counts need strace (Debian's package); without it they read "no strace". Targets are
started as compare.py starts them (same binaries, same settings).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare
from s3client import Conn, Signer, canonical_query, expect

SYNC_CALLS = "fsync,fdatasync,sync_file_range,syncfs,msync"
MiB = 1 << 20


def starters(workdir: Path) -> dict[str, Callable[[], compare.Target]]:
    return {
        "s3front-sqlite": lambda: compare.start_s3front(
            "s3front-sqlite", workdir, f"sqlite://{workdir}/s3front-data", 1
        ),
        "rclone": lambda: compare.start_rclone(workdir),
        "seaweedfs": lambda: compare.start_seaweedfs(workdir),
        "minio": lambda: compare.start_minio(workdir),
    }


def parse_strace_counts(text: str) -> dict[str, int]:
    """`strace -c` summary -> {syscall: calls}."""
    counts: dict[str, int] = {}
    for line in text.splitlines():
        cols = line.split()
        # % time, seconds, usecs/call, calls, [errors,] syscall
        if len(cols) >= 5 and cols[-1] != "total" and cols[3].isdigit():
            counts[cols[-1]] = int(cols[3])
    return counts


class Traced:
    """strace -f -c on a process tree, for the duration of a `with` block."""

    def __init__(self, pid: int, out: Path) -> None:
        self._pids = compare.process_tree(pid)
        self._out = out
        self._proc: subprocess.Popen[bytes] | None = None
        self.counts: dict[str, int] | None = None  # None: no strace on this machine

    def __enter__(self) -> Traced:
        if shutil.which("strace") is None:
            return self
        args = ["strace", "-f", "-c", "-e", f"trace={SYNC_CALLS}", "-o", str(self._out)]
        for pid in self._pids:
            args += ["-p", str(pid)]
        self._proc = subprocess.Popen(args, stderr=subprocess.DEVNULL)
        time.sleep(1.5)  # strace attaches to every thread before the first request
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is None:
            return
        time.sleep(0.5)  # a sync that follows the response (none should) is counted too
        self._proc.send_signal(2)
        self._proc.wait(timeout=30)
        self.counts = parse_strace_counts(self._out.read_text())


async def check(name: str, t: compare.Target, workdir: Path) -> str:
    signer = Signer(compare.ACCESS_KEY, compare.SECRET_KEY)
    await compare.wait_ready(t, signer, 120)
    conn = Conn(t.port, signer)
    try:
        await conn.request("PUT", "/promises")
        body = os.urandom(MiB)
        other = hashlib.sha256(b"other bytes").hexdigest()
        r = await conn.request("PUT", "/promises/mismatch", body=body, payload_hash=other)
        code = (
            r.body.split(b"<Code>")[1].split(b"</Code>")[0].decode() if b"<Code>" in r.body else ""
        )
        refused = f"HTTP {r.status} {code}".strip()
        with Traced(t.pid, workdir / f"{name}-put.strace") as put_trace:
            for i in range(20):
                data = os.urandom(MiB)
                r = await conn.request(
                    "PUT",
                    f"/promises/o{i}",
                    body=data,
                    payload_hash=hashlib.sha256(data).hexdigest(),
                )
                expect(r, "PUT", 200)
        r = expect(await conn.request("POST", "/promises/mp", query="uploads="), "initiate", 200)
        upload = r.body.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
        with Traced(t.pid, workdir / f"{name}-part.strace") as part_trace:
            for n in range(1, 5):
                data = os.urandom(8 * MiB)
                q = canonical_query({"partNumber": str(n), "uploadId": upload})
                r = await conn.request(
                    "PUT", "/promises/mp", query=q, body=data,
                    payload_hash=hashlib.sha256(data).hexdigest(),
                )  # fmt: skip
                expect(r, "UploadPart", 200)
    finally:
        conn.close()

    def per(counts: dict[str, int] | None, n: int) -> str:
        if counts is None:
            return "no strace"
        return ", ".join(f"{k} {v / n:g}" for k, v in sorted(counts.items())) or "none"

    return (
        f"{name:16} mismatched payload hash: {refused:38} syncs per 1 MiB PUT: "
        f"{per(put_trace.counts, 20):24} per 8 MiB part: {per(part_trace.counts, 4)}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--only", default="s3front-sqlite,rclone,seaweedfs,minio")
    args = ap.parse_args(argv)
    lines = []
    for name in args.only.split(","):
        workdir = Path(tempfile.mkdtemp(prefix=f"s3front-promises-{name}-"))
        make = starters(workdir).get(name)
        if make is None:
            ap.error(f"unknown target {name}")
        t = make()
        try:
            lines.append(asyncio.run(check(name, t, workdir)))
        finally:
            t.stop()
        print(lines[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
