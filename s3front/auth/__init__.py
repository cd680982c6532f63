"""Authentication: who sent this request, and the verified body it carries.

`authenticate` recognises the four ways an S3 request carries credentials — a SigV4
Authorization header, a SigV4 presigned query, a SigV2 Authorization header and a SigV2
presigned query — or none (anonymous). It verifies the signature before the handler runs and
wraps the body so that anything checked while streaming (payload hash, chunk signatures,
lengths) fails the iteration. Auth fails closed: malformed or partial credentials are an error,
never an anonymous request. Error messages stay generic: no secret, no computed signature, no
string to sign.

Signed means signed: every `x-amz-*` header a handler may act on is covered by the signature,
because those headers change what a request does (x-amz-copy-source turns a PUT into a copy,
x-amz-acl and x-amz-grant-* publish, x-amz-content-sha256 chooses how the body is checked).

- SigV4, both forms: an `x-amz-*` header missing from SignedHeaders is refused with AWS's 403
  AccessDenied "There were headers present in the request which were not signed" and a
  <HeadersNotSigned> element naming them, as S3 does. The only exemptions are the header form's
  x-amz-content-sha256 and x-amz-date: the first is the payload line of the canonical request and
  the second the timestamp line of the string to sign, so both are bound by the signature even
  when not listed (the AWS documentation's own example leaves x-amz-content-sha256 unlisted).
  Nothing is exempt in a presigned request, whose payload line and date come from the query.
  (`x-amzn-trace-id`, which SDKs leave unsigned on purpose, does not have the x-amz- prefix.)
- A presigned request's payload mode is what was signed: the X-Amz-Content-Sha256 query
  parameter, else UNSIGNED-PAYLOAD, never an unsigned header. A signed x-amz-content-sha256
  header (SDKs then sign its value as the payload line, so that line is tried too) must equal a
  signed query value; with none in the query (UNSIGNED-PAYLOAD, the weakest mode) it may choose
  a stricter check or the aws-chunked framing, since the signer chose it.
- `x-amz-*` parameters an SDK hoisted into the query (botocore's SigV2 presigner, aws-sdk-js
  v3) are covered by the signature but not applied as headers: the request does less than was
  signed, never more. An unsigned header of the same name is refused like any other.
- SigV2 needs no such check: its string to sign holds every x-amz-* header the request carries
  (`sigv2.canonical_amz_headers`), so adding, repeating or re-casing one breaks the signature.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from s3front.auth import header_text, sigv2, sigv4
from s3front.auth.bodies import ChunkedBody, PlainBody
from s3front.auth.chunked import ChunkedDecoder, ChunkSigner
from s3front.body import Body
from s3front.errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidRequest,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)
from s3front.request import S3Request
from s3front.store.records import AccessKeyRecord

__all__ = ["AuthResult", "KeyLookup", "Principal", "authenticate"]

MAX_SKEW = timedelta(minutes=15)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_V2_QUERY = ("AWSAccessKeyId", "Signature", "Expires")
_V4_QUERY_MARKERS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
UNSIGNED_HEADERS_MESSAGE = "There were headers present in the request which were not signed"
# x-amz-* headers a SigV4 Authorization header binds without listing them (see the docstring).
_BOUND_BY_HEADER_SIGNATURE = frozenset({"x-amz-content-sha256", "x-amz-date"})
_NOTHING = frozenset[str]()


@dataclass(frozen=True, slots=True)
class Principal:
    access_key: str
    tenant: str
    display_name: str


KeyLookup = Callable[[str], Awaitable[AccessKeyRecord | None]]


@dataclass(slots=True)
class AuthResult:
    principal: Principal | None  # None: anonymous (no credentials at all)
    body: Body


async def authenticate(
    req: S3Request,
    stream: AsyncIterator[bytes],
    *,
    bucket: str | None,
    virtual_host: bool,
    lookup: KeyLookup,
    region: str,
    now: datetime,
) -> AuthResult:
    """Verify the request's credentials and wrap its body.

    `region` is the server's region; a signature scoped to any region is accepted, because
    clients configured for another region (us-east-1 is the usual default) must still work.
    """
    del region  # deliberately not enforced, see above
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    header = req.headers.get("authorization")
    if req.method == "OPTIONS":
        # A CORS preflight is unauthenticated (browsers never sign it) and is answered from the
        # bucket's CORS rules alone. A presigned URL's query parameters sign the actual GET/PUT,
        # not the OPTIONS the browser sends first: checking them would refuse every preflight.
        return AuthResult(None, _body(req, stream, None, None))
    in_query_v4 = bool(req.query) and any(req.has_param(p) for p in _V4_QUERY_MARKERS)
    in_query_v2 = bool(req.query) and any(req.has_param(p) for p in _V2_QUERY[:2])
    if sum((header is not None, in_query_v4, in_query_v2)) > 1:
        raise InvalidArgument("Only one auth mechanism allowed.")

    if header is not None:
        scheme = header.strip().split(" ", 1)[0]
        if scheme == sigv4.ALGORITHM:
            return await _v4_header(req, stream, header, lookup, now)
        if scheme == "AWS":
            return await _v2_header(req, stream, header, bucket, virtual_host, lookup, now)
        raise InvalidArgument("Unsupported Authorization Type.")
    if in_query_v4:
        return await _v4_query(req, stream, lookup, now)
    if in_query_v2:
        return await _v2_query(req, stream, bucket, virtual_host, lookup, now)
    payload = req.headers.get("x-amz-content-sha256")
    return AuthResult(None, _body(req, stream, payload, None))


# -- SigV4 --------------------------------------------------------------------------------------


def _v4_request_time(req: S3Request) -> tuple[str, datetime]:
    """The request time, from x-amz-date or else Date: as signed (ISO 8601 basic) and parsed."""
    try:
        if "x-amz-date" in req.headers:
            value = req.headers["x-amz-date"].strip()
            return value, sigv4.parse_amz_date(value)  # the basic form is already canonical
        if "date" in req.headers:
            moment = _parse_http_date(req.headers["date"])
            return sigv4.format_amz_date(moment), moment
    except ValueError:
        pass
    raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header.")


def _check_scope(auth: sigv4.V4Auth, error: type[Exception]) -> None:
    if auth.credential.date != auth.amz_date[:8]:
        raise error("The credential date does not match the request date.")
    if auth.credential.service != "s3":
        raise error('The credential scope must name the service "s3".')
    if "host" not in auth.signed_headers:
        raise error("The host header must be signed.")


def _check_payload_hash(value: str) -> None:
    known = (
        sigv4.UNSIGNED_PAYLOAD,
        sigv4.STREAMING_SIGNED,
        sigv4.STREAMING_SIGNED_TRAILER,
        sigv4.STREAMING_UNSIGNED_TRAILER,
    )
    if value not in known and not _HEX64.fullmatch(value):
        raise InvalidArgument(
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value, or a valid "
            "sha256 value."
        )


def _check_amz_headers_signed(
    headers: Mapping[str, str], signed: list[str], exempt: frozenset[str]
) -> None:
    """Refuse a request carrying an x-amz-* header that its SigV4 signature does not cover."""
    unsigned = [
        name
        for name in headers
        if name.startswith("x-amz-") and name not in signed and name not in exempt
    ]
    if unsigned:
        raise AccessDenied(UNSIGNED_HEADERS_MESSAGE, HeadersNotSigned=", ".join(sorted(unsigned)))


async def _v4_verify(
    req: S3Request,
    auth: sigv4.V4Auth,
    payloads: tuple[str, ...],
    lookup: KeyLookup,
    exclude: str | None,
) -> tuple[AccessKeyRecord, ChunkSigner]:
    record = await _lookup(lookup, auth.credential.access_key)
    cred = auth.credential
    key = sigv4.signing_key(record.secret, cred.date, cred.region, cred.service)
    headers = req.headers
    found = False
    # A literal "+" in a query is a plus to RFC 3986 signers, a space to form encoders; S3
    # accepts either reading, so both are tried when (and only when) the query has a "+".
    readings = (False, True) if "+" in req.raw_query else (False,)
    for path in sigv4.canonical_uris(req.raw_path):
        for plus_is_space in readings:
            query = sigv4.canonical_query(
                req.raw_query, exclude=exclude, plus_is_space=plus_is_space
            )
            for payload in payloads:
                for reading in header_text.readings(headers, auth.signed_headers):
                    creq = sigv4.canonical_request(
                        req.method, path, query, reading, auth.signed_headers, payload
                    )
                    expected = sigv4.sign(
                        key, sigv4.string_to_sign(auth.amz_date, cred.scope, creq)
                    )
                    found |= sigv4.signatures_equal(expected, auth.signature)
    if not found:
        raise SignatureDoesNotMatch()
    return record, ChunkSigner(key, auth.amz_date, cred.scope, auth.signature)


async def _v4_header(
    req: S3Request, stream: AsyncIterator[bytes], header: str, lookup: KeyLookup, now: datetime
) -> AuthResult:
    amz_date, sent_at = _v4_request_time(req)
    auth = sigv4.parse_authorization(header, amz_date)
    _check_scope(auth, AuthorizationHeaderMalformed)
    _check_skew(sent_at, now)
    payload = req.headers.get("x-amz-content-sha256")
    if payload is None:
        raise InvalidRequest("Missing required header for this request: x-amz-content-sha256")
    payload = payload.strip()
    _check_payload_hash(payload)
    record, signer = await _v4_verify(req, auth, (payload,), lookup, exclude=None)
    _check_amz_headers_signed(req.headers, auth.signed_headers, _BOUND_BY_HEADER_SIGNATURE)
    return AuthResult(_principal(record), _body(req, stream, payload, signer))


async def _v4_query(
    req: S3Request, stream: AsyncIterator[bytes], lookup: KeyLookup, now: datetime
) -> AuthResult:
    params = {k: v for k, v in req.query if k.startswith("X-Amz-")}
    auth = sigv4.parse_presigned(params)
    try:
        signed_at = sigv4.parse_amz_date(auth.amz_date)
    except ValueError:
        raise AuthorizationQueryParametersError("X-Amz-Date must be in ISO 8601 format.") from None
    _check_scope(auth, AuthorizationQueryParametersError)
    if signed_at - now > MAX_SKEW:
        raise AccessDenied("Request is not valid yet")
    if now > signed_at + timedelta(seconds=auth.expires or 0):
        raise AccessDenied("Request has expired")
    pinned = params.get("X-Amz-Content-Sha256")
    payload = sigv4.UNSIGNED_PAYLOAD if pinned is None else pinned
    _check_payload_hash(payload)
    lines: tuple[str, ...] = (payload,)
    header = req.headers.get("x-amz-content-sha256")
    header = None if header is None else header.strip()
    if header is not None and header != payload and "x-amz-content-sha256" in auth.signed_headers:
        # botocore, aws-sdk-js v3 and aws-sdk-go put a header they sign on the payload line
        # too; either line is the signer's own choice, and the header must agree (below).
        lines = (header, payload)
    record, signer = await _v4_verify(req, auth, lines, lookup, exclude="X-Amz-Signature")
    _check_amz_headers_signed(req.headers, auth.signed_headers, _NOTHING)
    return AuthResult(
        _principal(record), _body(req, stream, _presigned_mode(header, pinned), signer)
    )


def _presigned_mode(header: str | None, pinned: str | None) -> str:
    """The payload mode of a presigned request whose x-amz-* headers are all signed.

    What was signed decides: the X-Amz-Content-Sha256 parameter, else UNSIGNED-PAYLOAD. A
    signed x-amz-content-sha256 header must equal a pinned value. Without a pin (the weakest
    mode) it may only add a check (a SHA-256 the body must match) or state the aws-chunked
    framing the signer chose.
    """
    if header is None:
        return pinned or sigv4.UNSIGNED_PAYLOAD
    _check_payload_hash(header)
    if pinned is None:
        return header
    if header.lower() != pinned.lower():  # hex digests in either case
        raise InvalidRequest(
            "The x-amz-content-sha256 header does not match the X-Amz-Content-Sha256 parameter."
        )
    return pinned


# -- SigV2 --------------------------------------------------------------------------------------


async def _v2_header(
    req: S3Request,
    stream: AsyncIterator[bytes],
    header: str,
    bucket: str | None,
    virtual_host: bool,
    lookup: KeyLookup,
    now: datetime,
) -> AuthResult:
    credentials = header.strip()[len("AWS ") :]
    access_key, colon, signature = credentials.partition(":")
    if not colon or not access_key or not signature or " " in credentials:
        raise InvalidArgument(
            "AWS authorization header is invalid. Expected AwsAccessKeyId:signature"
        )
    # x-amz-date, when sent, is the request time even if empty: an empty or bad x-amz-date
    # does not fall back to Date (AWS answers AccessDenied; ceph s3-tests
    # test_object_create_bad_date_empty_aws2), nor does a date before the epoch count as skew.
    if "x-amz-date" in req.headers:
        raw_time = req.headers["x-amz-date"]
    else:
        raw_time = req.headers.get("date", "")
    try:
        sent_at = _parse_http_date(raw_time)
    except ValueError:
        raise AccessDenied(
            "AWS authentication requires a valid Date or x-amz-date header."
        ) from None
    if sent_at < _EPOCH:
        raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header.")
    _check_skew(sent_at, now)
    # With x-amz-date the Date line is empty; some old clients still sign their Date header.
    date_lines = {req.headers.get("date", "").strip()}
    if "x-amz-date" in req.headers:
        date_lines.add("")
    record = await _lookup(lookup, access_key)
    candidates = sigv2.candidate_strings(
        req.method, req.headers, date_lines, req.raw_path, req.raw_query, bucket, virtual_host
    )
    if not sigv2.matches(record.secret, candidates, signature):
        raise SignatureDoesNotMatch()
    return AuthResult(_principal(record), _body(req, stream, _v2_framing(req), None))


async def _v2_query(
    req: S3Request,
    stream: AsyncIterator[bytes],
    bucket: str | None,
    virtual_host: bool,
    lookup: KeyLookup,
    now: datetime,
) -> AuthResult:
    access_key = req.param("AWSAccessKeyId")
    # Base64 has no spaces: a space here is a "+" the client left unencoded.
    signature = (req.param("Signature") or "").replace(" ", "+")
    expires = req.param("Expires") or ""
    if not access_key or not signature or not expires:
        raise AccessDenied(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId "
            "parameters"
        )
    # isascii: str.isdigit() also admits digits int() refuses ("²").
    if not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
        raise AccessDenied("Invalid date (should be seconds since epoch)")
    if now.timestamp() > int(expires):
        raise AccessDenied("Request has expired")
    # botocore's V2 presigner moves x-amz-* headers (and Content-Type/MD5) into the query and
    # signs them as headers; headers actually sent take precedence.
    headers = dict(req.headers)
    for name, value in req.query:
        lname = name.lower()
        if (lname.startswith("x-amz-") or lname in ("content-type", "content-md5")) and (
            lname not in headers
        ):
            headers[lname] = value
    record = await _lookup(lookup, access_key)
    candidates = sigv2.candidate_strings(
        req.method, headers, [expires], req.raw_path, req.raw_query, bucket, virtual_host
    )
    if not sigv2.matches(record.secret, candidates, signature):
        raise SignatureDoesNotMatch()
    return AuthResult(_principal(record), _body(req, stream, _v2_framing(req), None))


def _v2_framing(req: S3Request) -> str | None:
    # SigV2 signs no payload hash; only the unsigned-trailer framing can apply to its body.
    value = req.headers.get("x-amz-content-sha256", "").strip()
    return value if value == sigv4.STREAMING_UNSIGNED_TRAILER else None


# -- shared -------------------------------------------------------------------------------------


def _parse_http_date(value: str) -> datetime:
    """RFC 1123 dates ("Fri, 24 May 2013 00:00:00 GMT"; s3cmd writes "+0000"), or ISO basic."""
    value = value.strip()
    if _ISO_BASIC.fullmatch(value):
        return sigv4.parse_amz_date(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        raise ValueError("bad date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_ISO_BASIC = re.compile(r"\d{8}T\d{6}Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _check_skew(sent_at: datetime, now: datetime) -> None:
    if abs(now - sent_at) > MAX_SKEW:
        raise RequestTimeTooSkewed()


async def _lookup(lookup: KeyLookup, access_key: str) -> AccessKeyRecord:
    record = await lookup(access_key)
    if record is None or record.status != "active":
        raise InvalidAccessKeyId()
    return record


def _principal(record: AccessKeyRecord) -> Principal:
    return Principal(record.access_key, record.tenant, record.display_name)


def _int_header(req: S3Request, name: str) -> int | None:
    raw = req.headers.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise InvalidArgument(f"The {name} header is not a valid length.")
    return int(raw)


def _body(
    req: S3Request,
    stream: AsyncIterator[bytes],
    payload: str | None,
    signer: ChunkSigner | None,
) -> Body:
    """Wrap the raw stream according to the payload-hash value (not Content-Encoding)."""
    content_length = _int_header(req, "content-length")
    if payload in (sigv4.STREAMING_SIGNED, sigv4.STREAMING_SIGNED_TRAILER):
        if signer is None:
            raise InvalidRequest("Signed aws-chunked bodies need SigV4 authentication.")
        trailers = payload == sigv4.STREAMING_SIGNED_TRAILER
    elif payload == sigv4.STREAMING_UNSIGNED_TRAILER:
        signer, trailers = None, True
    else:
        sha256 = payload.lower() if payload and _HEX64.fullmatch(payload) else None
        return PlainBody(stream, length=content_length, sha256_hex=sha256)
    decoded = _int_header(req, "x-amz-decoded-content-length")
    decoder = ChunkedDecoder(signer, trailers_allowed=trailers, decoded_length=decoded)
    return ChunkedBody(stream, decoder, length=decoded, raw_length=content_length)
