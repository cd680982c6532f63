"""Server-side encryption headers: what a write asks for, what a read must bring, what we answer.

Implemented (request headers):
- `x-amz-server-side-encryption: AES256` (SSE-S3: the data key is wrapped by the master key);
- `x-amz-server-side-encryption-customer-algorithm/-key/-key-MD5` (SSE-C) on PUT, GET, HEAD,
  CreateMultipartUpload, UploadPart, CopyObject's target, GetObjectAttributes;
- `x-amz-copy-source-server-side-encryption-customer-*` (an SSE-C copy source);
- `x-amz-server-side-encryption-bucket-key-enabled` (accepted and echoed; each object still has
  its own data key).
- `x-amz-server-side-encryption: aws:kms` with `x-amz-server-side-encryption-aws-kms-key-id`
  (a key of s3front's own key ring, `s3front.kms`; none named: the key aliased `aws/s3`). An
  unknown key is 400 KMS.NotFoundException. `aws:kms:dsse` and an encryption context
  (`x-amz-server-side-encryption-context`) are refused (501).
SSE-S3 and SSE-KMS without a master key are refused (400): nothing is ever stored in the clear
because a key is missing. SSE-C needs no master key.

SSE-C keys travel in request headers, so (as on AWS) they are refused over plain HTTP.

ETags follow AWS: an SSE-S3 object's single-PUT ETag is the MD5 of its plaintext; an SSE-C
object's is not (a keyed digest, `BlockCipher.keyed_etag`), since an MD5 in the row would let
anyone with the store compare plaintexts.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from s3front import errors, kms
from s3front.api.context import Ctx
from s3front.config import decode_master_key
from s3front.objects.encryption import (
    SSE_C,
    SSE_KMS,
    SSE_S3,
    BlockCipher,
    Sealing,
    UnwrapError,
    master_key_id,
    new_sealing,
    unwrap,
)
from s3front.request import S3Request
from s3front.store.protocols import KeyStore

log = logging.getLogger("s3front.sse")

SSE = "x-amz-server-side-encryption"
CUSTOMER = "x-amz-server-side-encryption-customer-"
COPY_CUSTOMER = "x-amz-copy-source-server-side-encryption-customer-"
KMS_KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
KMS_CONTEXT = "x-amz-server-side-encryption-context"
BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
# The bucket attrs entry holding the default encryption (`api.bucket_encryption`).
BUCKET_ATTR = "encryption"

# Every SSE header s3front implements (the coordinator's refusal table lets these through).
IMPLEMENTED_HEADERS = (
    SSE,
    CUSTOMER + "algorithm",
    CUSTOMER + "key",
    CUSTOMER + "key-md5",
    COPY_CUSTOMER + "algorithm",
    COPY_CUSTOMER + "key",
    COPY_CUSTOMER + "key-md5",
    BUCKET_KEY,
    KMS_KEY_ID,
)
# Refused with 501 NotImplemented (never accepted and ignored).
REFUSED_HEADERS = (KMS_CONTEXT,)


class KmsNotFound(errors.S3Error):
    """An SSE-KMS key that the key ring does not have (AWS answers S3 requests naming an
    unknown key with this KMS error code)."""

    status, message = 400, "Invalid keyId"

    @property
    def code(self) -> str:
        return "KMS.NotFoundException"


class InvalidEncryptionAlgorithmError(errors.S3Error):
    status, message = (
        400,
        "The encryption request you specified is not valid. The valid value is AES256.",
    )


@dataclass(frozen=True, slots=True)
class CustomerKey:
    key: bytes
    md5: str  # base64, as the client sent it (and verified)


@dataclass(frozen=True, slots=True)
class Requested:
    """The encryption a write asks for (explicitly or through the bucket default)."""

    mode: str  # SSE_S3, SSE_KMS or SSE_C
    customer: CustomerKey | None = None
    bucket_key: bool = False
    kms_key: str = ""  # SSE-KMS: the key as named ("" for the default, alias aws/s3)


@dataclass(frozen=True, slots=True)
class Opened:
    """An encrypted object (or upload) opened for reading or appending."""

    sealing: Sealing
    cipher: BlockCipher
    customer_md5: str = ""
    kms_arn: str = ""


@functools.lru_cache(maxsize=4)
def _decode_master(text: str) -> bytes:
    return decode_master_key(text)


def master_key(text: str) -> bytes | None:
    return _decode_master(text) if text else None


def customer_key(
    req: S3Request, prefix: str = CUSTOMER, fields: Mapping[str, str] | None = None
) -> CustomerKey | None:
    """The SSE-C key a request carries under `prefix` (in its headers, or its POST form
    `fields`), checked; None if it carries none. The key is never echoed in an error."""
    get = req.header if fields is None else (lambda n: fields.get(n, ""))
    alg = get(prefix + "algorithm")
    key_b64 = get(prefix + "key")
    md5_b64 = get(prefix + "key-md5")
    if not (alg or key_b64 or md5_b64):
        return None
    if req.scheme != "https":
        raise errors.InvalidRequest(
            "Requests specifying Server Side Encryption with Customer provided keys must be "
            "made over a secure connection."
        )
    if not alg:
        raise errors.InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide a valid encryption algorithm.",
            ArgumentName=prefix + "algorithm",
            ArgumentValue="null",
        )
    if alg != "AES256":
        raise InvalidEncryptionAlgorithmError(
            ArgumentName=prefix + "algorithm", ArgumentValue=alg[:64]
        )
    if not key_b64:
        raise errors.InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide an appropriate secret key.",
            ArgumentName=prefix + "key",
            ArgumentValue="null",
        )
    try:
        key = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise errors.InvalidArgument(
            "The secret key was invalid for the specified algorithm.",
            ArgumentName=prefix + "key",
            ArgumentValue="null",
        )
    if not md5_b64:
        raise errors.InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide the client calculated MD5 of the secret key.",
            ArgumentName=prefix + "key-MD5",
            ArgumentValue="null",
        )
    want = base64.b64encode(hashlib.md5(key, usedforsecurity=False).digest()).decode("ascii")
    if not hmac.compare_digest(want.encode("ascii"), md5_b64.encode("ascii", "replace")):
        raise errors.InvalidArgument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            ArgumentName=prefix + "key-MD5",
            ArgumentValue="null",
        )
    return CustomerKey(key=key, md5=want)


def _bool_header(req: S3Request, name: str) -> bool:
    value = req.header(name).strip().lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise errors.InvalidArgument(
        f"Invalid value for {name}.", ArgumentName=name, ArgumentValue=value[:16]
    )


def check_algorithm(value: str, name: str = SSE) -> str:
    """The SSE mode a header (or form field, or bucket default) names."""
    if value in (SSE_S3, SSE_KMS):
        return value
    if value == "aws:kms:dsse":
        # Never accepted and ignored: refused.
        raise errors.NotImplemented(
            "Dual-layer server-side encryption (aws:kms:dsse) is not implemented by this "
            "server; use AES256, aws:kms or SSE-C."
        )
    raise errors.InvalidArgument(
        "The encryption method specified is not supported",
        ArgumentName=name,
        ArgumentValue=value[:64],
    )


def requested(
    req: S3Request,
    bucket_attrs: Mapping[str, str],
    *,
    fields: Mapping[str, str] | None = None,
) -> Requested | None:
    """What a write asks for: its headers (or POST form `fields`), else the bucket default."""
    get = (lambda n: fields.get(n, "")) if fields is not None else req.header
    sse = get(SSE)
    customer = customer_key(req, CUSTOMER, fields)
    if get(KMS_CONTEXT):
        raise errors.NotImplemented(
            "An SSE-KMS encryption context (x-amz-server-side-encryption-context) is not "
            "implemented by this server."
        )
    if get(KMS_KEY_ID) and sse not in ("aws:kms", "aws:kms:dsse"):
        raise errors.InvalidArgument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms",
            ArgumentName=SSE,
            ArgumentValue=sse[:64] or "null",
        )
    bucket_key = _bool_header(req, BUCKET_KEY) if fields is None else False
    if sse:
        mode = check_algorithm(sse)
        if customer is not None:
            raise errors.InvalidArgument(
                "Server Side Encryption with Customer provided key is incompatible with the "
                "encryption method specified",
                ArgumentName=SSE,
                ArgumentValue=sse[:64],
            )
        return Requested(mode=mode, bucket_key=bucket_key, kms_key=get(KMS_KEY_ID).strip())
    if customer is not None:
        return Requested(mode=SSE_C, customer=customer)
    default = bucket_default(bucket_attrs)
    if default is not None:
        return replace(default, bucket_key=bucket_key or default.bucket_key)
    return None


def bucket_default(attrs: Mapping[str, str]) -> Requested | None:
    """A bucket's default encryption, if it has one."""
    text = attrs.get(BUCKET_ATTR)
    if not text:
        return None
    d = json.loads(text)
    return Requested(
        mode=str(d["alg"]), bucket_key=bool(d.get("bk", False)), kms_key=str(d.get("kid", ""))
    )


