"""Issue 14, items 3 and 4, against a real server: wildcard matching that cannot stall the event
loop, and bucket policies that are never silently weaker than written (condition keys are
evaluated or the policy refused; IAM user principals match the keys they denote)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any

import botocore.exceptions
import httpx
import pytest
import s3front_e2e_support as sup


def _verify(server: Any) -> ssl.SSLContext | bool:
    context: ssl.SSLContext | None = server.ssl_context()
    return context if context is not None else True


def _keys_cli(server: Any, *args: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "s3front", "keys", *args, "--store", server.store_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return {
        k.strip(): v.strip()
        for k, v in (ln.split(":", 1) for ln in proc.stdout.splitlines() if ":" in ln)
    }


@pytest.fixture
def owned(s3: Any) -> Iterator[str]:
    name = sup.unique_bucket()
    s3.create_bucket(Bucket=name)
    yield name
    s3.delete_bucket_policy(Bucket=name)
    for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _st(effect: str, principal: Any, action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Effect": effect,
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        **extra,
    }


def _error(call: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    err = info.value.response["Error"]
    return err["Code"], err.get("Message", "")


# -- item 4: conditions -------------------------------------------------------------------------


def test_deny_public_read_put_by_x_amz_acl(server: Any, s3: Any, owned: str) -> None:
    deny = _st(
        "Deny",
        "*",
        "s3:PutObject",
        f"arn:aws:s3:::{owned}/*",
        Condition={"StringEquals": {"s3:x-amz-acl": ["public-read", "public-read-write"]}},
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(deny))
    assert (
        _error(lambda: s3.put_object(Bucket=owned, Key="a", Body=b"x", ACL="public-read"))[0]
        == "AccessDenied"
    )
    s3.put_object(Bucket=owned, Key="b", Body=b"x", ACL="private")
    s3.put_object(Bucket=owned, Key="c", Body=b"x")
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=owned)["Contents"]) == ["b", "c"]
    # A browser POST upload states its ACL as a form field: the same Deny applies.
    for acl, status in (("public-read", 403), ("private", 204)):
        post = s3.generate_presigned_post(
            owned, f"post-{acl}", Fields={"acl": acl}, Conditions=[{"acl": acl}]
        )
        resp = httpx.post(
            post["url"],
            data=post["fields"],
            files={"file": ("f.bin", b"data", "application/octet-stream")},
            verify=_verify(server),
            timeout=60,
        )
        assert resp.status_code == status, resp.text


def test_deny_by_user_agent(server: Any, s3: Any, owned: str) -> None:
    s3.put_object(Bucket=owned, Key="k", Body=b"hello")
    deny = _st(
        "Deny",
        "*",
        "s3:GetObject",
        f"arn:aws:s3:::{owned}/*",
        Condition={"StringLike": {"aws:UserAgent": "*evil-bot*"}},
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(deny))
    bad = server.raw("GET", f"/{owned}/k", headers={"user-agent": "Mozilla evil-bot/2.1"})
    assert bad.status == 403 and bad.error_code == "AccessDenied"
    good = server.raw("GET", f"/{owned}/k", headers={"user-agent": "friendly/1.0"})
    assert good.status == 200 and good.body == b"hello"


def test_source_ip_allow_and_deny_on_loopback(server: Any, s3: Any, owned: str) -> None:
    s3.put_object(Bucket=owned, Key="k", Body=b"hello")
    arn = f"arn:aws:s3:::{owned}/*"
    allow = _st(
        "Allow", "*", "s3:GetObject", arn, Condition={"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(allow))
    assert server.raw("GET", f"/{owned}/k", sign=False).status == 200
    deny_here = _st(
        "Deny", "*", "s3:GetObject", arn, Condition={"IpAddress": {"aws:SourceIp": "127.0.0.1"}}
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(deny_here))
    assert _error(lambda: s3.get_object(Bucket=owned, Key="k"))[0] == "AccessDenied"
    deny_elsewhere = _st(
        "Deny", "*", "s3:GetObject", arn, Condition={"NotIpAddress": {"aws:SourceIp": "127.0.0.1"}}
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(deny_elsewhere))
    assert s3.get_object(Bucket=owned, Key="k")["Body"].read() == b"hello"


def test_auth_type_and_listing_keys(server: Any, s3: Any, owned: str) -> None:
    s3.put_object(Bucket=owned, Key="k", Body=b"hello")
    statements = (
        _st(
            "Deny",
            "*",
            "s3:GetObject",
            f"arn:aws:s3:::{owned}/*",
            Condition={"StringEquals": {"s3:authType": "REST-QUERY-STRING"}},
        ),
        _st(
            "Deny",
            "*",
            "s3:ListBucket",
            f"arn:aws:s3:::{owned}",
            Condition={"NumericGreaterThan": {"s3:max-keys": 100}},
        ),
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(*statements))
    url = s3.generate_presigned_url("get_object", Params={"Bucket": owned, "Key": "k"})
    context = server.ssl_context()
    with pytest.raises(urllib.request.HTTPError) as info:
        urllib.request.urlopen(url, timeout=30, context=context)
    # The error carries the open response: closed here, or its socket is only reclaimed by the
    # garbage collector later, as a ResourceWarning in whichever test runs then.
    with info.value as refused:
        assert refused.code == 403
    assert s3.get_object(Bucket=owned, Key="k")["Body"].read() == b"hello"
    assert s3.list_objects_v2(Bucket=owned, MaxKeys=10)["KeyCount"] == 1
    assert _error(lambda: s3.list_objects_v2(Bucket=owned, MaxKeys=1000))[0] == "AccessDenied"


@pytest.mark.parametrize(
    ("operator", "key"),
    [
        ("StringEquals", "s3:RequestObjectTag/team"),
        ("NumericGreaterThanEquals", "s3:TlsVersion"),
        ("StringEquals", "aws:PrincipalOrgID"),
        ("StringEqualsLoosely", "s3:x-amz-acl"),
    ],
)
def test_unsupported_condition_is_refused_by_name(
    s3: Any, owned: str, operator: str, key: str
) -> None:
    deny = _st("Deny", "*", "s3:*", f"arn:aws:s3:::{owned}/*", Condition={operator: {key: "1.2"}})
    code, message = _error(lambda: s3.put_bucket_policy(Bucket=owned, Policy=_policy(deny)))
    assert code == "MalformedPolicy"
    assert (operator if "Loosely" in operator else key) in message
    assert _error(lambda: s3.get_bucket_policy(Bucket=owned))[0] == "NoSuchBucketPolicy"


def test_existing_object_tag_condition(s3: Any, owned: str) -> None:
    s3.put_object(Bucket=owned, Key="secret", Body=b"s", Tagging="class=secret")
    s3.put_object(Bucket=owned, Key="plain", Body=b"p", Tagging="class=public")
    deny = _st(
        "Deny",
        "*",
        ["s3:GetObject", "s3:GetObjectTagging"],
        f"arn:aws:s3:::{owned}/*",
        Condition={"StringEquals": {"s3:ExistingObjectTag/class": "secret"}},
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(deny))
    assert _error(lambda: s3.get_object(Bucket=owned, Key="secret"))[0] == "AccessDenied"
    assert _error(lambda: s3.get_object_tagging(Bucket=owned, Key="secret"))[0] == "AccessDenied"
    assert s3.get_object(Bucket=owned, Key="plain")["Body"].read() == b"p"
    # A copy reads its source: the same Deny applies to it.
    source = {"Bucket": owned, "Key": "secret"}
    assert (
        _error(lambda: s3.copy_object(Bucket=owned, Key="c", CopySource=source))[0]
        == "AccessDenied"
    )
    s3.copy_object(Bucket=owned, Key="c", CopySource={"Bucket": owned, "Key": "plain"})
    # Untagging the object lifts it (the Deny covers GetObjectTagging, not DeleteObjectTagging).
    s3.delete_object_tagging(Bucket=owned, Key="secret")
    assert s3.get_object(Bucket=owned, Key="secret")["Body"].read() == b"s"


# -- item 4: principals -------------------------------------------------------------------------


def test_iam_user_principal_matches_its_keys(server: Any, s3: Any, owned: str) -> None:
    arn = f"arn:aws:s3:::{owned}"
    tenant = f"carol-{uuid.uuid4().hex[:6]}"
    ci = _keys_cli(server, "create", "--tenant", tenant, "--display-name", "ci")
    other = _keys_cli(server, "create", "--tenant", tenant)
    s3.put_object(Bucket=owned, Key="k", Body=b"hello")
    allow = _st(
        "Allow",
        {"AWS": f"arn:aws:iam::{tenant}:user/ci"},
        "s3:GetObject",
        f"arn:aws:s3:::{owned}/*",
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(allow))
    as_ci = server.client(access_key=ci["access key"], secret_key=ci["secret key"])
    as_other = server.client(access_key=other["access key"], secret_key=other["secret key"])
    assert as_ci.get_object(Bucket=owned, Key="k")["Body"].read() == b"hello"
    assert _error(lambda: as_other.get_object(Bucket=owned, Key="k"))[0] == "AccessDenied"
    # The whole account (tenant) covers both keys; a Deny on the user binds only that user.
    statements = (
        _st(
            "Allow",
            {"AWS": f"arn:aws:iam::{tenant}:root"},
            "s3:GetObject",
            f"arn:aws:s3:::{owned}/*",
        ),
        _st(
            "Deny",
            {"AWS": f"arn:aws:iam::{tenant}:user/ci"},
            "s3:GetObject",
            f"arn:aws:s3:::{owned}/*",
        ),
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(*statements))
    assert _error(lambda: as_ci.get_object(Bucket=owned, Key="k"))[0] == "AccessDenied"
    assert as_other.get_object(Bucket=owned, Key="k")["Body"].read() == b"hello"
    for principal in (f"arn:aws:iam::{tenant}:user/nobody", f"arn:aws:iam::{tenant}:role/ci"):
        doc = _policy(_st("Deny", {"AWS": principal}, "s3:GetObject", f"{arn}/*"))
        code, message = _error(partial(s3.put_bucket_policy, Bucket=owned, Policy=doc))
        assert (code, message) == ("MalformedPolicy", "Invalid principal in policy")


# -- item 3: wildcard matching does not stall the server -----------------------------------------

# Calibrated so that the old regex translation spends seconds on one request (10 stars against
# 34 characters), yet stops within a test's timeout when run against an unfixed server.
_STARS = "*a" * 10 + "*b"
_LONG = "a" * 34


def _healthz_while(server: Any, attack: Any) -> tuple[float, float]:
    """(slowest /-/healthz latency, attack duration) while `attack()` runs in a thread."""
    done = threading.Event()
    took: list[float] = []

    def run() -> None:
        start = time.perf_counter()
        try:
            attack()
        finally:
            took.append(time.perf_counter() - start)
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    slowest = 0.0
    for _ in range(200):  # bounded: about 10 s of polling at most on a fixed server
        start = time.perf_counter()
        resp = server.raw("GET", "/-/healthz", sign=False, timeout=120)
        assert resp.status == 200
        slowest = max(slowest, time.perf_counter() - start)
        if done.is_set():
            break
        time.sleep(0.05)
    thread.join(timeout=120)
    return slowest, took[0]


def test_cors_allowed_header_wildcards_do_not_stall(server: Any, s3: Any, owned: str) -> None:
    s3.put_bucket_cors(
        Bucket=owned,
        CORSConfiguration={
            "CORSRules": [
                {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": [_STARS]}
            ]
        },
    )
    headers = {
        "origin": "https://example.com",
        "access-control-request-method": "GET",
        "access-control-request-headers": _LONG,
    }

    def attack() -> None:
        for _ in range(3):
            resp = server.raw("OPTIONS", f"/{owned}/k", headers=headers, sign=False, timeout=120)
            assert resp.status == 403  # no rule allows the header

    slowest, took = _healthz_while(server, attack)
    assert took < 3.0, f"three preflights took {took:.1f} s"
    assert slowest < 2.0, f"/-/healthz waited {slowest:.1f} s"


def test_policy_resource_wildcards_do_not_stall(server: Any, s3: Any, owned: str) -> None:
    allow = _st("Allow", "*", "s3:GetObject", f"arn:aws:s3:::{owned}/{_STARS}")
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(allow))

    def attack() -> None:
        for _ in range(3):
            resp = server.raw("GET", f"/{owned}/{_LONG}", sign=False, timeout=120)
            assert resp.status == 403

    slowest, took = _healthz_while(server, attack)
    assert took < 3.0, f"three anonymous GETs took {took:.1f} s"
    assert slowest < 2.0, f"/-/healthz waited {slowest:.1f} s"
