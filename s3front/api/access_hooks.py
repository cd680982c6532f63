"""Glue between a request context (`api.context.Ctx`) and the access decision
(`access.authorize.is_allowed`).

The action comes from the route table (`routing.ROUTES`, the version variant when the request
names a versionId); the resource is the request's bucket, or its object for object-level
operations; the facts for policy conditions come from the request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn

from s3front import errors, routing
from s3front.access import acl as acls
from s3front.access import controls, tenants
from s3front.access import policy as policies
from s3front.access.authorize import is_allowed, needs_object
from s3front.access.conditions import EXISTING_TAG, HEADER_KEYS, Facts
from s3front.api.tagging_attrs import tags_of
from s3front.auth import sigv4
from s3front.keys import tenant_id
from s3front.objects import versions
from s3front.request import S3Request
from s3front.routing import Op
from s3front.store.records import BucketRecord, ObjectRecord

if TYPE_CHECKING:
    from s3front.api.context import Ctx


_LISTINGS = frozenset({Op.ListObjects, Op.ListObjectsV2, Op.ListObjectVersions})


def _auth_kind(req: S3Request, form: Mapping[str, str] | None) -> tuple[str, str] | None:
    """(s3:authType, s3:signatureversion) of a signed request; None for an anonymous one.
    Authentication has already verified whichever of these the request carries."""
    if form is not None:
        if "x-amz-signature" in form:
            return "POST", sigv4.ALGORITHM
        return ("POST", "AWS") if "signature" in form else None
    header = req.headers.get("authorization", "").strip()
    if header.startswith(sigv4.ALGORITHM):
        return "REST-HEADER", sigv4.ALGORITHM
    if header.startswith("AWS "):
        return "REST-HEADER", "AWS"
    if req.has_param("X-Amz-Signature"):
        return "REST-QUERY-STRING", sigv4.ALGORITHM
    if req.has_param("Signature"):
        return "REST-QUERY-STRING", "AWS"
    return None


class _RequestValues(Mapping[str, str]):
    """The condition values of `facts_of`, made on first use. Every authorised request has
    Facts, but only a bucket policy's conditions read these, and most buckets have no policy:
    made eagerly they were ~3 % of a small GET's CPU."""

    __slots__ = ("_ctx", "_form", "_second", "_values")

    def __init__(self, ctx: Ctx, form: Mapping[str, str] | None) -> None:
        self._ctx, self._form = ctx, form
        self._second = int(time.time())  # the request's time, not the first read's
        self._values: dict[str, str] | None = None

    def _made(self) -> dict[str, str]:
        if self._values is None:
            self._values = _values_of(self._ctx, self._form, self._second)
        return self._values

    def __getitem__(self, key: str) -> str:
        return self._made()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._made())

    def __len__(self) -> int:
        return len(self._made())


def _values_of(ctx: Ctx, form: Mapping[str, str] | None, second: int) -> dict[str, str]:
    req = ctx.req
    values = {
        "aws:currenttime": datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:epochtime": str(second),
    }
    for name in ("user-agent", "referer"):
        if name in req.headers:
            values["aws:" + name.replace("-", "")] = req.headers[name]
    for name in HEADER_KEYS:
        value = form.get(name) if form is not None else req.headers.get(name)
        if value is not None:
            values["s3:" + name] = value
    if form is not None and form.get("acl"):
        values["s3:x-amz-acl"] = form["acl"]
    if (version := req.param("versionId")) is not None:
        values["s3:versionid"] = version
    if ctx.ep.op in _LISTINGS:  # AWS sets these keys for listings only
        for name in ("delimiter", "max-keys"):
            if (value := req.param(name)) is not None:
                values["s3:" + name] = value
    kind = _auth_kind(req, form) if ctx.principal is not None else None
    if kind is not None:
        values["s3:authtype"], values["s3:signatureversion"] = kind
    return values


