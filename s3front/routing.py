"""Routing: a pure function from the request line to an `Endpoint`.

`resolve` decides three things and nothing else:

1. **Addressing.** Virtual-hosted when the Host is `<bucket>.<domain>` for a configured domain
   (the JS SDK does this whenever the endpoint is a host name), otherwise path-style (the boto3
   default for custom endpoints). The key is decoded from the raw path exactly as sent.
2. **Operation.** From the method, the resource level (service, bucket or object) and the
   sub-resource query parameters, by walking `_RULES` in order: data, not an if/elif chain.
3. Nothing about permissions at request time: `ROUTES` says which IAM action and resource level
   each operation needs; the auth layer reads it, handlers are bound to op names elsewhere.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal
from urllib.parse import unquote_to_bytes

from s3front import errors, support
from s3front.errors import InvalidArgument, KeyTooLongError, MethodNotAllowed
from s3front.request import S3Request

MAX_KEY_BYTES = 1024

Level = Literal["service", "bucket", "object"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    op: str  # AWS operation name, e.g. "PutObject", "ListObjectsV2"
    bucket: str | None  # decoded bucket name, None for service-level operations
    key: str | None  # decoded object key, None for bucket-level operations
    virtual_host: bool  # the bucket came from the Host header


@dataclass(frozen=True, slots=True)
class Route:
    """What an operation needs from the auth layer."""

    op: str
    # IAM action checked before the handler runs; "" means no check (CORS preflight carries no
    # credentials; the handler answers from the bucket's CORS rules).
    permission: str
    level: Level  # the resource the permission applies to (bucket ARN or object ARN)
    # IAM action used instead when the request names a version (?versionId=...), as AWS does
    # for GetObjectVersion, DeleteObjectVersion and friends.
    version_permission: str | None = None


def _r(op: str, permission: str, level: Level, version_permission: str | None = None) -> Route:
    return Route(op, permission, level, version_permission)


_ROUTE_LIST: tuple[Route, ...] = (
    _r("ListBuckets", "s3:ListAllMyBuckets", "service"),
    _r("Options", "", "bucket"),
    # Bucket level.
    _r("CreateBucket", "s3:CreateBucket", "bucket"),
    _r("DeleteBucket", "s3:DeleteBucket", "bucket"),
    _r("HeadBucket", "s3:ListBucket", "bucket"),
    _r("GetBucketLocation", "s3:GetBucketLocation", "bucket"),
    _r("ListObjects", "s3:ListBucket", "bucket"),
    _r("ListObjectsV2", "s3:ListBucket", "bucket"),
    _r("ListObjectVersions", "s3:ListBucketVersions", "bucket"),
    _r("ListMultipartUploads", "s3:ListBucketMultipartUploads", "bucket"),
    _r("GetBucketAcl", "s3:GetBucketAcl", "bucket"),
    _r("PutBucketAcl", "s3:PutBucketAcl", "bucket"),
    _r("GetBucketCors", "s3:GetBucketCORS", "bucket"),
    _r("PutBucketCors", "s3:PutBucketCORS", "bucket"),
    # AWS documents DeleteBucketCors, DeleteBucketTagging, DeleteBucketLifecycle and
    # DeleteBucketEncryption as needing the Put* action; there is no separate Delete* action.
    _r("DeleteBucketCors", "s3:PutBucketCORS", "bucket"),
    _r("GetBucketPolicy", "s3:GetBucketPolicy", "bucket"),
    _r("PutBucketPolicy", "s3:PutBucketPolicy", "bucket"),
    _r("DeleteBucketPolicy", "s3:DeleteBucketPolicy", "bucket"),
    _r("GetBucketPolicyStatus", "s3:GetBucketPolicyStatus", "bucket"),
    _r("GetBucketVersioning", "s3:GetBucketVersioning", "bucket"),
    _r("PutBucketVersioning", "s3:PutBucketVersioning", "bucket"),
    _r("GetBucketTagging", "s3:GetBucketTagging", "bucket"),
    _r("PutBucketTagging", "s3:PutBucketTagging", "bucket"),
    _r("DeleteBucketTagging", "s3:PutBucketTagging", "bucket"),
    _r("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration", "bucket"),
    _r("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration", "bucket"),
    _r("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration", "bucket"),
    _r("GetBucketWebsite", "s3:GetBucketWebsite", "bucket"),
    _r("PutBucketWebsite", "s3:PutBucketWebsite", "bucket"),
    _r("DeleteBucketWebsite", "s3:DeleteBucketWebsite", "bucket"),
    _r("GetBucketLogging", "s3:GetBucketLogging", "bucket"),
    _r("PutBucketLogging", "s3:PutBucketLogging", "bucket"),
    _r("GetBucketNotificationConfiguration", "s3:GetBucketNotification", "bucket"),
    _r("PutBucketNotificationConfiguration", "s3:PutBucketNotification", "bucket"),
    _r("GetBucketEncryption", "s3:GetEncryptionConfiguration", "bucket"),
    _r("PutBucketEncryption", "s3:PutEncryptionConfiguration", "bucket"),
    _r("DeleteBucketEncryption", "s3:PutEncryptionConfiguration", "bucket"),
    _r("GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration", "bucket"),
    _r("PutObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration", "bucket"),
    _r("GetBucketOwnershipControls", "s3:GetBucketOwnershipControls", "bucket"),
    # As with CORS and tagging, AWS has no separate Delete* action for these two.
    _r("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls", "bucket"),
    _r("DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls", "bucket"),
    _r("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock", "bucket"),
    _r("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "bucket"),
    _r("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock", "bucket"),
    _r("GetBucketReplication", "s3:GetReplicationConfiguration", "bucket"),
    _r("GetBucketAccelerateConfiguration", "s3:GetAccelerateConfiguration", "bucket"),
    _r("GetBucketRequestPayment", "s3:GetBucketRequestPayment", "bucket"),
    # DeleteObjects is authorised per key by the handler too; this is the coarse check.
    _r("DeleteObjects", "s3:DeleteObject", "bucket"),
    # Browser form upload: the key is in the form, and the signed policy in it is what grants.
    _r("PostObject", "s3:PutObject", "bucket"),
    # Object level.
    _r("PutObject", "s3:PutObject", "object"),
    # The source is checked (s3:GetObject) by the handler: it is a different resource.
    _r("CopyObject", "s3:PutObject", "object"),
    _r("GetObject", "s3:GetObject", "object", "s3:GetObjectVersion"),
    _r("HeadObject", "s3:GetObject", "object", "s3:GetObjectVersion"),
    _r("DeleteObject", "s3:DeleteObject", "object", "s3:DeleteObjectVersion"),
    _r("GetObjectAcl", "s3:GetObjectAcl", "object", "s3:GetObjectVersionAcl"),
    _r("PutObjectAcl", "s3:PutObjectAcl", "object", "s3:PutObjectVersionAcl"),
    _r("GetObjectTagging", "s3:GetObjectTagging", "object", "s3:GetObjectVersionTagging"),
    _r("PutObjectTagging", "s3:PutObjectTagging", "object", "s3:PutObjectVersionTagging"),
    _r("DeleteObjectTagging", "s3:DeleteObjectTagging", "object", "s3:DeleteObjectVersionTagging"),
    _r("GetObjectAttributes", "s3:GetObjectAttributes", "object", "s3:GetObjectVersionAttributes"),
    # Object lock: one action with or without a versionId (AWS has no *Version variants).
    _r("GetObjectRetention", "s3:GetObjectRetention", "object"),
    _r("PutObjectRetention", "s3:PutObjectRetention", "object"),
    _r("GetObjectLegalHold", "s3:GetObjectLegalHold", "object"),
    _r("PutObjectLegalHold", "s3:PutObjectLegalHold", "object"),
    _r("CreateMultipartUpload", "s3:PutObject", "object"),
    _r("UploadPart", "s3:PutObject", "object"),
    _r("UploadPartCopy", "s3:PutObject", "object"),
    _r("CompleteMultipartUpload", "s3:PutObject", "object"),
    _r("AbortMultipartUpload", "s3:AbortMultipartUpload", "object"),
    _r("ListParts", "s3:ListMultipartUploadParts", "object"),
    _r("RestoreObject", "s3:RestoreObject", "object"),
)

ROUTES: Mapping[str, Route] = MappingProxyType({r.op: r for r in _ROUTE_LIST})


def required_permission(route: Route, req: S3Request) -> str:
    """The IAM action this request needs: the version variant when a versionId is named."""
    if route.version_permission and req.has_param("versionId"):
        return route.version_permission
    return route.permission


@dataclass(frozen=True, slots=True)
class _Rule:
    params: tuple[str, ...]  # sub-resource query parameters that must all be present
    op: str
    # True: only with an x-amz-copy-source header; False: only without; None: either.
    copy_source: bool | None = None


def _rules(*rules: tuple[str | tuple[str, ...], str] | _Rule) -> tuple[_Rule, ...]:
    out: list[_Rule] = []
    for rule in rules:
        if isinstance(rule, _Rule):
            out.append(rule)
        else:
            params, op = rule
            out.append(_Rule((params,) if isinstance(params, str) else params, op))
    return tuple(out)


# Per (level, method): rules tried in order; a rule with no params is the default and comes last.
# OPTIONS and HEAD are handled before the table (see `_operation`).
_RULES: Mapping[tuple[Level, str], tuple[_Rule, ...]] = {
    ("service", "GET"): _rules(((), "ListBuckets")),
    ("bucket", "GET"): _rules(
        ("uploads", "ListMultipartUploads"),
        ("versions", "ListObjectVersions"),
        ("location", "GetBucketLocation"),
        ("acl", "GetBucketAcl"),
        ("cors", "GetBucketCors"),
        ("policy", "GetBucketPolicy"),
        ("policyStatus", "GetBucketPolicyStatus"),
        ("versioning", "GetBucketVersioning"),
        ("tagging", "GetBucketTagging"),
        ("lifecycle", "GetBucketLifecycleConfiguration"),
        ("website", "GetBucketWebsite"),
        ("logging", "GetBucketLogging"),
        ("notification", "GetBucketNotificationConfiguration"),
        ("encryption", "GetBucketEncryption"),
        ("object-lock", "GetObjectLockConfiguration"),
        ("ownershipControls", "GetBucketOwnershipControls"),
        ("publicAccessBlock", "GetPublicAccessBlock"),
        ("replication", "GetBucketReplication"),
        ("accelerate", "GetBucketAccelerateConfiguration"),
        ("requestPayment", "GetBucketRequestPayment"),
        ("list-type", "ListObjectsV2"),  # value checked in `_operation`
        ((), "ListObjects"),
    ),
    ("bucket", "PUT"): _rules(
        ("acl", "PutBucketAcl"),
        ("cors", "PutBucketCors"),
        ("policy", "PutBucketPolicy"),
        ("versioning", "PutBucketVersioning"),
        ("tagging", "PutBucketTagging"),
        ("lifecycle", "PutBucketLifecycleConfiguration"),
        ("website", "PutBucketWebsite"),
        ("logging", "PutBucketLogging"),
        ("notification", "PutBucketNotificationConfiguration"),
        ("encryption", "PutBucketEncryption"),
        ("object-lock", "PutObjectLockConfiguration"),
        ("ownershipControls", "PutBucketOwnershipControls"),
        ("publicAccessBlock", "PutPublicAccessBlock"),
        ((), "CreateBucket"),
    ),
    ("bucket", "DELETE"): _rules(
        ("cors", "DeleteBucketCors"),
        ("policy", "DeleteBucketPolicy"),
        ("tagging", "DeleteBucketTagging"),
        ("lifecycle", "DeleteBucketLifecycle"),
        ("website", "DeleteBucketWebsite"),
        ("encryption", "DeleteBucketEncryption"),
        ("ownershipControls", "DeleteBucketOwnershipControls"),
        ("publicAccessBlock", "DeletePublicAccessBlock"),
        ((), "DeleteBucket"),
    ),
    ("bucket", "POST"): _rules(
        ("delete", "DeleteObjects"),
        ((), "PostObject"),
    ),
    ("object", "GET"): _rules(
        ("uploadId", "ListParts"),
        ("acl", "GetObjectAcl"),
        ("tagging", "GetObjectTagging"),
        ("attributes", "GetObjectAttributes"),
        ("retention", "GetObjectRetention"),
        ("legal-hold", "GetObjectLegalHold"),
        ((), "GetObject"),
    ),
    ("object", "PUT"): _rules(
        _Rule(("partNumber", "uploadId"), "UploadPartCopy", copy_source=True),
        _Rule(("partNumber", "uploadId"), "UploadPart", copy_source=False),
        ("acl", "PutObjectAcl"),
        ("tagging", "PutObjectTagging"),
        ("retention", "PutObjectRetention"),
        ("legal-hold", "PutObjectLegalHold"),
        _Rule((), "CopyObject", copy_source=True),
        ((), "PutObject"),
    ),
    ("object", "DELETE"): _rules(
        ("uploadId", "AbortMultipartUpload"),
        ("tagging", "DeleteObjectTagging"),
        ((), "DeleteObject"),
    ),
    ("object", "POST"): _rules(
        ("uploads", "CreateMultipartUpload"),
        ("uploadId", "CompleteMultipartUpload"),
        ("restore", "RestoreObject"),
    ),
}

# Sub-resources AWS supports with this method that we do not: NotImplemented (501), so a client
# learns the feature is missing rather than that its request was wrong. The decision is
# `s3front.support.SUBRESOURCES`, the one table of what is implemented and what is refused.
_UNSUPPORTED: Mapping[tuple[Level, str], Mapping[str, str]] = {
    (level, method): support.refused_subresources(level, method)
    for level in ("bucket", "object")
    for method in ("GET", "PUT", "DELETE", "POST")
}


def _known_subresources(level: Level) -> frozenset[str]:
    names: set[str] = set()
    for (lvl, _), rules in _RULES.items():
        if lvl == level:
            names.update(p for rule in rules for p in rule.params)
    for (lvl, _), table in _UNSUPPORTED.items():
        if lvl == level:
            names.update(table)
    # partNumber is a plain parameter of GetObject/HeadObject, not a sub-resource.
    names.discard("partNumber")
    return frozenset(names)


_KNOWN: Mapping[Level, frozenset[str]] = {
    level: _known_subresources(level) for level in ("service", "bucket", "object")
}

_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _decode(raw: str, what: str) -> str:
    """Percent-decode part of a path as UTF-8; "+" stays "+" (in paths it is not a space)."""
    if "%" not in raw and raw.isascii():
        return raw  # nothing to decode (most keys): skip the round trip through bytes
    if _BAD_PERCENT.search(raw):
        raise InvalidArgument(f"Invalid percent-encoding in the {what}.", ArgumentName=what)
    # The ASGI raw path arrives as latin-1 text of the bytes sent; a client that sent raw UTF-8
    # (unencoded) must decode the same as one that percent-encoded it.
    try:
        data = raw.encode("latin-1")
    except UnicodeEncodeError:
        data = raw.encode("utf-8")
    try:
        return unquote_to_bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(f"The {what} is not valid UTF-8.", ArgumentName=what) from None


@functools.lru_cache(maxsize=8)
def _suffixes(domains: tuple[str, ...]) -> tuple[str, ...]:
    """ ".domain" for each domain, longest first, so "s3.example.com" wins over "example.com"
    for "b.s3.example.com". Cached: the settings' list is the same object on every request."""
    names = {d.lower().strip(".") for d in domains} - {""}
    return tuple("." + d for d in sorted(names, key=len, reverse=True))


