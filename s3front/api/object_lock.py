"""Object lock operations and the lock headers of writes, reads and deletes.

Put/GetObjectLockConfiguration (bucket default retention), Put/GetObjectRetention and
Put/GetObjectLegalHold (per version), the `x-amz-object-lock-*` headers (or POST form fields)
that set a new version's lock, the headers GET/HEAD return, and the guard every delete of a
version passes. What the state means is `s3front.objects.lock`.

Errors are the ones AWS sends: a lock request on a bucket without object lock is 400
InvalidRequest "Bucket is missing Object Lock Configuration"; a version without retention or
legal hold is 404 NoSuchObjectLockConfiguration; a bad mode or status in a document is
MalformedXML, a bad header InvalidArgument; a retain-until date not in the future is
InvalidArgument; deleting a protected version is 403 AccessDenied. The three PUT documents
need Content-MD5 or an x-amz-checksum-* header, as AWS requires (boto3 sends one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from lxml import etree
from starlette.responses import Response

from s3front import errors, xml
from s3front.api import integrity
from s3front.api.context import Ctx
from s3front.api.lock_headers import check_not_claimed, may_bypass, require_lock, without_claim
from s3front.api.objects import find_object
from s3front.clock import now_ms
from s3front.objects import lock
from s3front.objects.listing import shard_of
from s3front.objects.versions import ENABLED
from s3front.store.records import NULL_VERSION, BucketRecord, ObjectRecord
from s3front.xmldocs import XMLResponse

_RETRIES = 5


async def _document(ctx: Ctx) -> bytes:
    """The request's XML body, checked against the Content-MD5 or checksum it must carry."""
    return await integrity.required_document(ctx.req, ctx.body, ctx.settings.max_xml_body)


def _root(body: bytes, name: str) -> etree._Element:
    root = xml.parse(body)
    if xml.local_name(root) != name:
        raise errors.MalformedXML()
    return root


# --- bucket configuration ------------------------------------------------------------------


def parse_configuration(body: bytes) -> lock.DefaultRetention | None:
    """ObjectLockConfiguration -> the default retention (None: no Rule)."""
    root = _root(body, "ObjectLockConfiguration")
    if (xml.child_text(root, "ObjectLockEnabled") or "").strip() != "Enabled":
        raise errors.MalformedXML()
    rule = xml.child(root, "Rule")
    if rule is None:
        return None
    default = xml.child(rule, "DefaultRetention")
    if default is None:
        raise errors.MalformedXML()
    mode = (xml.child_text(default, "Mode") or "").strip()
    days = xml.child_text(default, "Days")
    years = xml.child_text(default, "Years")
    if mode not in lock.MODES or (days is None) == (years is None):
        raise errors.MalformedXML()
    text = (days if days is not None else years or "").strip()
    # isascii: str.isdigit() admits "²"; the length bounds int()'s work.
    if not text.lstrip("-").isascii() or not text.lstrip("-").isdigit() or len(text) > 12:
        raise errors.MalformedXML()
    count = int(text)
    if count <= 0:
        raise errors.InvalidRetentionPeriod()
    if count > (lock.MAX_DAYS if days is not None else lock.MAX_YEARS):
        raise errors.InvalidRetentionPeriod(
            "Default retention period is too large: at most "
            f"{lock.MAX_DAYS} days or {lock.MAX_YEARS} years."
        )
    if days is not None:
        return lock.DefaultRetention(mode, days=count)
    return lock.DefaultRetention(mode, years=count)


def configuration_document(rule: lock.DefaultRetention | None) -> bytes:
    root = xml.element("ObjectLockConfiguration")
    xml.sub(root, "ObjectLockEnabled", "Enabled")
    if rule is not None:
        default = xml.sub(xml.sub(root, "Rule"), "DefaultRetention")
        xml.sub(default, "Mode", rule.mode)
        if rule.days:
            xml.sub(default, "Days", rule.days)
        else:
            xml.sub(default, "Years", rule.years)
    return xml.to_bytes(root)


async def handle_put_object_lock_configuration(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    rule = parse_configuration(await _document(ctx))
    if not lock.enabled(bucket) and bucket.versioning != ENABLED:
        # AWS lets an existing bucket turn object lock on only while versioning is Enabled.
        raise errors.InvalidBucketState(
            "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
        )
    attrs = {**bucket.attrs, lock.BUCKET_ATTR: lock.encode_default(rule)}
    await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=200)


