"""Object lock (WORM): what a bucket's lock configuration and a version's lock state mean.

Pure functions on records; the S3 operations are `s3front.api.object_lock`.

Where the state lives (no schema change: both records already carry an `attrs` map):
- bucket `attrs["object-lock"]`: present once object lock is enabled (it can never be turned
  off). Its value is the default retention, "" for none or "<MODE> <n>d" / "<MODE> <n>y".
- version `attrs["lock-retention"]`: "<MODE> <retain-until ms>" (GOVERNANCE or COMPLIANCE).
- version `attrs["lock-legal-hold"]`: "ON" while a legal hold is in place (absent or "OFF" otherwise).

A version is protected while its retention date is in the future or a legal hold is on. While
protected it cannot be deleted by version id, by DeleteObjects, by lifecycle or by anything
else that removes a version (`blocks_removal`). GOVERNANCE retention yields to a caller with
s3:BypassGovernanceRetention who sends `x-amz-bypass-governance-retention: true`; COMPLIANCE
and legal holds yield to no one. A lock-enabled bucket is always versioned (Enabled, never
Suspended), so an overwrite adds a version and never replaces a protected one.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from s3front.store.records import BucketRecord, ObjectRecord

BUCKET_ATTR = "object-lock"
RETENTION_ATTR = "lock-retention"
LEGAL_HOLD_ATTR = "lock-legal-hold"

GOVERNANCE = "GOVERNANCE"
COMPLIANCE = "COMPLIANCE"
MODES = (GOVERNANCE, COMPLIANCE)

_DAY_MS = 86_400_000
# AWS counts a default-retention year as 365 days.
_YEAR_MS = 365 * _DAY_MS
# Upper bounds on a default retention period (AWS: 100 years); also bounds the arithmetic.
MAX_DAYS = 36_500
MAX_YEARS = 100
# Latest retain-until date accepted (the year 9999, as far as ISO 8601 with 4 digits goes).
MAX_UNTIL_MS = 253_402_300_799_999


@dataclass(frozen=True, slots=True)
class Retention:
    mode: str  # GOVERNANCE or COMPLIANCE
    until_ms: int  # retain until (ms since the epoch, UTC)

    def in_force(self, now_ms: int) -> bool:
        return self.until_ms > now_ms


@dataclass(frozen=True, slots=True)
class DefaultRetention:
    mode: str
    days: int = 0  # exactly one of days / years is positive
    years: int = 0

    def until_ms(self, from_ms: int) -> int:
        return from_ms + (self.days * _DAY_MS if self.days else self.years * _YEAR_MS)


# --- bucket --------------------------------------------------------------------------------


def enabled(bucket: BucketRecord) -> bool:
    return BUCKET_ATTR in bucket.attrs


def default_retention(bucket: BucketRecord) -> DefaultRetention | None:
    raw = bucket.attrs.get(BUCKET_ATTR, "")
    match = re.fullmatch(r"(GOVERNANCE|COMPLIANCE) ([0-9]+)([dy])", raw)
    if match is None:
        return None
    mode, count, unit = match.group(1), int(match.group(2)), match.group(3)
    return DefaultRetention(
        mode, days=count if unit == "d" else 0, years=count if unit == "y" else 0
    )


def encode_default(rule: DefaultRetention | None) -> str:
    if rule is None:
        return ""
    return f"{rule.mode} {rule.days}d" if rule.days else f"{rule.mode} {rule.years}y"


# --- versions ------------------------------------------------------------------------------


def retention_of(attrs: Mapping[str, str]) -> Retention | None:
    raw = attrs.get(RETENTION_ATTR)
    if not raw:
        return None
    mode, _, until = raw.partition(" ")
    if mode not in MODES or not until.isdigit():
        return None
    return Retention(mode, int(until))


def legal_hold_of(attrs: Mapping[str, str]) -> bool | None:
    """True (ON), False (OFF: set once, then released) or None (never set)."""
    raw = attrs.get(LEGAL_HOLD_ATTR)
    return None if raw is None else raw == "ON"


def with_retention(attrs: Mapping[str, str], retention: Retention | None) -> dict[str, str]:
    out = {k: v for k, v in attrs.items() if k != RETENTION_ATTR}
    if retention is not None:
        out[RETENTION_ATTR] = f"{retention.mode} {retention.until_ms}"
    return out


def with_legal_hold(attrs: Mapping[str, str], on: bool) -> dict[str, str]:
    return {**attrs, LEGAL_HOLD_ATTR: "ON" if on else "OFF"}


def blocks_removal(rec: ObjectRecord, now_ms: int) -> bool:
    """Whether this version may not be removed at all right now (retention of either mode in
    force, or a legal hold on). Lifecycle expiry and any other automatic removal ask this;
    only a delete request with the governance bypass may go further (`refusal`)."""
    retention = retention_of(rec.attrs)
    return bool(legal_hold_of(rec.attrs)) or (retention is not None and retention.in_force(now_ms))


def refusal(rec: ObjectRecord, now_ms: int, *, bypass: bool) -> str | None:
    """Why deleting (or replacing) this version by request is refused, or None if allowed.
    `bypass`: the caller sent the bypass header and holds s3:BypassGovernanceRetention."""
    if legal_hold_of(rec.attrs):
        return "Object is under legal hold and cannot be deleted."
    retention = retention_of(rec.attrs)
    if retention is None or not retention.in_force(now_ms):
        return None
    if retention.mode == GOVERNANCE and bypass:
        return None
    return f"Object is WORM protected ({retention.mode} mode) and cannot be deleted."


def needs_bypass(rec: ObjectRecord, now_ms: int) -> bool:
    """Whether only a governance bypass stands between a delete and this version (so the
    caller's permission is worth checking)."""
    retention = retention_of(rec.attrs)
    return (
        not legal_hold_of(rec.attrs)
        and retention is not None
        and retention.mode == GOVERNANCE
        and retention.in_force(now_ms)
    )


def change_allowed(
    old: Retention | None, new: Retention | None, now_ms: int, *, bypass: bool
) -> bool:
    """PutObjectRetention's rule. Retention that has lapsed may be set to anything. Retention
    in force may be kept or extended in the same mode; anything else (shortening, removing,
    changing the mode) needs the bypass, and COMPLIANCE yields to no bypass. (AWS treats
    GOVERNANCE -> COMPLIANCE as a change needing the bypass too.)"""
    if old is None or not old.in_force(now_ms):
        return True
    if new is not None and new.mode == old.mode and new.until_ms >= old.until_ms:
        return True
    return old.mode == GOVERNANCE and bypass


# --- dates ---------------------------------------------------------------------------------

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"([Zz]|[+-]\d{2}:?\d{2})?",
    re.ASCII,  # \d is [0-9] only, not every script's digits
)


def parse_date(text: str) -> int | None:
    """An ISO 8601 timestamp as clients send retain-until dates ("2030-01-01T00:00:00Z",
    with milliseconds or an offset; a bare date is midnight UTC) -> ms, or None."""
    match = _ISO.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    try:
        when = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None
    ms = calendar.timegm(when.timetuple()) * 1000 + int((frac or "0")[:3].ljust(3, "0"))
    if zone and zone not in "Zz":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            return None
        ms -= sign * (hours * 60 + minutes) * 60_000
    return ms if 0 <= ms <= MAX_UNTIL_MS else None


def format_date(ms: int) -> str:
    """As S3 returns retain-until dates, in headers and XML: 2030-01-01T00:00:00.000Z."""
    seconds, millis = divmod(ms, 1000)
    when = datetime.fromtimestamp(seconds, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"
