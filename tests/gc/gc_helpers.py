"""Writing and reading objects the way the S3 handlers do, straight on a store."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator

from s3front.objects.intents import WriteIntent
from s3front.objects.keys import shard_of
from s3front.objects.multipart import assemble, write_assembly
from s3front.objects.reader import read_all
from s3front.objects.writer import WriteResult, write_object_data
from s3front.store.protocols import Store
from s3front.store.records import NULL_VERSION, BucketRecord, ObjectRecord, PartRecord, UploadRecord

BLOCK = 4096
INLINE = 256


async def make_bucket(store: Store, prefix: str, shards: int = 4) -> BucketRecord:
    rec = BucketRecord(
        name=f"{prefix}-{secrets.token_hex(4)}",
        bucket_id=secrets.token_hex(16),
        owner="owner",
        created_ms=0,
        region="us-east-1",
        shards=shards,
    )
    assert await store.meta.insert_bucket(rec)
    return rec


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 1500):
        yield data[i : i + 1500]


async def write_data(
    store: Store,
    data: bytes,
    *,
    inline_limit: int = INLINE,
    block_size: int = BLOCK,
    intent: WriteIntent | None = None,
) -> WriteResult:
    """Blocks and manifest only: what a PUT has done just before switching the object row.
    Without `intent`, what a writer that crashed then left once its intent lapsed (the intent
    is released at once)."""
    if intent is None:
        async with WriteIntent(store.meta) as own:
            return await write_data(
                store, data, inline_limit=inline_limit, block_size=block_size, intent=own
            )
    return await write_object_data(
        store.blocks,
        store.meta,
        _chunks(data),
        block_size=block_size,
        inline_limit=inline_limit,
        algorithms=(),
        expected_length=len(data),
        intent=intent,
    )


def _row(key: str, size: int, etag: str, *, manifest_id: str | None, inline: bytes | None,
         parts: int = 0) -> ObjectRecord:  # fmt: skip
    return ObjectRecord(
        key=key, seq=0, version_id=NULL_VERSION, size=size, etag=etag, last_modified_ms=0,
        owner="owner", manifest_id=manifest_id, inline=inline, parts=parts,
    )  # fmt: skip


async def put(
    store: Store, bucket: BucketRecord, key: str, data: bytes, *, block_size: int = BLOCK
) -> ObjectRecord:
    async with WriteIntent(store.meta) as intent:
        result = await write_data(store, data, block_size=block_size, intent=intent)
        rec = _row(
            key, result.size, result.md5, manifest_id=result.manifest_id, inline=result.inline
        )
        await store.meta.put_object(bucket.bucket_id, shard_of(key, bucket.shards), rec)
    return rec


async def start_upload(store: Store, bucket: BucketRecord, key: str, parts: list[bytes]) -> str:
    upload_id = secrets.token_hex(12)
    await store.meta.put_upload(
        bucket.bucket_id, UploadRecord(key=key, upload_id=upload_id, initiated_ms=0, owner="owner")
    )
    for number, data in enumerate(parts, start=1):
        async with WriteIntent(store.meta) as intent:
            result = await write_data(store, data, inline_limit=-1, intent=intent)
            assert result.manifest_id is not None
            part = PartRecord(
                part_number=number, size=result.size, etag=result.md5, last_modified_ms=0,
                manifest_id=result.manifest_id,
            )  # fmt: skip
            await store.meta.put_part(upload_id, part)
    return upload_id


async def complete_upload(store: Store, bucket: BucketRecord, key: str, upload_id: str) -> None:
    parts = await store.meta.list_parts(upload_id)
    assembly = assemble(parts, [(p.part_number, p.etag) for p in parts], min_part_size=1)
    async with WriteIntent(store.meta) as intent:
        manifest_id = await write_assembly(store.meta, assembly, intent)
        rec = _row(key, assembly.size, assembly.etag, manifest_id=manifest_id, inline=None,
                   parts=assembly.parts)  # fmt: skip
        await store.meta.put_object(bucket.bucket_id, shard_of(key, bucket.shards), rec)
    await store.meta.delete_upload(bucket.bucket_id, key, upload_id)
    await store.meta.delete_parts(upload_id)


async def abort_upload(store: Store, bucket: BucketRecord, key: str, upload_id: str) -> None:
    await store.meta.delete_upload(bucket.bucket_id, key, upload_id)
    await store.meta.delete_parts(upload_id)


async def read(store: Store, bucket: BucketRecord, key: str) -> bytes | None:
    shard = shard_of(key, bucket.shards)
    rec = await store.meta.get_object(bucket.bucket_id, shard, key)
    if rec is None:
        return None
    return await read_all(store.meta, store.blocks, rec)


async def delete(store: Store, bucket: BucketRecord, key: str) -> None:
    await store.meta.delete_object(bucket.bucket_id, shard_of(key, bucket.shards), key, 0)


def block_ids(data: bytes) -> list[bytes]:
    return [hashlib.sha256(data[i : i + BLOCK]).digest() for i in range(0, len(data), BLOCK)]


async def present(store: Store, ids: list[bytes]) -> list[bool]:
    return [await store.blocks.get_block(b) is not None for b in ids]