async def kms_key(ring: KeyStore, master_text: str, name: str) -> kms.KmsKey:
    """The key ring's key named `name` (default: alias aws/s3), or KMS.NotFoundException."""
    if not master_text:
        raise errors.InvalidRequest(
            "Server-side encryption with KMS keys needs a master key on this server "
            "(S3FRONT_MASTER_KEY) and none is configured; nothing was stored."
        )
    key = await kms.cached_key(ring, master_text, name or "alias/" + kms.DEFAULT_ALIAS)
    if key is None:
        if not name:
            raise KmsNotFound(
                "No KMS key named: the default key alias/aws/s3 does not exist (create it with "
                "`s3front kms create-key --alias aws/s3`)."
            )
        raise KmsNotFound(f"Invalid keyId {name[:256]}")
    return key


async def begin(
    ring: KeyStore, master_text: str, want: Requested | None, region: str = "us-east-1"
) -> Opened | None:
    """A fresh data key for a new object or upload, wrapped as `want` says."""
    if want is None:
        return None
    if want.mode == SSE_C:
        assert want.customer is not None
        sealing, cipher = new_sealing(want.customer.key, SSE_C)
        return Opened(sealing, cipher, want.customer.md5)
    if want.mode == SSE_KMS:
        key = await kms_key(ring, master_text, want.kms_key)
        sealing, cipher = new_sealing(
            key.versions[key.current],
            SSE_KMS,
            kek_id=f"{key.key_id}:{key.current}",
            bucket_key=want.bucket_key,
        )
        return Opened(sealing, cipher, kms_arn=key.arn(region))
    master = master_key(master_text)
    if master is None:
        raise errors.InvalidRequest(
            "Server-side encryption (AES256) needs a master key on this server "
            "(S3FRONT_MASTER_KEY) and none is configured; nothing was stored."
        )
    sealing, cipher = new_sealing(
        master, SSE_S3, kek_id=master_key_id(master), bucket_key=want.bucket_key
    )
    return Opened(sealing, cipher)


