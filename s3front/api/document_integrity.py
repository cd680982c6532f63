"""Content-MD5 and x-amz-checksum-* on requests whose body is a document (XML, JSON).

botocore sends a checksum with every configuration PUT (PutBucketCors, PutBucketPolicy,
PutBucketTagging, PutPublicAccessBlock, ...) and s3cmd a Content-MD5. Object data is checked
by the writer (PutObject, UploadPart, PostObject), and DeleteObjects and PutBucketVersioning
check their own; for every other PUT and POST the body is wrapped here, so the handler's
`read_all` fails with BadDigest when the document is not what the client hashed, before the
handler acts on it. Accepting such a header and not checking it would be acknowledging and
ignoring it (s3front.support).

On CompleteMultipartUpload x-amz-checksum-<alg> names the whole object, which
`s3front.objects.mp_checksums` checks; only a Content-MD5 is the document's there. Where it
names something else s3front does not check (the copy on CopyObject and UploadPartCopy,
nothing on CreateMultipartUpload), it is refused with 501 NotImplemented.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from s3front import checksums, errors
from s3front.api import integrity
from s3front.body import Body
from s3front.request import S3Request

# Operations that verify these headers themselves.
_SELF_VERIFYING = frozenset(
    {"PutObject", "UploadPart", "PostObject", "DeleteObjects", "PutBucketVersioning"}
)
# Operations whose body is object data of a size the client must declare.
_LENGTH_REQUIRED = frozenset({"PutObject", "UploadPart"})
# Operations on which x-amz-checksum-<alg> is not the checksum of the request body.
_NOT_THE_BODY = frozenset({"CreateMultipartUpload", "CopyObject", "UploadPartCopy"})


class VerifiedDocument:
    """`body`, whose iteration ends with BadDigest unless it matches the request's checksums."""

    def __init__(self, body: Body, expected: integrity.Expected) -> None:
        self._body = body
        self._expected = expected

    @property
    def length(self) -> int | None:
        return self._body.length

    @property
    def trailers(self) -> dict[str, str]:
        return self._body.trailers

    @property
    def sha256(self) -> bytes | None:
        return self._body.sha256

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._verified()

    async def _verified(self) -> AsyncIterator[bytes]:
        md5 = hashlib.md5(usedforsecurity=False)
        hashers = {alg: checksums.new_hasher(alg) for alg in self._expected.algorithms}
        async for chunk in self._body:
            md5.update(chunk)
            for h in hashers.values():
                h.update(chunk)
            yield chunk
        computed = {alg: checksums.b64(h.digest()) for alg, h in hashers.items()}
        integrity.verify(self._expected, md5.hexdigest(), computed, self._body.trailers)


def checked_body(op: str, req: S3Request, body: Body) -> Body:
    """The body the handler of `op` should read: verified against the request's integrity
    headers where nothing else verifies it."""
    if op in _LENGTH_REQUIRED and body.length is None:
        # AWS needs the object's size up front: Content-Length, or x-amz-decoded-content-length
        # with aws-chunked framing. A plain chunked body (or none declared) is 411, as on AWS
        # and MinIO, rather than an object of whatever length the stream turns out to have.
        raise errors.MissingContentLength()
    if op in _SELF_VERIFYING or req.method not in ("PUT", "POST"):
        return body
    if op == "CompleteMultipartUpload":
        md5 = req.headers.get("content-md5")
        if md5 is None:
            return body
        checksums.decode_content_md5(md5)  # InvalidDigest when it cannot be an MD5
        return VerifiedDocument(body, integrity.Expected(md5, {}, None, set()))
    if op in _NOT_THE_BODY:
        for name in req.headers:
            if checksums.algorithm_of_header(name) is not None:
                raise errors.NotImplemented(Header=name)
    exp = integrity.expected(req)
    if exp.content_md5 is None and not exp.values and not exp.trailer:
        return body
    return VerifiedDocument(body, exp)
