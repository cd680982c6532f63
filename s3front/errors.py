"""One exception class per S3 error code.

The class name is the code; `status` and `message` are class attributes; an instance may carry
a more specific message and extra elements for the error document (e.g. BucketName, Key). The
renderer lives in `s3front.xml.error_document`. `from_exception` is the one place where
anything else (store failures, bugs) becomes an S3 error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.requests import ClientDisconnect

from s3front.store.errors import SchemaOutdated, StoreTimeout, StoreUnavailable

log = logging.getLogger("s3front")


class S3Error(Exception):
    status: int = 500
    message: str = "We encountered an internal error. Please try again."

    def __init__(self, message: str | None = None, **extra: str) -> None:
        self.message = message or type(self).message
        self.extra: Mapping[str, str] = extra
        super().__init__(self.message)

    @property
    def code(self) -> str:
        return type(self).__name__


# Kept as explicit classes (not generated) so that tools and readers can find them by name.
class AccessDenied(S3Error):
    status, message = 403, "Access Denied"


class AuthorizationHeaderMalformed(S3Error):
    status, message = 400, "The authorization header is malformed."


class AuthorizationQueryParametersError(S3Error):
    status, message = 400, "Query-string authentication parameters are malformed."


class BadDigest(S3Error):
    status, message = (
        400,
        "The Content-MD5 or checksum you specified did not match what we received.",
    )


class BucketAlreadyExists(S3Error):
    status, message = 409, "The requested bucket name is not available."


class BucketAlreadyOwnedByYou(S3Error):
    status, message = (
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    )


class BucketNotEmpty(S3Error):
    status, message = 409, "The bucket you tried to delete is not empty."


class EntityTooLarge(S3Error):
    status, message = 400, "Your proposed upload exceeds the maximum allowed size."


class EntityTooSmall(S3Error):
    status, message = 400, "Your proposed upload is smaller than the minimum allowed object size."


class ConditionalRequestConflict(S3Error):
    status, message = (
        409,
        "A conflicting operation occurred. If using PutObject you can retry the request.",
    )


class ExpiredToken(S3Error):
    status, message = 400, "The provided token has expired."


class IncompleteBody(S3Error):
    status, message = (
        400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    )


class InternalError(S3Error):
    status, message = 500, "We encountered an internal error. Please try again."


class InvalidAccessKeyId(S3Error):
    status, message = 403, "The AWS access key Id you provided does not exist in our records."


class InvalidArgument(S3Error):
    status, message = 400, "Invalid Argument"


class InvalidBucketName(S3Error):
    status, message = 400, "The specified bucket is not valid."


class InvalidBucketState(S3Error):
    status, message = 409, "The request is not valid with the current state of the bucket."


class InvalidDigest(S3Error):
    status, message = 400, "The Content-MD5 or checksum you specified is not valid."


class InvalidLocationConstraint(S3Error):
    status, message = 400, "The specified location constraint is not valid."


class InvalidObjectState(S3Error):
    status, message = 403, "The operation is not valid for the current state of the object."


class InvalidPart(S3Error):
    status, message = (
        400,
        (
            "One or more of the specified parts could not be found. The part may not have been "
            "uploaded, or the specified entity tag may not match the part's entity tag."
        ),
    )


class InvalidPartOrder(S3Error):
    status, message = (
        400,
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
    )


class InvalidPolicyDocument(S3Error):
    status, message = (
        400,
        "The content of the form does not meet the conditions specified in the policy document.",
    )


class InvalidPartNumber(S3Error):
    status, message = 416, "The requested partnumber is not satisfiable"


class InvalidRange(S3Error):
    status, message = 416, "The requested range is not satisfiable"


class InvalidRequest(S3Error):
    status, message = 400, "Invalid Request"


class InvalidStorageClass(S3Error):
    status, message = 400, "The storage class you specified is not valid."


class InvalidTag(S3Error):
    status, message = 400, "The tag provided was not a valid tag."


class KeyTooLongError(S3Error):
    status, message = 400, "Your key is too long."


class MalformedXML(S3Error):
    status, message = (
        400,
        "The XML you provided was not well-formed or did not validate against our published schema.",
    )


class MalformedPOSTRequest(S3Error):
    status, message = 400, "The body of your POST request is not well-formed multipart/form-data."


class MalformedPolicy(S3Error):
    status, message = 400, "Policies must be valid JSON and the first byte must be '{'"


class MetadataTooLarge(S3Error):
    status, message = 400, "Your metadata headers exceed the maximum allowed metadata size."


class MethodNotAllowed(S3Error):
    status, message = 405, "The specified method is not allowed against this resource."


class MissingContentLength(S3Error):
    status, message = 411, "You must provide the Content-Length HTTP header."


class MissingSecurityHeader(S3Error):
    status, message = 400, "Your request is missing a required header."


class NoSuchBucket(S3Error):
    status, message = 404, "The specified bucket does not exist"


class NoSuchBucketPolicy(S3Error):
    status, message = 404, "The bucket policy does not exist"


class NoSuchCORSConfiguration(S3Error):
    status, message = 404, "The CORS configuration does not exist"


class NoSuchKey(S3Error):
    status, message = 404, "The specified key does not exist."


class NoSuchLifecycleConfiguration(S3Error):
    status, message = 404, "The lifecycle configuration does not exist"


class NoSuchTagSet(S3Error):
    status, message = 404, "The TagSet does not exist"


class NoSuchUpload(S3Error):
    status, message = (
        404,
        (
            "The specified multipart upload does not exist. The upload ID might be invalid, or the "
            "multipart upload might have been aborted or completed."
        ),
    )


class NoSuchVersion(S3Error):
    status, message = 404, "The specified version does not exist."


class NoSuchWebsiteConfiguration(S3Error):
    status, message = 404, "The specified bucket does not have a website configuration"


class ServerSideEncryptionConfigurationNotFoundError(S3Error):
    status, message = 404, "The server side encryption configuration was not found"


class ObjectLockConfigurationNotFoundError(S3Error):
    status, message = 404, "Object Lock configuration does not exist for this bucket"


class NoSuchObjectLockConfiguration(S3Error):
    status, message = 404, "The specified object does not have a ObjectLock configuration"


class InvalidRetentionPeriod(S3Error):
    status, message = 400, "Default retention period must be a positive integer value."


class OperationAborted(S3Error):
    status, message = (
        409,
        "A conflicting conditional operation is currently in progress against this resource. "
        "Try again.",
    )


class OwnershipControlsNotFoundError(S3Error):
    status, message = 404, "The bucket ownership controls were not found"


class NoSuchPublicAccessBlockConfiguration(S3Error):
    status, message = 404, "The public access block configuration was not found"


class AccessControlListNotSupported(S3Error):
    status, message = 400, "The bucket does not allow ACLs"


class InvalidBucketAclWithObjectOwnership(S3Error):
    status, message = (
        400,
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    )


class InvalidToken(S3Error):
    status, message = 400, "The provided token is malformed or otherwise invalid."


class ReplicationConfigurationNotFoundError(S3Error):
    status, message = 404, "The replication configuration was not found"


class NotImplemented(S3Error):
    status, message = 501, "A header you provided implies functionality that is not implemented."


class NotModified(S3Error):
    status, message = 304, "Not Modified"


class PreconditionFailed(S3Error):
    status, message = 412, "At least one of the pre-conditions you specified did not hold"


class RequestHeaderSectionTooLarge(S3Error):
    # Raised by s3front.limits: uvicorn's parser never hands an oversized head to the app.
    status, message = 400, "Your request header section exceeds the maximum size allowed."


class RequestTimeTooSkewed(S3Error):
    status, message = (
        403,
        "The difference between the request time and the server's time is too large.",
    )


class RequestTimeout(S3Error):
    status, message = (
        400,
        "Your socket connection to the server was not read from or written to within the timeout period.",
    )


class ServiceUnavailable(S3Error):
    status, message = 503, "Please reduce your request rate."


class SignatureDoesNotMatch(S3Error):
    status, message = (
        403,
        (
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method."
        ),
    )


class SlowDown(S3Error):
    status, message = 503, "Please reduce your request rate."


class TooManyParts(S3Error):
    status, message = 400, "You have attempted to upload more parts than allowed."


class InvalidChunkSizeError(S3Error):
    status, message = 403, "Only the last chunk is allowed to have a size less than 8192 bytes"


class XAmzContentSHA256Mismatch(S3Error):
    status, message = (
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )


class InvalidContentEncoding(S3Error):
    status, message = 400, "The content encoding is not valid."


def from_exception(exc: BaseException, request_id: str) -> S3Error:
    """The one mapping from any exception to the S3 error the client sees."""
    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, ClientDisconnect):
        # The client went away mid-body: nothing was committed and no one reads the answer.
        log.info("client disconnected before sending the whole body (request %s)", request_id)
        return IncompleteBody()
    if isinstance(exc, StoreTimeout):
        log.warning("store timeout (request %s): %s", request_id, exc)
        return SlowDown("The store did not answer in time; please retry.")
    if isinstance(exc, StoreUnavailable | SchemaOutdated):
        log.warning("store unavailable (request %s): %s", request_id, exc)
        return ServiceUnavailable("The store is unavailable; please retry.")
    log.error("internal error (request %s)", request_id, exc_info=exc)
    return InternalError()
