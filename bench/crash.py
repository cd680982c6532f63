"""Crash campaign, long form: SIGKILL a busy s3front over and over and check what survives.

    .venv/bin/python bench/crash.py [--duration 300] [--kills 1000] [--clients 6] [--keys 10]
                                    [--store cassandra://127.0.0.1:9042/ks?dc=datacenter1]
                                    [--seed N] [--min-run 0.5] [--max-run 3]

Runs the workload of `tests/lib/s3front_faults_crashkit.py` (PUTs inline and block-backed, multipart
uploads, CopyObject, DeleteObject from concurrent clients; raw SigV4 requests, no retries)
against `s3front serve`, kills the server with SIGKILL after a random 0.5-3 s of work, restarts
it on the same store and checks every key against the history of acknowledged writes; stops
after --kills kills or --duration seconds, whichever comes first. Then it stops the server, runs
`s3front gc --grace 0` on the store, restarts and checks that every key reads back unchanged,
and that a second GC finds nothing left. Without --store it uses a fresh SQLite store in a
temporary directory (kept with --keep). The keyspace named by --store must have the schema
(`s3front schema apply`), and nothing else may write to it while this runs (grace 0).

Exit status 0 when every check held and no request got a 5xx, 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness

ROOT = Path(__file__).resolve().parent.parent


ck = harness.crashkit


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=300.0, help="seconds (default 300)")
    p.add_argument("--kills", type=int, default=1000, help="at most this many kills")
    p.add_argument("--clients", type=int, default=6)
    p.add_argument("--keys", type=int, default=10)
    p.add_argument("--store", help="store URL (default: a fresh SQLite store)")
    p.add_argument("--seed", type=int)
    p.add_argument("--min-run", type=float, default=0.5, help="least seconds between kills")
    p.add_argument("--max-run", type=float, default=3.0, help="most seconds between kills")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="s3front-crash-"))
    started = time.monotonic()

    def progress(n: int, c: Any) -> None:
        print(
            f"\r{time.monotonic() - started:7.1f} s  kill {n}  {c.requests} requests  "
            f"{len(c.history.violations)} violations",
            end="",
            file=sys.stderr,
            flush=True,
        )

    cfg = ck.Config(clients=args.clients, keys=args.keys)
    try:
        result = ck.campaign(
            workdir / "server",
            store_url=args.store,
            kills=args.kills,
            duration=args.duration,
            min_run=args.min_run,
            max_run=args.max_run,
            cfg=cfg,
            seed=args.seed,
            ready_timeout=60.0,
            on_kill=progress,
        )
    except AssertionError as exc:
        print(f"\nFAILED: {exc}\nserver logs in {workdir}", file=sys.stderr)
        return 1
    finally:
        print(file=sys.stderr)
    print(result.summary())
    for v in result.violations[:20]:
        print("  violation:", v)
    if not args.keep and not result.violations:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"work directory: {workdir}")
    return 0 if not result.violations else 1


if __name__ == "__main__":
    sys.exit(main())
