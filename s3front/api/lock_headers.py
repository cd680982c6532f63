"""The object lock headers of writes, reads and deletes (no handlers: `s3front.api.objects`,
copy, multipart and POST uploads call these; the lock operations are `s3front.api.object_lock`).

A new version takes its lock from `x-amz-object-lock-mode` + `-retain-until-date` and
`-legal-hold` (POST: form fields of the same names), else from the bucket's default retention.
GET/HEAD return the same headers to a caller allowed to read them. Every removal of one version
by request passes `delete_guard`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

from s3front import errors
from s3front.access.authorize import is_allowed
from s3front.api import integrity
from s3front.api.access_hooks import caller, facts_of
from s3front.api.context import Ctx
from s3front.clock import now_ms
from s3front.objects import lock, versions
from s3front.objects.listing import shard_of
from s3front.store.records import BucketRecord, ObjectRecord

BYPASS_HEADER = "x-amz-bypass-governance-retention"
BYPASS_ACTION = "s3:BypassGovernanceRetention"
MODE_HEADER = "x-amz-object-lock-mode"
UNTIL_HEADER = "x-amz-object-lock-retain-until-date"
HOLD_HEADER = "x-amz-object-lock-legal-hold"

# A delete's claim on a version (`delete_guard`): ms stamp, honoured this long.
CLAIM_ATTR = "lock-deleting"
CLAIM_MS = 30_000
_RETRIES = 5
_MISSING_CONFIGURATION = "Bucket is missing Object Lock Configuration"


def require_lock(bucket: BucketRecord) -> None:
    if not lock.enabled(bucket):
        raise errors.InvalidRequest(_MISSING_CONFIGURATION)


def may_bypass(ctx: Ctx, bucket: BucketRecord, key: str) -> bool:
    """The caller asked for the governance bypass and holds s3:BypassGovernanceRetention (the
    bucket owner does unless its policy denies it; anyone else needs a policy Allow)."""
    if ctx.req.header(BYPASS_HEADER).strip().lower() != "true":
        return False
    return is_allowed(caller(ctx), BYPASS_ACTION, bucket, key, None, facts_of(ctx))


def has_lock_fields(fields: Callable[[str], str | None]) -> bool:
    return any(fields(h) is not None for h in (MODE_HEADER, UNTIL_HEADER, HOLD_HEADER))


def has_lock_attrs(attrs: Mapping[str, str]) -> bool:
    """Whether an upload's attrs carry explicit lock parameters (from its lock headers)."""
    return lock.RETENTION_ATTR in attrs or lock.LEGAL_HOLD_ATTR in attrs


def requested_attrs(
    fields: Callable[[str], str | None], bucket: BucketRecord, now: int, *, defaults: bool = True
) -> dict[str, str]:
    """The lock attrs a new version gets from the lock headers (or POST form fields) of the
    request that writes it, else from the bucket's default retention (with `defaults`).
    Invalid values are refused before anything is stored."""
    mode, until, hold = fields(MODE_HEADER), fields(UNTIL_HEADER), fields(HOLD_HEADER)
    if mode is None and until is None and hold is None:
        return with_default_retention(bucket, {}, now) if defaults else {}
    require_lock(bucket)
    attrs: dict[str, str] = {}
    if (mode is None) != (until is None):
        raise errors.InvalidArgument(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ArgumentName=MODE_HEADER if mode is None else UNTIL_HEADER,
        )
    if mode is not None and until is not None:
        if mode.strip() not in lock.MODES:
            raise errors.InvalidArgument(
                "Unknown wormMode directive.", ArgumentName=MODE_HEADER, ArgumentValue=mode
            )
        until_ms = lock.parse_date(until)
        if until_ms is None:
            raise errors.InvalidArgument(
                "The retain until date is not a valid ISO 8601 date.",
                ArgumentName=UNTIL_HEADER,
            )
        if until_ms <= now:
            raise errors.InvalidArgument(
                "The retain until date must be in the future!", ArgumentName=UNTIL_HEADER
            )
        attrs = lock.with_retention(attrs, lock.Retention(mode.strip(), until_ms))
    elif defaults:
        attrs = with_default_retention(bucket, attrs, now)
    if hold is not None:
        if hold.strip() not in ("ON", "OFF"):
            raise errors.InvalidArgument(
                "Legal Hold must be either of 'ON' or 'OFF'", ArgumentName=HOLD_HEADER
            )
        attrs = lock.with_legal_hold(attrs, hold.strip() == "ON")
    return attrs


