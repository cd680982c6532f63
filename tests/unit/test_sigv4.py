"""SigV4 maths against published vectors.

- The AWS SigV4 test suite (aws-sig-v4-test-suite: AKIDEXAMPLE, region us-east-1, service
  "service", 20150830T123600Z); expected signatures are the suite's `.authz` files. The
  normalize-path cases other than get-space/get-utf8 are left out on purpose: S3 does not
  normalise paths.
- The S3 examples of "Signature Calculations for the Authorization Header" (AKIAIOSFODNN7EXAMPLE,
  examplebucket, 20130524T000000Z), verified end to end through `authenticate`.
- The chunked-upload example of "Transferring Payload in Multiple Chunks".
"""

from __future__ import annotations

import hashlib

import pytest
from authkit import Keys, auth, key, make_request, read, run, utc

from s3front import errors
from s3front.auth import sigv4
from s3front.auth.chunked import ChunkSigner

SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_DATE = "20150830T123600Z"
SUITE_SCOPE = "20150830/us-east-1/service/aws4_request"
SUITE_HOST = "example.amazonaws.com"

# name, method, raw target as sent, extra headers, body, signature (from the suite's .authz)
SUITE = [
    ("get-vanilla", "GET", "/", {}, b"",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", {}, b"",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("get-vanilla-query-order-value", "GET", "/?Param1=value2&Param1=value1", {}, b"",
     "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
    ("get-vanilla-empty-query-key", "GET", "/?Param1=value1", {}, b"",
     "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
    ("get-vanilla-query-unreserved", "GET",
     "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
     "=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", {}, b"",
     "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
    ("get-vanilla-utf8-query", "GET", "/?%E1%88%B4=bar", {}, b"",
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
    ("get-unreserved", "GET",
     "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", {}, b"",
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
    # The suite's request lines carry raw UTF-8 and a raw space; on the wire they are encoded.
    ("get-utf8", "GET", "/%E1%88%B4", {}, b"",
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
    ("get-space", "GET", "/example%20space/", {}, b"",
     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
    ("get-header-value-trim", "GET", "/", {"my-header1": " value1", "my-header2": '"a   b   c"'},
     b"", "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
    ("get-header-key-duplicate", "GET", "/", {"my-header1": "value2,value2,value1"}, b"",
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
    ("post-vanilla-empty-query-value", "POST", "/?Param1=value1", {}, b"",
     "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
    ("post-x-www-form-urlencoded", "POST", "/",
     {"content-type": "application/x-www-form-urlencoded"}, b"Param1=value1",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "target", "extra", "body", "expected"),
    [case[1:] for case in SUITE],
    ids=[case[0] for case in SUITE],
)
def test_aws_suite_vectors(
    method: str, target: str, extra: dict[str, str], body: bytes, expected: str
) -> None:
    headers = {"host": SUITE_HOST, "x-amz-date": SUITE_DATE, **extra}
    signed = sorted(headers)
    path, _, query = target.partition("?")
    creq = sigv4.canonical_request(
        method,
        path,
        sigv4.canonical_query(query),
        headers,
        signed,
        hashlib.sha256(body).hexdigest(),
    )
    key_ = sigv4.signing_key(SUITE_SECRET, "20150830", "us-east-1", "service")
    assert sigv4.sign(key_, sigv4.string_to_sign(SUITE_DATE, SUITE_SCOPE, creq)) == expected


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Param2=value2&Param1=value1", "Param1=value1&Param2=value2"),
        ("uploads", "uploads="),
        ("uploads=", "uploads="),
        ("delimiter=/&prefix=a%2Fb", "delimiter=%2F&prefix=a%2Fb"),
        ("delimiter=&list-type=2", "delimiter=&list-type=2"),
        ("x-id=PutObject", "x-id=PutObject"),
        ("a=%7e~&b=%20", "a=~~&b=%20"),
        ("q=a+b", "q=a%2Bb"),
        ("k=%FF%fe", "k=%FF%FE"),  # not UTF-8: kept byte for byte
        ("", ""),
    ],
)
def test_canonical_query(raw: str, canonical: str) -> None:
    assert sigv4.canonical_query(raw) == canonical


def test_canonical_query_excludes_the_signature_and_reads_plus_as_space_when_asked() -> None:
    raw = "X-Amz-Signature=abc&q=a+b"
    assert sigv4.canonical_query(raw, exclude="X-Amz-Signature") == "q=a%2Bb"
    assert sigv4.canonical_query(raw, exclude="X-Amz-Signature", plus_is_space=True) == "q=a%20b"


@pytest.mark.parametrize(
    ("raw", "candidates"),
    [
        ("/test%24file.text", ["/test%24file.text"]),
        ("/test$file.text", ["/test$file.text", "/test%24file.text"]),
        ("//a//b/", ["//a//b/"]),
        ("/a%2fb", ["/a%2fb", "/a/b"]),
        ("/%E1%88%B4", ["/%E1%88%B4"]),
    ],
)
def test_canonical_uri_keeps_the_path_as_sent(raw: str, candidates: list[str]) -> None:
    assert sigv4.canonical_uris(raw) == candidates


@pytest.mark.parametrize(
    ("value", "canonical"),
    [(" value1", "value1"), ('"a   b   c"', '"a b c"'), ("a\t b  ", "a b"), ("", "")],
)
def test_header_values_are_trimmed_and_collapsed(value: str, canonical: str) -> None:
    assert sigv4.canonical_header_value(value) == canonical


# -- the S3 examples, end to end ----------------------------------------------------------------

S3_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
S3_KEYS = Keys(key("AKIAIOSFODNN7EXAMPLE", S3_SECRET))
S3_NOW = utc(2013, 5, 24, 0, 5)
S3_HOST = "examplebucket.s3.amazonaws.com"
EMPTY = sigv4.EMPTY_SHA256
CRED = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"

S3_EXAMPLES = [
    ("GET object", "GET", "/test.txt", {"range": "bytes=0-9", "x-amz-content-sha256": EMPTY},
     b"", "host;range;x-amz-content-sha256;x-amz-date",
     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
    # Sent with a raw "$" (as in the example's request line), signed as %24.
    ("PUT object", "PUT", "/test$file.text",
     {"date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY",
      "x-amz-content-sha256":
          "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"},
     b"Welcome to Amazon S3.", "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
    ("GET lifecycle", "GET", "/?lifecycle", {"x-amz-content-sha256": EMPTY}, b"",
     "host;x-amz-content-sha256;x-amz-date",
     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
    ("GET bucket", "GET", "/?max-keys=2&prefix=J", {"x-amz-content-sha256": EMPTY}, b"",
     "host;x-amz-content-sha256;x-amz-date",
     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
]  # fmt: skip


def _s3_example(
    method: str, target: str, extra: dict[str, str], signed: str, signature: str
) -> dict[str, str]:
    return {
        "host": S3_HOST,
        "x-amz-date": "20130524T000000Z",
        **extra,
        "authorization": f"{CRED}SignedHeaders={signed},Signature={signature}",
    }


@pytest.mark.parametrize(
    ("method", "target", "extra", "body", "signed", "signature"),
    [case[1:] for case in S3_EXAMPLES],
    ids=[case[0] for case in S3_EXAMPLES],
)
def test_s3_doc_examples_authenticate(
    method: str, target: str, extra: dict[str, str], body: bytes, signed: str, signature: str
) -> None:
    headers = _s3_example(method, target, extra, signed, signature)
    result = run(auth(make_request(method, target, headers), S3_KEYS, S3_NOW, body))
    assert result.principal is not None
    assert result.principal.access_key == "AKIAIOSFODNN7EXAMPLE"
    assert run(read(result.body)) == body


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"range": "bytes=0-10"}, errors.SignatureDoesNotMatch),
        ({"x-amz-date": "20130524T000001Z"}, errors.SignatureDoesNotMatch),
        ({"x-amz-date": "20130525T000000Z"}, errors.AuthorizationHeaderMalformed),
        ({"x-amz-date": "yesterday"}, errors.AccessDenied),
        ({"x-amz-content-sha256": None}, errors.InvalidRequest),
        ({"x-amz-content-sha256": "sha256"}, errors.InvalidArgument),
        ({"authorization": CRED + "SignedHeaders=Host;range,Signature=" + "0" * 64},
         errors.AuthorizationHeaderMalformed),
        ({"authorization": CRED.replace("/s3/", "/ec2/") + "SignedHeaders=host;range;"
          "x-amz-content-sha256;x-amz-date,Signature=" + "0" * 64},
         errors.AuthorizationHeaderMalformed),
        ({"authorization": CRED.replace("AKIAIOSFODNN7EXAMPLE", "NOBODY") + "SignedHeaders=host"
          ";range;x-amz-content-sha256;x-amz-date,Signature=" + "0" * 64},
         errors.InvalidAccessKeyId),
        ({"authorization": CRED + "SignedHeaders=range;x-amz-content-sha256;x-amz-date,"
          "Signature=" + "0" * 64}, errors.AuthorizationHeaderMalformed),
        ({"authorization": "AWS4-HMAC-SHA256 garbage"}, errors.AuthorizationHeaderMalformed),
        ({"authorization": "Bearer token"}, errors.InvalidArgument),
    ],
)  # fmt: skip
def test_s3_doc_example_tampered(change: dict[str, str | None], error: type[Exception]) -> None:
    _, method, target, extra, _, signed, signature = S3_EXAMPLES[0]
    headers: dict[str, str] = _s3_example(method, target, extra, signed, signature)
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    with pytest.raises(error):
        run(auth(make_request(method, target, headers), S3_KEYS, S3_NOW))


@pytest.mark.parametrize(
    ("now", "error"),
    [
        (utc(2013, 5, 24, 0, 14, 59), None),
        (utc(2013, 5, 23, 23, 45, 1), None),
        (utc(2013, 5, 24, 0, 15, 1), errors.RequestTimeTooSkewed),
        (utc(2013, 5, 23, 23, 44, 59), errors.RequestTimeTooSkewed),
    ],
)
def test_clock_skew_limit_is_fifteen_minutes(now: object, error: type[Exception] | None) -> None:
    _, method, target, extra, _, signed, signature = S3_EXAMPLES[0]
    req = make_request(method, target, _s3_example(method, target, extra, signed, signature))
    if error is None:
        assert run(auth(req, S3_KEYS, now)).principal is not None  # type: ignore[arg-type]
    else:
        with pytest.raises(error):
            run(auth(req, S3_KEYS, now))  # type: ignore[arg-type]


def test_revoked_key_is_invalid_access_key() -> None:
    _, method, target, extra, _, signed, signature = S3_EXAMPLES[0]
    revoked = Keys(key("AKIAIOSFODNN7EXAMPLE", S3_SECRET, status="revoked"))
    req = make_request(method, target, _s3_example(method, target, extra, signed, signature))
    with pytest.raises(errors.InvalidAccessKeyId):
        run(auth(req, revoked, S3_NOW))


def test_wrong_secret_does_not_match_and_message_reveals_nothing() -> None:
    _, method, target, extra, _, signed, signature = S3_EXAMPLES[0]
    wrong = Keys(key("AKIAIOSFODNN7EXAMPLE", "not-the-secret"))
    req = make_request(method, target, _s3_example(method, target, extra, signed, signature))
    with pytest.raises(errors.SignatureDoesNotMatch) as info:
        run(auth(req, wrong, S3_NOW))
    text = str(info.value) + repr(info.value.extra)
    assert "not-the-secret" not in text and signature not in text and "AWS4" not in text


def test_put_example_body_that_differs_from_its_hash_fails_at_the_end() -> None:
    _, method, target, extra, _, signed, signature = S3_EXAMPLES[1]
    req = make_request(method, target, _s3_example(method, target, extra, signed, signature))
    result = run(auth(req, S3_KEYS, S3_NOW, b"Welcome to Amazon S4."))
    with pytest.raises(errors.XAmzContentSHA256Mismatch):
        run(read(result.body))


# -- the chunked-upload example -----------------------------------------------------------------

CHUNK_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_SIGS = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
]


def test_chunk_signature_chain_of_the_aws_example() -> None:
    signer = ChunkSigner(
        key=sigv4.signing_key(S3_SECRET, "20130524", "us-east-1", "s3"),
        amz_date="20130524T000000Z",
        scope="20130524/us-east-1/s3/aws4_request",
        seed=CHUNK_SEED,
    )
    previous = signer.seed
    for data, expected in zip([b"a" * 65536, b"a" * 1024, b""], CHUNK_SIGS, strict=True):
        previous = signer.chunk(previous, hashlib.sha256(data).hexdigest())
        assert previous == expected


def chunk_example_request() -> tuple[dict[str, str], bytes]:
    headers = {
        "host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": sigv4.STREAMING_SIGNED,
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "content-length": "66824",
        "authorization": CRED + "SignedHeaders=content-encoding;content-length;host;"
        "x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"
        f"Signature={CHUNK_SEED}",
    }
    body = b"".join(
        f"{len(data):x};chunk-signature={sig}\r\n".encode() + data + b"\r\n"
        for data, sig in zip([b"a" * 65536, b"a" * 1024, b""], CHUNK_SIGS, strict=True)
    )
    return headers, body


@pytest.mark.parametrize("piece", [1, 7, 8192, 100_000])
def test_chunked_upload_example_end_to_end(piece: int) -> None:
    headers, body = chunk_example_request()
    assert len(body) == 66824  # the example's Content-Length
    req = make_request("PUT", "/examplebucket/chunkObject.txt", headers)
    result = run(auth(req, S3_KEYS, S3_NOW, body, piece=piece))
    assert result.body.length == 66560
    assert run(read(result.body)) == b"a" * 66560


def test_chunked_upload_example_without_content_encoding_still_decodes() -> None:
    # minio-go sends signed chunks without Content-Encoding: framing follows the payload hash.
    headers, body = chunk_example_request()
    req = make_request("PUT", "/examplebucket/chunkObject.txt", headers)
    req.headers.pop("content-encoding")  # type: ignore[attr-defined]
    # The seed signature covered content-encoding, so it now must fail the seed check.
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(auth(req, S3_KEYS, S3_NOW, body))


def test_chunked_upload_example_with_a_changed_byte_fails() -> None:
    headers, body = chunk_example_request()
    tampered = body.replace(b"a" * 10 + b"\r\n0;", b"a" * 9 + b"b\r\n0;")
    assert tampered != body
    req = make_request("PUT", "/examplebucket/chunkObject.txt", headers)
    result = run(auth(req, S3_KEYS, S3_NOW, tampered))
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(read(result.body))


# -- x-amz-* headers left out of SignedHeaders (issue 14) ---------------------------------------


def _signed_over(signed: list[str], headers: dict[str, str]) -> dict[str, str]:
    """The GET object example re-signed over `signed` only (the other headers sent unlisted)."""
    amz_date = headers["x-amz-date"]
    creq = sigv4.canonical_request(
        "GET", "/test.txt", "", headers, signed, headers["x-amz-content-sha256"]
    )
    sts = sigv4.string_to_sign(amz_date, "20130524/us-east-1/s3/aws4_request", creq)
    signature = sigv4.sign(sigv4.signing_key(S3_SECRET, "20130524", "us-east-1", "s3"), sts)
    authz = f"{CRED}SignedHeaders={';'.join(signed)},Signature={signature}"
    return {**headers, "authorization": authz}


def test_header_form_binds_an_unlisted_payload_hash_and_date_and_refuses_other_amz_headers() -> (
    None
):
    # The AWS documentation's Authorization example lists host;range;x-amz-date and sends
    # x-amz-content-sha256 unlisted: the payload line and the date line bind both anyway.
    sent = {"host": S3_HOST, "range": "bytes=0-9", "x-amz-date": "20130524T000000Z",
            "x-amz-content-sha256": EMPTY}  # fmt: skip
    headers = _signed_over(["host", "range"], sent)
    assert run(auth(make_request("GET", "/test.txt", headers), S3_KEYS, S3_NOW)).principal
    for name, value in [("x-amz-date", "20130524T000001Z"), ("x-amz-content-sha256", "0" * 64)]:
        changed = {**headers, name: value}
        with pytest.raises(errors.SignatureDoesNotMatch):
            run(auth(make_request("GET", "/test.txt", changed), S3_KEYS, S3_NOW))
    added = {**headers, "x-amz-acl": "public-read", "x-amz-request-payer": "requester"}
    with pytest.raises(errors.AccessDenied) as info:
        run(auth(make_request("GET", "/test.txt", added), S3_KEYS, S3_NOW))
    assert info.value.extra == {"HeadersNotSigned": "x-amz-acl, x-amz-request-payer"}
    # Listing the header in SignedHeaders is what makes it acceptable.
    signed = _signed_over(["host", "range", "x-amz-acl"], {**sent, "x-amz-acl": "public-read"})
    assert run(auth(make_request("GET", "/test.txt", signed), S3_KEYS, S3_NOW)).principal
