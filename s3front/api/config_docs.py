"""Bucket configuration sub-resources that read-only tools ask for.

`s3cmd info` GETs ?policy, ?cors and ?acl and retries a 5xx for about 45 s; `aws s3 ls` and
backup tools ask for ?versioning, ?tagging, ?encryption and friends. Each gets the answer S3
gives a bucket that has no such configuration: an empty document or the specific
"no such configuration" error, never a 500 or 501.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import Response

from s3front import errors, xmldocs
from s3front.api.context import Ctx
from s3front.routing import Op
from s3front.xmldocs import XMLResponse


def _missing(err: type[errors.S3Error]) -> Callable[[Ctx], Awaitable[Response]]:
    async def handler(ctx: Ctx) -> Response:
        bucket = await ctx.bucket()
        raise err(BucketName=bucket.name)

    handler.__name__ = f"handle_missing_{err.__name__}"
    return handler


def _empty(
    root: str, children: tuple[tuple[str, str], ...] = ()
) -> Callable[[Ctx], Awaitable[Response]]:
    async def handler(ctx: Ctx) -> Response:
        await ctx.bucket()
        return XMLResponse(xmldocs.simple_document(root, children))

    handler.__name__ = f"handle_empty_{root}"
    return handler


HANDLERS: dict[Op, Callable[[Ctx], Awaitable[Response]]] = {
    Op.GetBucketLifecycle: _missing(errors.NoSuchLifecycleConfiguration),
    Op.GetBucketLifecycleConfiguration: _missing(errors.NoSuchLifecycleConfiguration),
    Op.GetBucketWebsite: _missing(errors.NoSuchWebsiteConfiguration),
    Op.GetBucketReplication: _missing(errors.ReplicationConfigurationNotFoundError),
    Op.GetBucketNotificationConfiguration: _empty("NotificationConfiguration"),
    Op.GetBucketNotification: _empty("NotificationConfiguration"),
    Op.GetBucketAccelerateConfiguration: _empty("AccelerateConfiguration"),
    Op.GetBucketRequestPayment: _empty("RequestPaymentConfiguration", (("Payer", "BucketOwner"),)),
}
