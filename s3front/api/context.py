"""What every handler receives: the request, its endpoint, who sent it, its verified body, and
the server's shared state. Handlers are plain `async def handle_<op>(ctx) -> Response`."""

from __future__ import annotations

from dataclasses import dataclass

from s3front import errors
from s3front.api import access_hooks
from s3front.auth import Principal
from s3front.body import Body
from s3front.config import Settings
from s3front.objects.commit import commit_version
from s3front.request import S3Request
from s3front.routing import Endpoint, Op
from s3front.store.bucket_cache import bucket_for_objects
from s3front.store.protocols import Store
from s3front.store.records import BucketRecord, ObjectRecord

# Bucket-level operations that read or delete objects but never change the bucket: like object
# operations, they may use a recent bucket record.
_BUCKET_OPS_ON_OBJECTS = frozenset(
    {
        Op.ListObjects,
        Op.ListObjectsV2,
        Op.ListObjectVersions,
        Op.ListMultipartUploads,
        Op.DeleteObjects,
    }
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
        access_hooks.check_bucket_controls(self, rec)
        await access_hooks.check_request_grantees(self, rec)
        return rec

    async def authorize(self, bucket: BucketRecord) -> None:
        """AccessDenied unless the request's operation is allowed on `bucket` (and its key)."""
        await access_hooks.authorize_request(self, bucket)

    async def commit(self, bucket: BucketRecord, rec: ObjectRecord) -> ObjectRecord:
        """Make a new version visible (`objects.commit.commit_version`) under this request's
        If-None-Match / If-Match; the row as written."""
        return await commit_version(
            self.store.meta,
            bucket,
            rec,
            if_none_match=self.req.header("if-none-match"),
            if_match=self.req.header("if-match"),
        )

    async def authorize_object(
        self, bucket: BucketRecord, key: str, obj: ObjectRecord | None, action: str
    ) -> None:
        """AccessDenied unless `action` is allowed on this object (e.g. a copy's source)."""
        access_hooks.authorize_object(self, bucket, key, obj, action)


def owner_names(ctx: Ctx) -> dict[str, str]:
    """Display names for Owner elements (tenant id -> name) known to this request."""
    if ctx.principal is None:
        return {}
    return {ctx.principal.tenant: ctx.principal.display_name}