def _vhost_bucket(host: str, domains: Sequence[str]) -> str | None:
    for suffix in _suffixes(tuple(domains)):
        if host.endswith(suffix) and len(host) > len(suffix):
            return host[: -len(suffix)]
    return None


def _address(req: S3Request, domains: Sequence[str]) -> tuple[str | None, str | None, bool]:
    """(bucket, key, virtual_host) from the Host header and the raw path."""
    path = req.raw_path
    # "OPTIONS *" and an empty path both mean the service root.
    rest = path[1:] if path.startswith("/") else ("" if path in ("", "*") else path)
    vhost = _vhost_bucket(req.host, domains)
    if vhost is not None:
        bucket: str | None = vhost
        raw_key = rest
    else:
        raw_bucket, _, raw_key = rest.partition("/")
        bucket = _decode(raw_bucket, "bucket name") if raw_bucket else None
        if bucket is None:
            return None, None, False
    # Everything after the bucket's slash is the key, exactly: "//", a trailing "/" and spaces
    # are part of it; "" means the bucket itself ("/bucket" and "/bucket/").
    key = _decode(raw_key, "object key") if raw_key else None
    if key is not None and len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise KeyTooLongError(Size=str(len(key.encode("utf-8"))), MaxSizeAllowed="1024")
    return bucket, key, vhost is not None


