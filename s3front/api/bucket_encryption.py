"""PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption: a bucket's default encryption.

The default applies to every write that asks for no encryption itself: PutObject, POST uploads,
CopyObject (the target's default, never the source's encryption) and CreateMultipartUpload
(the upload's parts follow the upload). It lives in the bucket row's attrs (`sse.BUCKET_ATTR`)
as `{"alg": "AES256" | "aws:kms", "kid": <KMSMasterKeyID>, "bk": <BucketKeyEnabled>}`.
BucketKeyEnabled is accepted and echoed; every object still gets its own data key. A
KMSMasterKeyID must name a key of the key ring (else KMS.NotFoundException), and AES256 or
aws:kms on a server without a master key is refused (400): a default that would make every
later PUT fail is not accepted.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import replace

from starlette.responses import Response

from s3front import errors, xml
from s3front.api import sse
from s3front.api.context import Ctx
from s3front.body import read_all
from s3front.objects.encryption import SSE_KMS
from s3front.routing import Op
from s3front.xmldocs import XMLResponse


def parse_configuration(body: bytes) -> sse.Requested:
    """ServerSideEncryptionConfiguration -> the default it sets."""
    root = xml.parse(body)
    if xml.local_name(root) != "ServerSideEncryptionConfiguration":
        raise errors.MalformedXML()
    rules = list(xml.children(root, "Rule"))
    if len(rules) != 1:
        raise errors.MalformedXML()
    rule = rules[0]
    default = xml.child(rule, "ApplyServerSideEncryptionByDefault")
    if default is None:
        raise errors.MalformedXML()
    algorithm = (xml.child_text(default, "SSEAlgorithm") or "").strip()
    if not algorithm:
        raise errors.MalformedXML()
    mode = sse.check_algorithm(algorithm, "SSEAlgorithm")
    kid = (xml.child_text(default, "KMSMasterKeyID") or "").strip()
    if kid and mode != SSE_KMS:
        raise errors.InvalidArgument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms",
            ArgumentName="ApplyServerSideEncryptionByDefault",
            ArgumentValue="null",
        )
    bucket_key = (xml.child_text(rule, "BucketKeyEnabled") or "false").strip()
    if bucket_key not in ("true", "false"):
        raise errors.MalformedXML()
    return sse.Requested(mode=mode, bucket_key=bucket_key == "true", kms_key=kid)


def configuration_document(default: sse.Requested) -> bytes:
    root = xml.element("ServerSideEncryptionConfiguration")
    rule = xml.sub(root, "Rule")
    apply = xml.sub(rule, "ApplyServerSideEncryptionByDefault")
    xml.sub(apply, "SSEAlgorithm", default.mode)
    if default.kms_key:
        xml.sub(apply, "KMSMasterKeyID", default.kms_key)
    xml.sub(rule, "BucketKeyEnabled", default.bucket_key)
    return xml.to_bytes(root)


async def handle_put_bucket_encryption(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    body = await read_all(ctx.body, ctx.settings.max_xml_body)
    want = parse_configuration(body)
    if sse.master_key(ctx.settings.master_key) is None:
        raise errors.InvalidRequest(
            f"Default encryption with {want.mode} needs a master key on this server "
            "(S3FRONT_MASTER_KEY) and none is configured."
        )
    if want.mode == SSE_KMS:
        await sse.kms_key(ctx.store.keys, ctx.settings.master_key, want.kms_key)
    value = json.dumps(
        {"alg": want.mode, "kid": want.kms_key, "bk": want.bucket_key}, separators=(",", ":")
    )
    attrs = {**bucket.attrs, sse.BUCKET_ATTR: value}
    await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=200)


async def handle_get_bucket_encryption(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    default = sse.bucket_default(bucket.attrs)
    if default is None:
        raise errors.ServerSideEncryptionConfigurationNotFoundError(BucketName=bucket.name)
    return XMLResponse(configuration_document(default))


async def handle_delete_bucket_encryption(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    attrs = {k: v for k, v in bucket.attrs.items() if k != sse.BUCKET_ATTR}
    await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=204)


HANDLERS: dict[Op, Callable[[Ctx], Awaitable[Response]]] = {
    Op.PutBucketEncryption: handle_put_bucket_encryption,
    Op.GetBucketEncryption: handle_get_bucket_encryption,
    Op.DeleteBucketEncryption: handle_delete_bucket_encryption,
}
