"""Reading an object's bytes, whole or a range, from inline data or a manifest tree.

A manifest entry is a block or a whole child manifest (a part of a multipart upload, or the
source of a copy); children may nest. A range read seeks in each manifest with
get_manifest(from_offset), so reading the last MiB of a 10 GiB object costs O(depth) small
manifest queries, never a walk from the start. Manifest pages start small and grow, because a
range read usually needs one or two entries while a whole-object read needs them all.

Block fetches run a few blocks ahead of the consumer (bounded prefetch), so the store round
trip for the next block overlaps sending the current one.

A block or manifest that is missing, or a block of the wrong length, means data loss or a bug:
it is logged with the object, the block id and the request id and raised as InternalError.
A GET awaits the first piece before it sends its status line (`first_piece`), so a loss there
is a 500 error document; a loss further on can only end the connection before the declared
length (`s3front.api.streaming`), which every HTTP client reports as a broken transfer.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from s3front.errors import InternalError
from s3front.objects.encryption import BlockCipher, SealedDataError
from s3front.store.protocols import BlockStore, MetaStore
from s3front.store.records import ManifestEntry, ObjectRecord

log = logging.getLogger("s3front.objects")

_FIRST_PAGE = 4
_MAX_PAGE = 1000
PREFETCH = 3


@dataclass(frozen=True, slots=True)
class _Span:
    """Bytes [lo, hi) of one block."""

    block_id: bytes
    length: int  # the whole block
    lo: int
    hi: int


def _lost(what: str, obj: str) -> InternalError:
    log.error("data loss: %s (object %s)", what, obj)
    return InternalError()


async def _spans(
    meta: MetaStore, manifest_id: str, start: int, end: int, obj: str
) -> AsyncGenerator[_Span, None]:
    """The block pieces covering [start, end) of a manifest, in order (recursing into children)."""
    pos = start
    page = _FIRST_PAGE
    while pos < end:
        entries = await meta.get_manifest(manifest_id, from_offset=pos, limit=page)
        page = min(page * 4, _MAX_PAGE)
        if not entries or not _contains(entries[0], pos):
            raise _lost(f"manifest {manifest_id} has no entry at offset {pos}", obj)
        for e in entries:
            if e.offset >= end:
                return
            if e.offset != pos and not _contains(e, pos):
                raise _lost(f"manifest {manifest_id} has a gap at offset {pos}", obj)
            lo = pos - e.offset
            hi = min(end, e.offset + e.length) - e.offset
            if e.child is not None:
                async with contextlib.aclosing(_spans(meta, e.child, lo, hi, obj)) as inner:
                    async for span in inner:
                        yield span
            elif e.block_id is not None:
                yield _Span(e.block_id, e.length, lo, hi)
            else:
                raise _lost(f"manifest {manifest_id} entry at {e.offset} points nowhere", obj)
            pos = e.offset + hi
            if pos >= end:
                return


def _contains(e: ManifestEntry, pos: int) -> bool:
    return e.offset <= pos < e.offset + e.length


_THREAD_MIN = 64 * 1024  # below this, opening a sealed block in a thread costs more than it saves


def open_sealed(cipher: BlockCipher, sealed: bytes, what: str, obj: str) -> bytes:
    try:
        return cipher.open(sealed)
    except SealedDataError:
        raise _lost(f"{what} fails authentication", obj) from None


async def _fetch(blocks: BlockStore, span: _Span, obj: str, cipher: BlockCipher | None) -> bytes:
    data = await blocks.get_block(span.block_id)
    if data is None:
        raise _lost(f"block {span.block_id.hex()} is missing", obj)
    if cipher is not None:
        what = f"sealed block {span.block_id.hex()}"
        if len(data) < _THREAD_MIN:
            data = open_sealed(cipher, data, what, obj)
        else:
            data = await asyncio.to_thread(open_sealed, cipher, data, what, obj)
    if len(data) != span.length:
        raise _lost(f"block {span.block_id.hex()} has {len(data)} bytes, not {span.length}", obj)
    if span.lo == 0 and span.hi == span.length:
        return data
    return data[span.lo : span.hi]


async def read_object(
    meta: MetaStore,
    blocks: BlockStore,
    rec: ObjectRecord,
    start: int,
    end: int,
    *,
    prefetch: int = PREFETCH,
    request_id: str = "",
    cipher: BlockCipher | None = None,
) -> AsyncGenerator[bytes, None]:
    """The bytes [start, end) of one object version (end exclusive, within rec.size).
    `request_id` goes into the log line of a loss. An encrypted object needs its `cipher`
    (`api.sse`); only the blocks the range covers are fetched and opened."""
    if end <= start:
        return
    obj = f"{rec.key!r} version {rec.version_id}"
    if request_id:
        obj += f", request {request_id}"
    if rec.inline is not None:
        yield inline_bytes(rec, cipher, obj)[start:end]
        return
    if rec.manifest_id is None:
        raise _lost("non-empty object has neither inline data nor a manifest", obj)
    spans = _spans(meta, rec.manifest_id, start, end, obj)
    ahead: collections.deque[asyncio.Task[bytes]] = collections.deque()
    try:
        exhausted = False
        while True:
            while not exhausted and len(ahead) < prefetch + 1:
                span = await anext(spans, None)
                if span is None:
                    exhausted = True
                else:
                    ahead.append(asyncio.create_task(_fetch(blocks, span, obj, cipher)))
            if not ahead:
                break
            yield await ahead.popleft()
    finally:
        # The consumer may stop early (client went away): drop what was fetched ahead.
        for task in ahead:
            task.cancel()
        await asyncio.gather(*ahead, return_exceptions=True)
        await spans.aclose()


def inline_bytes(rec: ObjectRecord, cipher: BlockCipher | None, obj: str = "") -> bytes:
    """The plaintext of an inline object (opened with `cipher` if it is sealed)."""
    assert rec.inline is not None
    if cipher is None:
        return rec.inline
    return open_sealed(cipher, rec.inline, "sealed inline value", obj or repr(rec.key))


async def first_piece(stream: AsyncGenerator[bytes, None]) -> bytes:
    """The first piece of a non-empty `read_object` stream, awaited before a response starts:
    a loss there raises here, while an error document can still be sent. The stream is closed
    if it fails."""
    try:
        return await anext(stream)
    except BaseException:
        await stream.aclose()
        raise


async def read_all(
    meta: MetaStore, blocks: BlockStore, rec: ObjectRecord, cipher: BlockCipher | None = None
) -> bytes:
    """The whole object in memory (small objects and tests only)."""
    chunks = read_object(meta, blocks, rec, 0, rec.size, cipher=cipher)
    return b"".join([c async for c in chunks])