_NOT_APPLICABLE = "The encryption parameters are not applicable to this object."

# The operations that take x-amz-server-side-encryption (and its KMS key id) as a request
# header. On every other one it is a response header only, and AWS answers a request carrying
# it with 400 InvalidArgument ("... header is not supported for this operation"; seen by s3cmd
# users on GET, ClickHouse on CompleteMultipartUpload) rather than ignoring it: a client asking
# a GET for "AES256" must not believe it was honoured.
_SSE_REQUEST_OPS = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})


def check_request_headers(op: str, req: S3Request) -> None:
    for name in (SSE, KMS_KEY_ID):
        if name in req.headers and op not in _SSE_REQUEST_OPS:
            raise errors.InvalidArgument(
                f"{name} header is not supported for this operation.",
                ArgumentName=name,
                ArgumentValue=req.headers[name],
            )


_NEEDS_KEY = (
    "The object was stored using a form of Server Side Encryption. The correct parameters must "
    "be provided to retrieve the object."
)


async def open_sealing(
    req: S3Request,
    ring: KeyStore,
    master_text: str,
    sealing: Sealing | None,
    *,
    prefix: str = CUSTOMER,
    region: str = "us-east-1",
) -> Opened | None:
    """The cipher for reading an object (or appending a part to an upload) sealed as
    `sealing`, using the SSE-C key the request carries under `prefix`. An SSE-C object without
    its key is 400, with a wrong key 403 AccessDenied; SSE-C headers for any other object 400."""
    customer = customer_key(req, prefix)
    if sealing is None:
        if customer is not None:
            raise errors.InvalidRequest(_NOT_APPLICABLE)
        return None
    if sealing.mode == SSE_C:
        if customer is None:
            raise errors.InvalidRequest(_NEEDS_KEY)
        try:
            dek = unwrap(customer.key, sealing.wrapped, SSE_C)
        except UnwrapError:
            raise errors.AccessDenied() from None
        return Opened(sealing, BlockCipher(dek), customer.md5)
    if customer is not None:
        raise errors.InvalidRequest(_NOT_APPLICABLE)
    if sealing.mode == SSE_KMS:
        return await _open_kms(ring, master_text, sealing, region)
    master = master_key(master_text)
    if master is None:
        log.error("an SSE-S3 object needs the master key and none is configured")
        raise errors.InternalError()
    try:
        dek = unwrap(master, sealing.wrapped, sealing.mode)
    except UnwrapError:
        log.error("the master key does not unwrap an object's data key (key %s)", sealing.kek_id)
        raise errors.InternalError() from None
    return Opened(sealing, BlockCipher(dek))


