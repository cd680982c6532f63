"""A reader never sees a mix of two versions: a GET that is streaming the old object while a PUT
replaces it returns the whole old object, byte for byte (the old manifest and its blocks stay
until the GC's grace period has passed, long after any reader is done)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

MiB = 1024 * 1024


def test_overwrite_while_a_get_streams_the_old_version(s3: Any, bucket: str) -> None:
    old = os.urandom(32 * MiB)
    new = os.urandom(32 * MiB)
    s3.put_object(Bucket=bucket, Key="k", Body=old)
    stream = s3.get_object(Bucket=bucket, Key="k")["Body"]
    first = stream.read(MiB)
    # The server has sent at most a few MiB ahead (socket buffers, read-ahead of 3 blocks):
    # most of the old object is still to be read from the store after this overwrite.
    s3.put_object(Bucket=bucket, Key="k", Body=new)
    rest = stream.read()
    got = first + rest
    assert len(got) == len(old)
    assert hashlib.sha256(got).digest() == hashlib.sha256(old).digest()
    # And a new GET sees the new object, whole.
    fresh = s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    assert hashlib.sha256(fresh).digest() == hashlib.sha256(new).digest()
