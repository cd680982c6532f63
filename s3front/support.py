"""What s3front does and refuses: the one table for request headers, form fields, sub-resources.

The rule (DESIGN.md section 5): a request that asks for something s3front does not do is
refused with the error AWS gives, never acknowledged and ignored. A client that asked for
encryption, a retention date or a storage class and got 200 believes it has it.

- `HEADERS`: every `x-amz-*` request header AWS documents for the S3 API, each either
  `Implemented` (naming the module that honours it, with an optional check of values it does
  not honour) or `Refused` (with AWS's error). A header not in the table (nor under a prefix of
  `HEADER_PREFIXES`) is refused as 501 NotImplemented: an unknown `x-amz-` header may ask for
  something, and ignoring it is the failure this table exists to prevent.
- `FORM_FIELDS`: the same decision for browser POST form fields that are not `x-amz-*`, plus
  the `x-amz-*` fields whose header twin is honoured on PUT but not in a form.
- `SUBRESOURCES`: (level, method, sub-resource) -> the operation, implemented or refused.
  `s3front.routing` raises NotImplemented for the refused ones before anything else runs.
  A GET that answers "not configured" (NoSuchWebsiteConfiguration, an empty logging status)
  is implemented: the answer is true. A PUT that stored a configuration nobody acts on is not.

`tests/unit/test_support.py` checks the table against the router and the handlers;
`tests/e2e/test_refusals.py` walks it over HTTP against a real server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from s3front import errors

Level = Literal["service", "bucket", "object"]


@dataclass(frozen=True, slots=True)
class Implemented:
    by: str  # the module that honours it
    # Values it accepts are honoured; `check` raises AWS's error for the others.
    check: Callable[[str, str], None] | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    # The error AWS gives, built from the header (or field) name and value.
    error: Callable[[str, str], errors.S3Error]


Support = Implemented | Refused


def not_implemented(name: str, value: str = "") -> errors.S3Error:
    """AWS's answer to a header (or form field) naming a feature it does not offer here."""
    return errors.NotImplemented(Header=name)


def _invalid_token(name: str, value: str) -> errors.S3Error:
    return errors.InvalidToken("The provided token is malformed or otherwise invalid.")


# The storage classes s3front accepts. It has one tier, so only STANDARD is true: storing
# "GLACIER" or "STANDARD_IA" and serving it as STANDARD would misstate cost and retrieval,
# and "REDUCED_REDUNDANCY" would misstate durability. Everything else: 400 InvalidStorageClass.
STORAGE_CLASSES = frozenset({"STANDARD"})
DEFAULT_STORAGE_CLASS = "STANDARD"


def check_storage_class(name: str, value: str) -> None:
    if value not in STORAGE_CLASSES:
        raise errors.InvalidStorageClass(StorageClassRequested=value)


def _one_of(*accepted: str) -> Callable[[str, str], None]:
    """Accept only these values (case-insensitive); others ask for what is not done: 501."""
    allowed = frozenset(a.lower() for a in accepted)

    def check(name: str, value: str) -> None:
        if value.strip().lower() not in allowed:
            raise errors.NotImplemented(Header=name)

    return check


def _checksum_type(name: str, value: str) -> None:
    if value.strip().upper() not in ("COMPOSITE", "FULL_OBJECT"):
        raise errors.InvalidRequest("Value for x-amz-checksum-type header is invalid.")


_AUTH = "s3front.auth"
_CHECKSUMS = "s3front.api.integrity (verified, stored, returned with x-amz-checksum-mode)"
_ACL = "s3front.access.acl (with s3front.api.ownership: refused when ACLs are disabled)"
_COPY = "s3front.api.copy"

_SSE = "s3front.api.sse (SSE-S3, SSE-KMS with s3front's key ring, SSE-C)"
_LOCK = "s3front.api.lock_headers (object lock)"


