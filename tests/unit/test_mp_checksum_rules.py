"""Multipart checksum rules (s3front.objects.mp_checksums) and the completion part-list digest
(s3front.objects.completions), as pure functions."""

from __future__ import annotations

import pytest

from s3front import checksums, errors
from s3front.objects import completions, mp_checksums


@pytest.mark.parametrize(
    ("algorithm", "requested", "kind"),
    [
        ("", "", ""),
        ("CRC32", "", "COMPOSITE"),
        ("CRC32", "full_object", "FULL_OBJECT"),
        ("CRC32C", "FULL_OBJECT", "FULL_OBJECT"),
        ("CRC32C", "COMPOSITE", "COMPOSITE"),
        ("CRC64NVME", "", "FULL_OBJECT"),
        ("CRC64NVME", "FULL_OBJECT", "FULL_OBJECT"),
        ("SHA1", "", "COMPOSITE"),
        ("SHA256", "COMPOSITE", "COMPOSITE"),
    ],
)
def test_upload_type(algorithm: str, requested: str, kind: str) -> None:
    assert mp_checksums.upload_type(algorithm, requested) == kind


@pytest.mark.parametrize(
    ("algorithm", "requested"),
    [
        ("SHA1", "FULL_OBJECT"),
        ("SHA256", "FULL_OBJECT"),
        ("CRC64NVME", "COMPOSITE"),
        ("", "FULL_OBJECT"),
        ("", "COMPOSITE"),
        ("CRC32", "PARTIAL"),
    ],
)
def test_upload_type_refused(algorithm: str, requested: str) -> None:
    with pytest.raises(errors.InvalidRequest):
        mp_checksums.upload_type(algorithm, requested)


def test_verify_complete() -> None:
    value = checksums.composite_checksum("SHA256", [checksums.checksum("SHA256", b"a")])
    computed = {"SHA256": value, "type": "COMPOSITE"}
    ok = mp_checksums.verify_complete
    ok({}, "SHA256", "COMPOSITE", computed)
    ok({"x-amz-checksum-sha256": value}, "SHA256", "COMPOSITE", computed)
    ok({"x-amz-checksum-sha256": value.rsplit("-", 1)[0]}, "SHA256", "COMPOSITE", computed)
    ok({"x-amz-checksum-type": "composite"}, "SHA256", "COMPOSITE", computed)
    for bad in (
        {"x-amz-checksum-sha256": value.rsplit("-", 1)[0] + "-2"},
        {"x-amz-checksum-sha256": checksums.checksum("SHA256", b"b")},
        {"x-amz-checksum-sha256": "not base64!"},
        {"x-amz-checksum-crc32": "AAAAAA=="},
        {"x-amz-checksum-type": "FULL_OBJECT"},
    ):
        with pytest.raises(errors.BadDigest):
            ok(bad, "SHA256", "COMPOSITE", computed)
    with pytest.raises(errors.BadDigest):  # an upload without an algorithm has no checksum
        ok({"x-amz-checksum-crc32": "AAAAAA=="}, "", "", {})


def test_part_checksums_pack_and_unpack() -> None:
    values = [checksums.checksum("CRC64NVME", bytes([i]) * 10) for i in range(3)]
    attrs = mp_checksums.object_attrs(
        {"acl": "x", mp_checksums.TYPE_ATTR: "FULL_OBJECT"}, "CRC64NVME", values
    )
    assert mp_checksums.TYPE_ATTR not in attrs and attrs["acl"] == "x"
    assert mp_checksums.unpack_parts(attrs, 3) == ("CRC64NVME", values)
    assert mp_checksums.unpack_parts(attrs, 2) is None  # never a value of another part count
    assert mp_checksums.unpack_parts({}, 3) is None
    assert mp_checksums.PARTS_ATTR not in mp_checksums.object_attrs({}, "", [])


def test_parts_digest_ignores_etag_quoting_and_case_only() -> None:
    a = completions.parts_digest([(1, '"ABCDEF"'), (2, "0123")])
    assert a == completions.parts_digest([(1, "abcdef"), (2, '"0123"')])
    assert a != completions.parts_digest([(1, "abcdef")])
    assert a != completions.parts_digest([(1, "abcdef"), (3, "0123")])
    assert a != completions.parts_digest([(1, "abcdef"), (2, "0124")])
