"""Issue 19 item 10 against a real server: IAM condition operators evaluated end to end on the
keys the request carries (source address, max-keys, the current time, TLS, the ACL header),
and policies s3front cannot evaluate refused at PutBucketPolicy.
Operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import test_security_policy as policy_tests
from test_security_policy import _error, _policy, _st

owned = policy_tests.owned  # the fixture: a bucket of the root tenant, its policy removed after


def _anonymous_get(server: Any, path: str) -> int:
    status: int = server.raw("GET", path, sign=False).status
    return status


def test_ip_address_matches_loopback_and_not_another_net(server: Any, s3: Any, owned: str) -> None:
    s3.put_object(Bucket=owned, Key="k", Body=b"hello")
    arn = f"arn:aws:s3:::{owned}/*"
    for nets, status in (
        ("127.0.0.1/32", 200),
        ("10.0.0.0/8", 403),
        (["::1/128", "2001:db8::/32"], 403),  # IPv6 networks never hold an IPv4 client
        (["2001:db8::/32", "127.0.0.0/8"], 200),  # values of one key are ORed
    ):
        allow = _st(
            "Allow", "*", "s3:GetObject", arn, Condition={"IpAddress": {"aws:SourceIp": nets}}
        )
        s3.put_bucket_policy(Bucket=owned, Policy=_policy(allow))
        assert _anonymous_get(server, f"/{owned}/k") == status, nets


def test_numeric_less_than_on_max_keys(s3: Any, owned: str) -> None:
    s3.put_object(Bucket=owned, Key="k", Body=b"x")
    deny = _st(
        "Deny",
        "*",
        "s3:ListBucket",
        f"arn:aws:s3:::{owned}",
        Condition={"NumericLessThan": {"s3:max-keys": "5"}},
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(deny))
    assert _error(lambda: s3.list_objects_v2(Bucket=owned, MaxKeys=2))[0] == "AccessDenied"
    assert _error(lambda: s3.list_objects(Bucket=owned, MaxKeys=4))[0] == "AccessDenied"
    assert s3.list_objects_v2(Bucket=owned, MaxKeys=5)["KeyCount"] == 1
    # No max-keys in the request: the key is absent and NumericLessThan is false.
    assert s3.list_objects_v2(Bucket=owned)["KeyCount"] == 1


def test_date_less_than_on_current_time(s3: Any, owned: str) -> None:
    s3.put_object(Bucket=owned, Key="k", Body=b"x")
    now = datetime.now(UTC)  # computed when the test runs
    arn = f"arn:aws:s3:::{owned}/*"
    for moment, denied in ((now + timedelta(hours=1), True), (now - timedelta(hours=1), False)):
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        deny = _st(
            "Deny", "*", "s3:GetObject", arn, Condition={"DateLessThan": {"aws:CurrentTime": stamp}}
        )
        s3.put_bucket_policy(Bucket=owned, Policy=_policy(deny))
        if denied:
            assert _error(lambda: s3.get_object(Bucket=owned, Key="k"))[0] == "AccessDenied"
        else:
            assert s3.get_object(Bucket=owned, Key="k")["Body"].read() == b"x"


def test_bool_secure_transport_denies_plain_http_only(server: Any, s3: Any, owned: str) -> None:
    """The usual "deny unless TLS" statement: on the http variants it denies, on https not."""
    s3.put_object(Bucket=owned, Key="k", Body=b"x")
    deny = _st(
        "Deny",
        "*",
        "s3:GetObject",
        f"arn:aws:s3:::{owned}/*",
        Condition={"Bool": {"aws:SecureTransport": "false"}},
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(deny))
    if server.scheme == "http":
        assert _error(lambda: s3.get_object(Bucket=owned, Key="k"))[0] == "AccessDenied"
    else:
        assert s3.get_object(Bucket=owned, Key="k")["Body"].read() == b"x"


def test_binary_and_arn_operators(s3: Any, owned: str) -> None:
    """BinaryEquals compares the header's bytes with the base64 value; aws:SourceArn is never
    in a request made with an access key, so ArnLike is false and ArnNotLike true."""
    public = base64.b64encode(b"public-read").decode()
    arn = f"arn:aws:s3:::{owned}/*"
    deny = _st(
        "Deny", "*", "s3:PutObject", arn, Condition={"BinaryEquals": {"s3:x-amz-acl": public}}
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(deny))
    assert _error(lambda: s3.put_object(Bucket=owned, Key="a", Body=b"x", ACL="public-read"))[
        0
    ] == ("AccessDenied")
    s3.put_object(Bucket=owned, Key="a", Body=b"x", ACL="private")
    like = _st(
        "Deny",
        "*",
        "s3:GetObject",
        arn,
        Condition={"ArnLike": {"aws:SourceArn": "arn:aws:*:*:*:*"}},
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(like))
    assert s3.get_object(Bucket=owned, Key="a")["Body"].read() == b"x"
    not_like = _st(
        "Deny",
        "*",
        "s3:GetObject",
        arn,
        Condition={"ArnNotLike": {"aws:SourceArn": "arn:aws:*:*:*:*"}},
    )
    s3.put_bucket_policy(Bucket=owned, Policy=_policy(not_like))
    assert _error(lambda: s3.get_object(Bucket=owned, Key="a"))[0] == "AccessDenied"


def test_policy_variables_and_bad_operator_values_are_refused(s3: Any, owned: str) -> None:
    """s3front does not substitute policy variables (https://docs.aws.amazon.com/IAM/latest/
    UserGuide/reference_policies_variables.html); a "2012-10-17" policy that uses them is
    refused rather than matched literally."""
    arn = f"arn:aws:s3:::{owned}/*"
    cases = [
        _st("Deny", "*", "s3:GetObject", f"arn:aws:s3:::{owned}/${{aws:username}}/*"),
        _st(
            "Deny",
            "*",
            "s3:*",
            arn,
            Condition={"StringNotLike": {"s3:prefix": "${aws:username}/*"}},
        ),
        _st("Deny", "*", "s3:*", arn, Condition={"ArnLike": {"aws:SourceArn": "not-an-arn"}}),
        _st("Deny", "*", "s3:*", arn, Condition={"BinaryEquals": {"s3:x-amz-acl": "%%%"}}),
        _st("Deny", "*", "s3:*", arn, Condition={"IpAddress": {"aws:SourceIp": "::1/129"}}),
    ]
    for statement in cases:
        code, _ = _error(
            lambda st=statement: s3.put_bucket_policy(Bucket=owned, Policy=_policy(st))
        )
        assert code == "MalformedPolicy", statement
