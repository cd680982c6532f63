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
from s3front.routing import Op

Handler = Callable[[Ctx], Awaitable[Response]]

HANDLERS: dict[Op, Handler] = {
    Op.ListBuckets: buckets.handle_list_buckets,
    Op.CreateBucket: buckets.handle_create_bucket,
    Op.DeleteBucket: buckets.handle_delete_bucket,
    Op.HeadBucket: buckets.handle_head_bucket,
    Op.GetBucketLocation: buckets.handle_get_bucket_location,
    Op.ListObjects: listing.handle_list_objects,
    Op.ListObjectsV2: listing.handle_list_objects_v2,
    Op.ListObjectVersions: listing.handle_list_object_versions,
    Op.ListMultipartUploads: listing.handle_list_multipart_uploads,
    Op.PutObject: objects.handle_put_object,
    Op.GetObject: objects.handle_get_object,
    Op.HeadObject: objects.handle_head_object,
    Op.DeleteObject: objects.handle_delete_object,
    Op.DeleteObjects: objects.handle_delete_objects,
    Op.CreateMultipartUpload: multipart.handle_create_multipart_upload,
    Op.UploadPart: multipart.handle_upload_part,
    Op.CompleteMultipartUpload: multipart.handle_complete_multipart_upload,
    Op.AbortMultipartUpload: multipart.handle_abort_multipart_upload,
    Op.ListParts: multipart.handle_list_parts,
    Op.CopyObject: copy.handle_copy_object,
    Op.UploadPartCopy: copy.handle_upload_part_copy,
    Op.GetObjectAttributes: attributes.handle_get_object_attributes,
    **config_docs.HANDLERS,
    Op.GetBucketLifecycleConfiguration: lifecycle.handle_get_bucket_lifecycle,
    Op.PutBucketLifecycleConfiguration: lifecycle.handle_put_bucket_lifecycle,
    Op.DeleteBucketLifecycle: lifecycle.handle_delete_bucket_lifecycle,
    **bucket_encryption.HANDLERS,  # Get/Put/DeleteBucketEncryption
    **bucket_logging.HANDLERS,  # Get/PutBucketLogging (delivery: s3front.access_log_delivery)
    Op.GetObjectTagging: tagging.handle_get_object_tagging,
    Op.PutObjectTagging: tagging.handle_put_object_tagging,
    Op.DeleteObjectTagging: tagging.handle_delete_object_tagging,
    Op.GetBucketTagging: tagging.handle_get_bucket_tagging,
    Op.PutBucketTagging: tagging.handle_put_bucket_tagging,
    Op.DeleteBucketTagging: tagging.handle_delete_bucket_tagging,
    Op.GetBucketVersioning: versioning.handle_get_bucket_versioning,
    Op.PutBucketVersioning: versioning.handle_put_bucket_versioning,
    # Access control (s3front.access): ACLs, bucket policy, CORS, browser POST uploads.
    Op.GetBucketAcl: acl.handle_get_bucket_acl,
    Op.PutBucketAcl: acl.handle_put_bucket_acl,
    Op.GetObjectAcl: acl.handle_get_object_acl,
    Op.PutObjectAcl: acl.handle_put_object_acl,
    Op.GetBucketPolicy: policy.handle_get_bucket_policy,
    Op.PutBucketPolicy: policy.handle_put_bucket_policy,
    Op.DeleteBucketPolicy: policy.handle_delete_bucket_policy,
    Op.GetBucketPolicyStatus: policy.handle_get_bucket_policy_status,
    Op.GetPublicAccessBlock: public_access.handle_get_public_access_block,
    Op.PutPublicAccessBlock: public_access.handle_put_public_access_block,
    Op.DeletePublicAccessBlock: public_access.handle_delete_public_access_block,
    Op.GetBucketOwnershipControls: ownership.handle_get_bucket_ownership_controls,
    Op.PutBucketOwnershipControls: ownership.handle_put_bucket_ownership_controls,
    Op.DeleteBucketOwnershipControls: ownership.handle_delete_bucket_ownership_controls,
    Op.GetBucketCors: cors.handle_get_bucket_cors,
    Op.PutBucketCors: cors.handle_put_bucket_cors,
    Op.DeleteBucketCors: cors.handle_delete_bucket_cors,
    Op.Options: cors.handle_options,
    Op.PostObject: post_object.handle_post_object,
    # Object lock (s3front.api.object_lock): WORM retention and legal holds.
    Op.GetObjectLockConfiguration: object_lock.handle_get_object_lock_configuration,
    Op.PutObjectLockConfiguration: object_lock.handle_put_object_lock_configuration,
    Op.GetObjectRetention: object_lock.handle_get_object_retention,
    Op.PutObjectRetention: object_lock.handle_put_object_retention,
    Op.GetObjectLegalHold: object_lock.handle_get_object_legal_hold,
    Op.PutObjectLegalHold: object_lock.handle_put_object_legal_hold,
}
