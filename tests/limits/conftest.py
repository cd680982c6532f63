"""Fixtures of the limits tests: a live server with small timeouts and a low connection limit.

The e2e harness (`tests/e2e/support.py`) starts the server; it is loaded under the module name
the e2e conftest uses, so both share one copy.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent
HEADER_TIMEOUT = 2.0
BODY_IDLE_TIMEOUT = 2.0
LIMIT_CONCURRENCY = 20


def _load_support() -> ModuleType:
    name = "s3front_e2e_support"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE.parent / "e2e" / "support.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


sup = _load_support()


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
