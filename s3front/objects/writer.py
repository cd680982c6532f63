"""Writing an object's bytes: chunk into blocks, hash, store blocks, then the manifest.

The pipeline, with bounded memory whatever the object size:

    body --> block buffer (one copy) --+--> [thread] SHA-256 of the block --> put_block
                                       +--> [thread] MD5 / CRC / SHA over the object, in order

At most `max_in_flight` blocks are between the buffer and the store; when that many are pending,
we stop reading the body (backpressure reaches the client through the socket). The object-wide
hashers must see the bytes in order, so their per-block updates are chained one after another;
the block ids (SHA-256 of each block) are independent and run in parallel with them -- hashlib
and awscrt release the GIL on large buffers, so on two cores both really run at once.

Write order is intent -> blocks -> manifest (here) -> object row (the caller): a crash or a
failed body leaves only unreferenced blocks, which GC collects. The caller's `WriteIntent` is
registered before the first block is stored and checked after the manifest; it keeps GC off
these blocks until the caller's row is written, however long the body takes (`s3front.objects.gc`).
Objects up to `inline_limit` bytes skip blocks and manifest entirely and travel inline in the
object row (and never register the intent).

An encrypted object's writer gets a `BlockCipher` (`objects.encryption`): each block is sealed
(AES-256-GCM) in the same worker thread that hashes it, and its id is the SHA-256 of the sealed
bytes, so encrypted blocks never dedup and ids reveal nothing about plaintext; the inline value
is sealed too. Manifest offsets and lengths, the MD5 and the checksums stay those of the
plaintext, so ranges, ETags and multipart assembly work unchanged.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field

from s3front.checksums import Hasher, b64, new_hasher
from s3front.errors import IncompleteBody
from s3front.objects.encryption import BlockCipher
from s3front.objects.intents import WriteIntent
from s3front.objects.manifest_ids import new_manifest_id
from s3front.store.protocols import BlockStore, MetaStore
from s3front.store.records import ManifestEntry

# Below this, hashing in a worker thread costs more than it saves.
_THREAD_MIN = 64 * 1024
# Manifest rows per put_manifest call (one batch per partition on Cassandra).
MANIFEST_BATCH = 500


@dataclass(frozen=True, slots=True)
class WriteResult:
    size: int
    md5: str  # hex; the ETag of a single PUT
    checksums: dict[str, str] = field(default_factory=dict)  # algorithm -> base64
    # Exactly one of these for a non-empty object; both None for an empty one written with
    # inline allowed. With inline_limit < 0 there is always a manifest (parts need one).
    manifest_id: str | None = None
    inline: bytes | None = None


class _BlockBuffer:
    """Accumulates body chunks and cuts exact-size blocks with a single copy each."""

    def __init__(self) -> None:
        self._chunks: collections.deque[memoryview] = collections.deque()
        self.size = 0

    def add(self, chunk: bytes) -> None:
        if chunk:
            self._chunks.append(memoryview(chunk))
            self.size += len(chunk)

    def take(self, n: int) -> bytes:
        """The first min(n, size) bytes as one bytes object."""
        out: list[memoryview] = []
        need = min(n, self.size)
        got = 0
        while got < need:
            head = self._chunks[0]
            if got + len(head) <= need:
                out.append(head)
                got += len(head)
                self._chunks.popleft()
            else:
                cut = need - got
                out.append(head[:cut])
                self._chunks[0] = head[cut:]
                got = need
        self.size -= need
        if len(out) == 1 and isinstance(out[0].obj, bytes) and len(out[0]) == len(out[0].obj):
            return out[0].obj  # a chunk that is exactly one block: no copy at all
        return b"".join(out)


def _update_all(hashers: Sequence[Hasher], data: bytes) -> None:
    for h in hashers:
        h.update(data)


def _block_id(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _seal(cipher: BlockCipher, data: bytes) -> tuple[bytes, bytes]:
    sealed = cipher.seal(data)
    return _block_id(sealed), sealed


class _Pipeline:
    """Blocks in flight: id hashing + put_block, and the ordered object-wide hashing."""

    def __init__(
        self,
        blocks: BlockStore,
        hashers: Sequence[Hasher],
        max_in_flight: int,
        intent: WriteIntent,
        cipher: BlockCipher | None = None,
    ) -> None:
        self._blocks = blocks
        self._cipher = cipher
        self._intent = intent
        self._hashers = hashers
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_hash: asyncio.Task[None] | None = None
        self.entries: list[ManifestEntry] = []
        self._failed: BaseException | None = None

    async def submit(self, offset: int, data: bytes, block_id: bytes | None = None) -> None:
        await self._slots.acquire()  # backpressure: wait here, not reading the body
        if self._failed is not None:
            self._slots.release()
            raise self._failed
        try:
            await self._intent.ensure()  # before the first block: GC keeps what comes after
        except BaseException:
            self._slots.release()
            raise
        entry_index = len(self.entries)
        self.entries.append(ManifestEntry(offset=offset, length=len(data)))
        hash_task = asyncio.create_task(self._hash_in_order(self._last_hash, data))
        self._last_hash = hash_task
        task = asyncio.create_task(self._store(entry_index, data, hash_task, block_id))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def _hash_in_order(self, previous: asyncio.Task[None] | None, data: bytes) -> None:
        if previous is not None:
            await previous
        if len(data) < _THREAD_MIN:
            _update_all(self._hashers, data)
        else:
            await asyncio.to_thread(_update_all, self._hashers, data)

    async def _store(
        self, index: int, data: bytes, hashed: asyncio.Task[None], block_id: bytes | None
    ) -> None:
        try:
            small = len(data) < _THREAD_MIN
            if self._cipher is not None:
                # Sealed blocks are addressed by the hash of the sealed bytes (encryption.py).
                if small:
                    block_id, data = _seal(self._cipher, data)
                else:
                    block_id, data = await asyncio.to_thread(_seal, self._cipher, data)
            # A block_id given by the caller is a verified payload hash: no need to hash again.
            elif block_id is None:
                block_id = _block_id(data) if small else await asyncio.to_thread(_block_id, data)
            assert block_id is not None
            await self._blocks.put_block(block_id, data)
            e = self.entries[index]
            self.entries[index] = ManifestEntry(offset=e.offset, length=e.length, block_id=block_id)
            await hashed
        finally:
            self._slots.release()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._failed is None:
            self._failed = task.exception()

    async def finish(self) -> None:
        """Wait for every block; raise the first failure."""
        pending = list(self._tasks)
        if self._last_hash is not None:
            pending.append(self._last_hash)
        if pending:
            await asyncio.gather(*pending)
        if self._failed is not None:
            raise self._failed

    async def cancel(self) -> None:
        pending = list(self._tasks)
        if self._last_hash is not None:
            pending.append(self._last_hash)
        for t in pending:
            t.cancel()
        # Wait for them to end (their errors are moot now); a cancellation of this task
        # itself still propagates out of gather.
        await asyncio.gather(*pending, return_exceptions=True)


async def write_object_data(
    blocks: BlockStore,
    meta: MetaStore,
    body: AsyncIterator[bytes],
    *,
    block_size: int,
    inline_limit: int,
    algorithms: Collection[str],
    expected_length: int | None,
    intent: WriteIntent,
    max_in_flight: int = 4,
    payload_sha256: Callable[[], bytes | None] | None = None,
    cipher: BlockCipher | None = None,
) -> WriteResult:
    """Store the bytes of `body`; return what the object (or part) row needs.

    `algorithms` are the additional checksums to compute (names as in checksums.ALGORITHMS).
    `payload_sha256`, asked once the body has ended, may give the verified SHA-256 of the whole
    body (the client signed it): a body of one block then needs no second SHA-256 for its id.
    `intent` is the caller's, held until it has written its row (see the module docstring).
    A body shorter or longer than `expected_length` raises IncompleteBody. If the body fails
    (its iterator raises), pending block writes are cancelled and the error propagates.
    """
    names = ["MD5", *sorted(set(algorithms))]
    hashers = [new_hasher(n) for n in names]
    buffer = _BlockBuffer()
    pipeline = _Pipeline(blocks, hashers, max_in_flight, intent, cipher)
    offset = 0  # bytes handed to the pipeline
    try:
        async for chunk in body:
            await intent.keep_alive()  # a slow body keeps its intent alive
            buffer.add(chunk)
            if expected_length is not None and offset + buffer.size > expected_length:
                raise IncompleteBody("The request body is longer than its declared length.")
            # Hold everything back while the object might still fit inline.
            if offset == 0 and buffer.size <= inline_limit:
                continue
            # Strictly more than a block: the last block waits for the end of the body, so that
            # a one-block body can take the payload hash (verified only at the end) as its id.
            while buffer.size > block_size:
                data = buffer.take(block_size)
                await pipeline.submit(offset, data)
                offset += len(data)
        total = offset + buffer.size
        if expected_length is not None and total != expected_length:
            raise IncompleteBody()
        if offset == 0 and total <= inline_limit:
            data = buffer.take(total)
            _update_all(hashers, data)  # small: no thread
            inline = data if total else None
            if inline is not None and cipher is not None:
                inline = cipher.seal(inline)
            return _result(total, names, hashers, manifest_id=None, inline=inline)
        whole = None  # sealed blocks are addressed by their sealed bytes, never the payload's
        if payload_sha256 is not None and cipher is None and offset == 0:
            whole = payload_sha256()
        while buffer.size:
            data = buffer.take(block_size)
            await pipeline.submit(offset, data, whole if len(data) == total else None)
            offset += len(data)
        await pipeline.finish()
    except BaseException:
        await pipeline.cancel()
        raise
    await intent.ensure()  # registered by the first block already, unless there was none
    manifest_id = new_manifest_id()
    entries = pipeline.entries
    for i in range(0, len(entries), MANIFEST_BATCH):
        await meta.put_manifest(manifest_id, entries[i : i + MANIFEST_BATCH])
    intent.check()  # the caller's row comes next: refuse if GC may have judged us gone
    return _result(offset, names, hashers, manifest_id=manifest_id, inline=None)


def _result(
    size: int,
    names: Sequence[str],
    hashers: Sequence[Hasher],
    *,
    manifest_id: str | None,
    inline: bytes | None,
) -> WriteResult:
    digests = {n: h.digest() for n, h in zip(names, hashers, strict=True)}
    md5 = digests.pop("MD5").hex()
    return WriteResult(
        size=size,
        md5=md5,
        checksums={n: b64(d) for n, d in digests.items()},
        manifest_id=manifest_id,
        inline=inline,
    )
