"""glibc malloc settings for a server that moves MiB-sized buffers.

Every 1 MiB block a PUT cuts, and every block a GET reads, is a fresh bytes object of about a
MiB. glibc serves such sizes from the heap only after its dynamic threshold has risen, and
gives freed memory back to the kernel once more than twice that is free at the top of a heap
(and thread arenas, where the hashing threads allocate, shrink the same way). With a few
requests in flight that is all the time: measured on the development machine, a 1 MiB PUT took
~100 page faults (each a zeroed page from the kernel) and a GET ~35; with the thresholds below,
0 and ~15, and 3-10% less CPU per 1 MiB PUT or multipart part.

What this costs: memory freed after a burst stays with the process (up to the trim threshold
per arena) instead of going back to the kernel at once, so RSS sits at its recent peak. That
peak is bounded by the requests in flight (see objects.writer: a few blocks per upload).
"""

from __future__ import annotations

import ctypes
import logging

from s3front.config import MiB

log = logging.getLogger(__name__)

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
# Blocks and the buffers around them stay far below this; only larger ones get their own mmap.
MMAP_THRESHOLD = 16 * MiB
# Free memory a heap keeps at its top before returning it to the kernel.
TRIM_THRESHOLD = 32 * MiB
# glibc gives each thread that allocates while the others hold theirs an arena of its own, up
# to 8 per core, and every arena keeps up to TRIM_THRESHOLD of freed memory. The threads here
# (block files, SQLite readers, hashing) mostly run Python under the GIL, so they seldom
# allocate at the same moment: two arenas serve them, and cap what freed memory is kept.
ARENAS = 2


def keep_freed_memory() -> bool:
    """Set the thresholds (glibc only); False elsewhere (musl, macOS): nothing to tune."""
    try:
        libc = ctypes.CDLL(None)  # the symbols the interpreter is linked with, libc's included
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success, 0 on error.
    ok: bool = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    ok = mallopt(_M_ARENA_MAX, ARENAS) == 1 and ok
    if not ok:
        log.warning("mallopt refused the malloc thresholds; running with glibc's defaults")
    return ok
