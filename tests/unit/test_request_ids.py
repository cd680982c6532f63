"""Request ids: 16 upper-case hex digits like S3's, unique within a worker and across workers."""

from __future__ import annotations

import re
import subprocess
import sys

from s3front.request import new_request_id


def test_ids_look_like_s3s_and_do_not_repeat() -> None:
    ids = [new_request_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9A-F]{16}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_each_worker_process_has_its_own_prefix() -> None:
    # Workers are separate processes: the random half keeps their counters from colliding.
    code = "from s3front.request import new_request_id as n; print(n())"
    firsts = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(3)
    }
    assert len(firsts) == 3
    assert new_request_id()[:8] not in {f[:8] for f in firsts}
