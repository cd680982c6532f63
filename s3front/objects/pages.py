"""Results of listings, as the listing accumulator produces them and the XML module renders them."""

from __future__ import annotations

from dataclasses import dataclass, field

from s3front.store.records import ObjectRecord, UploadRecord


@dataclass(slots=True)
class ListPage:
    """One page of ListObjects (V1 or V2): the newest non-deleted version of each key."""

    contents: list[ObjectRecord] = field(default_factory=list)
    common_prefixes: list[str] = field(default_factory=list)
    is_truncated: bool = False
    # The last key or common prefix included in this page; V1's NextMarker and the position a
    # V2 continuation token encodes. None when the page is not truncated.
    next_marker: str | None = None


@dataclass(slots=True)
class VersionPage:
    """One page of ListObjectVersions: every version and delete marker, newest first per key."""

    versions: list[ObjectRecord] = field(default_factory=list)  # includes delete markers
    # version_id of the newest version of each key that appears (to render IsLatest)
    latest: set[tuple[str, str]] = field(default_factory=set)  # (key, version_id)
    common_prefixes: list[str] = field(default_factory=list)
    is_truncated: bool = False
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None


@dataclass(slots=True)
class UploadPage:
    """One page of ListMultipartUploads."""

    uploads: list[UploadRecord] = field(default_factory=list)
    common_prefixes: list[str] = field(default_factory=list)
    is_truncated: bool = False
    next_key_marker: str | None = None
    next_upload_id_marker: str | None = None
