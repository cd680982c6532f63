"""PutBucketLogging, GetBucketLogging: server access logging of a bucket.

The configuration (`BucketLoggingStatus`) names a target bucket and a key prefix; the records of
the bucket's requests are then delivered there as objects (`s3front.access_log_delivery`, in the
format of `s3front.server_access_log`). It lives in the source bucket's attrs
(`server_access_log.BUCKET_ATTR`); an empty `<BucketLoggingStatus/>` turns logging off.

Permissions, as AWS where a multi-tenant server can follow it:
- only the source bucket's owner may set its logging status (AWS: "To set the logging status of
  a bucket, you must be the bucket owner"), whatever a bucket policy grants;
- the target bucket must exist (else 400 InvalidTargetBucketForLogging) and be in the same
  region (else 403 CrossLocationLoggingProhibitted, AWS's spelling);
- the target must belong to the source bucket's owner. AWS delivers into another account's
  bucket when that bucket's policy (or ACL) lets the logging service write; here one tenant
  cannot grant another's logs a way in, and a tenant must not be able to fill (and bill) another
  tenant's bucket with log objects: 400 InvalidTargetBucketForLogging ("The owner for the bucket
  to be logged and the target bucket must be the same.", AWS's message for that case);
- a target with S3 Object Lock is refused (AWS: "S3 buckets with Object Lock can't be used as
  destination buckets for server access logs").

Not implemented, refused with 501 NotImplemented rather than stored and ignored: TargetGrants
with grants in it (log objects are owned by the target bucket's owner and carry its default
ACL). TargetObjectKeyFormat: both SimplePrefix and PartitionedPrefix (with EventTime or
DeliveryTime) are implemented.
"""

from __future__ import annotations

from dataclasses import replace

from lxml import etree
from starlette.responses import Response

from s3front import errors, xml
from s3front.api.buckets import check_bucket_name
from s3front.api.context import Ctx
from s3front.body import read_all
from s3front.objects import lock
from s3front.objects.limits import MAX_KEY_BYTES
from s3front.routing import Op
from s3front.server_access_log import (
    BUCKET_ATTR,
    DELIVERY_TIME,
    EVENT_TIME,
    MAX_SUFFIX_BYTES,
    LoggingConfig,
    config_of,
)
from s3front.xmldocs import XMLResponse


class InvalidTargetBucketForLogging(errors.S3Error):
    status, message = 400, "The target bucket for logging does not exist"


class CrossLocationLoggingProhibitted(errors.S3Error):
    # Sic: AWS's error code has the double "t".
    status, message = (
        403,
        "Cross S3 location logging not allowed. Buckets in one geographic location cannot "
        "log information to a bucket in another location.",
    )


_LOGGING_ENABLED_CHILDREN = frozenset(
    {"TargetBucket", "TargetPrefix", "TargetGrants", "TargetObjectKeyFormat"}
)


def _only(el: etree._Element, allowed: frozenset[str]) -> None:
    for child in el:
        if isinstance(child.tag, str) and xml.local_name(child) not in allowed:
            raise errors.MalformedXML()


def _key_format(el: etree._Element | None) -> tuple[bool, str]:
    """(partitioned, date source) of a TargetObjectKeyFormat element."""
    if el is None:
        return False, DELIVERY_TIME
    _only(el, frozenset({"SimplePrefix", "PartitionedPrefix"}))
    simple = xml.child(el, "SimplePrefix")
    partitioned = xml.child(el, "PartitionedPrefix")
    if (simple is None) == (partitioned is None):
        raise errors.MalformedXML()  # exactly one of the two
    if partitioned is None:
        return False, DELIVERY_TIME
    _only(partitioned, frozenset({"PartitionDateSource"}))
    source = (xml.child_text(partitioned, "PartitionDateSource") or DELIVERY_TIME).strip()
    if source not in (EVENT_TIME, DELIVERY_TIME):
        raise errors.MalformedXML()
    return True, source


def parse_status(body: bytes) -> LoggingConfig | None:
    """A BucketLoggingStatus document -> the configuration it sets (None: logging off)."""
    root = xml.parse(body)
    if xml.local_name(root) != "BucketLoggingStatus":
        raise errors.MalformedXML()
    _only(root, frozenset({"LoggingEnabled"}))
    enabled = list(xml.children(root, "LoggingEnabled"))
    if not enabled:
        return None
    if len(enabled) > 1:
        raise errors.MalformedXML()
    el = enabled[0]
    _only(el, _LOGGING_ENABLED_CHILDREN)
    target = xml.child_text(el, "TargetBucket")
    prefix = xml.child_text(el, "TargetPrefix")
    if target is None or prefix is None:  # both required by AWS's schema
        raise errors.MalformedXML()
    grants = xml.child(el, "TargetGrants")
    if grants is not None and any(isinstance(g.tag, str) for g in grants):
        raise errors.NotImplemented("TargetGrants is not implemented.")
    partitioned, source = _key_format(xml.child(el, "TargetObjectKeyFormat"))
    target = target.strip()
    if not target:
        raise InvalidTargetBucketForLogging("The target bucket for logging must be named.")
    try:
        check_bucket_name(target)  # no bucket has another name: no store read for it
    except errors.InvalidBucketName:
        raise InvalidTargetBucketForLogging(TargetBucket=target[:255]) from None
    if len(prefix.encode("utf-8")) + MAX_SUFFIX_BYTES > MAX_KEY_BYTES:
        raise errors.InvalidArgument(
            "The TargetPrefix is too long for log object keys.", ArgumentName="TargetPrefix"
        )
    return LoggingConfig(target, prefix, partitioned, source)


def status_document(config: LoggingConfig | None) -> bytes:
    root = xml.element("BucketLoggingStatus")
    if config is None:
        return xml.to_bytes(root)
    enabled = xml.sub(root, "LoggingEnabled")
    xml.sub(enabled, "TargetBucket", config.target_bucket)
    xml.sub(enabled, "TargetPrefix", config.target_prefix)
    fmt = xml.sub(enabled, "TargetObjectKeyFormat")
    if config.partitioned:
        part = xml.sub(fmt, "PartitionedPrefix")
        xml.sub(part, "PartitionDateSource", config.date_source)
    else:
        xml.sub(fmt, "SimplePrefix")
    return xml.to_bytes(root)


async def handle_put_bucket_logging(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    if ctx.tenant != bucket.owner:
        raise errors.AccessDenied()
    body = await read_all(ctx.body, ctx.settings.max_xml_body)
    config = parse_status(body)
    if config is None:
        attrs = {k: v for k, v in bucket.attrs.items() if k != BUCKET_ATTR}
    else:
        target = await ctx.store.meta.get_bucket(config.target_bucket)
        if target is None:
            raise InvalidTargetBucketForLogging()
        if target.owner != bucket.owner:
            raise InvalidTargetBucketForLogging(
                "The owner for the bucket to be logged and the target bucket must be the same."
            )
        if target.region != bucket.region:
            raise CrossLocationLoggingProhibitted(
                SourceBucketLocation=bucket.region, TargetBucketLocation=target.region
            )
        if lock.enabled(target):
            raise InvalidTargetBucketForLogging(
                "The target bucket for logging has Object Lock enabled; log objects cannot be "
                "delivered to it."
            )
        attrs = {**bucket.attrs, BUCKET_ATTR: config.encode()}
    await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=200)


async def handle_get_bucket_logging(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    return XMLResponse(status_document(config_of(bucket.attrs)))


HANDLERS = {
    Op.PutBucketLogging: handle_put_bucket_logging,
    Op.GetBucketLogging: handle_get_bucket_logging,
}
