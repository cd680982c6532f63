"""AWS Signature Version 4: the pure maths, and parsing of what a client sends.

The signature is an HMAC chain over a *canonical request* — a normalised rendering of the
method, path, query, the headers the client chose to sign and the payload hash:

    CanonicalRequest = METHOD \\n URI \\n QUERY \\n (name:value \\n)* \\n SIGNED;HEADERS \\n PAYLOAD
    StringToSign     = "AWS4-HMAC-SHA256" \\n AMZDATE \\n SCOPE \\n hex(sha256(CanonicalRequest))
    SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")

Everything here is a function of its arguments (no clock, no key store, no service check), so the
AWS test-suite vectors — which use the service name "service" — run against it unchanged. What S3
in particular requires (service "s3", clock skew, x-amz-content-sha256) is enforced by `verify`.

S3 deviations from generic SigV4, deliberately kept: the canonical URI is the path exactly as
sent (no normalisation of `//`, `.` or a trailing `/`, no second encoding).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, unquote_to_bytes

from s3front.errors import (
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
)

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MAX_PRESIGN_EXPIRES = 604800  # seven days, the AWS limit

_UNRESERVED_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
_UNRESERVED = frozenset(_UNRESERVED_BYTES)
_UNRESERVED_PATH = _UNRESERVED_BYTES.decode() + "/"


# -- canonicalisation -------------------------------------------------------------------------


def uri_encode(value: str | bytes) -> str:
    """Percent-encode every byte (of the UTF-8 form) except RFC 3986 unreserved characters."""
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    if not raw.strip(_UNRESERVED_BYTES):  # nothing to encode: the usual key or query value
        return raw.decode("ascii")
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in raw)


def canonical_uris(raw_path: str) -> list[str]:
    """The canonical URI candidates of a path: as sent, and re-encoded from its decoded form.

    S3 signs the URI-encoded path without normalising it. Clients usually send exactly what they
    signed, but some send a character raw that they signed encoded (the AWS PUT example sends
    `test$file.text` and signs `/test%24file.text`) or use lower-case hex. Both candidates
    decode to the same key, so accepting either cannot make a signature cover another object.
    """
    if not raw_path.strip(_UNRESERVED_PATH):
        return [raw_path]  # nothing encoded and nothing to encode: the one candidate
    try:
        decoded = unquote(raw_path, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return [raw_path]
    reencoded = "/".join(uri_encode(segment) for segment in decoded.split("/"))
    return [raw_path] if reencoded == raw_path else [raw_path, reencoded]


def canonical_query(
    raw_query: str, *, exclude: str | None = None, plus_is_space: bool = False
) -> str:
    """Decode the query pairs and re-encode them in the canonical way, sorted.

    A bare key (`?uploads`) and an empty value (`?uploads=`) both become `uploads=`. `exclude`
    drops one parameter by name (X-Amz-Signature in a presigned URL). A `+` is a literal plus
    unless `plus_is_space` (clients that form-encode spaces sign them as `%20`).
    """
    if not raw_query:
        return ""  # most object requests
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        if plus_is_space:
            part = part.replace("+", " ")
        # Decoded to bytes, not text: a value that is not UTF-8 is re-encoded byte for byte.
        name, _, value = (unquote_to_bytes(p) for p in part.partition("="))
        if name == (exclude or "").encode():
            continue
        pairs.append((uri_encode(name), uri_encode(value)))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_header_value(value: str) -> str:
    """Trim, and collapse each run of inner whitespace to one space (quotes are not special)."""
    return " ".join(value.split())


def canonical_headers(headers: Mapping[str, str], signed: list[str]) -> str:
    """`name:value\n` for each signed header, in the order given (already sorted lower case).

    A repeated header arrives joined with "," by the request parser (HTTP servers strip the
    whitespace around each value), which is the SigV4 form. Commas are not split on: they
    are part of values such as a Date header.
    """
    return "".join(f"{name}:{canonical_header_value(headers.get(name, ''))}\n" for name in signed)


def canonical_request(
    method: str,
    uri: str,
    query: str,
    headers: Mapping[str, str],
    signed: list[str],
    payload_hash: str,
) -> str:
    return "\n".join(
        [method, uri, query, canonical_headers(headers, signed), ";".join(signed), payload_hash]
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def chunk_string_to_sign(amz_date: str, scope: str, previous: str, chunk_sha256: str) -> str:
    """What an aws-chunked chunk signs: chained to the previous chunk's (or seed) signature."""
    return f"{ALGORITHM}-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{EMPTY_SHA256}\n{chunk_sha256}"


def trailer_string_to_sign(amz_date: str, scope: str, previous: str, trailers_sha256: str) -> str:
    return f"{ALGORITHM}-TRAILER\n{amz_date}\n{scope}\n{previous}\n{trailers_sha256}"


@functools.lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived key of one day, region and service. Cached: it changes once a day per key,
    and deriving it is four HMACs on every request otherwise. The cache holds derived keys
    only in this process's memory, where the secrets already are."""
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def sign(key: bytes, text: str) -> str:
    return hmac.digest(key, text.encode("utf-8", "surrogatepass"), "sha256").hex()


