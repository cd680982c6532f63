"""The test harness, for the bench scripts: the modules in tests/lib (server subprocess and
SigV4 signer, crash workload and checker, request fuzzer), which pytest finds through its
`pythonpath` setting and a script run as `python bench/x.py` finds through this."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lib"))

import s3front_e2e_support as sup
import s3front_faults_crashkit as crashkit
import s3front_fuzzer as fuzzer

__all__ = ["crashkit", "fuzzer", "sup"]
