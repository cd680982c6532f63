"""PostObject: browser uploads, `POST /bucket` with a multipart/form-data body.

The form authenticates itself: a base64 POST policy signed with SigV4 (x-amz-algorithm,
x-amz-credential, x-amz-date, x-amz-signature: HMAC-SHA256 of the base64 policy with the
signing key) or SigV2 (AWSAccessKeyId, signature: HMAC-SHA1 of the base64 policy). A form
without a policy is anonymous and succeeds only where the bucket's ACL or policy lets anyone
write. The signer must still be allowed s3:PutObject on the key (`s3front.access.authorize`).

The file (the last field that counts) streams into the same writer PutObject uses
(`write_object_data`, then `objects.commit.commit_version`), with `content-length-range` enforced as bytes
arrive. Only a POST on a bucket is ever read as a form; PUT bodies never are, whatever their
Content-Type (CLIENTS.md).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from starlette.responses import Response

from s3front import errors, support, xml
from s3front.access import acl as acls
from s3front.access import controls, post_form
from s3front.api import lock_headers
from s3front.api.access_hooks import authorize_object
from s3front.api.context import Ctx
from s3front.api.headers import check_stored_headers, header_value_ok
from s3front.api.sse import begin_for, etag, requested
from s3front.api.tagging_attrs import OBJECT_MAX_TAGS, with_tags
from s3front.auth import Principal, sigv2, sigv4
from s3front.clock import now_ms
from s3front.keys import lookup_key
from s3front.objects import form_checksums
from s3front.objects.commit import new_version
from s3front.objects.encryption import with_sealing
from s3front.objects.intents import WriteIntent
from s3front.objects.limits import MAX_OBJECT_SIZE
from s3front.objects.writer import write_object_data
from s3front.store.records import NULL_VERSION, AccessKeyRecord, ObjectRecord

# The form before the file: field values (post_form.MAX_FIELDS_BYTES of them) plus part headers
# and boundaries.
MAX_FORM_HEAD = 2 * post_form.MAX_FIELDS_BYTES
_STEP = 4096

# Form fields stored as object headers (as PutObject stores the request headers).
_STORED = (
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
)


async def _signer(ctx: Ctx, fields: dict[str, str]) -> Principal | None:
    """The principal whose signature covers the policy; None for an anonymous form."""
    policy = fields.get("policy")
    if policy is None:
        if any(f in fields for f in ("x-amz-signature", "signature", "awsaccesskeyid")):
            raise errors.InvalidArgument(
                "Bucket POST must contain a field named 'policy'.", ArgumentName="policy"
            )
        return None
    if "x-amz-signature" in fields:
        if fields.get("x-amz-algorithm") != sigv4.ALGORITHM:
            raise errors.InvalidArgument(
                "Bucket POST must contain a field named 'x-amz-algorithm' with the value "
                "AWS4-HMAC-SHA256.",
                ArgumentName="x-amz-algorithm",
            )
        parts = fields.get("x-amz-credential", "").split("/")
        if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request":
            raise errors.InvalidArgument(
                "Invalid x-amz-credential.", ArgumentName="x-amz-credential"
            )
        record = await _key(ctx, parts[0])
        key = sigv4.signing_key(record.secret, parts[1], parts[2], parts[3])
        if not sigv4.signatures_equal(sigv4.sign(key, policy), fields["x-amz-signature"]):
            raise errors.SignatureDoesNotMatch()
        return Principal(record.access_key, record.tenant, record.display_name)
    access_key = fields.get("awsaccesskeyid", "")
    signature = fields.get("signature", "")
    if not access_key or not signature:
        raise errors.InvalidArgument(
            "Bucket POST must contain a field named 'AWSAccessKeyId'.",
            ArgumentName="AWSAccessKeyId",
        )
    record = await _key(ctx, access_key)
    if not hmac.compare_digest(
        sigv2.sign(record.secret, policy).encode(), signature.encode("ascii", "replace")
    ):
        raise errors.SignatureDoesNotMatch()
    return Principal(record.access_key, record.tenant, record.display_name)


async def _key(ctx: Ctx, access_key: str) -> AccessKeyRecord:
    record = await lookup_key(ctx.store.keys, access_key, ctx.settings.master_key)
    if record is None or record.status != "active":
        raise errors.InvalidAccessKeyId()
    return record


async def _read_fields(ctx: Ctx, reader: post_form.FormReader, body: AsyncIterator[bytes]) -> None:
    """Feed `reader` until the file starts: everything the form's authorization rests on.

    The request is anonymous until these fields are checked, so they are bounded: at most
    `MAX_FORM_HEAD` bytes (field values, part headers and boundaries), arriving within
    `header_timeout` seconds, the time a request head gets. A browser sends them at once.
    """
    consumed = 0
    timeout = ctx.settings.header_timeout
    try:
        async with asyncio.timeout(timeout if timeout > 0 else None):
            while not reader.in_file and not reader.ended:
                chunk = await anext(body, None)
                if chunk is None:
                    return
                # In steps, so that the bound holds however much uvicorn had buffered.
                pos = 0
                while pos < len(chunk) and not reader.in_file:
                    reader.feed(chunk[pos : pos + _STEP])
                    pos = min(pos + _STEP, len(chunk))
                    if not reader.in_file and consumed + pos > MAX_FORM_HEAD:
                        raise errors.EntityTooLarge(
                            "Your POST request fields preceding the upload file were too large."
                        )
                consumed += len(chunk)
                if pos < len(chunk):
                    reader.feed(chunk[pos:])  # file data
    except TimeoutError:
        raise errors.RequestTimeout() from None


async def handle_post_object(ctx: Ctx) -> Response:
    bucket = await ctx.store.meta.get_bucket(ctx.bucket_name)
    if bucket is None:
        raise errors.NoSuchBucket(BucketName=ctx.bucket_name)
    reader = post_form.FormReader(post_form.boundary_of(ctx.req.header("content-type")))
    body = aiter(ctx.body)
    # Nothing past the fields is read until they are checked (signature, policy, access): a
    # form that cannot succeed is answered then, and the app closes the connection.
    await _read_fields(ctx, reader, body)
    if not reader.in_file:
        raise errors.InvalidArgument(
            "POST requires exactly one file upload per request.", ArgumentName="file"
        )
    fields = dict(reader.fields)
    if "key" not in fields:
        raise errors.InvalidArgument(
            "Bucket POST must contain a field named 'key'.", ArgumentName="key"
        )
    key = fields["key"].replace("${filename}", reader.filename or "")
    if not key:
        raise errors.InvalidArgument(
            "User key must have a length greater than 0.", ArgumentName="key"
        )
    if len(key.encode("utf-8")) > 1024:
        raise errors.KeyTooLongError()
    # A field asking for what this upload does not do is refused (s3front.support).
    support.check_form_fields(fields)
    principal = await _signer(ctx, fields)
    limits = post_form.PolicyResult()
    if "policy" in fields:
        values = {**fields, "key": key, "bucket": bucket.name}
        doc = post_form.decode_policy(fields["policy"])
        limits = post_form.check_policy(doc, values, datetime.now(UTC))
    signed = replace(ctx, principal=principal)
    # The form's fields (acl, x-amz-server-side-encryption, ...) are what policy conditions test.
    authorize_object(signed, bucket, key, None, "s3:PutObject", form=fields)
    writer = principal.tenant if principal is not None else bucket.owner
    owner = controls.object_owner(bucket.attrs, writer, bucket.owner, fields.get("acl", ""))
    attrs: dict[str, str] = {}
    if fields.get("acl"):
        acl = acls.canned(fields["acl"], owner, bucket.owner)
        controls.check_acl_write(bucket.attrs, acl, bucket.owner)
        attrs = acls.with_acl({}, acl)
    if fields.get("tagging"):
        # The form's `tagging` field is a Tagging XML document (AWS PostObject), unlike the
        # header's k=v form; parsed before any byte is stored.
        tags = xml.parse_tagging(fields["tagging"].encode("utf-8"), max_tags=OBJECT_MAX_TAGS)
        attrs = with_tags(attrs, tags)
    # Lock fields (x-amz-object-lock-*) as on a PUT, refused before any byte is stored.
    attrs.update(lock_headers.requested_attrs(fields.get, bucket, now_ms()))
    headers = _stored_headers(fields, reader.file_content_type)
    redirect = _redirect(fields)

    maximum = (
        MAX_OBJECT_SIZE if limits.max_length is None else min(limits.max_length, MAX_OBJECT_SIZE)
    )

    async def file_bytes() -> AsyncIterator[bytes]:
        size = 0
        while True:
            for piece in reader.take_file_data():
                size += len(piece)
                if size > maximum:
                    raise errors.EntityTooLarge(
                        "Your proposed upload exceeds the maximum allowed size",
                        ProposedSize=str(size),
                        MaxSizeAllowed=str(maximum),
                    )
                yield piece
            if reader.file_done:
                break
            chunk = await anext(body, None)
            if chunk is None:
                raise errors.MalformedPOSTRequest()
            reader.feed(chunk)
        if size < limits.min_length:
            raise errors.EntityTooSmall(
                "Your proposed upload is smaller than the minimum allowed size",
                ProposedSize=str(size),
                MinSizeAllowed=str(limits.min_length),
            )

    sums = form_checksums.expected(fields)  # x-amz-checksum-* fields, checked after the file
    # Form fields x-amz-server-side-encryption (AES256) or the SSE-C trio, else the default.
    sealed = await begin_for(ctx, requested(ctx.req, bucket.attrs, fields=fields))
    if sealed is not None:
        attrs = with_sealing(attrs, sealed.sealing)
    async with WriteIntent(ctx.store.meta) as intent:
        result = await write_object_data(
            ctx.store.blocks,
            ctx.store.meta,
            file_bytes(),
            cipher=sealed.cipher if sealed else None,
            block_size=ctx.settings.block_size,
            inline_limit=ctx.settings.inline_limit,
            algorithms=sums.algorithms,
            expected_length=None,
            intent=intent,
        )
        # What follows the file (the closing boundary, fields S3 ignores) is read and dropped,
        # up to a bound, so that the connection may carry another request.
        tail = 0
        async for chunk in body:
            tail += len(chunk)
            if tail > MAX_FORM_HEAD:
                break
        stored_sums = form_checksums.verify(sums, result.checksums)  # BadDigest: not committed
        seq, version_id = new_version(bucket)
        rec = ObjectRecord(
            key=key,
            seq=seq,
            version_id=version_id,
            size=result.size,
            etag=etag(sealed, result.md5),
            last_modified_ms=now_ms(),
            owner=owner,
            manifest_id=result.manifest_id,
            inline=result.inline,
            headers=headers,
            checksums=stored_sums,
            attrs=attrs,
        )
        rec = await ctx.commit(bucket, rec)
    return _success(ctx, fields, redirect, bucket.name, rec)


def _stored_headers(fields: dict[str, str], file_content_type: str) -> dict[str, str]:
    """The form fields that become object headers, checked before any byte is stored: a value
    the server cannot send back would make every GET and HEAD of the object fail."""
    headers = {n: fields[n] for n in _STORED if fields.get(n)}
    if "content-type" not in headers and file_content_type:
        headers["content-type"] = file_content_type
    headers.update({n: v for n, v in fields.items() if n.startswith("x-amz-meta-")})
    check_stored_headers(headers)
    return headers


def _redirect(fields: dict[str, str]) -> str:
    """The success redirect, checked before the object is stored: it becomes the Location
    header of the answer, and a value that cannot be sent would abort that answer after the
    object was committed."""
    name = "success_action_redirect" if fields.get("success_action_redirect") else "redirect"
    redirect = fields.get(name, "")
    # The query appended to it is percent-encoded; the URL itself must be plain ASCII text.
    if redirect and not (redirect.isascii() and header_value_ok(redirect)):
        raise errors.InvalidArgument(
            f"Invalid value for {name}.", ArgumentName=name, ArgumentValue=""
        )
    return redirect


def _success(
    ctx: Ctx, fields: dict[str, str], redirect: str, bucket: str, rec: ObjectRecord
) -> Response:
    etag = f'"{rec.etag}"'
    scheme = ctx.req.scheme
    host = ctx.req.headers.get("host", "")
    path = f"/{quote(rec.key)}" if ctx.ep.virtual_host else f"/{bucket}/{quote(rec.key)}"
    location = f"{scheme}://{host}{path}"
    headers = {"etag": etag, "location": location}
    if rec.version_id != NULL_VERSION:
        headers["x-amz-version-id"] = rec.version_id
    if redirect:
        sep = "&" if "?" in redirect else "?"
        query = urlencode({"bucket": bucket, "key": rec.key, "etag": etag})
        headers["location"] = f"{redirect}{sep}{query}"
        return Response(status_code=303, headers=headers)
    status = fields.get("success_action_status", "204")
    if status == "201":
        root = xml.element("PostResponse")
        xml.sub(root, "Location", location)
        xml.sub(root, "Bucket", bucket)
        xml.sub(root, "Key", rec.key)
        xml.sub(root, "ETag", etag)
        return Response(
            xml.to_bytes(root), status_code=201, media_type="application/xml", headers=headers
        )
    return Response(status_code=200 if status == "200" else 204, headers=headers)
