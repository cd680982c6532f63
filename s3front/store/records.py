"""Rows kept by the stores.

These are plain values; every store backend persists them field for field. Times are integer
milliseconds since the epoch (UTC) so that both backends store them the same way. Nothing here
knows S3 semantics beyond naming: the objects layer decides what goes in each field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Version id of every object in a bucket that never had versioning enabled (S3 spells it "null").
NULL_VERSION = "null"


@dataclass(frozen=True, slots=True)
class BucketRecord:
    """A bucket in the global namespace (partition key: name)."""

    name: str
    # Random id fixed at creation: object, upload and part rows hang off it, so a bucket that is
    # deleted and created again never sees rows a crash left behind for the old one.
    bucket_id: str
    owner: str  # tenant canonical id
    created_ms: int
    region: str
    # Object-index shard count, fixed at creation (a bucket is `shards` partitions, not one).
    shards: int
    # "" (never enabled), "Enabled" or "Suspended".
    versioning: str = ""
    # Sub-resource documents (acl, policy, cors, tagging, ...) as serialised strings by name.
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OwnerBucket:
    """A row of the by-owner table that serves ListBuckets (partition: owner, clustering: name)."""

    owner: str
    name: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    """One version of one key.

    Object index: partition (bucket_id, shard), clustering (key ASC, seq DESC), so the first row
    of a key is its newest version and a scan returns keys in order.
    """

    key: str
    # Orders the versions of one key; larger is newer. 0 for the single version of an
    # unversioned bucket, so an overwrite replaces the row in place.
    seq: int
    version_id: str  # NULL_VERSION in unversioned buckets
    size: int
    etag: str  # without quotes; "<md5hex>" or "<md5hex>-<parts>"
    last_modified_ms: int
    owner: str
    # Where the bytes are: a manifest id, or the bytes themselves for small objects, or neither
    # (empty object, delete marker).
    manifest_id: str | None = None
    inline: bytes | None = None
    delete_marker: bool = False
    # Response headers stored with the object, by lower-case name: content-type,
    # content-encoding, content-disposition, content-language, cache-control, expires and
    # x-amz-meta-*.
    headers: Mapping[str, str] = field(default_factory=dict)
    # Checksums by algorithm name ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256") -> base64
    # value; "type" -> "FULL_OBJECT" or "COMPOSITE".
    checksums: Mapping[str, str] = field(default_factory=dict)
    parts: int = 0  # number of parts for a multipart object, 0 otherwise
    # Further per-object documents (tags, acl, ...) as serialised strings by name.
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One row of a manifest (partition: manifest id, clustering: offset).

    An entry is either a block (block_id set) or a whole other manifest (child set), which is
    how multipart completion and copies reference part manifests without copying their rows.
    """

    offset: int  # byte offset of this entry within the manifest's object
    length: int
    block_id: bytes | None = None  # SHA-256 of the block's bytes
    child: str | None = None  # id of another manifest whose bytes stand here


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """What a GC scan sees of a block (partition: block id)."""

    block_id: bytes
    size: int
    written_ms: int  # last write or reuse; GC only deletes blocks older than its grace period


@dataclass(frozen=True, slots=True)
class IntentRecord:
    """A write in progress (partition: intent_id): GC keeps everything stamped at or after
    `started_ms` while the intent lives (see `s3front.objects.gc`). Times are the writer's clock."""

    intent_id: str
    started_ms: int
    expires_ms: int  # the writer refreshes it while it runs; past it, GC ignores the row


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """A multipart upload in progress (partition: bucket_id, clustering: key, upload_id)."""

    key: str
    upload_id: str
    initiated_ms: int
    owner: str
    # Headers to give the object on completion (same names as ObjectRecord.headers).
    headers: Mapping[str, str] = field(default_factory=dict)
    checksum_algorithm: str = ""  # "" or "CRC32", "CRC32C", ...
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PartRecord:
    """One uploaded part (partition: upload_id, clustering: part_number)."""

    part_number: int
    size: int
    etag: str  # md5 hex of the part, without quotes
    last_modified_ms: int
    manifest_id: str  # a part always has its own manifest (possibly with no entries)
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CompletionRecord:
    """The result of a completed multipart upload, kept a while (partition: bucket_id, key,
    upload_id) so that a retried CompleteMultipartUpload gets the same answer
    (`s3front.objects.completions`). The backend drops it once `expires_ms` has passed."""

    key: str
    upload_id: str
    parts_digest: str  # SHA-256 (hex) of the part list the completion named
    etag: str
    version_id: str
    expires_ms: int
    # The response's checksum elements and headers (version id, SSE, expiration), as sent.
    checksums: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccessKeyRecord:
    """An access key (partition: access_key)."""

    access_key: str
    # As stored: plaintext, or sealed by the key layer when a master key is configured.
    secret: str
    tenant: str  # canonical id of the tenant that owns the key
    display_name: str
    created_ms: int
    status: str = "active"  # "active" or "revoked"