_HEADER_LIST: tuple[tuple[str, Support], ...] = (
    # --- signing and transport: consumed by the authentication layer.
    ("x-amz-date", Implemented(_AUTH)),
    ("x-amz-content-sha256", Implemented(_AUTH)),
    ("x-amz-decoded-content-length", Implemented(_AUTH + ".chunked")),
    ("x-amz-trailer", Implemented("s3front.api.integrity (trailing checksum)")),
    # s3front issues no session tokens: a token can only come from somewhere else, and the key
    # it rides with is not a temporary one. AWS answers a token it cannot use with InvalidToken.
    ("x-amz-security-token", Refused(_invalid_token)),
    # Informational (the JS SDK v2 sends it from browsers, where User-Agent is not settable).
    ("x-amz-user-agent", Implemented("informational only; asks for nothing")),
    # --- integrity.
    ("x-amz-checksum-crc32", Implemented(_CHECKSUMS)),
    ("x-amz-checksum-crc32c", Implemented(_CHECKSUMS)),
    ("x-amz-checksum-crc64nvme", Implemented(_CHECKSUMS)),
    ("x-amz-checksum-sha1", Implemented(_CHECKSUMS)),
    ("x-amz-checksum-sha256", Implemented(_CHECKSUMS)),
    ("x-amz-checksum-algorithm", Implemented(_CHECKSUMS)),
    ("x-amz-sdk-checksum-algorithm", Implemented(_CHECKSUMS)),
    ("x-amz-checksum-mode", Implemented("s3front.api.headers (GET/HEAD return checksums)")),
    # CreateMultipartUpload / Complete: COMPOSITE or FULL_OBJECT (s3front.objects.mp_checksums
    # decides which algorithm may have which type).
    ("x-amz-checksum-type", Implemented(_CHECKSUMS, _checksum_type)),
    # --- what is stored with an object.
    ("x-amz-storage-class", Implemented("s3front.support (one tier)", check_storage_class)),
    ("x-amz-tagging", Implemented("s3front.api.tagging_attrs")),
    ("x-amz-acl", Implemented(_ACL)),
    ("x-amz-grant-read", Implemented(_ACL)),
    ("x-amz-grant-write", Implemented(_ACL)),
    ("x-amz-grant-read-acp", Implemented(_ACL)),
    ("x-amz-grant-write-acp", Implemented(_ACL)),
    ("x-amz-grant-full-control", Implemented(_ACL)),
    # Only a website endpoint acts on it, and s3front serves no websites.
    ("x-amz-website-redirect-location", Refused(not_implemented)),
    # --- copy.
    ("x-amz-copy-source", Implemented(_COPY)),
    ("x-amz-copy-source-range", Implemented(_COPY)),
    ("x-amz-copy-source-if-match", Implemented(_COPY)),
    ("x-amz-copy-source-if-none-match", Implemented(_COPY)),
    ("x-amz-copy-source-if-modified-since", Implemented(_COPY)),
    ("x-amz-copy-source-if-unmodified-since", Implemented(_COPY)),
    ("x-amz-metadata-directive", Implemented(_COPY)),
    ("x-amz-tagging-directive", Implemented(_COPY)),
    # A precondition on the source bucket's owner that the copy handler does not check:
    # ignoring a precondition is exactly what must not happen.
    ("x-amz-source-expected-bucket-owner", Refused(not_implemented)),
    # --- bucket-level.
    ("x-amz-object-ownership", Implemented("s3front.api.ownership (CreateBucket)")),
    # Enforced by Ctx.bucket(): 403 AccessDenied unless the bucket's owner is the one named.
    ("x-amz-expected-bucket-owner", Implemented("s3front.api.context")),
    # An acknowledgement that the requester pays. Every s3front bucket is BucketOwner-pays
    # (GetBucketRequestPayment says so), and AWS ignores the header on such buckets.
    ("x-amz-request-payer", Implemented("nothing to charge: every bucket is BucketOwner-pays")),
    # PutBucketPolicy's "I know this policy may lock me out": the owner never is here
    # (s3front.access.authorize lets the owner manage the policy whatever it says).
    ("x-amz-confirm-remove-self-bucket-access", Implemented("s3front.access.authorize")),
    # --- reads.
    ("x-amz-object-attributes", Implemented("s3front.api.attributes")),
    ("x-amz-max-parts", Implemented("s3front.api.attributes")),
    ("x-amz-part-number-marker", Implemented("s3front.api.attributes")),
    # ListObjectsV2's RestoreStatus: nothing is ever archived here, so no object has one and
    # the listing without it is the complete answer.
    ("x-amz-optional-object-attributes", Implemented("s3front.api.listing (nothing archived)")),
    # --- not offered.
    # MFA delete is not implemented: a delete or versioning change guarded by MFA must not
    # run as if the token had been checked.
    ("x-amz-mfa", Refused(not_implemented)),
    # Directory-bucket features (appends, conditional deletes on size/time, a size check on
    # complete): each is a precondition or a different write that would be ignored.
    ("x-amz-write-offset-bytes", Refused(not_implemented)),
    ("x-amz-if-match-last-modified-time", Refused(not_implemented)),
    ("x-amz-if-match-size", Refused(not_implemented)),
    ("x-amz-if-match-initiated-time", Refused(not_implemented)),
    ("x-amz-mp-object-size", Refused(not_implemented)),
    ("x-amz-rename-source", Refused(not_implemented)),
    # --- server-side encryption.
    # AES256 and aws:kms; aws:kms:dsse is refused by s3front.api.sse (501).
    ("x-amz-server-side-encryption", Implemented(_SSE)),
    ("x-amz-server-side-encryption-aws-kms-key-id", Implemented(_SSE)),
    # An encryption context is KMS material s3front does not bind into its data keys.
    ("x-amz-server-side-encryption-context", Refused(not_implemented)),
    ("x-amz-server-side-encryption-bucket-key-enabled", Implemented(_SSE)),
    ("x-amz-server-side-encryption-customer-algorithm", Implemented(_SSE)),
    ("x-amz-server-side-encryption-customer-key", Implemented(_SSE)),
    ("x-amz-server-side-encryption-customer-key-md5", Implemented(_SSE)),
    ("x-amz-copy-source-server-side-encryption-customer-algorithm", Implemented(_SSE)),
    ("x-amz-copy-source-server-side-encryption-customer-key", Implemented(_SSE)),
    ("x-amz-copy-source-server-side-encryption-customer-key-md5", Implemented(_SSE)),
    # --- object lock.
    ("x-amz-object-lock-mode", Implemented(_LOCK)),
    ("x-amz-object-lock-retain-until-date", Implemented(_LOCK)),
    ("x-amz-object-lock-legal-hold", Implemented(_LOCK)),
    ("x-amz-bucket-object-lock-enabled", Implemented(_LOCK)),
    ("x-amz-bypass-governance-retention", Implemented(_LOCK)),
)

