"""Property: no x-amz-* header can be added to a signed request and still be accepted.

One request of each signed form (SigV4 header, SigV4 presigned, SigV2 header, SigV2 presigned)
is signed by botocore; Hypothesis adds any x-amz-* header (any name, any value the HTTP layer
could deliver). The request is then refused with an S3 error, unless it is the very request that
was signed (the header was already there with that value). SigV4 names what was not signed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from s3front.auth import UNSIGNED_HEADERS_MESSAGE, authenticate
from s3front.errors import AccessDenied, S3Error
from s3front.request import S3Request, parse_query, split_host
from s3front.store.records import AccessKeyRecord

AK, SECRET = "AKIDPROPERTY", "property/secret+KEY"
RECORD = AccessKeyRecord(AK, SECRET, "tenant", "user", 0, "active")
FORMS = ["v4-header", "v4-presigned", "v2-header", "v2-presigned"]

# Token characters (RFC 9110) for the name; visible Latin-1 and inner spaces for the value.
NAME_SUFFIX = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.!#$%&'*+^`|~", max_size=24)
VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"))


@functools.cache
def _signed(form: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """(path, query, headers) of a PUT botocore signed in `form`, as the server receives it."""
    from botocore import auth as botocore_auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(AK, SECRET)
    request = AWSRequest(
        method="PUT",
        url="http://localhost:9000/bkt/k",
        headers={"x-amz-acl": "private", "x-amz-meta-a": "b"},
        data=b"",
    )
    signers = {
        "v4-header": lambda: botocore_auth.S3SigV4Auth(creds, "s3", "us-east-1"),
        "v4-presigned": lambda: botocore_auth.S3SigV4QueryAuth(creds, "s3", "us-east-1", 3600),
        "v2-header": lambda: botocore_auth.HmacV1Auth(creds),
        "v2-presigned": lambda: botocore_auth.HmacV1QueryAuth(creds, expires=3600),
    }
    signers[form]().add_auth(request)
    split = urlsplit(request.url)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "localhost:9000"
    for name, _ in parse_query(split.query):  # hoisted into the query by the V2 presigner
        if name.lower().startswith("x-amz-"):
            headers.pop(name.lower(), None)
    return split.path, split.query, tuple(headers.items())


def _request(path: str, query: str, headers: Mapping[str, str]) -> S3Request:
    return S3Request(
        method="PUT",
        raw_path=path,
        raw_query=query,
        query=parse_query(query),
        headers=dict(headers),
        host=split_host(headers.get("host", "")),
        scheme="http",
        client_ip="127.0.0.1",
    )


async def _empty() -> AsyncIterator[bytes]:
    yield b""


async def _lookup(access_key: str) -> AccessKeyRecord | None:
    return RECORD if access_key == AK else None


def _authenticate(req: S3Request) -> None:
    async def go() -> None:
        result = await authenticate(
            req,
            _empty(),
            bucket="bkt",
            virtual_host=False,
            lookup=_lookup,
            region="us-east-1",
            now=datetime.now(UTC),
        )
        async for _ in result.body:
            pass

    asyncio.run(go())


@pytest.mark.parametrize("form", FORMS)
def test_signed_request_as_sent_is_accepted(form: str) -> None:
    path, query, headers = _signed(form)
    _authenticate(_request(path, query, dict(headers)))


@pytest.mark.parametrize("form", FORMS)
@given(suffix=NAME_SUFFIX, value=VALUE)
@example(suffix="copy-source", value="bkt/private")
@example(suffix="acl", value="public-read")
@example(suffix="acl", value="private")
@example(suffix="content-sha256", value="UNSIGNED-PAYLOAD")
@example(suffix="content-sha256", value="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
@example(suffix="date", value="")
@example(suffix="", value="")
def test_an_added_amz_header_is_refused(form: str, suffix: str, value: str) -> None:
    path, query, signed = _signed(form)
    headers = dict(signed)
    name = "x-amz-" + suffix
    # As the request parser delivers it: trimmed, a repeat joined to the first with ",".
    value = value.strip()
    headers[name] = f"{headers[name]},{value}" if name in headers else value
    bound = {"x-amz-content-sha256", "x-amz-date"} if form == "v4-header" else set()
    must_name_it = form.startswith("v4") and name not in signed_names(form) and name not in bound
    hoisted = {k.lower(): v for k, v in parse_query(query) if k.lower().startswith("x-amz-")}
    if name not in dict(signed) and hoisted.get(name) == value:
        # The V2 presigner signed this very header into the query: the request as signed.
        _authenticate(_request(path, query, headers))
        return
    try:
        _authenticate(_request(path, query, headers))
    except S3Error as err:
        if must_name_it:
            assert isinstance(err, AccessDenied) and err.message == UNSIGNED_HEADERS_MESSAGE
            assert err.extra["HeadersNotSigned"] == name
    else:
        pytest.fail(f"{form}: {name}: {value!r} was accepted")


def signed_names(form: str) -> list[str]:
    _, query, headers = _signed(form)
    if form == "v4-presigned":
        return (dict(parse_query(query)).get("X-Amz-SignedHeaders") or "").split(";")
    authorization = dict(headers)["authorization"]
    return authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
