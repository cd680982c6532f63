"""SIGTERM (what Kubernetes sends) lets in-flight requests finish and refuses new ones."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import time
from pathlib import Path

import s3front_e2e_support as sup

MiB = 1024 * 1024


def test_sigterm_finishes_in_flight_requests_and_refuses_new_ones(tmp_path: Path) -> None:
    server = sup.start_server(tmp_path / "srv")
    try:
        s3 = server.client()
        bucket = sup.unique_bucket("drain")
        s3.create_bucket(Bucket=bucket)
        data = os.urandom(48 * MiB)
        s3.put_object(Bucket=bucket, Key="big", Body=data)
        stream = s3.get_object(Bucket=bucket, Key="big")["Body"]
        first = stream.read(MiB)  # a GET is now in flight, most of it still unsent
        os.kill(server.pid, signal.SIGTERM)
        # New connections are refused once the server stops listening (give it a moment).
        refused = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not refused:
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
                time.sleep(0.1)
            except OSError:
                refused = True
        assert refused, "the server still accepts connections after SIGTERM"
        rest = stream.read()
        assert hashlib.sha256(first + rest).digest() == hashlib.sha256(data).digest()
        # uvicorn re-raises the signal once it has drained, so the exit status says SIGTERM.
        assert server.proc.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "Finished server process" in server.log_text()
        assert "Traceback" not in server.log_text()
    finally:
        sup.stop_server(server)
