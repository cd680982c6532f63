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
from enum import StrEnum
from types import MappingProxyType
from typing import Literal
from urllib.parse import unquote_to_bytes

from s3front import errors, support
from s3front.errors import InvalidArgument, KeyTooLongError, MethodNotAllowed
from s3front.objects.limits import MAX_KEY_BYTES
from s3front.request import S3Request

Level = Literal["service", "bucket", "object"]


class Op(StrEnum):
    """The S3 operations, named as AWS names them: one list for the route table (`ROUTES`,
    `_RULES`) and the handler table (`s3front.api.HANDLERS`). A StrEnum, so an `Op` is its
    name wherever a string goes (logs, metrics labels, IAM actions)."""

    ListBuckets = "ListBuckets"
    Options = "Options"
    CreateBucket = "CreateBucket"
    DeleteBucket = "DeleteBucket"
    HeadBucket = "HeadBucket"
    GetBucketLocation = "GetBucketLocation"
    ListObjects = "ListObjects"
    ListObjectsV2 = "ListObjectsV2"
    ListObjectVersions = "ListObjectVersions"
    ListMultipartUploads = "ListMultipartUploads"
    GetBucketAcl = "GetBucketAcl"
    PutBucketAcl = "PutBucketAcl"
    GetBucketCors = "GetBucketCors"
    PutBucketCors = "PutBucketCors"
    DeleteBucketCors = "DeleteBucketCors"
    GetBucketPolicy = "GetBucketPolicy"
    PutBucketPolicy = "PutBucketPolicy"
    DeleteBucketPolicy = "DeleteBucketPolicy"
    GetBucketPolicyStatus = "GetBucketPolicyStatus"
    GetBucketVersioning = "GetBucketVersioning"
    PutBucketVersioning = "PutBucketVersioning"
    GetBucketTagging = "GetBucketTagging"
    PutBucketTagging = "PutBucketTagging"
    DeleteBucketTagging = "DeleteBucketTagging"
    GetBucketLifecycleConfiguration = "GetBucketLifecycleConfiguration"
    PutBucketLifecycleConfiguration = "PutBucketLifecycleConfiguration"
    DeleteBucketLifecycle = "DeleteBucketLifecycle"
    GetBucketWebsite = "GetBucketWebsite"
    PutBucketWebsite = "PutBucketWebsite"
    DeleteBucketWebsite = "DeleteBucketWebsite"
    GetBucketLogging = "GetBucketLogging"
    PutBucketLogging = "PutBucketLogging"
    GetBucketNotificationConfiguration = "GetBucketNotificationConfiguration"
    PutBucketNotificationConfiguration = "PutBucketNotificationConfiguration"
    GetBucketEncryption = "GetBucketEncryption"
    PutBucketEncryption = "PutBucketEncryption"
    DeleteBucketEncryption = "DeleteBucketEncryption"
    GetObjectLockConfiguration = "GetObjectLockConfiguration"
    PutObjectLockConfiguration = "PutObjectLockConfiguration"
    GetBucketOwnershipControls = "GetBucketOwnershipControls"
    PutBucketOwnershipControls = "PutBucketOwnershipControls"
    DeleteBucketOwnershipControls = "DeleteBucketOwnershipControls"
    GetPublicAccessBlock = "GetPublicAccessBlock"
    PutPublicAccessBlock = "PutPublicAccessBlock"
    DeletePublicAccessBlock = "DeletePublicAccessBlock"
    GetBucketReplication = "GetBucketReplication"
    GetBucketAccelerateConfiguration = "GetBucketAccelerateConfiguration"
    GetBucketRequestPayment = "GetBucketRequestPayment"
    DeleteObjects = "DeleteObjects"
    PostObject = "PostObject"
    PutObject = "PutObject"
    CopyObject = "CopyObject"
    GetObject = "GetObject"
    HeadObject = "HeadObject"
    DeleteObject = "DeleteObject"
    GetObjectAcl = "GetObjectAcl"
    PutObjectAcl = "PutObjectAcl"
    GetObjectTagging = "GetObjectTagging"
    PutObjectTagging = "PutObjectTagging"
    DeleteObjectTagging = "DeleteObjectTagging"
    GetObjectAttributes = "GetObjectAttributes"
    GetObjectRetention = "GetObjectRetention"
    PutObjectRetention = "PutObjectRetention"
    GetObjectLegalHold = "GetObjectLegalHold"
    PutObjectLegalHold = "PutObjectLegalHold"
    CreateMultipartUpload = "CreateMultipartUpload"
    UploadPart = "UploadPart"
    UploadPartCopy = "UploadPartCopy"
    CompleteMultipartUpload = "CompleteMultipartUpload"
    AbortMultipartUpload = "AbortMultipartUpload"
    ListParts = "ListParts"
    RestoreObject = "RestoreObject"
    # Older names of two configuration reads; no route resolves to them.
    GetBucketLifecycle = "GetBucketLifecycle"
    GetBucketNotification = "GetBucketNotification"