def facts_of(ctx: Ctx, form: Mapping[str, str] | None = None) -> Facts:
    """The condition keys of the request (`access.conditions.KEYS`). `form`: a POST upload's
    fields, which stand in for the headers (acl, x-amz-server-side-encryption, ...)."""
    req = ctx.req
    return Facts(
        source_ip=req.client_ip,
        secure=req.scheme == "https",
        prefix=req.param("prefix") if ctx.ep.op in _LISTINGS else None,
        values=_RequestValues(ctx, form),
        username=ctx.principal.display_name if ctx.principal is not None else None,
    )


def caller(ctx: Ctx) -> str | None:
    return ctx.principal.tenant if ctx.principal is not None else None


def action_of(ctx: Ctx) -> tuple[str, str | None]:
    """(IAM action, object key or None) of the request's operation."""
    route = routing.ROUTES.get(ctx.ep.op)
    if route is None or not route.permission:
        # Not in the table: owner-only (the decision for an action no grant names).
        return "s3:" + ctx.ep.op, None
    key = ctx.ep.key if route.level == "object" else None
    return routing.required_permission(route, ctx.req), key


async def read_object(ctx: Ctx, bucket: BucketRecord, key: str) -> ObjectRecord | None:
    version_id = ctx.req.param("versionId")
    rec = await versions.resolve(ctx.store.meta, bucket, key, version_id)
    # A delete marker named by its version id is decided on as it is; a newest row that is
    # one means there is no object.
    if version_id is None and rec is not None and rec.delete_marker:
        return None
    return rec


# The actions for which AWS sets s3:ExistingObjectTag/<key> (not PutObject, not DeleteObject).
_TAGGED_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectAcl",
        "s3:GetObjectVersionAcl",
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
        "s3:PutObjectAcl",
        "s3:PutObjectVersionAcl",
        "s3:PutObjectTagging",
        "s3:PutObjectVersionTagging",
        "s3:DeleteObjectTagging",
        "s3:DeleteObjectVersionTagging",
    }
)


def needs_tags(bucket: BucketRecord, action: str) -> bool:
    """Whether deciding `action` needs the object's tags: the policy tests them."""
    raw = bucket.attrs.get("policy")
    if not raw or action not in _TAGGED_ACTIONS:
        return False
    try:
        return policies.parse_cached(raw, bucket.name).tests_object_tags
    except errors.MalformedPolicy:
        return False  # `is_allowed` denies on it anyway


def with_tags(facts: Facts, obj: ObjectRecord) -> Facts:
    tags = {EXISTING_TAG + k: v for k, v in tags_of(obj.attrs).items()}
    return replace(facts, values={**facts.values, **tags})


async def authorize_request(ctx: Ctx, bucket: BucketRecord) -> None:
    action, key = action_of(ctx)
    who, facts = caller(ctx), facts_of(ctx)
    if key is not None and needs_tags(bucket, action):
        # The policy tests the object's tags: read it first, decide once, with its ACL too.
        obj = await read_object(ctx, bucket, key)
        if obj is not None:
            facts = with_tags(facts, obj)
        if is_allowed(who, action, bucket, key, obj, facts):
            return
        _deny(ctx, bucket, key, obj, action, ctx.req.param("versionId"))
    if is_allowed(who, action, bucket, key, None, facts):
        return
    if ctx.ep.op == Op.DeleteObjects and is_allowed(who, action, bucket, "*", None, facts):
        # The coarse check of a multi-object delete, against "any key" (a policy on
        # "bucket/*"); the handler authorises each key (`authorize_object`).
        return
    # Only a caller who is not otherwise allowed costs the extra read of the object's ACL.
    if key is not None and needs_object(action):
        obj = await read_object(ctx, bucket, key)
        if obj is not None and is_allowed(who, action, bucket, key, obj, facts):
            return
        _deny(ctx, bucket, key, obj, action, ctx.req.param("versionId"))
    raise errors.AccessDenied()


