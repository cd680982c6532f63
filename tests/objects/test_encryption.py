"""Sealed blocks (s3front.objects.encryption with the writer and reader): what is stored is
ciphertext addressed by its own hash, equal plaintexts neither dedup nor match, ranges open only
what they cover, tampering and wrong keys are errors -- never plaintext."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from s3front.errors import InternalError
from s3front.objects import encryption as enc
from s3front.objects.intents import WriteIntent
from s3front.objects.reader import read_all, read_object
from s3front.objects.writer import WriteResult, write_object_data
from s3front.store.protocols import Store
from s3front.store.records import ObjectRecord

pytestmark = pytest.mark.anyio

BLOCK = 4096
INLINE = 100


async def chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]
        await asyncio.sleep(0)


def record(result: WriteResult) -> ObjectRecord:
    return ObjectRecord(
        key="k", seq=0, version_id="null", size=result.size, etag=result.md5,
        last_modified_ms=0, owner="o", manifest_id=result.manifest_id, inline=result.inline,
    )  # fmt: skip


async def write(store: Store, data: bytes, cipher: enc.BlockCipher | None) -> WriteResult:
    return await write_object_data(
        store.blocks, store.meta, chunks(data), block_size=BLOCK, inline_limit=INLINE,
        algorithms=(), expected_length=len(data), intent=WriteIntent(store.meta),
        payload_sha256=lambda: hashlib.sha256(data).digest(), cipher=cipher,
    )  # fmt: skip


async def stored_blocks(store: Store) -> dict[bytes, bytes]:
    out = {}
    for info in await store.blocks.scan_blocks(b"", 10000):
        data = await store.blocks.get_block(info.block_id)
        assert data is not None
        out[info.block_id] = data
    return out


def cipher() -> enc.BlockCipher:
    return enc.BlockCipher(os.urandom(32))


@pytest.mark.parametrize("size", [1, INLINE, INLINE + 1, BLOCK, 3 * BLOCK + 17])
async def test_sealed_round_trip_and_ranges(store: Store, size: int) -> None:
    data = os.urandom(size)
    c = cipher()
    result = await write(store, data, c)
    assert result.size == size and result.md5 == hashlib.md5(data).hexdigest()
    rec = record(result)
    assert await read_all(store.meta, store.blocks, rec, c) == data
    for lo, hi in [(0, 1), (size // 2, size), (max(0, BLOCK - 3), min(size, BLOCK + 3))]:
        got = b"".join([x async for x in read_object(store.meta, store.blocks, rec, lo, hi,
                                                     cipher=c)])  # fmt: skip
        assert got == data[lo:hi]
    if rec.inline is not None:
        assert len(rec.inline) == size + enc.OVERHEAD
        # Stored sealed: the plaintext is not in the row. Only for sizes where a chance match
        # cannot happen (a 1-byte plaintext is in a 29-byte ciphertext 11 % of the time; a
        # 16-byte one, about 2^-123).
        if size >= 16:
            assert data not in rec.inline


async def test_blocks_are_ciphertext_addressed_by_their_own_hash(store: Store) -> None:
    data = os.urandom(BLOCK) * 3  # three equal plaintext blocks
    await write(store, data, cipher())
    blocks = await stored_blocks(store)
    assert len(blocks) == 3  # no dedup, even inside one object
    for block_id, sealed in blocks.items():
        assert block_id == hashlib.sha256(sealed).digest()
        assert data[:BLOCK] not in sealed


async def test_equal_plaintexts_in_two_objects_share_nothing(store: Store) -> None:
    data = os.urandom(2 * BLOCK + 5)
    a = await write(store, data, cipher())
    b = await write(store, data, cipher())
    assert a.manifest_id and b.manifest_id
    ids_a = {e.block_id for e in await store.meta.get_manifest(a.manifest_id)}
    ids_b = {e.block_id for e in await store.meta.get_manifest(b.manifest_id)}
    assert not ids_a & ids_b
    # Unencrypted objects keep plaintext addressing (and dedup).
    p = await write(store, data, None)
    q = await write(store, data, None)
    assert p.manifest_id and q.manifest_id
    plain_ids = {e.block_id for e in await store.meta.get_manifest(p.manifest_id)}
    assert plain_ids == {e.block_id for e in await store.meta.get_manifest(q.manifest_id)}
    assert hashlib.sha256(data[:BLOCK]).digest() in plain_ids


async def test_wrong_key_or_tampered_block_is_an_error_not_plaintext(store: Store) -> None:
    data = os.urandom(2 * BLOCK)
    c = cipher()
    rec = record(await write(store, data, c))
    with pytest.raises(InternalError):
        await read_all(store.meta, store.blocks, rec, cipher())

    class Tampered:
        """The store's blocks with one bit flipped in each (what a disk or an attacker could
        do to the files)."""

        async def get_block(self, block_id: bytes) -> bytes | None:
            data = await store.blocks.get_block(block_id)
            assert data is not None
            return data[:20] + bytes([data[20] ^ 1]) + data[21:]

    with pytest.raises(InternalError):
        await read_all(store.meta, Tampered(), rec, c)  # type: ignore[arg-type]


def test_wrapping() -> None:
    kek, dek = os.urandom(32), os.urandom(32)
    wrapped = enc.wrap(kek, dek, enc.SSE_S3)
    assert enc.unwrap(kek, wrapped, enc.SSE_S3) == dek
    with pytest.raises(enc.UnwrapError):
        enc.unwrap(os.urandom(32), wrapped, enc.SSE_S3)
    with pytest.raises(enc.UnwrapError):  # a wrapped key cannot change mode
        enc.unwrap(kek, wrapped, enc.SSE_C)
    sealing, c = enc.new_sealing(kek, enc.SSE_S3, kek_id="x")
    again = enc.Sealing.from_attr(sealing.to_attr())
    assert again == sealing
    other = os.urandom(32)
    moved = enc.rewrapped(sealing, kek, other, kek_id="y")
    d = enc.unwrap(other, moved.wrapped, enc.SSE_S3)
    assert enc.BlockCipher(d).open(c.seal(b"abc")) == b"abc"


def test_nonces_are_not_reused() -> None:
    c = cipher()
    nonces = {c.seal(b"same")[: enc.NONCE] for _ in range(2000)}
    assert len(nonces) == 2000