@dataclass(frozen=True, slots=True)
class Endpoint:
    op: Op  # e.g. Op.PutObject, Op.ListObjectsV2
    bucket: str | None  # decoded bucket name, None for service-level operations
    key: str | None  # decoded object key, None for bucket-level operations
    virtual_host: bool  # the bucket came from the Host header


@dataclass(frozen=True, slots=True)
class Route:
    """What an operation needs from the auth layer."""

    op: Op
    # IAM action checked before the handler runs; "" means no check (CORS preflight carries no
    # credentials; the handler answers from the bucket's CORS rules).
    permission: str
    level: Level  # the resource the permission applies to (bucket ARN or object ARN)
    # IAM action used instead when the request names a version (?versionId=...), as AWS does
    # for GetObjectVersion, DeleteObjectVersion and friends.
    version_permission: str | None = None


def _r(op: Op, permission: str, level: Level, version_permission: str | None = None) -> Route:
    return Route(op, permission, level, version_permission)


_ROUTE_LIST: tuple[Route, ...] = (
    _r(Op.ListBuckets, "s3:ListAllMyBuckets", "service"),
    _r(Op.Options, "", "bucket"),
    # Bucket level.
    _r(Op.CreateBucket, "s3:CreateBucket", "bucket"),
    _r(Op.DeleteBucket, "s3:DeleteBucket", "bucket"),
    _r(Op.HeadBucket, "s3:ListBucket", "bucket"),
    _r(Op.GetBucketLocation, "s3:GetBucketLocation", "bucket"),
    _r(Op.ListObjects, "s3:ListBucket", "bucket"),
    _r(Op.ListObjectsV2, "s3:ListBucket", "bucket"),
    _r(Op.ListObjectVersions, "s3:ListBucketVersions", "bucket"),
    _r(Op.ListMultipartUploads, "s3:ListBucketMultipartUploads", "bucket"),
    _r(Op.GetBucketAcl, "s3:GetBucketAcl", "bucket"),
    _r(Op.PutBucketAcl, "s3:PutBucketAcl", "bucket"),
    _r(Op.GetBucketCors, "s3:GetBucketCORS", "bucket"),
    _r(Op.PutBucketCors, "s3:PutBucketCORS", "bucket"),
    # AWS documents DeleteBucketCors, DeleteBucketTagging, DeleteBucketLifecycle and
    # DeleteBucketEncryption as needing the Put* action; there is no separate Delete* action.
    _r(Op.DeleteBucketCors, "s3:PutBucketCORS", "bucket"),
    _r(Op.GetBucketPolicy, "s3:GetBucketPolicy", "bucket"),
    _r(Op.PutBucketPolicy, "s3:PutBucketPolicy", "bucket"),
    _r(Op.DeleteBucketPolicy, "s3:DeleteBucketPolicy", "bucket"),
    _r(Op.GetBucketPolicyStatus, "s3:GetBucketPolicyStatus", "bucket"),
    _r(Op.GetBucketVersioning, "s3:GetBucketVersioning", "bucket"),
    _r(Op.PutBucketVersioning, "s3:PutBucketVersioning", "bucket"),
    _r(Op.GetBucketTagging, "s3:GetBucketTagging", "bucket"),
    _r(Op.PutBucketTagging, "s3:PutBucketTagging", "bucket"),
    _r(Op.DeleteBucketTagging, "s3:PutBucketTagging", "bucket"),
    _r(Op.GetBucketLifecycleConfiguration, "s3:GetLifecycleConfiguration", "bucket"),
    _r(Op.PutBucketLifecycleConfiguration, "s3:PutLifecycleConfiguration", "bucket"),
    _r(Op.DeleteBucketLifecycle, "s3:PutLifecycleConfiguration", "bucket"),
    _r(Op.GetBucketWebsite, "s3:GetBucketWebsite", "bucket"),
    _r(Op.PutBucketWebsite, "s3:PutBucketWebsite", "bucket"),
    _r(Op.DeleteBucketWebsite, "s3:DeleteBucketWebsite", "bucket"),
    _r(Op.GetBucketLogging, "s3:GetBucketLogging", "bucket"),
    _r(Op.PutBucketLogging, "s3:PutBucketLogging", "bucket"),
    _r(Op.GetBucketNotificationConfiguration, "s3:GetBucketNotification", "bucket"),
    _r(Op.PutBucketNotificationConfiguration, "s3:PutBucketNotification", "bucket"),
    _r(Op.GetBucketEncryption, "s3:GetEncryptionConfiguration", "bucket"),
    _r(Op.PutBucketEncryption, "s3:PutEncryptionConfiguration", "bucket"),
    _r(Op.DeleteBucketEncryption, "s3:PutEncryptionConfiguration", "bucket"),
    _r(Op.GetObjectLockConfiguration, "s3:GetBucketObjectLockConfiguration", "bucket"),
    _r(Op.PutObjectLockConfiguration, "s3:PutBucketObjectLockConfiguration", "bucket"),
    _r(Op.GetBucketOwnershipControls, "s3:GetBucketOwnershipControls", "bucket"),
    # As with CORS and tagging, AWS has no separate Delete* action for these two.
    _r(Op.PutBucketOwnershipControls, "s3:PutBucketOwnershipControls", "bucket"),
    _r(Op.DeleteBucketOwnershipControls, "s3:PutBucketOwnershipControls", "bucket"),
    _r(Op.GetPublicAccessBlock, "s3:GetBucketPublicAccessBlock", "bucket"),
    _r(Op.PutPublicAccessBlock, "s3:PutBucketPublicAccessBlock", "bucket"),
    _r(Op.DeletePublicAccessBlock, "s3:PutBucketPublicAccessBlock", "bucket"),
    _r(Op.GetBucketReplication, "s3:GetReplicationConfiguration", "bucket"),
    _r(Op.GetBucketAccelerateConfiguration, "s3:GetAccelerateConfiguration", "bucket"),
    _r(Op.GetBucketRequestPayment, "s3:GetBucketRequestPayment", "bucket"),
    # DeleteObjects is authorised per key by the handler too; this is the coarse check.
    _r(Op.DeleteObjects, "s3:DeleteObject", "bucket"),
    # Browser form upload: the key is in the form, and the signed policy in it is what grants.
    _r(Op.PostObject, "s3:PutObject", "bucket"),
    # Object level.
    _r(Op.PutObject, "s3:PutObject", "object"),
    # The source is checked (s3:GetObject) by the handler: it is a different resource.
    _r(Op.CopyObject, "s3:PutObject", "object"),
    _r(Op.GetObject, "s3:GetObject", "object", "s3:GetObjectVersion"),
    _r(Op.HeadObject, "s3:GetObject", "object", "s3:GetObjectVersion"),
    _r(Op.DeleteObject, "s3:DeleteObject", "object", "s3:DeleteObjectVersion"),
    _r(Op.GetObjectAcl, "s3:GetObjectAcl", "object", "s3:GetObjectVersionAcl"),
    _r(Op.PutObjectAcl, "s3:PutObjectAcl", "object", "s3:PutObjectVersionAcl"),
    _r(Op.GetObjectTagging, "s3:GetObjectTagging", "object", "s3:GetObjectVersionTagging"),
    _r(Op.PutObjectTagging, "s3:PutObjectTagging", "object", "s3:PutObjectVersionTagging"),
    _r(Op.DeleteObjectTagging, "s3:DeleteObjectTagging", "object", "s3:DeleteObjectVersionTagging"),
    _r(Op.GetObjectAttributes, "s3:GetObjectAttributes", "object", "s3:GetObjectVersionAttributes"),
    # Object lock: one action with or without a versionId (AWS has no *Version variants).
    _r(Op.GetObjectRetention, "s3:GetObjectRetention", "object"),
    _r(Op.PutObjectRetention, "s3:PutObjectRetention", "object"),
    _r(Op.GetObjectLegalHold, "s3:GetObjectLegalHold", "object"),
    _r(Op.PutObjectLegalHold, "s3:PutObjectLegalHold", "object"),
    _r(Op.CreateMultipartUpload, "s3:PutObject", "object"),
    _r(Op.UploadPart, "s3:PutObject", "object"),
    _r(Op.UploadPartCopy, "s3:PutObject", "object"),
    _r(Op.CompleteMultipartUpload, "s3:PutObject", "object"),
    _r(Op.AbortMultipartUpload, "s3:AbortMultipartUpload", "object"),
    _r(Op.ListParts, "s3:ListMultipartUploadParts", "object"),
    _r(Op.RestoreObject, "s3:RestoreObject", "object"),
)

