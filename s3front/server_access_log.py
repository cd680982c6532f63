"""Server access log records in AWS's format (bucket logging), and the names of log objects.

Pure functions: `format_line` turns one `AccessRecord` into one line of the space-delimited
format documented at
https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html, so that tools written for
S3 access logs (Athena's and Glue's table definitions, GoAccess, log shippers' S3 parsers) read
ours unchanged. `log_object_key` names the object a batch of lines is delivered as
(`s3front.access_log_delivery`), as S3 names them for both TargetObjectKeyFormat choices.

Field rules, as AWS writes them:
- a field with nothing to say is `-` (AWS: "unknown, unavailable or not applicable");
- Request-URI, Referer and User-Agent are in double quotes, `"-"` when absent; inside the quotes
  a `"` or `\\` is backslash-escaped and any byte outside printable ASCII becomes `\\xHH`
  (Apache's mod_log_config convention: AWS does not document one, and a client-chosen quote
  must not end the field early);
- the key is URL-encoded (so it holds no space); other unquoted fields that a client may choose
  (the Host header, a version id) are percent-encoded wherever a space, quote, `%` or a
  non-printable character would split or confuse the line;
- the time is `[%d/%b/%Y:%H:%M:%S +0000]` in UTC, with English month names whatever the locale.

What is never written: a signature or security token. The Request-URI of a presigned request
keeps its other parameters (the access key id in X-Amz-Credential is an identifier, as AWS logs
it) but loses the X-Amz-Signature / Signature / X-Amz-Security-Token parameters; so does a
Referer that is a presigned URL. Headers that carry credentials are never logged.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus

# The 26 fields of a record, in order (the names are the AWS documentation's).
FIELDS = (
    "bucket_owner",
    "bucket",
    "time",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "http_status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time",
    "turn_around_time",
    "referer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "authentication_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Query parameters whose values are secrets or signatures: dropped from the logged Request-URI.
SECRET_PARAMS = frozenset({"x-amz-signature", "signature", "x-amz-security-token"})


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One request, as the access log needs it (times in ms, sizes in bytes; None: unknown)."""

    bucket_owner: str
    bucket: str
    received: float  # epoch seconds
    remote_ip: str
    requester: str  # canonical id; "" for anonymous
    request_id: str
    operation: str  # REST.GET.OBJECT style (`operation_name`)
    key: str  # decoded key; "" for a bucket-level request
    method: str
    raw_path: str  # as sent (percent-encoded)
    raw_query: str  # as sent, without "?"
    http_version: str  # "1.1"
    status: int
    error_code: str
    bytes_sent: int
    object_size: int | None
    total_ms: int
    turn_around_ms: int | None
    referer: str
    user_agent: str
    version_id: str
    host_id: str
    signature_version: str  # "SigV2", "SigV4" or ""
    authentication_type: str  # "AuthHeader", "QueryString" or ""
    host_header: str
    cipher_suite: str = ""
    tls_version: str = ""


