"""Facts about object keys that storage layout depends on.

`shard_of` is PERSISTENT: it decides which object-index partition holds a key, and rows written
under one definition are only found again under the same one. Never change it (a different
hash or encoding would make every existing object invisible); a new scheme would need a new
bucket-level layout version and a migration.

Key order is Python string order, which for valid Unicode (no lone surrogates, which UTF-8 and
so S3 keys cannot contain) equals the byte order of the UTF-8 encoding that SQLite (BINARY
collation) and Cassandra (text clustering) use.
"""

from __future__ import annotations

import zlib

_MAX_CHAR = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def shard_of(key: str, shards: int) -> int:
    """The object-index shard of `key` in a bucket of `shards` shards: crc32(utf-8) % shards."""
    return zlib.crc32(key.encode("utf-8")) % shards


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with `prefix`.

    None when there is none (empty prefix, or a prefix of only U+10FFFF): scan to the end.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code in _SURROGATES:
            code = _SURROGATES.stop  # never produce a string that cannot be UTF-8 encoded
        if code <= _MAX_CHAR:
            return "".join(chars) + chr(code)
    return None
