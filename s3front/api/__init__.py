"""S3 operation handlers, one module per family, bound to operation names here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import Response

from s3front.api import (
    acl,
    attributes,
    bucket_encryption,
    bucket_logging,
    buckets,
    config_docs,
    copy,
    cors,
    lifecycle,
    listing,
    multipart,
    object_lock,
    objects,
    ownership,
    policy,
    post_object,
    public_access,
    tagging,
    versioning,
)
from s3front.api.context import Ctx

Handler = Callable[[Ctx], Awaitable[Response]]

HANDLERS: dict[str, Handler] = {
    "ListBuckets": buckets.handle_list_buckets,
    "CreateBucket": acl.handle_create_bucket,  # applies x-amz-acl / x-amz-grant-*
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
    "CopyObject": copy.handle_copy_object,
    "UploadPartCopy": copy.handle_upload_part_copy,
    "GetObjectAttributes": attributes.handle_get_object_attributes,
    **config_docs.HANDLERS,
    "GetBucketLifecycleConfiguration": lifecycle.handle_get_bucket_lifecycle,
    "PutBucketLifecycleConfiguration": lifecycle.handle_put_bucket_lifecycle,
    "DeleteBucketLifecycle": lifecycle.handle_delete_bucket_lifecycle,
    **bucket_encryption.HANDLERS,  # Get/Put/DeleteBucketEncryption
    **bucket_logging.HANDLERS,  # Get/PutBucketLogging (delivery: s3front.access_log_delivery)
    "GetObjectTagging": tagging.handle_get_object_tagging,
    "PutObjectTagging": tagging.handle_put_object_tagging,
    "DeleteObjectTagging": tagging.handle_delete_object_tagging,
    "GetBucketTagging": tagging.handle_get_bucket_tagging,
    "PutBucketTagging": tagging.handle_put_bucket_tagging,
    "DeleteBucketTagging": tagging.handle_delete_bucket_tagging,
    "GetBucketVersioning": versioning.handle_get_bucket_versioning,
    "PutBucketVersioning": versioning.handle_put_bucket_versioning,
    # Access control (s3front.access): ACLs, bucket policy, CORS, browser POST uploads.
    "GetBucketAcl": acl.handle_get_bucket_acl,
    "PutBucketAcl": acl.handle_put_bucket_acl,
    "GetObjectAcl": acl.handle_get_object_acl,
    "PutObjectAcl": acl.handle_put_object_acl,
    "GetBucketPolicy": policy.handle_get_bucket_policy,
    "PutBucketPolicy": policy.handle_put_bucket_policy,
    "DeleteBucketPolicy": policy.handle_delete_bucket_policy,
    "GetBucketPolicyStatus": policy.handle_get_bucket_policy_status,
    "GetPublicAccessBlock": public_access.handle_get_public_access_block,
    "PutPublicAccessBlock": public_access.handle_put_public_access_block,
    "DeletePublicAccessBlock": public_access.handle_delete_public_access_block,
    "GetBucketOwnershipControls": ownership.handle_get_bucket_ownership_controls,
    "PutBucketOwnershipControls": ownership.handle_put_bucket_ownership_controls,
    "DeleteBucketOwnershipControls": ownership.handle_delete_bucket_ownership_controls,
    "GetBucketCors": cors.handle_get_bucket_cors,
    "PutBucketCors": cors.handle_put_bucket_cors,
    "DeleteBucketCors": cors.handle_delete_bucket_cors,
    "Options": cors.handle_options,
    "PostObject": post_object.handle_post_object,
    # Object lock (s3front.api.object_lock): WORM retention and legal holds.
    "GetObjectLockConfiguration": object_lock.handle_get_object_lock_configuration,
    "PutObjectLockConfiguration": object_lock.handle_put_object_lock_configuration,
    "GetObjectRetention": object_lock.handle_get_object_retention,
    "PutObjectRetention": object_lock.handle_put_object_retention,
    "GetObjectLegalHold": object_lock.handle_get_object_legal_hold,
    "PutObjectLegalHold": object_lock.handle_put_object_legal_hold,
}