async def handle_get_object_lock_configuration(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    if not lock.enabled(bucket):
        raise errors.ObjectLockConfigurationNotFoundError(BucketName=bucket.name)
    return XMLResponse(configuration_document(lock.default_retention(bucket)))


# --- retention and legal hold of one version -----------------------------------------------


def parse_retention(body: bytes, now: int) -> lock.Retention | None:
    """Retention -> the new retention; an empty Retention (neither element) removes it."""
    root = _root(body, "Retention")
    mode = xml.child_text(root, "Mode")
    until = xml.child_text(root, "RetainUntilDate")
    if mode is None and until is None:
        return None
    if mode is None or until is None or mode.strip() not in lock.MODES:
        raise errors.MalformedXML()
    until_ms = lock.parse_date(until)
    if until_ms is None:
        raise errors.MalformedXML()
    if until_ms <= now:
        raise errors.InvalidArgument(
            "The retain until date must be in the future!", ArgumentName="RetainUntilDate"
        )
    return lock.Retention(mode.strip(), until_ms)


def retention_document(retention: lock.Retention) -> bytes:
    root = xml.element("Retention")
    xml.sub(root, "Mode", retention.mode)
    xml.sub(root, "RetainUntilDate", lock.format_date(retention.until_ms))
    return xml.to_bytes(root)


def parse_legal_hold(body: bytes) -> bool:
    root = _root(body, "LegalHold")
    status = (xml.child_text(root, "Status") or "").strip()
    if status not in ("ON", "OFF"):
        raise errors.MalformedXML()
    return status == "ON"


def legal_hold_document(on: bool) -> bytes:
    root = xml.element("LegalHold")
    xml.sub(root, "Status", "ON" if on else "OFF")
    return xml.to_bytes(root)


def _version_header(rec: ObjectRecord) -> dict[str, str] | None:
    return {"x-amz-version-id": rec.version_id} if rec.version_id != NULL_VERSION else None


async def _update_version(
    ctx: Ctx, bucket: BucketRecord, change: Callable[[ObjectRecord], Mapping[str, str]]
) -> ObjectRecord:
    """Rewrite the named version's attrs with `change` (which may refuse), compare-and-set
    so that an update racing an overwrite or another update retries on the new row."""
    shard = shard_of(ctx.key, bucket.shards)
    for _ in range(_RETRIES):
        rec = await find_object(ctx, bucket, ctx.key)
        check_not_claimed(rec, now_ms())
        new = replace(rec, attrs=without_claim(change(rec)))
        if await ctx.store.meta.put_object_if(bucket.bucket_id, shard, new, rec):
            return new
    raise errors.SlowDown("The object changed while its lock was being updated; retry.")


async def handle_put_object_retention(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    require_lock(bucket)
    now = now_ms()
    new = parse_retention(await _document(ctx), now)

    def change(rec: ObjectRecord) -> Mapping[str, str]:
        old = lock.retention_of(rec.attrs)
        bypass = may_bypass(ctx, bucket, ctx.key)
        if not lock.change_allowed(old, new, now, bypass=bypass):
            raise errors.AccessDenied()
        return lock.with_retention(rec.attrs, new)

    rec = await _update_version(ctx, bucket, change)
    return Response(status_code=200, headers=_version_header(rec))


async def handle_get_object_retention(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    require_lock(bucket)
    rec = await find_object(ctx, bucket, ctx.key)
    retention = lock.retention_of(rec.attrs)
    if retention is None:
        raise errors.NoSuchObjectLockConfiguration()
    return XMLResponse(retention_document(retention))


async def handle_put_object_legal_hold(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    require_lock(bucket)
    on = parse_legal_hold(await _document(ctx))
    rec = await _update_version(ctx, bucket, lambda r: lock.with_legal_hold(r.attrs, on))
    return Response(status_code=200, headers=_version_header(rec))


async def handle_get_object_legal_hold(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    require_lock(bucket)
    rec = await find_object(ctx, bucket, ctx.key)
    on = lock.legal_hold_of(rec.attrs)
    if on is None:
        raise errors.NoSuchObjectLockConfiguration()
    return XMLResponse(legal_hold_document(on))
