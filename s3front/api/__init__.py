"""S3 operation handlers, one module per family, bound to operation names here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import Response

from s3front.api import buckets, config_docs, listing, multipart, objects, tagging
from s3front.api.context import Ctx

Handler = Callable[[Ctx], Awaitable[Response]]

HANDLERS: dict[str, Handler] = {
    "ListBuckets": buckets.handle_list_buckets,
    "CreateBucket": buckets.handle_create_bucket,
    "DeleteBucket": buckets.handle_delete_bucket,
    "HeadBucket": buckets.handle_head_bucket,
    "GetBucketLocation": buckets.handle_get_bucket_location,
    "ListObjects": listing.handle_list_objects,
    "ListObjectsV2": listing.handle_list_objects_v2,
    "ListObjectVersions": listing.handle_list_object_versions,
    "ListMultipartUploads": listing.handle_list_multipart_uploads,
    "PutObject": objects.handle_put_object,
    "GetObject": objects.handle_get_object,
    "HeadObject": objects.handle_head_object,
    "DeleteObject": objects.handle_delete_object,
    "DeleteObjects": objects.handle_delete_objects,
    "CreateMultipartUpload": multipart.handle_create_multipart_upload,
    "UploadPart": multipart.handle_upload_part,
    "CompleteMultipartUpload": multipart.handle_complete_multipart_upload,
    "AbortMultipartUpload": multipart.handle_abort_multipart_upload,
    "ListParts": multipart.handle_list_parts,
    **config_docs.HANDLERS,
    "GetObjectTagging": tagging.handle_get_object_tagging,
    "PutObjectTagging": tagging.handle_put_object_tagging,
    "DeleteObjectTagging": tagging.handle_delete_object_tagging,
    "GetBucketTagging": tagging.handle_get_bucket_tagging,
    "PutBucketTagging": tagging.handle_put_bucket_tagging,
    "DeleteBucketTagging": tagging.handle_delete_bucket_tagging,
}
