"""S3 response documents, built from plain values and store records.

Each function returns the whole body as bytes (see `s3front.xml.to_bytes`; the listings, with
up to 1000 entries, are written as text by `s3front.xml.TextDocument`, same bytes). Element
order follows the AWS API reference examples; clients parse by name, but the golden tests pin
the bytes so that a change is always deliberate. Owner display names come from `owner_name`,
which maps a canonical id to a name; an empty name falls back to the id, because an empty
DisplayName broke s3cmd.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple
from urllib.parse import quote

from lxml import etree
from starlette.responses import Response

from s3front.objects.pages import ListPage, UploadPage, VersionPage
from s3front.store.records import ObjectRecord, OwnerBucket, PartRecord, UploadRecord
from s3front.support import DEFAULT_STORAGE_CLASS
from s3front.xml import (
    GRANTEE_FIELD,
    NS,
    XSI,
    Grant,
    TextDocument,
    element,
    escape_text,
    quoted_etag,
    sub,
    timestamp,
    to_bytes,
)


class XMLResponse(Response):
    """A response carrying one of these documents (or any XML body)."""

    media_type = "application/xml"

    def __init__(
        self, body: bytes, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(body, status_code=status_code, headers=headers)


# Canonical id -> display name: a function, or a mapping of the names this request knows.
OwnerName = Callable[[str], str] | Mapping[str, str]

# The one storage class there is (s3front.support refuses every other one on the way in).
STORAGE_CLASS = DEFAULT_STORAGE_CLASS
_NO_CONSTRAINT_REGION = "us-east-1"  # S3 reports it as an empty LocationConstraint


def display_name(owner_id: str, owner_name: OwnerName) -> str:
    """Never empty: an empty DisplayName broke s3cmd, so an unknown owner shows its id."""
    name = owner_name.get(owner_id) if isinstance(owner_name, Mapping) else owner_name(owner_id)
    return name or owner_id


def _owner(parent: etree._Element, tag: str, owner_id: str, owner_name: OwnerName) -> None:
    el = sub(parent, tag)
    sub(el, "ID", owner_id)
    sub(el, "DisplayName", display_name(owner_id, owner_name))


def _owner_markup(tag: str, owner_id: str, owner_name: OwnerName) -> str:
    """`_owner` for a TextDocument."""
    name = display_name(owner_id, owner_name)
    return (
        f"<{tag}><ID>{escape_text(owner_id)}</ID>"
        f"<DisplayName>{escape_text(name)}</DisplayName></{tag}>"
    )


def _checksum_elements(parent: etree._Element, checksums: Mapping[str, str]) -> None:
    for algorithm, value in checksums.items():
        if algorithm != "type":
            sub(parent, f"Checksum{algorithm}", value)
    if "type" in checksums:
        sub(parent, "ChecksumType", checksums["type"])


class _Encoder:
    """encoding-type=url: keys and markers are percent-encoded so any key survives XML.

    AWS writes a space as "+"; we write %20, which botocore's unquote_plus, Go's QueryUnescape
    and a plain unquote (JS SDK users) all decode the same way. "/" stays readable.
    """

    def __init__(self, encoding_type: str | None) -> None:
        self.on = encoding_type == "url"

    def __call__(self, value: str) -> str:
        return quote(value, safe="/") if self.on else value


def list_all_my_buckets(
    owner_id: str,
    buckets: Iterable[OwnerBucket],
    owner_name: OwnerName,
    *,
    region: str,
    continuation: str | None = None,
    prefix: str | None = None,
) -> bytes:
    root = element("ListAllMyBucketsResult")
    container = sub(root, "Buckets")
    for bucket in buckets:
        el = sub(container, "Bucket")
        sub(el, "Name", bucket.name)
        sub(el, "CreationDate", timestamp(bucket.created_ms))
        sub(el, "BucketRegion", region)
    _owner(root, "Owner", owner_id, owner_name)
    if continuation is not None:
        sub(root, "ContinuationToken", continuation)
    if prefix is not None:
        sub(root, "Prefix", prefix)
    return to_bytes(root)


def location_constraint(region: str) -> bytes:
    root = element("LocationConstraint")
    if region != _NO_CONSTRAINT_REGION:
        root.text = region
    return to_bytes(root)


# The listings below are TextDocuments: a page holds up to 1000 entries of 5-9 elements each.


def _contents(
    doc: TextDocument,
    records: Iterable[ObjectRecord],
    enc: _Encoder,
    owner_name: OwnerName | None,
) -> None:
    # One string per entry: up to 1000 of them per page. The ETag's quotes are written as
    # to_bytes writes quotes in text.
    for r in records:
        owner = "" if owner_name is None else _owner_markup("Owner", r.owner, owner_name)
        doc.markup(
            f"<Contents><Key>{escape_text(enc(r.key))}</Key>"
            f"<LastModified>{timestamp(r.last_modified_ms)}</LastModified>"
            f"<ETag>&quot;{escape_text(r.etag)}&quot;</ETag><Size>{r.size}</Size>"
            f"<StorageClass>{STORAGE_CLASS}</StorageClass>{owner}</Contents>"
        )


def _common_prefixes(doc: TextDocument, prefixes: Iterable[str], enc: _Encoder) -> None:
    for prefix in prefixes:
        doc.open("CommonPrefixes")
        doc.leaf("Prefix", enc(prefix))
        doc.close("CommonPrefixes")


def list_objects_v1(
    bucket: str,
    page: ListPage,
    *,
    prefix: str,
    marker: str,
    delimiter: str,
    max_keys: int,
    encoding_type: str | None,
    owner_name: OwnerName,
) -> bytes:
    enc = _Encoder(encoding_type)
    doc = TextDocument("ListBucketResult")
    doc.leaf("Name", bucket)
    doc.leaf("Prefix", enc(prefix))
    doc.leaf("Marker", enc(marker))
    # S3 sends NextMarker only with a delimiter; without one, clients use the last Key.
    if delimiter and page.is_truncated and page.next_marker is not None:
        doc.leaf("NextMarker", enc(page.next_marker))
    doc.leaf("MaxKeys", max_keys)
    if delimiter:
        doc.leaf("Delimiter", enc(delimiter))
    if encoding_type:
        doc.leaf("EncodingType", encoding_type)
    doc.leaf("IsTruncated", page.is_truncated)
    _contents(doc, page.contents, enc, owner_name)
    _common_prefixes(doc, page.common_prefixes, enc)
    return doc.to_bytes()


def list_objects_v2(
    bucket: str,
    page: ListPage,
    *,
    prefix: str,
    delimiter: str,
    max_keys: int,
    encoding_type: str | None,
    continuation_token: str | None,
    next_continuation_token: str | None,
    start_after: str | None,
    fetch_owner: bool,
    owner_name: OwnerName,
) -> bytes:
    """The continuation tokens are opaque here: the listing layer makes and reads them."""
    enc = _Encoder(encoding_type)
    doc = TextDocument("ListBucketResult")
    doc.leaf("Name", bucket)
    doc.leaf("Prefix", enc(prefix))
    if continuation_token is not None:
        doc.leaf("ContinuationToken", continuation_token)
    if start_after is not None:
        doc.leaf("StartAfter", enc(start_after))
    doc.leaf("KeyCount", len(page.contents) + len(page.common_prefixes))
    doc.leaf("MaxKeys", max_keys)
    if delimiter:
        doc.leaf("Delimiter", enc(delimiter))
    if encoding_type:
        doc.leaf("EncodingType", encoding_type)
    doc.leaf("IsTruncated", page.is_truncated)
    if page.is_truncated and next_continuation_token is not None:
        doc.leaf("NextContinuationToken", next_continuation_token)
    _contents(doc, page.contents, enc, owner_name if fetch_owner else None)
    _common_prefixes(doc, page.common_prefixes, enc)
    return doc.to_bytes()


def list_object_versions(
    bucket: str,
    page: VersionPage,
    *,
    prefix: str,
    key_marker: str,
    version_id_marker: str,
    delimiter: str,
    max_keys: int,
    encoding_type: str | None,
    owner_name: OwnerName,
) -> bytes:
    enc = _Encoder(encoding_type)
    doc = TextDocument("ListVersionsResult")
    doc.leaf("Name", bucket)
    doc.leaf("Prefix", enc(prefix))
    doc.leaf("KeyMarker", enc(key_marker))
    doc.leaf("VersionIdMarker", version_id_marker)
    if page.is_truncated:
        if page.next_key_marker is not None:
            doc.leaf("NextKeyMarker", enc(page.next_key_marker))
        if page.next_version_id_marker is not None:
            doc.leaf("NextVersionIdMarker", page.next_version_id_marker)
    doc.leaf("MaxKeys", max_keys)
    if delimiter:
        doc.leaf("Delimiter", enc(delimiter))
    if encoding_type:
        doc.leaf("EncodingType", encoding_type)
    doc.leaf("IsTruncated", page.is_truncated)
    # Versions and delete markers interleaved, in the page's order (key, then newest first).
    for record in page.versions:
        tag = "DeleteMarker" if record.delete_marker else "Version"
        doc.open(tag)
        doc.leaf("Key", enc(record.key))
        doc.leaf("VersionId", record.version_id)
        doc.leaf("IsLatest", (record.key, record.version_id) in page.latest)
        doc.leaf("LastModified", timestamp(record.last_modified_ms))
        if not record.delete_marker:
            doc.leaf("ETag", quoted_etag(record.etag))
            doc.leaf("Size", record.size)
            doc.leaf("StorageClass", STORAGE_CLASS)
        doc.markup(_owner_markup("Owner", record.owner, owner_name))
        doc.close(tag)
    _common_prefixes(doc, page.common_prefixes, enc)
    return doc.to_bytes()


def list_multipart_uploads(
    bucket: str,
    page: UploadPage,
    *,
    prefix: str,
    delimiter: str,
    key_marker: str,
    upload_id_marker: str,
    max_uploads: int,
    encoding_type: str | None,
    owner_name: OwnerName,
) -> bytes:
    enc = _Encoder(encoding_type)
    doc = TextDocument("ListMultipartUploadsResult")
    doc.leaf("Bucket", bucket)
    doc.leaf("KeyMarker", enc(key_marker))
    doc.leaf("UploadIdMarker", upload_id_marker)
    if page.is_truncated:
        if page.next_key_marker is not None:
            doc.leaf("NextKeyMarker", enc(page.next_key_marker))
        if page.next_upload_id_marker is not None:
            doc.leaf("NextUploadIdMarker", page.next_upload_id_marker)
    doc.leaf("Prefix", enc(prefix))
    if delimiter:
        doc.leaf("Delimiter", enc(delimiter))
    doc.leaf("MaxUploads", max_uploads)
    if encoding_type:
        doc.leaf("EncodingType", encoding_type)
    doc.leaf("IsTruncated", page.is_truncated)
    for upload in page.uploads:
        doc.open("Upload")
        doc.leaf("Key", enc(upload.key))
        doc.leaf("UploadId", upload.upload_id)
        doc.markup(_owner_markup("Initiator", upload.owner, owner_name))
        doc.markup(_owner_markup("Owner", upload.owner, owner_name))
        doc.leaf("StorageClass", STORAGE_CLASS)
        doc.leaf("Initiated", timestamp(upload.initiated_ms))
        if upload.checksum_algorithm:
            doc.leaf("ChecksumAlgorithm", upload.checksum_algorithm)
        doc.close("Upload")
    _common_prefixes(doc, page.common_prefixes, enc)
    return doc.to_bytes()


def initiate_multipart_upload(bucket: str, key: str, upload_id: str) -> bytes:
    root = element("InitiateMultipartUploadResult")
    sub(root, "Bucket", bucket)
    sub(root, "Key", key)
    sub(root, "UploadId", upload_id)
    return to_bytes(root)


def complete_multipart_upload(
    location: str, bucket: str, key: str, etag: str, checksums: Mapping[str, str]
) -> bytes:
    root = element("CompleteMultipartUploadResult")
    sub(root, "Location", location)
    sub(root, "Bucket", bucket)
    sub(root, "Key", key)
    sub(root, "ETag", quoted_etag(etag))
    _checksum_elements(root, checksums)
    return to_bytes(root)


def list_parts(
    bucket: str,
    upload: UploadRecord,
    parts: Sequence[PartRecord],
    *,
    part_number_marker: int,
    next_part_number_marker: int | None,
    max_parts: int,
    is_truncated: bool,
    owner_name: OwnerName,
    checksum_type: str = "",
) -> bytes:
    root = element("ListPartsResult")
    sub(root, "Bucket", bucket)
    sub(root, "Key", upload.key)
    sub(root, "UploadId", upload.upload_id)
    _owner(root, "Initiator", upload.owner, owner_name)
    _owner(root, "Owner", upload.owner, owner_name)
    sub(root, "StorageClass", STORAGE_CLASS)
    sub(root, "PartNumberMarker", part_number_marker)
    if next_part_number_marker is not None:
        sub(root, "NextPartNumberMarker", next_part_number_marker)
    sub(root, "MaxParts", max_parts)
    sub(root, "IsTruncated", is_truncated)
    if upload.checksum_algorithm:
        sub(root, "ChecksumAlgorithm", upload.checksum_algorithm)
    if checksum_type:
        sub(root, "ChecksumType", checksum_type)
    for part in parts:
        el = sub(root, "Part")
        sub(el, "PartNumber", part.part_number)
        sub(el, "LastModified", timestamp(part.last_modified_ms))
        sub(el, "ETag", quoted_etag(part.etag))
        sub(el, "Size", part.size)
        _checksum_elements(el, {k: v for k, v in part.checksums.items() if k != "type"})
    return to_bytes(root)


def _copy_result(tag: str, etag: str, last_modified_ms: int, checksums: Mapping[str, str]) -> bytes:
    root = element(tag)
    sub(root, "ETag", quoted_etag(etag))
    sub(root, "LastModified", timestamp(last_modified_ms))
    _checksum_elements(root, checksums)
    return to_bytes(root)


def copy_object_result(
    etag: str, last_modified_ms: int, checksums: Mapping[str, str] | None = None
) -> bytes:
    return _copy_result("CopyObjectResult", etag, last_modified_ms, checksums or {})


def copy_part_result(
    etag: str, last_modified_ms: int, checksums: Mapping[str, str] | None = None
) -> bytes:
    return _copy_result("CopyPartResult", etag, last_modified_ms, checksums or {})


class Deleted(NamedTuple):
    key: str
    version_id: str | None = None
    # Set when the delete created a delete marker (or removed one): its version id.
    delete_marker_version_id: str | None = None
    delete_marker: bool = False


class DeleteFailure(NamedTuple):
    key: str
    code: str
    message: str
    version_id: str | None = None


def delete_result(deleted: Sequence[Deleted], failures: Sequence[DeleteFailure]) -> bytes:
    """DeleteObjects. In quiet mode the handler passes no `deleted` entries."""
    root = element("DeleteResult")
    for entry in deleted:
        el = sub(root, "Deleted")
        sub(el, "Key", entry.key)
        if entry.version_id is not None:
            sub(el, "VersionId", entry.version_id)
        if entry.delete_marker:
            sub(el, "DeleteMarker", True)
            if entry.delete_marker_version_id is not None:
                sub(el, "DeleteMarkerVersionId", entry.delete_marker_version_id)
    for failure in failures:
        el = sub(root, "Error")
        sub(el, "Key", failure.key)
        if failure.version_id is not None:
            sub(el, "VersionId", failure.version_id)
        sub(el, "Code", failure.code)
        sub(el, "Message", failure.message)
    return to_bytes(root)


def access_control_policy(owner_id: str, grants: Sequence[Grant], owner_name: OwnerName) -> bytes:
    root = etree.Element(
        f"{{{NS}}}AccessControlPolicy",
        nsmap={None: NS, "xsi": XSI},  # type: ignore[dict-item]
    )
    _owner(root, "Owner", owner_id, owner_name)
    acl = sub(root, "AccessControlList")
    for grant in grants:
        el = sub(acl, "Grant")
        grantee = sub(el, "Grantee")
        grantee.set(f"{{{XSI}}}type", grant.grantee_type)
        sub(grantee, GRANTEE_FIELD[grant.grantee_type], grant.grantee)
        if grant.grantee_type == "CanonicalUser":
            sub(grantee, "DisplayName", display_name(grant.grantee, owner_name))
        sub(el, "Permission", grant.permission)
    return to_bytes(root)


def owner_full_control_acl(owner_id: str, owner_name: OwnerName) -> bytes:
    """The ACL of everything we store: the owner has FULL_CONTROL (canned ACL "private")."""
    return access_control_policy(
        owner_id, [Grant("CanonicalUser", owner_id, "FULL_CONTROL")], owner_name
    )


def simple_document(root_tag: str, children: Iterable[tuple[str, str]] = ()) -> bytes:
    """A flat document for fixed answers: `<RequestPaymentConfiguration><Payer>BucketOwner...`,
    an empty `<BucketLoggingStatus/>`, `<AccelerateConfiguration/>` and the like."""
    root = element(root_tag)
    for tag, text in children:
        sub(root, tag, text)
    return to_bytes(root)


def versioning_configuration(status: str) -> bytes:
    """Status is "" for a bucket that never had versioning: S3 then sends an empty element."""
    root = element("VersioningConfiguration")
    if status:
        sub(root, "Status", status)
    return to_bytes(root)


def tagging(tags: Mapping[str, str]) -> bytes:
    root = element("Tagging")
    tag_set = sub(root, "TagSet")
    for key, value in tags.items():
        tag = sub(tag_set, "Tag")
        sub(tag, "Key", key)
        sub(tag, "Value", value)
    return to_bytes(root)


class ObjectParts(NamedTuple):
    parts: Sequence[PartRecord]
    total_parts: int
    part_number_marker: int
    next_part_number_marker: int | None
    max_parts: int
    is_truncated: bool


def object_attributes(
    *,
    etag: str | None = None,
    checksums: Mapping[str, str] | None = None,
    parts: ObjectParts | None = None,
    storage_class: str | None = None,
    object_size: int | None = None,
) -> bytes:
    """GetObjectAttributes: only the attributes asked for (pass None for the others).

    Unlike every other S3 document, this one carries the ETag without quotes.
    """
    root = element("GetObjectAttributesResponse")
    if etag is not None:
        sub(root, "ETag", etag)
    if checksums:
        _checksum_elements(sub(root, "Checksum"), checksums)
    if parts is not None:
        el = sub(root, "ObjectParts")
        sub(el, "PartsCount", parts.total_parts)
        sub(el, "PartNumberMarker", parts.part_number_marker)
        if parts.next_part_number_marker is not None:
            sub(el, "NextPartNumberMarker", parts.next_part_number_marker)
        sub(el, "MaxParts", parts.max_parts)
        sub(el, "IsTruncated", parts.is_truncated)
        for part in parts.parts:
            part_el = sub(el, "Part")
            sub(part_el, "PartNumber", part.part_number)
            sub(part_el, "Size", part.size)
            _checksum_elements(part_el, {k: v for k, v in part.checksums.items() if k != "type"})
    if storage_class is not None:
        sub(root, "StorageClass", storage_class)
    if object_size is not None:
        sub(root, "ObjectSize", object_size)
    return to_bytes(root)
