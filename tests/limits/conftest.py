"""Fixtures of the limits tests: a live server with small timeouts and a low connection limit.

The e2e harness (`tests/lib/s3front_e2e_support.py`) starts the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import s3front_e2e_support as sup

HERE = Path(__file__).resolve().parent
HEADER_TIMEOUT = 2.0
BODY_IDLE_TIMEOUT = 2.0
LIMIT_CONCURRENCY = 20


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    srv = sup.start_server(
        tmp_path_factory.mktemp("limits"),
        env_extra={
            "S3FRONT_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
            "S3FRONT_BODY_IDLE_TIMEOUT": str(BODY_IDLE_TIMEOUT),
            "S3FRONT_LIMIT_CONCURRENCY": str(LIMIT_CONCURRENCY),
        },
    )
    try:
        yield srv
    finally:
        sup.stop_server(srv)


@pytest.fixture(scope="module")
def bucket(limited_server: object) -> str:
    name = sup.unique_bucket("lim")
    assert limited_server.raw("PUT", f"/{name}").status == 200  # type: ignore[attr-defined]
    return name