# Operation names as AWS writes them: REST.<method>.<resource>. Where AWS's name is not
# documented, the resource is the sub-resource in capitals, as AWS forms the documented ones.
_OPERATIONS: dict[str, str] = {
    "ListBuckets": "REST.GET.SERVICE",
    "Options": "REST.OPTIONS.PREFLIGHT",
    "CreateBucket": "REST.PUT.BUCKET",
    "DeleteBucket": "REST.DELETE.BUCKET",
    "HeadBucket": "REST.HEAD.BUCKET",
    "GetBucketLocation": "REST.GET.LOCATION",
    "ListObjects": "REST.GET.BUCKET",
    "ListObjectsV2": "REST.GET.BUCKET",
    "ListObjectVersions": "REST.GET.BUCKETVERSIONS",
    "ListMultipartUploads": "REST.GET.UPLOADS",
    "GetBucketAcl": "REST.GET.ACL",
    "PutBucketAcl": "REST.PUT.ACL",
    "GetObjectAcl": "REST.GET.ACL",
    "PutObjectAcl": "REST.PUT.ACL",
    "GetBucketCors": "REST.GET.CORS",
    "PutBucketCors": "REST.PUT.CORS",
    "DeleteBucketCors": "REST.DELETE.CORS",
    "GetBucketPolicy": "REST.GET.BUCKETPOLICY",
    "PutBucketPolicy": "REST.PUT.BUCKETPOLICY",
    "DeleteBucketPolicy": "REST.DELETE.BUCKETPOLICY",
    "GetBucketPolicyStatus": "REST.GET.BUCKETPOLICYSTATUS",
    "GetBucketVersioning": "REST.GET.VERSIONING",
    "PutBucketVersioning": "REST.PUT.VERSIONING",
    "GetBucketTagging": "REST.GET.TAGGING",
    "PutBucketTagging": "REST.PUT.TAGGING",
    "DeleteBucketTagging": "REST.DELETE.TAGGING",
    "GetBucketLifecycleConfiguration": "REST.GET.LIFECYCLE",
    "PutBucketLifecycleConfiguration": "REST.PUT.LIFECYCLE",
    "DeleteBucketLifecycle": "REST.DELETE.LIFECYCLE",
    "GetBucketWebsite": "REST.GET.WEBSITE",
    "GetBucketLogging": "REST.GET.LOGGING_STATUS",
    "PutBucketLogging": "REST.PUT.LOGGING_STATUS",
    "GetBucketNotificationConfiguration": "REST.GET.NOTIFICATION",
    "GetBucketEncryption": "REST.GET.ENCRYPTION",
    "PutBucketEncryption": "REST.PUT.ENCRYPTION",
    "DeleteBucketEncryption": "REST.DELETE.ENCRYPTION",
    "GetObjectLockConfiguration": "REST.GET.OBJECT_LOCK_CONFIGURATION",
    "PutObjectLockConfiguration": "REST.PUT.OBJECT_LOCK_CONFIGURATION",
    "GetBucketOwnershipControls": "REST.GET.OWNERSHIP_CONTROLS",
    "PutBucketOwnershipControls": "REST.PUT.OWNERSHIP_CONTROLS",
    "DeleteBucketOwnershipControls": "REST.DELETE.OWNERSHIP_CONTROLS",
    "GetPublicAccessBlock": "REST.GET.PUBLIC_ACCESS_BLOCK",
    "PutPublicAccessBlock": "REST.PUT.PUBLIC_ACCESS_BLOCK",
    "DeletePublicAccessBlock": "REST.DELETE.PUBLIC_ACCESS_BLOCK",
    "GetBucketReplication": "REST.GET.REPLICATION",
    "GetBucketAccelerateConfiguration": "REST.GET.ACCELERATE",
    "GetBucketRequestPayment": "REST.GET.REQUEST_PAYMENT",
    "DeleteObjects": "REST.POST.MULTI_OBJECT_DELETE",
    "PostObject": "REST.POST.OBJECT",
    "PutObject": "REST.PUT.OBJECT",
    "CopyObject": "REST.COPY.OBJECT",
    "GetObject": "REST.GET.OBJECT",
    "HeadObject": "REST.HEAD.OBJECT",
    "DeleteObject": "REST.DELETE.OBJECT",
    "GetObjectTagging": "REST.GET.OBJECT_TAGGING",
    "PutObjectTagging": "REST.PUT.OBJECT_TAGGING",
    "DeleteObjectTagging": "REST.DELETE.OBJECT_TAGGING",
    "GetObjectAttributes": "REST.GET.OBJECT_ATTRIBUTES",
    "GetObjectRetention": "REST.GET.RETENTION",
    "PutObjectRetention": "REST.PUT.RETENTION",
    "GetObjectLegalHold": "REST.GET.LEGAL_HOLD",
    "PutObjectLegalHold": "REST.PUT.LEGAL_HOLD",
    "CreateMultipartUpload": "REST.POST.UPLOADS",
    "UploadPart": "REST.PUT.PART",
    "UploadPartCopy": "REST.COPY.PART",
    "CompleteMultipartUpload": "REST.POST.UPLOAD",
    "AbortMultipartUpload": "REST.DELETE.UPLOAD",
    "ListParts": "REST.GET.UPLOAD",
    "RestoreObject": "REST.POST.RESTORE",
}


def operation_name(op: str, method: str, has_key: bool) -> str:
    """REST.GET.OBJECT and friends; a request that failed before it was routed (or an
    operation without a name here) is REST.<method>.OBJECT or .BUCKET."""
    name = _OPERATIONS.get(op)
    if name is not None:
        return name
    return f"REST.{_printable(method) or 'UNKNOWN'}.{'OBJECT' if has_key else 'BUCKET'}"


def log_time(epoch: float) -> str:
    t = time.gmtime(epoch)
    return (
        f"[{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year:04d}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000]"
    )


def _printable(text: str) -> str:
    return "".join(c for c in text if "!" <= c <= "~")


def quoted(value: str) -> str:
    """A quoted field: `"-"` when empty; `"` and `\\` escaped, non-printables as \\xHH."""
    if not value:
        return '"-"'
    out: list[str] = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogateescape"))
    return '"' + "".join(out) + '"'


# Visible ASCII except the quote and the percent sign (which starts an escape).
_BARE_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')


def bare(value: str) -> str:
    """An unquoted field: `-` when empty; anything that could split the line percent-encoded."""
    if not value:
        return "-"
    return quote(value, safe=_BARE_SAFE, errors="surrogateescape")


def encoded_key(key: str) -> str:
    """The Key field: URL-encoded, "/" kept (as AWS logs keys), `-` for no key."""
    if not key:
        return "-"
    return quote(key, safe="/", errors="surrogateescape")


def _number(value: int | None, *, zero_is_dash: bool = False) -> str:
    if value is None or value < 0 or (zero_is_dash and value == 0):
        return "-"
    return str(value)


def _without_secrets(raw_query: str) -> str:
    """The query string minus signature and token parameters ("" when nothing is left)."""
    kept = [
        part
        for part in raw_query.split("&")
        # Compared decoded, as the server reads them: "X-Amz-Signatur%65" is the signature.
        if part and unquote_plus(part.split("=", 1)[0]).lower() not in SECRET_PARAMS
    ]
    return "&".join(kept)


