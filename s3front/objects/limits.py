"""S3's limits on keys, objects and parts, and the GC grace default: one place for each number.

(Connection limits -- header size, body pace, concurrency -- are `s3front.limits`.)
"""

from __future__ import annotations

MiB = 1024 * 1024
GiB = 1024 * MiB

MAX_KEY_BYTES = 1024  # an object key, UTF-8 encoded
MAX_OBJECT_SIZE = 5 * GiB  # one PutObject or PostObject body, one part, a CopyObject source
MIN_PART_SIZE = 5 * MiB  # every part of a multipart upload but the last
MAX_PART_NUMBER = 10000  # part numbers run from 1 to this
# How long garbage stays before GC may free it (writes in progress are safe at any value).
DEFAULT_GC_GRACE_SECONDS = 24 * 3600.0
