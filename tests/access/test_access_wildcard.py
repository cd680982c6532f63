"""The linear-time wildcard matcher: agreement with a reference, and bounded time on the worst
patterns at the longest legal inputs (issue 14, item 3)."""

from __future__ import annotations

import itertools
import json
import re
import time

import pytest

from s3front import errors
from s3front.access import acl as acls
from s3front.access import cors
from s3front.access import policy as policies
from s3front.access.wildcard import Glob, match
from s3front.keys import tenant_id

KEY_MAX = 1024  # bytes of an object key
HEADER = 8 * 1024  # a long requested header name


def reference(pattern: str, text: str, *, question: bool) -> bool:
    """What the old regex translation answered (correct, but exponential on some inputs)."""
    body = "".join(
        ".*" if c == "*" else "." if c == "?" and question else re.escape(c) for c in pattern
    )
    return re.fullmatch(body, text, re.DOTALL) is not None


def test_agrees_with_the_reference_on_every_small_case() -> None:
    patterns = ["".join(p) for n in range(6) for p in itertools.product("ab*?", repeat=n)]
    texts = ["".join(t) for n in range(6) for t in itertools.product("ab?", repeat=n)]
    for pattern in patterns:
        for question in (True, False):
            glob = Glob(pattern, question=question)
            for text in texts:
                assert glob.matches(text) == reference(pattern, text, question=question), (
                    pattern,
                    text,
                    question,
                )


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("Content-*", "content-type", True),
        ("x-amz-*", "X-AMZ-META-a", True),
        ("*", "", True),
        ("", "", True),
        ("a*", "", False),
        ("*.example.com", "https://a.example.com", True),
        ("日本*", "日本語", True),
    ],
)
def test_ignore_case_and_edges(pattern: str, text: str, expected: bool) -> None:
    assert match(pattern, text, ignore_case=True) is expected


def test_question_is_literal_for_cors() -> None:
    assert not match("a?c", "abc", question=False)
    assert match("a?c", "a?c", question=False)
    assert match("a?c", "abc")


def _timed(calls: list[tuple[str, str, bool]]) -> float:
    start = time.perf_counter()
    for pattern, text, ignore_case in calls:
        assert not match(pattern, text, ignore_case=ignore_case)
    return time.perf_counter() - start


def test_worst_patterns_at_the_longest_inputs_are_fast() -> None:
    """`*a*a*...*b` backtracks exponentially in a regex engine; here each input character
    costs a few big-int operations. Generous bound: the machine is shared and slow."""
    policy_size = policies.MAX_POLICY_BYTES
    stars = "*a" * (policy_size // 2 - 2) + "*b"
    calls = [
        (stars, "a" * KEY_MAX, False),
        ("?*" * (policy_size // 2 - 2) + "b", "a" * KEY_MAX, False),
        ("*a" * 1000 + "?" * 1000 + "*b", "a" * KEY_MAX, False),
        (stars, "a" * HEADER, True),
        ("*a" * (HEADER // 2) + "*b", "A" * HEADER, True),
        # Many distinct characters: every one needs its own state mask.
        (
            "*".join(chr(0x4E00 + i) for i in range(4000)) + "*b",
            "".join(chr(0x4E00 + i) for i in range(HEADER)),
            True,
        ),
    ]
    assert _timed(calls) < 0.5


def test_worst_policy_resource_is_fast() -> None:
    """A maximal policy of `*a*a*...` resources against the longest key, and a short one that
    a backtracking regex needs seconds for (10 stars against 34 characters)."""
    resources = ["arn:aws:s3:::b/" + "*a" * 3000 + "*b", "arn:aws:s3:::b/" + "*a" * 10 + "*b"]
    doc = json.dumps(
        {
            "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": resources}
            ]
        }
    )
    assert len(doc) <= policies.MAX_POLICY_BYTES
    policy = policies.parse(doc, "b")
    facts = policies.Facts("127.0.0.1", False)
    start = time.perf_counter()
    for key in ("a" * 34, "a" * KEY_MAX):  # the bound is checked after each (fail fast)
        assert policies.evaluate(policy, None, "s3:GetObject", f"b/{key}", facts) is None
        assert time.perf_counter() - start < 0.5


def test_worst_cors_allowed_header_is_fast() -> None:
    rule = cors.Rule(("*",), ("GET",), ("*a" * 10 + "*b", "*a" * 2000 + "*b"))
    start = time.perf_counter()
    for header in ("a" * 34, "a" * HEADER):
        assert cors.match([rule], "https://x", "GET", [header]) is None
        assert time.perf_counter() - start < 0.5


def test_long_grant_header_is_parsed_in_linear_time() -> None:
    """The x-amz-grant-* grammar: spaces the value's run and the separators both accept made
    the regex quadratic (seconds for a 32 KiB header) before its quantifiers were possessive."""
    start = time.perf_counter()
    for value in ("id=a" + " " * 32_000 + '"x', "id=" + " " * 32_000 + 'a"x'):
        with pytest.raises(errors.InvalidArgument):
            acls.parse_grantees(value, "x-amz-grant-read")
        assert time.perf_counter() - start < 0.5
    assert acls.parse_grantees(' id="a b" ,id=c', "h")[0] == ("CanonicalUser", tenant_id("a b"))
