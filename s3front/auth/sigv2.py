"""AWS Signature Version 2 (HMAC-SHA1), as s3cmd, boto3 `signature_version='s3'` and every V2
presigned URL use it.

    StringToSign = METHOD \\n Content-MD5 \\n Content-Type \\n Date \\n
                   (x-amz-name:value \\n)*            lower-case, sorted, repeats comma-joined
                   CanonicalResource                  [/bucket] + path as sent + ?sub-resources
    Signature    = base64(HMAC-SHA1(secret, StringToSign))

The Date line is the Date header, empty when x-amz-date is sent (header auth), or the Expires
value (query auth). Clients disagree on details AWS never pinned down, so the verifier computes a
few candidate strings and accepts a signature matching any of them; every candidate covers the
same method, headers, path and sub-resources, so none lets a signature cover a different request:

- botocore signs a bucket root as "/bucket/" while sending "/bucket" (and s3cmd the reverse in
  some versions): both spellings of the bucket root are tried.
- Sub-resource values are signed decoded by botocore and as sent (percent-encoded) by s3cmd; an
  empty value is a bare name for s3cmd and `name=` for botocore when the URL had `=`.
- Some old clients sign the Date header even though they also send x-amz-date.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

from s3front.auth import header_text

# Sub-resources that are part of the canonical resource: the union of s3cmd's list
# (S3/Crypto.py sign_request_v2), botocore's (auth.py HmacV1Auth.QSAOfInterest) and the AWS docs.
SUBRESOURCES = frozenset(
    {
        "accelerate",
        "acl",
        "analytics",
        "cors",
        "defaultObjectAcl",
        "delete",
        "encryption",
        "intelligent-tiering",
        "inventory",
        "legal-hold",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "ownershipControls",
        "partNumber",
        "policy",
        "publicAccessBlock",
        "replication",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "retention",
        "select",
        "select-type",
        "storageClass",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    }
)


def canonical_amz_headers(headers: Mapping[str, str]) -> str:
    """`x-amz-name:value` lines, sorted by name, values trimmed.

    A repeated header arrives already comma-joined by the request parser (which strips each
    value), as SigV2 wants it. Commas are not split on: they occur inside values (dates).
    """
    names = sorted(n for n in headers if n.startswith("x-amz-"))
    return "".join(f"{name}:{headers[name].strip()}\n" for name in names)


def subresource_strings(raw_query: str) -> set[str]:
    """The `?a&b=c` suffixes the clients we know would sign for this query ("" when none)."""
    picked: list[tuple[str, str, bool]] = []  # name, raw value, had "="
    for part in raw_query.split("&"):
        name, eq, value = part.partition("=")
        name = unquote(name)
        if name in SUBRESOURCES:
            picked.append((name, value, bool(eq)))
    if not picked:
        return {""}
    picked.sort(key=lambda p: p[0])

    def render(decode: bool, keep_equals: bool) -> str:
        items = []
        for name, raw, had_eq in picked:
            value = unquote(raw) if decode else raw
            if value or (keep_equals and had_eq):
                items.append(f"{name}={value}")
            else:
                items.append(name)
        return "?" + "&".join(items)

    return {render(d, k) for d in (True, False) for k in (True, False)}


def resource_paths(raw_path: str, bucket: str | None, virtual_host: bool) -> set[str]:
    """The canonical resource path(s): "/bucket" + path when virtual-hosted, else the path."""
    path = f"/{bucket}{raw_path}" if virtual_host and bucket else raw_path
    paths = {path}
    if bucket and path in (f"/{bucket}", f"/{bucket}/"):
        # botocore signs the bucket root with a trailing slash it does not send.
        paths = {f"/{bucket}", f"/{bucket}/"}
    return paths


def string_to_sign(
    method: str,
    content_md5: str,
    content_type: str,
    date_line: str,
    amz_headers: str,
    resource: str,
) -> str:
    return f"{method}\n{content_md5}\n{content_type}\n{date_line}\n{amz_headers}{resource}"


def candidate_strings(
    method: str,
    headers: Mapping[str, str],
    date_lines: Iterable[str],
    raw_path: str,
    raw_query: str,
    bucket: str | None,
    virtual_host: bool,
) -> set[str]:
    signed = [n for n in headers if n.startswith("x-amz-") or n in ("content-md5", "content-type")]
    return {
        string_to_sign(
            method,
            reading.get("content-md5", "").strip(),
            reading.get("content-type", "").strip(),
            date_line,
            canonical_amz_headers(reading),
            path + sub,
        )
        for reading in header_text.readings(headers, signed)
        for date_line in date_lines
        for path in resource_paths(raw_path, bucket, virtual_host)
        for sub in subresource_strings(raw_query)
    }


def sign(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def matches(secret: str, candidates: Iterable[str], signature: str) -> bool:
    """True when `signature` (base64) signs any candidate; constant-time per comparison."""
    given = signature.encode("ascii", "replace")
    found = False
    for text in candidates:
        # No short-circuit: the time taken does not depend on which candidate matched.
        found |= hmac.compare_digest(sign(secret, text).encode("ascii"), given)
    return found