HEADERS: Mapping[str, Support] = MappingProxyType(dict(_HEADER_LIST))
# Families: user metadata is stored and returned verbatim.
HEADER_PREFIXES: tuple[tuple[str, Support], ...] = (
    ("x-amz-meta-", Implemented("s3front.api.headers (user metadata)")),
)

# Browser POST form fields. `x-amz-*` fields go through `HEADERS` like their header twins,
# except those named here (the form path does not do what the header path does).
_FORM_AUTH = "s3front.api.post_object (form signature)"
_FORM_LIST: tuple[tuple[str, Support], ...] = (
    ("key", Implemented("s3front.api.post_object")),
    ("file", Implemented("s3front.api.post_object")),
    ("policy", Implemented(_FORM_AUTH)),
    ("signature", Implemented(_FORM_AUTH)),
    ("awsaccesskeyid", Implemented(_FORM_AUTH)),
    ("x-amz-algorithm", Implemented(_FORM_AUTH)),
    ("x-amz-credential", Implemented(_FORM_AUTH)),
    ("x-amz-date", Implemented(_FORM_AUTH)),
    ("x-amz-signature", Implemented(_FORM_AUTH)),
    ("acl", Implemented(_ACL)),
    ("content-type", Implemented("s3front.api.post_object (stored header)")),
    ("cache-control", Implemented("s3front.api.post_object (stored header)")),
    ("content-disposition", Implemented("s3front.api.post_object (stored header)")),
    ("content-encoding", Implemented("s3front.api.post_object (stored header)")),
    ("content-language", Implemented("s3front.api.post_object (stored header)")),
    ("expires", Implemented("s3front.api.post_object (stored header)")),
    ("success_action_redirect", Implemented("s3front.api.post_object")),
    ("redirect", Implemented("s3front.api.post_object")),
    ("success_action_status", Implemented("s3front.api.post_object")),
    ("tagging", Implemented("s3front.api.post_object (a Tagging document)")),
    # Not a PostObject field (the form's tags are the `tagging` document).
    ("x-amz-tagging", Refused(not_implemented)),
    # The bucket-owner check is made on the header (s3front.api.context), not on form fields.
    ("x-amz-expected-bucket-owner", Refused(not_implemented)),
    # Grants are headers only; the form takes a canned "acl".
    ("x-amz-grant-read", Refused(not_implemented)),
    ("x-amz-grant-write", Refused(not_implemented)),
    ("x-amz-grant-read-acp", Refused(not_implemented)),
    ("x-amz-grant-write-acp", Refused(not_implemented)),
    ("x-amz-grant-full-control", Refused(not_implemented)),
)
FORM_FIELDS: Mapping[str, Support] = MappingProxyType(dict(_FORM_LIST))


