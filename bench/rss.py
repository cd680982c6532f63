"""Peak memory of the server while it takes and serves one large object, streamed.

    .venv/bin/python bench/rss.py [--size-mib 1024] [--mode sha256|chunked] [--store URL]

Starts `s3front serve` (fresh SQLite store unless --store), PUTs one object of --size-mib
(default 1 GiB) in a single request, then GETs it back, while a thread samples the server's
VmRSS from /proc every 50 ms. The body is generated on the fly from a seeded PRNG, never held
whole in memory by this process; the GET is hashed as it streams and compared.

--mode sha256 : x-amz-content-sha256 is the hex hash (computed in a first generating pass), so
                the server can only accept the object once the last byte has been checked.
--mode chunked: STREAMING-AWS4-HMAC-SHA256-PAYLOAD, 64 KiB signed chunks (what minio-go and
                the SDKs do for large uploads).

Prints baseline RSS, peak RSS during PUT and during GET (VmHWM, the kernel's high-water mark,
which also catches peaks between samples), and the throughput of each direction.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import random
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
PIECE = 64 * 1024


sup = harness.sup


def proc_status_kib(pid: int, field: str) -> int:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM); 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self._stop_evt = threading.Event()

    def run(self) -> None:
        while not self._stop_evt.is_set():
            self.peak_kib = max(self.peak_kib, proc_status_kib(self.pid, "VmRSS"))
            self._stop_evt.wait(0.05)

    def stop(self) -> int:
        self._stop_evt.set()
        self.join(timeout=5)
        return self.peak_kib


def generate(size: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    left = size
    while left > 0:
        n = min(MiB, left)
        yield rng.randbytes(n)
        left -= n


def reset_hwm(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs; needs ownership)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def payload_sha256(size: int, seed: int) -> str:
    sha = hashlib.sha256()
    for piece in generate(size, seed):
        sha.update(piece)
    return sha.hexdigest()


def put_sha256(server: Any, path: str, size: int, seed: int, digest: str) -> int:
    signed = sup.sign_v4(
        "PUT",
        path,
        "",
        {"host": f"127.0.0.1:{server.port}", "content-length": str(size)},
        digest,
        server.access_key,
        server.secret_key,
    )
    return _send(server, path, signed.headers, generate(size, seed))


def put_chunked(server: Any, path: str, size: int, seed: int) -> int:
    nfull, rest = divmod(size, PIECE)
    sizes = [PIECE] * nfull + ([rest] if rest else [])
    hdrs = {
        "host": f"127.0.0.1:{server.port}",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(size),
        "content-length": str(sup.aws_chunked_length(sizes)),
    }
    signed = sup.sign_v4(
        "PUT",
        path,
        "",
        hdrs,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        server.access_key,
        server.secret_key,
    )

    def frames() -> Iterator[bytes]:
        previous = signed.signature
        for big in generate(size, seed):
            for off in range(0, len(big), PIECE):
                data = big[off : off + PIECE]
                previous = sup.chunk_signature(signed, previous, data)
                yield f"{len(data):x};chunk-signature={previous}\r\n".encode() + data + b"\r\n"
        final = sup.chunk_signature(signed, previous, b"")
        yield f"0;chunk-signature={final}\r\n\r\n".encode()

    return _send(server, path, signed.headers, frames())


def _send(server: Any, path: str, headers: dict[str, str], body: Iterator[bytes]) -> int:
    conn = sup.connect(server.scheme, server.port, server.ssl_context(), timeout=300)
    try:
        conn.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        for piece in body:
            conn.send(piece)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"PUT: HTTP {resp.status} {data[:500]!r}")
        return resp.status
    finally:
        conn.close()


def get_and_hash(server: Any, path: str) -> tuple[int, str]:
    signed = sup.sign_v4(
        "GET",
        path,
        "",
        {"host": f"127.0.0.1:{server.port}"},
        sup.EMPTY_SHA256,
        server.access_key,
        server.secret_key,
    )
    conn = sup.connect(server.scheme, server.port, server.ssl_context(), timeout=300)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        for k, v in signed.headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"GET: HTTP {resp.status} {resp.read()[:500]!r}")
        sha = hashlib.sha256()
        total = 0
        while piece := resp.read(MiB):
            sha.update(piece)
            total += len(piece)
        return total, sha.hexdigest()
    except http.client.HTTPException as exc:
        raise RuntimeError(f"GET failed: {exc!r}") from exc
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--mode", choices=["sha256", "chunked"], default="sha256")
    ap.add_argument("--store", default=None, help="store URL (default: fresh SQLite)")
    args = ap.parse_args(argv)
    if not 1 <= args.size_mib <= 64 * 1024:
        ap.error("--size-mib must be between 1 and 65536")
    size = args.size_mib * MiB
    seed = 20240501

    with tempfile.TemporaryDirectory(prefix="s3front-rss-") as tmp:
        srv = sup.start_server(Path(tmp), store_url=args.store, ready_timeout=60)
        try:
            bucket = sup.unique_bucket("rss")
            resp = srv.raw("PUT", f"/{bucket}")
            assert resp.status == 200, str(resp)
            path = f"/{bucket}/big.bin"
            baseline = proc_status_kib(srv.pid, "VmRSS")
            print(
                f"server pid {srv.pid}; baseline RSS {baseline / 1024:.1f} MiB; object "
                f"{args.size_mib} MiB; mode {args.mode}",
                flush=True,
            )

            digest = payload_sha256(size, seed)  # before the clock: a first generating pass
            hwm_reset = reset_hwm(srv.pid)
            sampler = Sampler(srv.pid)
            sampler.start()
            t0 = time.perf_counter()
            if args.mode == "sha256":
                put_sha256(srv, path, size, seed, digest)
            else:
                put_chunked(srv, path, size, seed)
            put_s = time.perf_counter() - t0
            put_peak = max(sampler.stop(), proc_status_kib(srv.pid, "VmHWM") if hwm_reset else 0)
            print(
                f"PUT: {size / MiB / put_s:7.1f} MB/s ({put_s:.1f} s incl. client-side "
                f"generation), peak RSS {put_peak / 1024:.1f} MiB",
                flush=True,
            )

            hwm_reset = reset_hwm(srv.pid)
            sampler = Sampler(srv.pid)
            sampler.start()
            t0 = time.perf_counter()
            total, got_digest = get_and_hash(srv, path)
            get_s = time.perf_counter() - t0
            get_peak = max(sampler.stop(), proc_status_kib(srv.pid, "VmHWM") if hwm_reset else 0)
            ok = total == size and got_digest == digest
            print(
                f"GET: {size / MiB / get_s:7.1f} MB/s ({get_s:.1f} s), peak RSS "
                f"{get_peak / 1024:.1f} MiB, bytes {'verified' if ok else 'WRONG'}"
            )
            print(
                f"peak RSS over PUT and GET: {max(put_peak, get_peak) / 1024:.1f} MiB"
                + ("" if hwm_reset else " (sampled; VmHWM could not be reset between phases)")
            )
            srv.raw("DELETE", path)
            srv.raw("DELETE", f"/{bucket}")
            return 0 if ok else 1
        finally:
            sup.stop_server(srv)


if __name__ == "__main__":
    sys.exit(main())