def with_default_retention(
    bucket: BucketRecord, attrs: Mapping[str, str], now: int
) -> dict[str, str]:
    """`attrs` with the bucket's default retention from `now`, unless they carry retention."""
    rule = lock.default_retention(bucket)
    if rule is None or lock.retention_of(attrs) is not None:
        return dict(attrs)
    return lock.with_retention(attrs, lock.Retention(rule.mode, rule.until_ms(now)))


def check_put_integrity(exp: integrity.Expected) -> None:
    """A PUT (or UploadPart) with lock headers must carry Content-MD5 or a checksum."""
    if exp.content_md5 is None and not exp.values and not exp.trailer:
        raise errors.InvalidRequest(
            "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests "
            "with Object Lock parameters"
        )


def response_headers(ctx: Ctx, bucket: BucketRecord, rec: ObjectRecord) -> dict[str, str]:
    """The lock headers of a GET/HEAD, each only for a caller who may read it (as AWS: the
    mode and date need s3:GetObjectRetention, the hold s3:GetObjectLegalHold)."""
    out: dict[str, str] = {}
    retention = lock.retention_of(rec.attrs)
    hold = lock.legal_hold_of(rec.attrs)
    if retention is None and hold is None:
        return out
    who, facts = caller(ctx), facts_of(ctx)
    if retention is not None and is_allowed(
        who, "s3:GetObjectRetention", bucket, rec.key, rec, facts
    ):
        out[MODE_HEADER] = retention.mode
        out[UNTIL_HEADER] = lock.format_date(retention.until_ms)
    if hold is not None and is_allowed(who, "s3:GetObjectLegalHold", bucket, rec.key, rec, facts):
        out[HOLD_HEADER] = "ON" if hold else "OFF"
    return out


def delete_guard(
    ctx: Ctx, bucket: BucketRecord, key: str
) -> Callable[[ObjectRecord], Awaitable[ObjectRecord | None]]:
    """What every removal of one version by request passes: 403 AccessDenied while the version
    is protected (GOVERNANCE yields to the bypass, nothing else does).

    In a lock-enabled bucket the guard then claims the row (a compare-and-set that stamps
    `CLAIM_ATTR`) and returns the claimed row for the caller to delete, or None if the row
    changed or went meanwhile (look again). Without the claim, a PutObjectLegalHold landing
    between the check and the delete would answer 200 for a version about to vanish; with it,
    that update fails its own compare-and-set and sees the claim (409 OperationAborted)."""
    meta = ctx.store.meta
    shard = shard_of(key, bucket.shards)

    async def guard(rec: ObjectRecord) -> ObjectRecord | None:
        for _ in range(_RETRIES):
            now = now_ms()
            bypass = lock.needs_bypass(rec, now) and may_bypass(ctx, bucket, key)
            reason = lock.refusal(rec, now, bypass=bypass)
            if reason is not None:
                raise errors.AccessDenied(reason)
            if rec.delete_marker or not lock.enabled(bucket):
                return rec  # a marker takes no lock; nothing else can lock this row
            claimed = replace(rec, attrs={**rec.attrs, CLAIM_ATTR: str(now)})
            if await meta.put_object_if(bucket.bucket_id, shard, claimed, rec):
                return claimed
            fresh = await versions.get_version(meta, bucket.bucket_id, shard, key, rec.version_id)
            if fresh is None:
                return None
            rec = fresh
        raise errors.SlowDown("The object version kept changing while being deleted; retry.")

    return guard


def check_not_claimed(rec: ObjectRecord, now: int) -> None:
    """409 OperationAborted while a delete has claimed the version (see `delete_guard`); a
    claim older than CLAIM_MS is a delete that died and is ignored."""
    stamp = rec.attrs.get(CLAIM_ATTR, "")
    if stamp.isdigit() and now - int(stamp) < CLAIM_MS:
        raise errors.OperationAborted()


def without_claim(attrs: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in attrs.items() if k != CLAIM_ATTR}