def request_uri(method: str, raw_path: str, raw_query: str, http_version: str) -> str:
    """`METHOD /path?query HTTP/x.y` as received, minus signature and token values."""
    query = _without_secrets(raw_query) if raw_query else ""
    return f"{method} {raw_path or '/'}{'?' + query if query else ''} HTTP/{http_version or '1.1'}"


def referer(value: str) -> str:
    """The Referer, minus signatures: a page reached through a presigned URL sends that URL,
    and the signature in it still opens the object until it expires."""
    url, sep, rest = value.partition("?")
    if not sep:
        return value
    query, hash_sep, fragment = rest.partition("#")
    query = _without_secrets(query)
    return url + ("?" + query if query else "") + hash_sep + fragment


def format_line(rec: AccessRecord) -> str:
    """One log record, without the newline."""
    fields = (
        bare(rec.bucket_owner),
        bare(rec.bucket),
        log_time(rec.received),
        bare(rec.remote_ip),
        bare(rec.requester),
        bare(rec.request_id),
        bare(rec.operation),
        encoded_key(rec.key),
        quoted(request_uri(rec.method, rec.raw_path, rec.raw_query, rec.http_version)),
        str(rec.status),
        bare(rec.error_code),
        _number(rec.bytes_sent, zero_is_dash=True),
        _number(rec.object_size),
        _number(rec.total_ms),
        _number(rec.turn_around_ms),
        quoted(referer(rec.referer)),
        quoted(rec.user_agent),
        bare(rec.version_id),
        bare(rec.host_id),
        bare(rec.signature_version),
        bare(rec.cipher_suite),
        bare(rec.authentication_type),
        bare(rec.host_header),
        bare(rec.tls_version),
        "-",  # access point ARN: s3front has no access points
        "-",  # ACL required: not tracked (AWS writes "Yes" only when an ACL granted access)
    )
    return " ".join(fields)


def unique_string() -> str:
    """The UniqueString of a log object's key: 16 upper-case hex digits, as S3's."""
    return secrets.token_hex(8).upper()


def _stamp(t: time.struct_time) -> str:
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}-"
        f"{t.tm_hour:02d}-{t.tm_min:02d}-{t.tm_sec:02d}"
    )


def log_object_key(
    prefix: str,
    *,
    delivered: float,
    partitioned: bool = False,
    partition_time: float | None = None,
    source_owner: str = "",
    source_region: str = "",
    source_bucket: str = "",
    unique: str | None = None,
) -> str:
    """The key of a delivered log object.

    SimplePrefix (the default): `[TargetPrefix]YYYY-mm-DD-HH-MM-SS-UniqueString`.
    PartitionedPrefix: `[TargetPrefix][SourceAccountId]/[SourceRegion]/[SourceBucket]/
    [YYYY]/[MM]/[DD]/YYYY-mm-DD-HH-MM-SS-UniqueString`, the date folders from
    `partition_time` (the records' event time, or the delivery time). s3front's account id is
    the tenant's canonical id.
    """
    name = f"{_stamp(time.gmtime(delivered))}-{unique or unique_string()}"
    if not partitioned:
        return prefix + name
    day = time.gmtime(delivered if partition_time is None else partition_time)
    return (
        f"{prefix}{source_owner}/{source_region}/{source_bucket}/"
        f"{day.tm_year:04d}/{day.tm_mon:02d}/{day.tm_mday:02d}/{name}"
    )


# Longest key suffix `log_object_key` adds: a partitioned key with a 64-character canonical id,
# a region name and a 63-character bucket name. TargetPrefix must leave room for it.
MAX_SUFFIX_BYTES = 64 + 1 + 32 + 1 + 63 + 1 + 11 + 19 + 1 + 16


# --- the bucket's configuration ----------------------------------------------------------

BUCKET_ATTR = "logging"  # BucketRecord.attrs key of the source bucket's LoggingEnabled
EVENT_TIME = "EventTime"
DELIVERY_TIME = "DeliveryTime"


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """A source bucket's LoggingEnabled: where its records go and how the objects are named."""

    target_bucket: str
    target_prefix: str
    partitioned: bool = False  # TargetObjectKeyFormat: PartitionedPrefix (else SimplePrefix)
    date_source: str = DELIVERY_TIME  # PartitionedPrefix's PartitionDateSource

    def encode(self) -> str:
        return json.dumps(
            {
                "bucket": self.target_bucket,
                "prefix": self.target_prefix,
                "partitioned": self.partitioned,
                "date_source": self.date_source,
            },
            separators=(",", ":"),
        )


def config_of(attrs: Mapping[str, str]) -> LoggingConfig | None:
    """The bucket's logging configuration, None when logging is off."""
    raw = attrs.get(BUCKET_ATTR)
    if not raw:
        return None
    doc = json.loads(raw)
    return LoggingConfig(
        target_bucket=str(doc["bucket"]),
        target_prefix=str(doc.get("prefix", "")),
        partitioned=bool(doc.get("partitioned", False)),
        date_source=str(doc.get("date_source", DELIVERY_TIME)),
    )
