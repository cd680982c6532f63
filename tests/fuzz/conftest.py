"""Fixtures of the fuzz tests: a live server with a seeded bucket, and the fuzzer module.

The e2e harness (`tests/lib/s3front_e2e_support.py`) starts the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import s3front_e2e_support as sup

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    # A short body idle timeout: requests that declare more body than they send are answered
    # (400 RequestTimeout) within a second instead of holding a client thread.
    srv = sup.start_server(
        tmp_path_factory.mktemp("fuzz"), env_extra={"S3FRONT_BODY_IDLE_TIMEOUT": "1"}
    )
    try:
        yield srv
    finally:
        sup.stop_server(srv)