def header_support(name: str) -> Support:
    """The decision for one request header (lower-case name); unknown ones are refused."""
    found = HEADERS.get(name)
    if found is not None:
        return found
    for prefix, support in HEADER_PREFIXES:
        if name.startswith(prefix):
            return support
    return Refused(not_implemented)


def form_field_support(name: str) -> Support | None:
    """The decision for one POST form field (lower-case name); None: not ours to decide (AWS
    ignores `x-ignore-*` and other fields, and the POST policy must name every field)."""
    found = FORM_FIELDS.get(name)
    if found is not None:
        return found
    if name.startswith("x-amz-"):
        return header_support(name)
    return None


def _apply(name: str, value: str, support: Support | None) -> None:
    if isinstance(support, Refused):
        raise support.error(name, value)
    if support is not None and support.check is not None:
        support.check(name, value)


def check_headers(headers: Iterable[tuple[str, str]]) -> None:
    """Raise AWS's error for the first (by name) `x-amz-*` header s3front does not honour."""
    amz = sorted((n, v) for n, v in headers if n.startswith("x-amz-"))
    for name, value in amz:
        _apply(name, value, header_support(name))


def check_form_fields(fields: Mapping[str, str]) -> None:
    """The same for the fields of a browser POST upload (lower-case names)."""
    for name in sorted(fields):
        _apply(name, fields[name], form_field_support(name))


# --- sub-resources ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubresourceOp:
    """An operation reached through a sub-resource; `implemented` False: 501 NotImplemented.
    (Not `routing.Op`, the operations a request resolves to: this is the support table's row.)"""

    name: str
    implemented: bool


def _yes(name: str) -> SubresourceOp:
    return SubresourceOp(name, True)


def _no(name: str) -> SubresourceOp:
    return SubresourceOp(name, False)


# One letter each keeps the table one entry per line.
B: Level = "bucket"
O: Level = "object"  # noqa: E741