ROUTES: Mapping[Op, Route] = MappingProxyType({r.op: r for r in _ROUTE_LIST})


def required_permission(route: Route, req: S3Request) -> str:
    """The IAM action this request needs: the version variant when a versionId is named."""
    if route.version_permission and req.has_param("versionId"):
        return route.version_permission
    return route.permission


@dataclass(frozen=True, slots=True)
class _Rule:
    params: tuple[str, ...]  # sub-resource query parameters that must all be present
    op: Op
    # True: only with an x-amz-copy-source header; False: only without; None: either.
    copy_source: bool | None = None


def _rules(*rules: tuple[str | tuple[str, ...], Op] | _Rule) -> tuple[_Rule, ...]:
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
    ("service", "GET"): _rules(((), Op.ListBuckets)),
    ("bucket", "GET"): _rules(
        ("uploads", Op.ListMultipartUploads),
        ("versions", Op.ListObjectVersions),
        ("location", Op.GetBucketLocation),
        ("acl", Op.GetBucketAcl),
        ("cors", Op.GetBucketCors),
        ("policy", Op.GetBucketPolicy),
        ("policyStatus", Op.GetBucketPolicyStatus),
        ("versioning", Op.GetBucketVersioning),
        ("tagging", Op.GetBucketTagging),
        ("lifecycle", Op.GetBucketLifecycleConfiguration),
        ("website", Op.GetBucketWebsite),
        ("logging", Op.GetBucketLogging),
        ("notification", Op.GetBucketNotificationConfiguration),
        ("encryption", Op.GetBucketEncryption),
        ("object-lock", Op.GetObjectLockConfiguration),
        ("ownershipControls", Op.GetBucketOwnershipControls),
        ("publicAccessBlock", Op.GetPublicAccessBlock),
        ("replication", Op.GetBucketReplication),
        ("accelerate", Op.GetBucketAccelerateConfiguration),
        ("requestPayment", Op.GetBucketRequestPayment),
        ("list-type", Op.ListObjectsV2),  # value checked in `_operation`
        ((), Op.ListObjects),
    ),
    ("bucket", "PUT"): _rules(
        ("acl", Op.PutBucketAcl),
        ("cors", Op.PutBucketCors),
        ("policy", Op.PutBucketPolicy),
        ("versioning", Op.PutBucketVersioning),
        ("tagging", Op.PutBucketTagging),
        ("lifecycle", Op.PutBucketLifecycleConfiguration),
        ("website", Op.PutBucketWebsite),
        ("logging", Op.PutBucketLogging),
        ("notification", Op.PutBucketNotificationConfiguration),
        ("encryption", Op.PutBucketEncryption),
        ("object-lock", Op.PutObjectLockConfiguration),
        ("ownershipControls", Op.PutBucketOwnershipControls),
        ("publicAccessBlock", Op.PutPublicAccessBlock),
        ((), Op.CreateBucket),
    ),
    ("bucket", "DELETE"): _rules(
        ("cors", Op.DeleteBucketCors),
        ("policy", Op.DeleteBucketPolicy),
        ("tagging", Op.DeleteBucketTagging),
        ("lifecycle", Op.DeleteBucketLifecycle),
        ("website", Op.DeleteBucketWebsite),
        ("encryption", Op.DeleteBucketEncryption),
        ("ownershipControls", Op.DeleteBucketOwnershipControls),
        ("publicAccessBlock", Op.DeletePublicAccessBlock),
        ((), Op.DeleteBucket),
    ),
    ("bucket", "POST"): _rules(
        ("delete", Op.DeleteObjects),
        ((), Op.PostObject),
    ),
    ("object", "GET"): _rules(
        ("uploadId", Op.ListParts),
        ("acl", Op.GetObjectAcl),
        ("tagging", Op.GetObjectTagging),
        ("attributes", Op.GetObjectAttributes),
        ("retention", Op.GetObjectRetention),
        ("legal-hold", Op.GetObjectLegalHold),
        ((), Op.GetObject),
    ),
    ("object", "PUT"): _rules(
        _Rule(("partNumber", "uploadId"), Op.UploadPartCopy, copy_source=True),
        _Rule(("partNumber", "uploadId"), Op.UploadPart, copy_source=False),
        ("acl", Op.PutObjectAcl),
        ("tagging", Op.PutObjectTagging),
        ("retention", Op.PutObjectRetention),
        ("legal-hold", Op.PutObjectLegalHold),
        _Rule((), Op.CopyObject, copy_source=True),
        ((), Op.PutObject),
    ),
    ("object", "DELETE"): _rules(
        ("uploadId", Op.AbortMultipartUpload),
        ("tagging", Op.DeleteObjectTagging),
        ((), Op.DeleteObject),
    ),
    ("object", "POST"): _rules(
        ("uploads", Op.CreateMultipartUpload),
        ("uploadId", Op.CompleteMultipartUpload),
        ("restore", Op.RestoreObject),
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
        raise KeyTooLongError(Size=str(len(key.encode("utf-8"))), MaxSizeAllowed=str(MAX_KEY_BYTES))
    return bucket, key, vhost is not None


def _level(bucket: str | None, key: str | None) -> Level:
    return "service" if bucket is None else ("bucket" if key is None else "object")


def _plain_operations() -> dict[tuple[Level, str, bool], Op]:
    """The operation of each (level, method, has x-amz-copy-source) for a request without a
    query string: the first rule that needs no sub-resource, as `_operation` would find it."""
    table: dict[tuple[Level, str, bool], Op] = {}
    for (level, method), rules in _RULES.items():
        for copy in (False, True):
            for rule in rules:
                if not rule.params and rule.copy_source in (None, copy):
                    table[(level, method, copy)] = rule.op
                    break
    return table


_PLAIN_OPERATIONS = _plain_operations()


def _operation(req: S3Request, level: Level) -> Op:
    method = req.method
    if method == "OPTIONS":
        return Op.Options
    if method == "HEAD" and level != "service":
        # HEAD has no body to get wrong; ignore sub-resources rather than fail a probe.
        return Op.HeadBucket if level == "bucket" else Op.HeadObject
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


def _checked(req: S3Request, op: Op) -> Op:
    if op == Op.ListObjectsV2 and req.param("list-type") != "2":
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
