"""Awkward keys round-trip through put, list (V2 with encoding-type=url, V1, delimiters) and get.

boto3 sends `encoding-type=url` on every listing and decodes the keys it gets back, so the
server must encode them; SigV2 and SigV4 canonicalise the encoded path differently.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import s3front_e2e_support as sup

KEYS = [
    "with space",
    "plus+sign",
    "percent%20literal",
    "percent%",
    "ünïcødé/ключ/日本語.txt",
    "emoji 😀.bin",
    "a//b",
    "trailing/",
    "dir/sub/",
    "tilde~star*paren()",
    "question?mark",
    "hash#tag",
    "amp&eq=semi;colon",
    "quote'dq\"",
    "comma,colon:at@dollar$",
    "brackets[]{}<>|^`",
    "back\\slash",
    "dots/../x",
    "./dot",
    "tab\tchar",
]


@pytest.mark.parametrize("sig", ["s3v4", "s3"], ids=["v4", "v2"])
def test_awkward_keys_round_trip(server: Any, sig: str) -> None:
    client = server.client(signature_version=sig)
    bucket = sup.unique_bucket()
    client.create_bucket(Bucket=bucket)
    try:
        for i, key in enumerate(KEYS):
            client.put_object(Bucket=bucket, Key=key, Body=f"body {i}".encode())

        listed = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
        assert listed == sorted(KEYS, key=lambda k: k.encode()), listed
        v1 = [o["Key"] for o in client.list_objects(Bucket=bucket)["Contents"]]
        assert v1 == listed
        # Small pages: continuation tokens and markers must survive odd keys too.
        paged = [
            o["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, PaginationConfig={"PageSize": 3}
            )
            for o in page.get("Contents", [])
        ]
        assert paged == listed
        paged_v1 = [
            o["Key"]
            for page in client.get_paginator("list_objects").paginate(
                Bucket=bucket, PaginationConfig={"PageSize": 4}
            )
            for o in page.get("Contents", [])
        ]
        assert paged_v1 == listed

        top = client.list_objects_v2(Bucket=bucket, Delimiter="/")
        prefixes = sorted(p["Prefix"] for p in top.get("CommonPrefixes", []))
        expect = sorted({k.split("/", 1)[0] + "/" for k in KEYS if "/" in k})
        assert prefixes == expect
        sub = client.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
        assert [p["Prefix"] for p in sub.get("CommonPrefixes", [])] == ["a//"]

        for i, key in enumerate(KEYS):
            got = client.get_object(Bucket=bucket, Key=key)
            assert got["Body"].read() == f"body {i}".encode(), key
            head = client.head_object(Bucket=bucket, Key=key)
            assert head["ContentLength"] == len(f"body {i}")

        resp = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in KEYS]})
        assert sorted(d["Key"] for d in resp.get("Deleted", [])) == sorted(KEYS)
        assert not resp.get("Errors")
        assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    finally:
        for key in KEYS:
            with contextlib.suppress(Exception):  # best-effort cleanup
                client.delete_object(Bucket=bucket, Key=key)
        try:
            client.delete_bucket(Bucket=bucket)
        finally:
            client.close()
