"""Object lock rules as pure functions (`s3front.objects.lock`) and the lock documents
(`s3front.api.object_lock`): dates, who may change retention, what blocks removal, and the
AWS error for each malformed configuration."""

from __future__ import annotations

import pytest

from s3front import errors
from s3front.api import lock_headers
from s3front.api.object_lock import (
    configuration_document,
    legal_hold_document,
    parse_configuration,
    parse_legal_hold,
    parse_retention,
    retention_document,
)
from s3front.objects import lock
from s3front.objects.lock import COMPLIANCE, GOVERNANCE, DefaultRetention, Retention
from s3front.store.records import BucketRecord, ObjectRecord

T2030 = 1_893_456_000_000  # 2030-01-01T00:00:00Z
NOW = 1_800_000_000_000  # 2027-01-15


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2030-01-01T00:00:00Z", T2030),
        ("2030-01-01T00:00:00.000Z", T2030),
        ("2030-01-01T00:00:00.5Z", T2030 + 500),
        ("2030-01-01T00:00:00.123456Z", T2030 + 123),
        ("2030-01-01T01:00:00+01:00", T2030),
        ("2029-12-31T23:00:00-0100", T2030),
        ("2030-01-01", T2030),
        ("2030-01-01T00:00:00", T2030),
        (" 2030-01-01T00:00:00Z ", T2030),
        ("2030-02-30T00:00:00Z", None),
        ("2030-01-01T25:00:00Z", None),
        ("2030-01-01T00:00:00+25:00", None),
        ("next tuesday", None),
        ("", None),
        ("Wed, 01 Jan 2030 00:00:00 GMT", None),
        ("٢٠٣٠-01-01", None),  # non-ASCII digits
    ],
)
def test_parse_date(text: str, ms: int | None) -> None:
    assert lock.parse_date(text) == ms


def test_format_date_is_what_aws_returns() -> None:
    assert lock.format_date(T2030) == "2030-01-01T00:00:00.000Z"
    assert lock.format_date(T2030 + 42) == "2030-01-01T00:00:00.042Z"
    assert lock.parse_date(lock.format_date(T2030 + 42)) == T2030 + 42


def _gov(until: int) -> Retention:
    return Retention(GOVERNANCE, until)


def _comp(until: int) -> Retention:
    return Retention(COMPLIANCE, until)


LATER, SOONER = NOW + 10_000, NOW + 5_000


@pytest.mark.parametrize(
    ("old", "new", "bypass", "allowed"),
    [
        (None, _comp(LATER), False, True),
        (_comp(NOW - 1), _gov(SOONER), False, True),  # lapsed: anything goes
        (_comp(NOW - 1), None, False, True),
        (_comp(SOONER), _comp(LATER), False, True),  # extend
        (_comp(SOONER), _comp(SOONER), False, True),  # keep
        (_comp(LATER), _comp(SOONER), False, False),  # shorten
        (_comp(LATER), _comp(SOONER), True, False),  # no bypass for COMPLIANCE
        (_comp(SOONER), _gov(LATER), True, False),  # nor a change of mode
        (_comp(SOONER), None, True, False),  # nor removal
        (_gov(SOONER), _gov(LATER), False, True),
        (_gov(LATER), _gov(SOONER), False, False),
        (_gov(LATER), _gov(SOONER), True, True),
        (_gov(SOONER), _comp(LATER), False, False),  # AWS: a mode change needs the bypass
        (_gov(SOONER), _comp(LATER), True, True),
        (_gov(SOONER), None, False, False),
        (_gov(SOONER), None, True, True),
    ],
)
def test_change_allowed(
    old: Retention | None, new: Retention | None, bypass: bool, allowed: bool
) -> None:
    assert lock.change_allowed(old, new, NOW, bypass=bypass) is allowed


def _version(attrs: dict[str, str]) -> ObjectRecord:
    return ObjectRecord(
        key="k", seq=1, version_id="v", size=0, etag="e", last_modified_ms=0, owner="o", attrs=attrs
    )


@pytest.mark.parametrize(
    ("attrs", "blocked", "refused", "refused_with_bypass"),
    [
        ({}, False, False, False),
        (lock.with_retention({}, _gov(LATER)), True, True, False),
        (lock.with_retention({}, _comp(LATER)), True, True, True),
        (lock.with_retention({}, _comp(NOW)), False, False, False),  # lapsed at NOW
        (lock.with_legal_hold({}, True), True, True, True),
        (lock.with_legal_hold({}, False), False, False, False),
        (lock.with_legal_hold(lock.with_retention({}, _gov(LATER)), True), True, True, True),
        ({"lock-retention": "garbage"}, False, False, False),
    ],
)
def test_what_blocks_removal(
    attrs: dict[str, str], blocked: bool, refused: bool, refused_with_bypass: bool
) -> None:
    rec = _version(attrs)
    assert lock.blocks_removal(rec, NOW) is blocked
    assert (lock.refusal(rec, NOW, bypass=False) is not None) is refused
    assert (lock.refusal(rec, NOW, bypass=True) is not None) is refused_with_bypass