def _deny(
    ctx: Ctx,
    bucket: BucketRecord,
    key: str,
    obj: ObjectRecord | None,
    action: str,
    version_id: str | None,
) -> NoReturn:
    """The refusal of a read the caller is not allowed: as AWS (ErrorResponses, "NoSuchKey" and
    the GetObject page's "Permissions"), a missing key is 404 NoSuchKey to a caller who may list
    the bucket (the listing would tell them anyway) and 403 AccessDenied to one who may not.
    Raised here rather than by letting the request through, so a key written meanwhile is never
    served to a caller without s3:GetObject. `version_id`: the version the read names (a
    request's ?versionId=, a copy's source version); naming one, the answer is 403."""
    if (
        obj is None
        and action == "s3:GetObject"
        and version_id is None
        and is_allowed(caller(ctx), "s3:ListBucket", bucket, None, None, facts_of(ctx))
    ):
        raise errors.NoSuchKey(Key=key)
    raise errors.AccessDenied()


def authorize_object(
    ctx: Ctx,
    bucket: BucketRecord,
    key: str,
    obj: ObjectRecord | None,
    action: str,
    form: Mapping[str, str] | None = None,
) -> None:
    """AccessDenied unless `action` is allowed on the object; `form`: a POST upload's fields."""
    if not is_allowed(caller(ctx), action, bucket, key, obj, facts_of(ctx, form)):
        raise errors.AccessDenied()


async def authorize_read(ctx: Ctx, bucket: BucketRecord, key: str, version_id: str | None) -> None:
    """AccessDenied unless the caller may read this object (a copy's source): the object's
    own ACL is consulted, and a caller without access learns nothing about the key."""
    action = "s3:GetObjectVersion" if version_id is not None else "s3:GetObject"
    who, facts = caller(ctx), facts_of(ctx)
    tags = needs_tags(bucket, action)
    if not tags and is_allowed(who, action, bucket, key, None, facts):
        return
    obj = await versions.resolve(ctx.store.meta, bucket, key, version_id)
    if tags and obj is not None:
        facts = with_tags(facts, obj)
    if obj is not None and is_allowed(who, action, bucket, key, obj, facts):
        return
    # A newest row that is a delete marker: no object, as for GET (`read_object`).
    missing = obj is None or obj.delete_marker
    _deny(ctx, bucket, key, None if missing else obj, action, version_id)


def writer(ctx: Ctx, bucket: BucketRecord) -> str:
    """Who owns what this request writes: the caller, or for an anonymous write (allowed by
    a public-read-write ACL or a policy) the bucket's owner; the bucket's ObjectOwnership
    may give it to the bucket owner (`controls.object_owner`)."""
    caller = ctx.principal.tenant if ctx.principal is not None else bucket.owner
    return controls.object_owner(bucket.attrs, caller, bucket.owner, ctx.req.header("x-amz-acl"))


# Operations whose x-amz-acl / x-amz-grant-* headers set the ACL of the object they create.
# (PutBucketAcl and PutObjectAcl check theirs, header or body, in s3front.api.acl.)
_ACL_HEADER_OPS = frozenset({Op.PutObject, Op.CopyObject, Op.CreateMultipartUpload})


def check_bucket_controls(ctx: Ctx, bucket: BucketRecord) -> None:
    """What the bucket's settings refuse before a handler acts: a request that names another
    bucket owner (x-amz-expected-bucket-owner: 403, as S3), and an ACL header the bucket's
    ownership controls or public access block do not allow."""
    expected = ctx.req.header("x-amz-expected-bucket-owner").strip()
    if expected and tenant_id(expected) != bucket.owner:
        raise errors.AccessDenied()
    if ctx.ep.op in _ACL_HEADER_OPS:
        requested = acls.from_headers(ctx.req, writer(ctx, bucket), bucket.owner)
        if requested is not None:
            controls.check_acl_write(bucket.attrs, requested, bucket.owner)


async def check_request_grantees(ctx: Ctx, bucket: BucketRecord) -> None:
    """The x-amz-grant-* headers of a request that creates an object name existing tenants
    (InvalidArgument "Invalid id" otherwise, as S3). Checked after the access decision, so a
    caller who may not write learns nothing about which tenants exist."""
    if ctx.ep.op not in _ACL_HEADER_OPS or not any(
        h in ctx.req.headers for h in acls.GRANT_HEADERS
    ):
        return
    requested = acls.from_headers(ctx.req, writer(ctx, bucket), bucket.owner)
    if requested is not None:
        await tenants.check_grantees(ctx.store.keys, requested, bucket.owner, header=True)
