"""The stored-header-value rule (s3front.api.headers) as pure functions.

The HTTP parser already refuses control characters in request headers, so on PUT, copy and
multipart the check is a second line; these tests exercise it directly, and the GET/HEAD side
that leaves out a value stored before the check existed.
"""

from __future__ import annotations

import pytest
from authkit import make_request

from s3front import errors
from s3front.api.headers import check_stored_headers, object_headers, stored_headers
from s3front.store.records import ObjectRecord


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-meta-a": "a\r\nb"},
        {"x-amz-meta-a": "nul\x00"},
        {"x-amz-meta-a": "del\x7f"},
        {"x-amz-meta-a": "snow \u2603"},
        {"content-type": "text/\U0001f600"},
        {"cache-control": "x\ny"},
    ],
)
def test_stored_headers_refuses_values_that_cannot_be_sent(headers: dict[str, str]) -> None:
    req = make_request("PUT", "/b/k", {"host": "h", **headers})
    with pytest.raises(errors.InvalidArgument):
        stored_headers(req)


def test_stored_headers_keeps_what_can_be_sent() -> None:
    headers = {"x-amz-meta-a": "caf\xe9\tx", "content-type": "text/plain; charset=utf-8"}
    assert stored_headers(make_request("PUT", "/b/k", {"host": "h", **headers})) == headers


@pytest.mark.parametrize("name", ["x-amz-meta-a b", "x-amz-meta-a:b", "x-amz-meta-\xe9", ""])
def test_check_stored_headers_refuses_names_that_are_not_tokens(name: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        check_stored_headers({name: "v"})


def test_object_headers_leave_out_legacy_unsendable_values() -> None:
    rec = ObjectRecord(
        key="k",
        seq=0,
        version_id="null",
        size=0,
        etag="d41d8cd98f00b204e9800998ecf8427e",
        last_modified_ms=0,
        owner="o",
        headers={
            "content-type": "text/\u2603",
            "x-amz-meta-good": "ok",
            "x-amz-meta-bad": "a\r\nb",
            "x-amz-meta-worse": "\u2603",
        },
    )
    out = object_headers(rec)
    assert out["x-amz-meta-good"] == "ok"
    assert "x-amz-meta-bad" not in out and "x-amz-meta-worse" not in out
    assert out["x-amz-missing-meta"] == "2"
    assert out["content-type"] == "binary/octet-stream"  # the default, not the bad value
    assert all(v.encode("latin-1") for v in out.values())