async def _open_kms(ring: KeyStore, master_text: str, sealing: Sealing, region: str) -> Opened:
    key_id, _, version = sealing.kek_id.partition(":")
    key = await kms.cached_key(ring, master_text, key_id) if master_text else None
    if key is None or int(version) >= len(key.versions):
        log.error("the KMS key %s that wraps an object's data key is not in the key ring", key_id)
        raise errors.InternalError()
    try:
        dek = unwrap(key.versions[int(version)], sealing.wrapped, SSE_KMS)
    except UnwrapError:
        log.error("KMS key %s does not unwrap an object's data key", sealing.kek_id)
        raise errors.InternalError() from None
    return Opened(sealing, BlockCipher(dek), kms_arn=key.arn(region))


def response_headers(
    opened: Opened | None, *, sealing: Sealing | None = None, region: str = "us-east-1"
) -> dict[str, str]:
    """The x-amz-server-side-encryption* headers AWS sends for an object sealed this way."""
    s = opened.sealing if opened is not None else sealing
    if s is None:
        return {}
    if s.mode == SSE_C:
        out = {CUSTOMER + "algorithm": "AES256"}
        if opened is not None and opened.customer_md5:
            out[CUSTOMER + "key-MD5"] = opened.customer_md5
        return out
    out = {SSE: s.mode}
    if s.mode == SSE_KMS:
        key_id = s.kek_id.partition(":")[0]
        arn = opened.kms_arn if opened is not None else ""
        out[KMS_KEY_ID] = arn or f"arn:aws:kms:{region}:000000000000:key/{key_id}"
    if s.bucket_key:
        out[BUCKET_KEY] = "true"
    return out


def etag(opened: Opened | None, md5_hex: str) -> str:
    """The ETag of a single PUT or a part: the plaintext MD5, except under SSE-C and SSE-KMS
    (as on AWS, whose ETags for those are not MD5 digests of the data)."""
    if opened is not None and opened.sealing.mode in (SSE_C, SSE_KMS):
        return opened.cipher.keyed_etag(md5_hex)
    return md5_hex


async def begin_for(ctx: Ctx, want: Requested | None) -> Opened | None:
    """`begin` with the request's store and settings."""
    return await begin(ctx.store.keys, ctx.settings.master_key, want, ctx.settings.region)


async def open_for(ctx: Ctx, sealing: Sealing | None, *, prefix: str = CUSTOMER) -> Opened | None:
    """`open_sealing` with the request's headers, store and settings."""
    return await open_sealing(
        ctx.req,
        ctx.store.keys,
        ctx.settings.master_key,
        sealing,
        prefix=prefix,
        region=ctx.settings.region,
    )
