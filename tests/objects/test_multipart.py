"""Multipart assembly: validation as AWS does it, and completion that moves no data."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from s3front import checksums
from s3front.errors import (
    EntityTooSmall,
    InvalidPart,
    InvalidPartOrder,
    InvalidRequest,
    MalformedXML,
    S3Error,
)
from s3front.objects.intents import WriteIntent
from s3front.objects.multipart import MIN_PART_SIZE, assemble, write_assembly
from s3front.objects.reader import read_all
from s3front.objects.writer import write_object_data
from s3front.store.protocols import Store
from s3front.store.records import ObjectRecord, PartRecord

MiB = 1024 * 1024


def part(number: int, size: int = 5 * MiB, etag: str | None = None, **sums: str) -> PartRecord:
    return PartRecord(
        part_number=number,
        size=size,
        etag=etag or hashlib.md5(str(number).encode()).hexdigest(),
        last_modified_ms=0,
        manifest_id=f"m{number}",
        checksums=sums,
    )


PARTS = [part(1), part(2), part(3, size=10), part(5, size=6 * MiB)]


def etag(n: int) -> str:
    return hashlib.md5(str(n).encode()).hexdigest()


@pytest.mark.parametrize(
    ("requested", "error"),
    [
        ([], MalformedXML),
        ([(2, etag(2)), (1, etag(1))], InvalidPartOrder),
        ([(1, etag(1)), (1, etag(1))], InvalidPartOrder),
        ([(4, etag(4))], InvalidPart),  # never uploaded
        ([(1, etag(2))], InvalidPart),  # wrong ETag
        ([(1, "not-an-etag")], InvalidPart),
        ([(3, etag(3)), (5, etag(5))], EntityTooSmall),  # part 3 is 10 bytes and not last
        ([(1, etag(1)), (3, etag(3)), (5, etag(5))], EntityTooSmall),
    ],
)
def test_validation(requested: list[tuple[int, str]], error: type[S3Error]) -> None:
    with pytest.raises(error):
        assemble(PARTS, requested)


@pytest.mark.parametrize(
    "requested",
    [
        [(1, etag(1))],
        [(1, f'"{etag(1)}"'), (2, etag(2).upper())],  # quotes and case do not matter
        [(1, etag(1)), (2, etag(2)), (3, etag(3))],  # a small last part is fine
        [(2, etag(2)), (5, etag(5))],  # gaps in numbering are fine
        [(1, etag(1)), (2, etag(2)), (5, etag(5))],
    ],
)
def test_assembly(requested: list[tuple[int, str]]) -> None:
    by_number = {p.part_number: p for p in PARTS}
    chosen = [by_number[n] for n, _ in requested]
    a = assemble(PARTS, requested)
    assert a.size == sum(p.size for p in chosen)
    assert a.parts == len(chosen)
    raw = b"".join(bytes.fromhex(p.etag) for p in chosen)
    assert a.etag == f"{hashlib.md5(raw).hexdigest()}-{len(chosen)}"
    offsets = [sum(p.size for p in chosen[:i]) for i in range(len(chosen))]
    assert [(e.offset, e.length, e.child, e.block_id) for e in a.entries] == [
        (o, p.size, p.manifest_id, None) for o, p in zip(offsets, chosen, strict=True)
    ]
    assert a.checksums == {}


def test_empty_last_part_has_no_entry() -> None:
    a = assemble([part(1), part(2, size=0)], [(1, etag(1)), (2, etag(2))])
    assert a.size == 5 * MiB
    assert a.parts == 2
    assert [e.child for e in a.entries] == ["m1"]


def crc_parts(algorithm: str) -> tuple[list[bytes], list[PartRecord]]:
    datas = [b"a" * 7, b"bb" * 5, b"ccc"]
    parts = [
        part(i + 1, size=len(d), **{algorithm: checksums.checksum(algorithm, d)})
        for i, d in enumerate(datas)
    ]
    return datas, parts


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
def test_composite_checksum(algorithm: str) -> None:
    datas, parts = crc_parts(algorithm)
    a = assemble(parts, [(p.part_number, p.etag) for p in parts], min_part_size=1,
                 checksum_algorithm=algorithm)  # fmt: skip
    raw = b"".join(_raw(algorithm, d) for d in datas)
    assert a.checksums == {
        algorithm: f"{checksums.checksum(algorithm, raw)}-3",
        "type": checksums.COMPOSITE,
    }


def _raw(algorithm: str, data: bytes) -> bytes:
    h = checksums.new_hasher(algorithm)
    h.update(data)
    return h.digest()


@pytest.mark.parametrize("algorithm", sorted(checksums.CRC_ALGORITHMS))
def test_full_object_checksum(algorithm: str) -> None:
    datas, parts = crc_parts(algorithm)
    a = assemble(parts, [(p.part_number, p.etag) for p in parts], min_part_size=1,
                 checksum_algorithm=algorithm, checksum_type=checksums.FULL_OBJECT)  # fmt: skip
    assert a.checksums == {
        algorithm: checksums.checksum(algorithm, b"".join(datas)),
        "type": checksums.FULL_OBJECT,
    }


def test_full_object_needs_a_crc() -> None:
    _, parts = crc_parts("SHA256")
    with pytest.raises(InvalidRequest):
        assemble(parts, [(1, parts[0].etag)], checksum_algorithm="SHA256",
                 checksum_type=checksums.FULL_OBJECT)  # fmt: skip


@pytest.mark.parametrize(("sent", "ok"), [("right", True), ("wrong", False), ("garbage", False)])
def test_client_part_checksums_must_match(sent: str, ok: bool) -> None:
    _, parts = crc_parts("CRC32")
    value = {
        "right": parts[0].checksums["CRC32"],
        "wrong": checksums.checksum("CRC32", b"x"),
        "garbage": "%%%",
    }[sent]

    def complete() -> int:
        return assemble(
            parts, [(1, parts[0].etag)], checksum_algorithm="CRC32",
            requested_checksums={1: {"CRC32": value}},
        ).parts  # fmt: skip

    if ok:
        assert complete() == 1
    else:
        with pytest.raises(InvalidPart):
            complete()


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.mark.anyio
async def test_complete_moves_no_data(store: Store) -> None:
    block = 64 * 1024
    datas = [os.urandom(MIN_PART_SIZE), os.urandom(MIN_PART_SIZE + 12345), os.urandom(777)]
    parts = []
    for n, data in enumerate(datas, start=1):
        r = await write_object_data(
            store.blocks, store.meta, _one(data), block_size=block, inline_limit=-1,
            algorithms=("CRC32C",), expected_length=len(data),
            intent=WriteIntent(store.meta),
        )  # fmt: skip
        assert r.manifest_id is not None
        parts.append(PartRecord(n, r.size, r.md5, 0, r.manifest_id, r.checksums))
    blocks_before = await store.blocks.scan_blocks(b"", 10_000)
    a = assemble(parts, [(p.part_number, p.etag) for p in parts], checksum_algorithm="CRC32C")
    manifest_id = await write_assembly(store.meta, a, WriteIntent(store.meta))
    assert await store.blocks.scan_blocks(b"", 10_000) == blocks_before  # no block touched
    entries = await store.meta.get_manifest(manifest_id)
    assert [e.child for e in entries] == [p.manifest_id for p in parts]  # one row per part
    obj = ObjectRecord(
        key="k", seq=0, version_id="null", size=a.size, etag=a.etag, last_modified_ms=0,
        owner="o", manifest_id=manifest_id,
    )  # fmt: skip
    assert await read_all(store.meta, store.blocks, obj) == b"".join(datas)
    # The ETag S3 clients compute for a multipart upload.
    md5s = b"".join(hashlib.md5(d).digest() for d in datas)
    assert a.etag == f"{hashlib.md5(md5s).hexdigest()}-3"
