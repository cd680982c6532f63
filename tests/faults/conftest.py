"""Fixtures of the fault campaigns: crashes of the server, outages of Cassandra, races on a key.

The helpers live beside the tests and in the e2e harness. Without __init__.py files every test
directory lands on sys.path, so each helper module is loaded under a unique name (as
`tests/e2e/conftest.py` does) and the tests import it by that name:

    s3front_e2e_support       tests/e2e/support.py (server subprocess, SigV4 signer)
    s3front_faults_crashkit   tests/faults/crashkit.py (crash workload and history checker)
    s3front_cassandra_outage  tests/cassandra/test_outage.py (a private local-cassandra node)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path) -> Any:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


sup = _load("s3front_e2e_support", TESTS / "e2e" / "support.py")
_load("s3front_faults_crashkit", TESTS / "faults" / "crashkit.py")
_load("s3front_cassandra_outage", TESTS / "cassandra" / "test_outage.py")
