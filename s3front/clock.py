"""The wall clock, in the one unit the store keeps times in: whole milliseconds since the epoch.

Every stamp (Last-Modified, manifest ids, block written times, write intents, leases, deletion
marks, retention checks) is taken here, so they all truncate the same way and a test can read
the same clock the code does.
"""

from __future__ import annotations

import time


def now_ms() -> int:
    """Milliseconds since the epoch, truncated (integer arithmetic: no float rounding)."""
    return time.time_ns() // 1_000_000