_SUB_LIST: tuple[tuple[tuple[Level, str, str], SubresourceOp], ...] = (
    # Bucket, GET: listings and configuration reads ("not configured" answers are true).
    ((B, "GET", "uploads"), _yes("ListMultipartUploads")),
    ((B, "GET", "versions"), _yes("ListObjectVersions")),
    ((B, "GET", "list-type"), _yes("ListObjectsV2")),
    ((B, "GET", "location"), _yes("GetBucketLocation")),
    ((B, "GET", "acl"), _yes("GetBucketAcl")),
    ((B, "GET", "cors"), _yes("GetBucketCors")),
    ((B, "GET", "policy"), _yes("GetBucketPolicy")),
    ((B, "GET", "policyStatus"), _yes("GetBucketPolicyStatus")),
    ((B, "GET", "versioning"), _yes("GetBucketVersioning")),
    ((B, "GET", "tagging"), _yes("GetBucketTagging")),
    ((B, "GET", "lifecycle"), _yes("GetBucketLifecycleConfiguration")),
    ((B, "GET", "website"), _yes("GetBucketWebsite")),
    ((B, "GET", "logging"), _yes("GetBucketLogging")),
    ((B, "GET", "notification"), _yes("GetBucketNotificationConfiguration")),
    ((B, "GET", "encryption"), _yes("GetBucketEncryption")),
    ((B, "GET", "object-lock"), _yes("GetObjectLockConfiguration")),
    ((B, "GET", "ownershipControls"), _yes("GetBucketOwnershipControls")),
    ((B, "GET", "publicAccessBlock"), _yes("GetPublicAccessBlock")),
    ((B, "GET", "replication"), _yes("GetBucketReplication")),
    ((B, "GET", "accelerate"), _yes("GetBucketAccelerateConfiguration")),
    ((B, "GET", "requestPayment"), _yes("GetBucketRequestPayment")),
    ((B, "GET", "analytics"), _no("GetBucketAnalyticsConfiguration")),
    ((B, "GET", "inventory"), _no("GetBucketInventoryConfiguration")),
    ((B, "GET", "metrics"), _no("GetBucketMetricsConfiguration")),
    ((B, "GET", "intelligent-tiering"), _no("GetBucketIntelligentTieringConfiguration")),
    ((B, "GET", "metadataTable"), _no("GetBucketMetadataTableConfiguration")),
    ((B, "GET", "metadataConfiguration"), _no("GetBucketMetadataConfiguration")),
    ((B, "GET", "session"), _no("CreateSession")),
    # Bucket, PUT: a configuration is either acted on or refused.
    ((B, "PUT", "acl"), _yes("PutBucketAcl")),
    ((B, "PUT", "cors"), _yes("PutBucketCors")),
    ((B, "PUT", "policy"), _yes("PutBucketPolicy")),
    ((B, "PUT", "versioning"), _yes("PutBucketVersioning")),
    ((B, "PUT", "tagging"), _yes("PutBucketTagging")),
    ((B, "PUT", "ownershipControls"), _yes("PutBucketOwnershipControls")),
    ((B, "PUT", "publicAccessBlock"), _yes("PutPublicAccessBlock")),
    ((B, "PUT", "lifecycle"), _yes("PutBucketLifecycleConfiguration")),
    ((B, "PUT", "encryption"), _yes("PutBucketEncryption")),
    ((B, "PUT", "object-lock"), _yes("PutObjectLockConfiguration")),
    ((B, "PUT", "logging"), _yes("PutBucketLogging")),
    ((B, "PUT", "website"), _no("PutBucketWebsite")),
    ((B, "PUT", "notification"), _no("PutBucketNotificationConfiguration")),
    ((B, "PUT", "replication"), _no("PutBucketReplication")),
    ((B, "PUT", "accelerate"), _no("PutBucketAccelerateConfiguration")),
    ((B, "PUT", "requestPayment"), _no("PutBucketRequestPayment")),
    ((B, "PUT", "analytics"), _no("PutBucketAnalyticsConfiguration")),
    ((B, "PUT", "inventory"), _no("PutBucketInventoryConfiguration")),
    ((B, "PUT", "metrics"), _no("PutBucketMetricsConfiguration")),
    ((B, "PUT", "intelligent-tiering"), _no("PutBucketIntelligentTieringConfiguration")),
    ((B, "PUT", "metadataTable"), _no("CreateBucketMetadataTableConfiguration")),
    # Bucket, DELETE.
    ((B, "DELETE", "cors"), _yes("DeleteBucketCors")),
    ((B, "DELETE", "policy"), _yes("DeleteBucketPolicy")),
    ((B, "DELETE", "tagging"), _yes("DeleteBucketTagging")),
    ((B, "DELETE", "ownershipControls"), _yes("DeleteBucketOwnershipControls")),
    ((B, "DELETE", "publicAccessBlock"), _yes("DeletePublicAccessBlock")),
    ((B, "DELETE", "lifecycle"), _yes("DeleteBucketLifecycle")),
    ((B, "DELETE", "encryption"), _yes("DeleteBucketEncryption")),
    ((B, "DELETE", "website"), _no("DeleteBucketWebsite")),
    ((B, "DELETE", "replication"), _no("DeleteBucketReplication")),
    ((B, "DELETE", "analytics"), _no("DeleteBucketAnalyticsConfiguration")),
    ((B, "DELETE", "inventory"), _no("DeleteBucketInventoryConfiguration")),
    ((B, "DELETE", "metrics"), _no("DeleteBucketMetricsConfiguration")),
    ((B, "DELETE", "intelligent-tiering"), _no("DeleteBucketIntelligentTieringConfiguration")),
    ((B, "DELETE", "metadataTable"), _no("DeleteBucketMetadataTableConfiguration")),
    # Bucket, POST.
    ((B, "POST", "delete"), _yes("DeleteObjects")),
    ((B, "POST", "metadataTable"), _no("CreateBucketMetadataTableConfiguration")),
    # Object, GET.
    ((O, "GET", "uploadId"), _yes("ListParts")),
    ((O, "GET", "acl"), _yes("GetObjectAcl")),
    ((O, "GET", "tagging"), _yes("GetObjectTagging")),
    ((O, "GET", "attributes"), _yes("GetObjectAttributes")),
    ((O, "GET", "torrent"), _no("GetObjectTorrent")),
    ((O, "GET", "retention"), _yes("GetObjectRetention")),
    ((O, "GET", "legal-hold"), _yes("GetObjectLegalHold")),
    # Object, PUT.
    ((O, "PUT", "uploadId"), _yes("UploadPart")),  # with partNumber (UploadPartCopy: a copy)
    ((O, "PUT", "acl"), _yes("PutObjectAcl")),
    ((O, "PUT", "tagging"), _yes("PutObjectTagging")),
    ((O, "PUT", "retention"), _yes("PutObjectRetention")),
    ((O, "PUT", "legal-hold"), _yes("PutObjectLegalHold")),
    ((O, "PUT", "renameObject"), _no("RenameObject")),
    # Object, DELETE.
    ((O, "DELETE", "uploadId"), _yes("AbortMultipartUpload")),
    ((O, "DELETE", "tagging"), _yes("DeleteObjectTagging")),
    # Object, POST.
    ((O, "POST", "uploads"), _yes("CreateMultipartUpload")),
    ((O, "POST", "uploadId"), _yes("CompleteMultipartUpload")),
    # Archived objects do not exist here; there is nothing to restore.
    ((O, "POST", "restore"), _no("RestoreObject")),
    ((O, "POST", "select"), _no("SelectObjectContent")),
)

SUBRESOURCES: Mapping[tuple[Level, str, str], SubresourceOp] = MappingProxyType(dict(_SUB_LIST))
REFUSED_OPS: frozenset[str] = frozenset(
    op.name for op in SUBRESOURCES.values() if not op.implemented
)


def refused_subresources(level: Level, method: str) -> dict[str, str]:
    """sub-resource -> operation name, for the refused ones of this level and method."""
    return {
        name: op.name
        for (lvl, meth, name), op in SUBRESOURCES.items()
        if lvl == level and meth == method and not op.implemented
    }
