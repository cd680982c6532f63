"""Fixtures of the fuzz tests: a live server with a seeded bucket, and the fuzzer module.

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


def load(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


sup = load("s3front_e2e_support", HERE.parent / "e2e" / "support.py")
fuzzer = load("s3front_fuzzer", HERE / "fuzzer.py")


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