def _bucket(attrs: dict[str, str]) -> BucketRecord:
    return BucketRecord(
        name="b", bucket_id="id", owner="o", created_ms=0, region="r", shards=1, attrs=attrs
    )


@pytest.mark.parametrize(
    "rule", [None, DefaultRetention(GOVERNANCE, days=3), DefaultRetention(COMPLIANCE, years=2)]
)
def test_default_retention_round_trip(rule: DefaultRetention | None) -> None:
    bucket = _bucket({lock.BUCKET_ATTR: lock.encode_default(rule)})
    assert lock.enabled(bucket)
    assert lock.default_retention(bucket) == rule
    assert parse_configuration(configuration_document(rule)) == rule


def test_default_retention_for_new_versions() -> None:
    bucket = _bucket({lock.BUCKET_ATTR: "COMPLIANCE 2y"})
    attrs = lock_headers.requested_attrs({}.get, bucket, NOW)
    assert lock.retention_of(attrs) == _comp(NOW + 2 * 365 * 86_400_000)
    explicit = {
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z",
    }
    assert lock.retention_of(lock_headers.requested_attrs(explicit.get, bucket, NOW)) == _gov(T2030)
    # A legal hold alone still gets the default retention.
    hold = {"x-amz-object-lock-legal-hold": "ON"}
    attrs = lock_headers.requested_attrs(hold.get, bucket, NOW)
    assert lock.legal_hold_of(attrs) is True and lock.retention_of(attrs) is not None
    # Without object lock: no lock attrs, and lock headers are refused.
    assert lock_headers.requested_attrs({}.get, _bucket({}), NOW) == {}
    with pytest.raises(errors.InvalidRequest):
        lock_headers.requested_attrs(hold.get, _bucket({}), NOW)


_ON = "<ObjectLockEnabled>Enabled</ObjectLockEnabled>"


def _conf(inner: str) -> bytes:
    return f"<ObjectLockConfiguration>{inner}</ObjectLockConfiguration>".encode()


def _rule(inner: str) -> bytes:
    return _conf(f"{_ON}<Rule><DefaultRetention>{inner}</DefaultRetention></Rule>")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (_rule("<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>"), errors.MalformedXML),
        (_rule("<Mode>GOVERNANCE</Mode>"), errors.MalformedXML),
        (_rule("<Mode>GOVERNANCE</Mode><Days>0</Days>"), errors.InvalidRetentionPeriod),
        (_rule("<Mode>GOVERNANCE</Mode><Days>-3</Days>"), errors.InvalidRetentionPeriod),
        (_rule("<Mode>GOVERNANCE</Mode><Days>36501</Days>"), errors.InvalidRetentionPeriod),
        (_rule("<Mode>GOVERNANCE</Mode><Years>101</Years>"), errors.InvalidRetentionPeriod),
        (_rule("<Mode>GOVERNANCE</Mode><Days>1.5</Days>"), errors.MalformedXML),
        (_rule("<Mode>GOVERNANCE</Mode><Days>²</Days>"), errors.MalformedXML),
        (_rule("<Mode>GOVERNANCE</Mode><Days>9999999999999999</Days>"), errors.MalformedXML),
        (_rule("<Mode>LEGAL</Mode><Days>1</Days>"), errors.MalformedXML),
        (_conf(_ON + "<Rule/>"), errors.MalformedXML),
        (_conf("<ObjectLockEnabled>Disabled</ObjectLockEnabled>"), errors.MalformedXML),
        (_conf(""), errors.MalformedXML),
        (b"<Retention/>", errors.MalformedXML),
        (b"not xml", errors.MalformedXML),
    ],
)
def test_bad_configurations(body: bytes, error: type[errors.S3Error]) -> None:
    with pytest.raises(error):
        parse_configuration(body)


def test_retention_and_legal_hold_documents() -> None:
    body = retention_document(_gov(T2030))
    assert body.endswith(
        b'<Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Mode>GOVERNANCE</Mode>'
        b"<RetainUntilDate>2030-01-01T00:00:00.000Z</RetainUntilDate></Retention>"
    )
    assert parse_retention(body, NOW) == _gov(T2030)
    assert parse_retention(b"<Retention/>", NOW) is None
    with pytest.raises(errors.InvalidArgument):
        parse_retention(body, T2030)  # not in the future
    for bad in (b"<Retention><Mode>GOVERNANCE</Mode></Retention>", b"<LegalHold/>"):
        with pytest.raises(errors.MalformedXML):
            parse_retention(bad, NOW)
    assert parse_legal_hold(legal_hold_document(True)) is True
    assert parse_legal_hold(legal_hold_document(False)) is False
    with pytest.raises(errors.MalformedXML):
        parse_legal_hold(b"<LegalHold><Status>On</Status></LegalHold>")
