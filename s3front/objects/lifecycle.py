"""Bucket lifecycle rules: the AWS rule model, its validation, and when a rule applies.

Pure functions only: parsing and checking a LifecycleConfiguration document, storing it as JSON
in the bucket's `attrs["lifecycle"]`, writing it back as XML, and the dates a rule gives an
object, a noncurrent version or a multipart upload. The worker that acts on them is
`s3front.lifecycle_worker`; the response headers are `s3front.api.lifecycle`.

Days and dates follow AWS: an object expires `Days` after its creation, rounded *up* to the
next midnight UTC; a noncurrent version `NoncurrentDays` after it became noncurrent (when the
next newer version was written), rounded the same way. `day_ms` is the length of a day (the
`lifecycle_day_seconds` setting shortens it for tests, as Ceph's rgw_lc_debug_interval does);
"midnight" is then a multiple of `day_ms` since the epoch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from email.utils import formatdate

from lxml import etree

from s3front import errors, xml

MAX_RULES = 1000
MAX_ID_LENGTH = 255
MAX_NEWER_NONCURRENT = 100
DAY_MS = 86_400_000
ATTR = "lifecycle"
# Storage classes AWS knows: a transition to one of them is valid S3 that s3front cannot do (it
# has one storage class), so it is refused as AWS refuses a class it does not offer.
_AWS_CLASSES = frozenset(
    (
        "GLACIER", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "DEEP_ARCHIVE",
        "GLACIER_IR", "STANDARD", "REDUCED_REDUNDANCY", "OUTPOSTS", "EXPRESS_ONEZONE",
    )
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Filter:
    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_gt: int | None = None
    size_lt: int | None = None
    # How the document said it, so GET gives back the same shape: "prefix" (legacy top-level
    # Prefix), "empty", "Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan".
    form: str = "empty"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    enabled: bool
    filter: Filter
    expiration_days: int | None = None
    expiration_date_ms: int | None = None
    expired_object_delete_marker: bool | None = None
    noncurrent_days: int | None = None
    newer_noncurrent: int | None = None
    abort_days: int | None = None


# -- parsing and validation ---------------------------------------------------------------------
def _int(text: str | None, what: str) -> int:
    try:
        return int((text or "").strip())
    except ValueError as exc:
        raise errors.MalformedXML(f"{what} must be an integer.") from exc


def _positive(text: str | None, what: str, action: str) -> int:
    value = _int(text, what)
    if value <= 0:
        raise errors.InvalidArgument(f"'{what}' for {action} action must be a positive integer")
    return value


def _only(el: etree._Element, names: set[str]) -> list[etree._Element]:
    kids = [c for c in el if isinstance(c.tag, str)]
    for c in kids:
        if xml.local_name(c) not in names:
            raise errors.MalformedXML()
    return kids


def _tag(el: etree._Element) -> tuple[str, str]:
    key = xml.child_text(el, "Key")
    if not key or len(key) > 128:
        raise errors.InvalidArgument("The TagKey you have provided is invalid")
    value = xml.child_text(el, "Value") or ""
    if len(value) > 256:
        raise errors.InvalidArgument("The TagValue you have provided is invalid")
    return key, value


def _size(text: str | None, what: str) -> int:
    value = _int(text, what)
    if value < 0:
        raise errors.InvalidArgument(f"'{what}' should be a non-negative integer")
    return value


def _filter(el: etree._Element) -> Filter:
    kids = _only(el, {"Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan"})
    if not kids:
        return Filter(form="empty")
    if len(kids) > 1:
        # One predicate per Filter; several go inside And.
        raise errors.MalformedXML()
    kid = kids[0]
    name = xml.local_name(kid)
    if name == "Prefix":
        return Filter(prefix=kid.text or "", form=name)
    if name == "Tag":
        return Filter(tags=(_tag(kid),), form=name)
    if name == "ObjectSizeGreaterThan":
        return Filter(size_gt=_size(kid.text, name), form=name)
    if name == "ObjectSizeLessThan":
        return Filter(size_lt=_size(kid.text, name), form=name)
    parts = _only(kid, {"Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan"})
    prefix, tags, gt, lt = "", [], None, None
    for p in parts:
        pn = xml.local_name(p)
        if pn == "Prefix":
            prefix = p.text or ""
        elif pn == "Tag":
            tags.append(_tag(p))
        elif pn == "ObjectSizeGreaterThan":
            gt = _size(p.text, pn)
        else:
            lt = _size(p.text, pn)
    if len({k for k, _ in tags}) != len(tags):
        raise errors.InvalidArgument("Duplicate Tag Keys are not allowed.")
    f = Filter(prefix, tuple(tags), gt, lt, form="And")
    if gt is not None and lt is not None and gt >= lt:
        raise errors.InvalidArgument(
            "ObjectSizeGreaterThan must be less than ObjectSizeLessThan in the And operator"
        )
    return f


def _date(text: str | None) -> int:
    """An ISO 8601 date or date-time; AWS accepts only midnight UTC."""
    raw = (text or "").strip()
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise errors.InvalidArgument("'Date' must be at midnight GMT") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    ms = int(parsed.timestamp() * 1000)
    if ms % DAY_MS:
        raise errors.InvalidArgument("'Date' must be at midnight GMT")
    return ms


def _rule(el: etree._Element) -> Rule:
    allowed = {
        "ID", "Status", "Filter", "Prefix", "Expiration", "NoncurrentVersionExpiration",
        "AbortIncompleteMultipartUpload", "Transition", "NoncurrentVersionTransition",
    }  # fmt: skip
    kids = _only(el, allowed)
    names = [xml.local_name(k) for k in kids]
    for once in allowed - {"Transition", "NoncurrentVersionTransition"}:
        if names.count(once) > 1:
            raise errors.MalformedXML()
    rule_id = xml.child_text(el, "ID") or ""
    if len(rule_id) > MAX_ID_LENGTH:
        raise errors.InvalidArgument("ID length should not exceed allowed limit of 255")
    status = xml.child_text(el, "Status")
    if status not in ("Enabled", "Disabled"):
        raise errors.MalformedXML()
    f_el, prefix = xml.child(el, "Filter"), xml.child_text(el, "Prefix")
    if f_el is not None and prefix is not None:
        raise errors.MalformedXML()
    if f_el is None and prefix is None:
        raise errors.MalformedXML()
    flt = _filter(f_el) if f_el is not None else Filter(prefix=prefix or "", form="prefix")
    for t in ("Transition", "NoncurrentVersionTransition"):
        for tr in xml.children(el, t):
            cls = (xml.child_text(tr, "StorageClass") or "").strip()
            if cls not in _AWS_CLASSES:
                raise errors.MalformedXML()
            raise errors.InvalidStorageClass(
                f"The storage class {cls} is not supported: this store has only STANDARD."
            )
    exp_days = exp_date = marker = nc_days = nc_newer = abort = None
    if (exp := xml.child(el, "Expiration")) is not None:
        given = _only(exp, {"Days", "Date", "ExpiredObjectDeleteMarker"})
        if len(given) != 1:
            raise errors.MalformedXML()
        name = xml.local_name(given[0])
        if name == "Days":
            exp_days = _positive(given[0].text, "Days", "Expiration")
        elif name == "Date":
            exp_date = _date(given[0].text)
        else:
            text = (given[0].text or "").strip().lower()
            if text not in ("true", "false"):
                raise errors.MalformedXML()
            marker = text == "true"
            if flt.tags:
                raise errors.InvalidArgument(
                    "ExpiredObjectDeleteMarker cannot be specified with tags."
                )
    if (nc := xml.child(el, "NoncurrentVersionExpiration")) is not None:
        _only(nc, {"NoncurrentDays", "NewerNoncurrentVersions"})
        nc_days = _positive(
            xml.child_text(nc, "NoncurrentDays"), "NoncurrentDays", "NoncurrentVersionExpiration"
        )
        if (newer := xml.child_text(nc, "NewerNoncurrentVersions")) is not None:
            nc_newer = _int(newer, "NewerNoncurrentVersions")
            if not 1 <= nc_newer <= MAX_NEWER_NONCURRENT:
                raise errors.InvalidArgument(
                    "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a"
                    " positive integer up to 100"
                )
    if (ab := xml.child(el, "AbortIncompleteMultipartUpload")) is not None:
        _only(ab, {"DaysAfterInitiation"})
        abort = _positive(
            xml.child_text(ab, "DaysAfterInitiation"),
            "DaysAfterInitiation",
            "AbortIncompleteMultipartUpload",
        )
        if flt.tags:
            raise errors.InvalidRequest(
                "AbortIncompleteMultipartUpload cannot be specified with Tags."
            )
        if flt.size_gt is not None or flt.size_lt is not None:
            raise errors.InvalidRequest(
                "AbortIncompleteMultipartUpload cannot be specified with an object size filter."
            )
    if all(v is None for v in (exp_days, exp_date, marker, nc_days, abort)):
        raise errors.InvalidRequest("At least one action needs to be specified in a rule")
    return Rule(
        rule_id, status == "Enabled", flt, exp_days, exp_date, marker, nc_days, nc_newer, abort
    )


def parse_configuration(body: bytes) -> list[Rule]:
    """A LifecycleConfiguration document -> its rules, or the error AWS answers."""
    root = xml.parse(body)
    if xml.local_name(root) != "LifecycleConfiguration":
        raise errors.MalformedXML()
    _only(root, {"Rule"})
    rules = [_rule(r) for r in xml.children(root, "Rule")]
    if not rules:
        raise errors.MalformedXML()
    if len(rules) > MAX_RULES:
        raise errors.InvalidRequest("Configuration cannot contain more than 1000 rules")
    ids = [r.id for r in rules if r.id]
    if len(set(ids)) != len(ids):
        raise errors.InvalidArgument("Rule ID must be unique. Found same ID for more than one rule")
    # AWS names rules it was given without an ID; the id appears in x-amz-expiration.
    return [r if r.id else replace(r, id=f"rule-{i + 1}") for i, r in enumerate(rules)]


# -- storage ------------------------------------------------------------------------------------
def dumps(rules: Sequence[Rule]) -> str:
    return json.dumps(
        [{**asdict(r), "filter": {**asdict(r.filter), "tags": list(r.filter.tags)}} for r in rules]
    )


def rules_of(attrs: Mapping[str, str]) -> list[Rule]:
    raw = attrs.get(ATTR)
    if not raw:
        return []
    out = []
    for d in json.loads(raw):
        f = d.pop("filter")
        f["tags"] = tuple(tuple(t) for t in f["tags"])
        out.append(Rule(filter=Filter(**f), **d))
    return out


def to_document(rules: Sequence[Rule]) -> bytes:
    root = xml.element("LifecycleConfiguration")
    for r in rules:
        el = xml.sub(root, "Rule")
        xml.sub(el, "ID", r.id)
        f = r.filter
        if f.form == "prefix":
            xml.sub(el, "Prefix", f.prefix)
        else:
            fe = xml.sub(el, "Filter")
            target = xml.sub(fe, "And") if f.form == "And" else fe
            if f.form in ("Prefix", "And") and (f.prefix or f.form == "Prefix"):
                xml.sub(target, "Prefix", f.prefix)
            for k, v in f.tags:
                t = xml.sub(target, "Tag")
                xml.sub(t, "Key", k)
                xml.sub(t, "Value", v)
            if f.size_gt is not None:
                xml.sub(target, "ObjectSizeGreaterThan", f.size_gt)
            if f.size_lt is not None:
                xml.sub(target, "ObjectSizeLessThan", f.size_lt)
        xml.sub(el, "Status", "Enabled" if r.enabled else "Disabled")
        if r.expiration_days or r.expiration_date_ms is not None or r.expired_object_delete_marker:
            e = xml.sub(el, "Expiration")
            if r.expiration_days:
                xml.sub(e, "Days", r.expiration_days)
            elif r.expiration_date_ms is not None:
                day = time.strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(r.expiration_date_ms / 1000)
                )
                xml.sub(e, "Date", day)
            else:
                xml.sub(e, "ExpiredObjectDeleteMarker", True)
        if r.noncurrent_days:
            n = xml.sub(el, "NoncurrentVersionExpiration")
            xml.sub(n, "NoncurrentDays", r.noncurrent_days)
            if r.newer_noncurrent:
                xml.sub(n, "NewerNoncurrentVersions", r.newer_noncurrent)
        if r.abort_days:
            a = xml.sub(el, "AbortIncompleteMultipartUpload")
            xml.sub(a, "DaysAfterInitiation", r.abort_days)
    return xml.to_bytes(root)


# -- evaluation ---------------------------------------------------------------------------------
def next_midnight(ms: int, day_ms: int = DAY_MS) -> int:
    """`ms` rounded up to the next multiple of a day (midnight UTC for real days)."""
    return -(-ms // day_ms) * day_ms


def matches(f: Filter, key: str, size: int | None, tags: Mapping[str, str] | None) -> bool:
    """Whether an object (size None for an upload: no size yet) falls under the filter."""
    if not key.startswith(f.prefix):
        return False
    if f.tags and (tags is None or any(tags.get(k) != v for k, v in f.tags)):
        return False
    if size is not None:
        if f.size_gt is not None and not size > f.size_gt:
            return False
        if f.size_lt is not None and not size < f.size_lt:
            return False
    return True


def expiry_of(rule: Rule, created_ms: int, day_ms: int) -> int | None:
    """When the current version expires under `rule` (None: the rule does not expire it)."""
    if rule.expiration_days:
        return next_midnight(created_ms + rule.expiration_days * day_ms, day_ms)
    return rule.expiration_date_ms


def expiration(
    rules: Sequence[Rule],
    key: str,
    size: int,
    tags: Mapping[str, str] | None,
    created_ms: int,
    day_ms: int,
) -> tuple[int, str] | None:
    """(expiry ms, rule id) of the earliest enabled rule that expires this object, or None."""
    best: tuple[int, str] | None = None
    for r in rules:
        if r.enabled and matches(r.filter, key, size, tags):
            at = expiry_of(r, created_ms, day_ms)
            if at is not None and (best is None or at < best[0]):
                best = (at, r.id)
    return best


def noncurrent_expiry(rule: Rule, noncurrent_since_ms: int, day_ms: int) -> int | None:
    if not rule.noncurrent_days:
        return None
    return next_midnight(noncurrent_since_ms + rule.noncurrent_days * day_ms, day_ms)


def abort_date(
    rules: Sequence[Rule], key: str, initiated_ms: int, day_ms: int
) -> tuple[int, str] | None:
    """(abort ms, rule id) for a multipart upload of `key`, or None."""
    best: tuple[int, str] | None = None
    for r in rules:
        if r.enabled and r.abort_days and matches(r.filter, key, None, None):
            at = next_midnight(initiated_ms + r.abort_days * day_ms, day_ms)
            if best is None or at < best[0]:
                best = (at, r.id)
    return best


def http_date(ms: int) -> str:
    return formatdate(ms / 1000, usegmt=True)


def expiration_header(at_ms: int, rule_id: str) -> str:
    """The value of x-amz-expiration."""
    rid = rule_id.replace("\\", "\\\\").replace('"', '\\"')
    return f'expiry-date="{http_date(at_ms)}", rule-id="{rid}"'
