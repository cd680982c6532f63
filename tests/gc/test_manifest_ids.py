"""Manifest ids stamped with their creation time."""

from __future__ import annotations

import time
import uuid

import pytest

from s3front.objects.manifest_ids import manifest_created_ms, new_manifest_id


def test_new_id_carries_its_creation_time() -> None:
    before = time.time_ns() // 1_000_000
    mid = new_manifest_id()
    after = time.time_ns() // 1_000_000
    assert len(mid) == 32 and mid == mid.lower()
    created = manifest_created_ms(mid)
    assert created is not None and before <= created <= after


def test_ids_are_unique_and_sort_by_time() -> None:
    ids = [new_manifest_id(1_700_000_000_000 + i) for i in range(1000)]
    assert len(set(ids)) == 1000
    assert sorted(ids) == ids
    assert [manifest_created_ms(i) for i in ids[:3]] == [1_700_000_000_000 + i for i in range(3)]


@pytest.mark.parametrize(
    "manifest_id",
    ["", "abc", "0" * 31, "0" * 33, "G" * 32, "0123456789ABCDEF0123456789abcdef", "x" * 32],
)
def test_ids_of_other_shapes_have_no_time(manifest_id: str) -> None:
    assert manifest_created_ms(manifest_id) is None


def test_legacy_uuid_ids_parse_to_some_time() -> None:
    # uuid4 hex is 32 hex digits too: it parses, to a random time; GC bounds what it trusts.
    assert manifest_created_ms(uuid.uuid4().hex) is not None


@pytest.mark.parametrize("ms", [-1, 16**12])
def test_time_out_of_range(ms: int) -> None:
    with pytest.raises(ValueError):
        new_manifest_id(ms)