def signatures_equal(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))


# -- what the client sent ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credential:
    """`AKID/20130524/us-east-1/s3/aws4_request`, split."""

    access_key: str
    date: str
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True, slots=True)
class V4Auth:
    """A parsed V4 Authorization header or presigned query."""

    credential: Credential
    signed_headers: list[str]
    signature: str
    amz_date: str  # the request time as signed, ISO 8601 basic ("20130524T000000Z")
    expires: int | None = None  # presigned only: seconds from amz_date


def parse_credential(value: str, error: type[Exception]) -> Credential:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts[:4]):
        raise error("The credential is malformed; expected AKID/date/region/service/aws4_request.")
    if len(parts[1]) != 8 or not (parts[1].isascii() and parts[1].isdigit()):
        raise error("The credential date is malformed.")
    return Credential(parts[0], parts[1], parts[2], parts[3])


def _parse_signed_headers(value: str, error: type[Exception]) -> list[str]:
    names = value.split(";")
    if not value or any(not n or n != n.strip().lower() for n in names):
        raise error("SignedHeaders is malformed.")
    return names


_LOWER_HEX = frozenset("0123456789abcdef")


def _parse_signature(value: str, error: type[Exception]) -> str:
    if len(value) != 64 or not _LOWER_HEX.issuperset(value):
        raise error("The signature is malformed.")
    return value


def parse_amz_date(value: str) -> datetime:
    """Parse an ISO 8601 basic timestamp (20130524T000000Z); ValueError if it is not one.

    By hand rather than with strptime, which costs ~25 us and runs on every signed request.
    """
    if (
        len(value) != 16
        or value[8] != "T"
        or value[15] != "Z"
        or not (value[:8] + value[9:15]).isdigit()
        or not value.isascii()
    ):
        raise ValueError("bad x-amz-date")
    return datetime(
        int(value[0:4]),
        int(value[4:6]),
        int(value[6:8]),
        int(value[9:11]),
        int(value[11:13]),
        int(value[13:15]),
        tzinfo=UTC,
    )


def format_amz_date(moment: datetime) -> str:
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return (
        f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
        f"T{moment.hour:02d}{moment.minute:02d}{moment.second:02d}Z"
    )


# The header as SDKs write it, components in the usual order, nothing unusual in any of them.
# What it matches, the general parser would read the same way; anything else goes to that one.
_USUAL_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]+)/([0-9]{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request,"
    r" ?SignedHeaders=((?:[a-z0-9-]+;)*[a-z0-9-]+), ?Signature=([0-9a-f]{64})"
)


def parse_authorization(value: str, amz_date: str) -> V4Auth:
    """Parse `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.

    Components may be separated by "," with or without spaces (the AWS examples have none,
    botocore puts one). Each must appear exactly once.
    """
    usual = _USUAL_AUTHORIZATION.fullmatch(value)
    if usual is None:
        return parse_authorization_general(value, amz_date)
    access_key, date, region, service, signed, signature = usual.groups()
    return V4Auth(
        credential=Credential(access_key, date, region, service),
        signed_headers=signed.split(";"),
        signature=signature,
        amz_date=amz_date,
    )


def parse_authorization_general(value: str, amz_date: str) -> V4Auth:
    """The general parser: any order and spacing of the components (what the regex leaves)."""
    err = AuthorizationHeaderMalformed
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise err("Unsupported authorization algorithm.")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, val = item.strip().partition("=")
        if not sep or name in fields:
            raise err("The authorization header is malformed.")
        fields[name] = val.strip()
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise err("The authorization header needs Credential, SignedHeaders and Signature.")
    return V4Auth(
        credential=parse_credential(fields["Credential"], err),
        signed_headers=_parse_signed_headers(fields["SignedHeaders"], err),
        signature=_parse_signature(fields["Signature"], err),
        amz_date=amz_date,
    )


PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)


def parse_presigned(params: dict[str, str]) -> V4Auth:
    """Parse the X-Amz-* parameters of a presigned URL (already decoded)."""
    err = AuthorizationQueryParametersError
    missing = [p for p in PRESIGN_PARAMS if p not in params]
    if missing:
        raise err(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
            "and X-Amz-Expires parameters."
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise err('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256".')
    expires_raw = params["X-Amz-Expires"]
    # isascii: str.isdigit() also admits digits int() refuses ("²").
    if not (expires_raw.isascii() and expires_raw.isdigit()) or len(expires_raw) > 10:
        raise err("X-Amz-Expires should be a number.")
    expires = int(expires_raw)
    if expires > MAX_PRESIGN_EXPIRES:
        raise err("X-Amz-Expires must be less than a week (in seconds) that is 604800.")
    return V4Auth(
        credential=parse_credential(params["X-Amz-Credential"], err),
        signed_headers=_parse_signed_headers(params["X-Amz-SignedHeaders"], err),
        signature=_parse_signature(params["X-Amz-Signature"], err),
        amz_date=params["X-Amz-Date"],
        expires=expires,
    )