def _level(bucket: str | None, key: str | None) -> Level:
    return "service" if bucket is None else ("bucket" if key is None else "object")


def _plain_operations() -> dict[tuple[Level, str, bool], str]:
    """The operation of each (level, method, has x-amz-copy-source) for a request without a
    query string: the first rule that needs no sub-resource, as `_operation` would find it."""
    table: dict[tuple[Level, str, bool], str] = {}
    for (level, method), rules in _RULES.items():
        for copy in (False, True):
            for rule in rules:
                if not rule.params and rule.copy_source in (None, copy):
                    table[(level, method, copy)] = rule.op
                    break
    return table


_PLAIN_OPERATIONS = _plain_operations()


def _operation(req: S3Request, level: Level) -> str:
    method = req.method
    if method == "OPTIONS":
        return "Options"
    if method == "HEAD" and level != "service":
        # HEAD has no body to get wrong; ignore sub-resources rather than fail a probe.
        return "HeadBucket" if level == "bucket" else "HeadObject"
    copy = "x-amz-copy-source" in req.headers
    if not req.query:  # most object requests: no sub-resource to look for
        op = _PLAIN_OPERATIONS.get((level, method, copy))
        if op is not None:
            return op
    rules = _RULES.get((level, method))
    if rules is None:
        raise MethodNotAllowed(Method=method, ResourceType=level.upper())
    present = {name for name, _ in req.query}
    defaults: list[_Rule] = []
    for rule in rules:
        if rule.copy_source is not None and rule.copy_source != copy:
            continue
        if not rule.params:
            defaults.append(rule)
        elif all(p in present for p in rule.params):
            return _checked(req, rule.op)
    # No sub-resource rule matched: a sub-resource left over is either one we do not implement
    # or one this method does not take; only a request without one reaches the default.
    unsupported = _UNSUPPORTED.get((level, method), {})
    for name in sorted(present):
        if name in unsupported:
            # The S3 code, not Python's NotImplemented constant.
            raise errors.NotImplemented(f"{unsupported[name]} is not implemented.")
    stray = sorted(present & _KNOWN[level])
    if stray:
        raise MethodNotAllowed(
            f"The ?{stray[0]} sub-resource does not support {method}.",
            Method=method,
            ResourceType=stray[0].upper(),
        )
    if level == "object" and method == "PUT" and "partNumber" in present:
        # Without an uploadId this would silently overwrite the whole object.
        raise InvalidArgument("partNumber requires uploadId.", ArgumentName="uploadId")
    if defaults:
        return defaults[0].op
    raise MethodNotAllowed(Method=method, ResourceType=level.upper())


def _checked(req: S3Request, op: str) -> str:
    if op == "ListObjectsV2" and req.param("list-type") != "2":
        raise InvalidArgument(
            "Invalid list-type; only 2 is supported.",
            ArgumentName="list-type",
            ArgumentValue=req.param("list-type") or "",
        )
    return op


def resolve(req: S3Request, domains: Sequence[str]) -> Endpoint:
    """The operation, bucket and key a request addresses.

    `domains` are the service host names virtual-hosted requests hang off ("localhost",
    "s3.example.com"). Query parameters that are not sub-resources (x-id, versionId, prefix,
    response-*, ...) never affect the operation: the JS SDK adds `?x-id=PutObject` to requests.
    """
    bucket, key, vhost = _address(req, domains)
    op = _operation(req, _level(bucket, key))
    return Endpoint(op=op, bucket=bucket, key=key, virtual_host=vhost)
