"""What every handler receives: the request, its endpoint, who sent it, its verified body, and
the server's shared state. Handlers are plain `async def handle_<op>(ctx) -> Response`."""

from __future__ import annotations

import time
from dataclasses import dataclass

from s3front import errors
from s3front.auth import Principal
from s3front.body import Body
from s3front.config import Settings
from s3front.request import S3Request
from s3front.routing import Endpoint
from s3front.store.bucket_cache import bucket_for_objects
from s3front.store.protocols import Store
from s3front.store.records import BucketRecord, ObjectRecord

# Bucket-level operations that read or delete objects but never change the bucket: like object
# operations, they may use a recent bucket record.
_BUCKET_OPS_ON_OBJECTS = frozenset(
    {"ListObjects", "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads", "DeleteObjects"}
)


@dataclass(slots=True)
class Ctx:
    req: S3Request
    ep: Endpoint
    principal: Principal | None
    body: Body
    store: Store
    settings: Settings
    request_id: str

    @property
    def bucket_name(self) -> str:
        assert self.ep.bucket is not None, "routing guarantees a bucket for bucket operations"
        return self.ep.bucket

    @property
    def key(self) -> str:
        assert self.ep.key is not None, "routing guarantees a key for object operations"
        return self.ep.key

    @property
    def tenant(self) -> str:
        if self.principal is None:
            raise errors.AccessDenied()
        return self.principal.tenant

    async def bucket(self) -> BucketRecord:
        """The request's bucket, if it exists and the caller may perform the request's
        operation on it (and on the object it names): see `s3front.access.authorize`.

        Object operations and listings may see a record a moment old (`store.bucket_cache`).
        A missing bucket is NoSuchBucket; anything not allowed is AccessDenied, as S3 answers.
        For reads governed by an object's ACL, the object is read to decide; a caller without
        access gets AccessDenied whether or not the key exists.
        """
        if self.ep.key is not None or self.ep.op in _BUCKET_OPS_ON_OBJECTS:
            rec = await bucket_for_objects(self.store, self.bucket_name)
        else:  # a bucket operation: it may change the bucket, so it reads the record afresh
            rec = await self.store.meta.get_bucket(self.bucket_name)
        if rec is None:
            raise errors.NoSuchBucket(BucketName=self.bucket_name)
        await self.authorize(rec)
        from s3front.access.context_hooks import check_bucket_controls, check_request_grantees

        check_bucket_controls(self, rec)
        await check_request_grantees(self, rec)
        return rec

    async def authorize(self, bucket: BucketRecord) -> None:
        """AccessDenied unless the request's operation is allowed on `bucket` (and its key)."""
        from s3front.access.context_hooks import authorize_request

        await authorize_request(self, bucket)

    async def authorize_object(
        self, bucket: BucketRecord, key: str, obj: ObjectRecord | None, action: str
    ) -> None:
        """AccessDenied unless `action` is allowed on this object (e.g. a copy's source)."""
        from s3front.access.context_hooks import authorize_object

        authorize_object(self, bucket, key, obj, action)


def now_ms() -> int:
    return int(time.time() * 1000)


def owner_names(ctx: Ctx) -> dict[str, str]:
    """Display names for Owner elements (tenant id -> name) known to this request."""
    if ctx.principal is None:
        return {}
    return {ctx.principal.tenant: ctx.principal.display_name}
