"""Delivering server access logs (bucket logging) as objects into the target buckets.

Every request on a bucket whose logging is on (`s3front.api.bucket_logging`) becomes one line
(`s3front.server_access_log.format_line`) in this process's buffer for that source bucket and
configuration. Every `access_log_flush_seconds` (default 60, as S3 delivers "within a few
minutes"), and at a graceful shutdown, each non-empty buffer is written as one object into the
target bucket, under the key `server_access_log.log_object_key` names, through the same block
and row writes as a PutObject (so GC, versioning, deletion races and the target's default
encryption apply as to any object). The writer is the logging service: the object is owned by
the target bucket's owner, who is also the source bucket's owner (checked again at delivery, so a
target deleted and re-created by another tenant never receives the logs).

Memory is bounded: a buffer that reaches `_BATCH_BYTES` is delivered at once, without waiting
for the tick; all records held (buffered, being written, waiting for a retry) stay under
`access_log_buffer_bytes`; a record that would exceed it is dropped and counted
(`s3front_server_access_log_records{outcome="dropped_buffer_full"}`). A batch the store cannot
take (unavailable, timing out) is retried at the next tick while it fits; one whose target is
gone or no longer acceptable is dropped and counted. Like S3's ("best effort"), delivery is not
a guarantee: a process killed without a graceful shutdown loses what it held.

Each server process (each `--workers` worker) delivers its own objects; keys carry a random
UniqueString, so they never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

from s3front import errors, metrics
from s3front.api import sse
from s3front.config import Settings
from s3front.objects import bucket_deletion, lock, versions
from s3front.objects.encryption import with_sealing
from s3front.objects.intents import WriteIntent
from s3front.objects.listing import shard_of
from s3front.objects.writer import write_object_data
from s3front.request import S3Request
from s3front.server_access_log import (
    EVENT_TIME,
    AccessRecord,
    LoggingConfig,
    config_of,
    format_line,
    log_object_key,
    operation_name,
)
from s3front.store.bucket_cache import bucket_for_objects
from s3front.store.errors import StoreTimeout, StoreUnavailable
from s3front.store.protocols import Store
from s3front.store.records import BucketRecord, ObjectRecord

log = logging.getLogger("s3front.access_log")

# One object per this much of a source bucket's records, whatever the tick.
_BATCH_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Source:
    bucket: str
    owner: str
    region: str
    config: LoggingConfig


@dataclass(slots=True)
class _Batch:
    source: _Source
    lines: list[str] = field(default_factory=list)
    size: int = 0
    first_event: float = 0.0
    attempts: int = 0


def _day(epoch: float) -> tuple[int, int, int]:
    t = time.gmtime(epoch)
    return t.tm_year, t.tm_mon, t.tm_mday


class AccessLogDelivery:
    """The buffers of one server process, and their delivery."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._limit = max(settings.access_log_buffer_bytes, 0)
        self._buffers: dict[_Source, _Batch] = {}
        self._retry: list[_Batch] = []
        self._held = 0  # bytes of every record not yet delivered or dropped
        self._writes: set[asyncio.Task[None]] = set()

    @property
    def held_bytes(self) -> int:
        return self._held

    # --- recording -------------------------------------------------------------------------

    async def note(self, bucket_name: str, make: Callable[[BucketRecord], AccessRecord]) -> None:
        """Record one request on `bucket_name` if that bucket's logging is on. Never raises:
        the response has been sent, and a log line is not worth failing anything for."""
        try:
            bucket = await bucket_for_objects(self._store, bucket_name)
            config = config_of(bucket.attrs) if bucket is not None else None
            if bucket is None or config is None:
                return
            rec = make(bucket)
            self.add(
                _Source(bucket.name, bucket.owner, bucket.region, config),
                format_line(rec),
                rec.received,
            )
        except Exception as exc:  # a store hiccup while looking the bucket up: no record
            log.debug("access log record for %s skipped: %r", bucket_name, exc)

    def add(self, source: _Source, line: str, event_time: float) -> None:
        size = len(line.encode("utf-8")) + 1
        if self._held + size > self._limit:
            metrics.access_log_records("dropped_buffer_full")
            return
        batch = self._buffers.get(source)
        if (
            batch is not None
            and source.config.partitioned
            and source.config.date_source == EVENT_TIME
            and _day(batch.first_event) != _day(event_time)
        ):
            # Partitioned by event time: one object never spans two days' folders.
            self._start_write(self._buffers.pop(source))
            batch = None
        if batch is None:
            batch = self._buffers[source] = _Batch(source, first_event=event_time)
        batch.lines.append(line)
        batch.size += size
        self._held += size
        if batch.size >= _BATCH_BYTES:
            self._start_write(self._buffers.pop(source))

    # --- delivery ----------------------------------------------------------------------------

    def _start_write(self, batch: _Batch) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(batch))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def flush(self) -> None:
        """Deliver everything held now (retries first), and wait for writes in progress."""
        batches = _merged(self._retry + list(self._buffers.values()))
        self._retry = []
        self._buffers = {}
        for batch in batches:
            self._start_write(batch)
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every `access_log_flush_seconds` until `stop` is set, then once more."""
        interval = max(self._settings.access_log_flush_seconds, 0.05)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            try:
                await self.flush()
            except Exception:  # never seen; the loop must outlive it all the same
                log.exception("access log flush failed")

    async def close(self) -> None:
        """The last delivery, at shutdown: whatever cannot be written now is dropped."""
        await self.flush()
        for batch in self._retry:
            self._drop(batch, "dropped_error")
        self._retry = []

    def _drop(self, batch: _Batch, outcome: str) -> None:
        self._held -= batch.size
        metrics.access_log_records(outcome, len(batch.lines))

    async def _deliver(self, batch: _Batch) -> None:
        source = batch.source
        try:
            target = await self._store.meta.get_bucket(source.config.target_bucket)
            problem = _unacceptable(source, target)
            if problem:
                log.warning(
                    "access logs of bucket %s dropped (%d records): %s",
                    source.bucket,
                    len(batch.lines),
                    problem,
                )
                self._drop(batch, "dropped_target_invalid")
                return
            assert target is not None
            await self._write(batch, target)
        except errors.NoSuchBucket:  # the target was deleted while the object was written
            log.warning("access logs of bucket %s dropped: target deleted", source.bucket)
            self._drop(batch, "dropped_target_invalid")
            return
        except (StoreUnavailable, StoreTimeout, errors.ServiceUnavailable) as exc:
            # Retried at the next tick. (A timed-out write may have landed: its records may
            # then be delivered twice, in two objects; S3's delivery is best effort too.)
            batch.attempts += 1
            log.warning(
                "access logs of bucket %s not delivered yet (%d records, attempt %d): %s",
                source.bucket,
                len(batch.lines),
                batch.attempts,
                exc,
            )
            self._retry.append(batch)  # still counted in _held: the cap covers it
            return
        except Exception:
            log.exception("access logs of bucket %s dropped", source.bucket)
            self._drop(batch, "dropped_error")
            return
        self._held -= batch.size
        metrics.access_log_records("delivered", len(batch.lines))

    async def _write(self, batch: _Batch, target: BucketRecord) -> None:
        config = batch.source.config
        now = time.time()
        key = log_object_key(
            config.target_prefix,
            delivered=now,
            partitioned=config.partitioned,
            partition_time=batch.first_event if config.date_source == EVENT_TIME else now,
            source_owner=batch.source.owner,
            source_region=batch.source.region,
            source_bucket=batch.source.bucket,
        )
        data = ("\n".join(batch.lines) + "\n").encode("utf-8")
        store, settings = self._store, self._settings
        async with WriteIntent(store.meta) as intent:
            # The target's default encryption applies as to any PutObject into it.
            sealed = await sse.begin(
                store.keys, settings.master_key, sse.bucket_default(target.attrs), settings.region
            )
            result = await write_object_data(
                store.blocks,
                store.meta,
                _once(data),
                block_size=settings.block_size,
                inline_limit=settings.inline_limit,
                algorithms=(),
                expected_length=len(data),
                intent=intent,
                cipher=sealed.cipher if sealed else None,
            )
            seq, version_id = versions.next_version(target.versioning, None)
            rec = ObjectRecord(
                key=key,
                seq=seq,
                version_id=version_id,
                size=result.size,
                etag=sse.etag(sealed, result.md5),
                last_modified_ms=int(now * 1000),
                owner=target.owner,
                manifest_id=result.manifest_id,
                inline=result.inline,
                headers={"content-type": "text/plain"},
                attrs=with_sealing({}, sealed.sealing) if sealed else {},
            )
            meta = store.meta
            shard = shard_of(key, target.shards)
            if target.versioning:
                current = await meta.get_object(target.bucket_id, shard, key)
                rec = versions.renumbered(rec, target.versioning, current)
                await versions.write_version(meta, target, shard, rec, current)
            else:
                await meta.put_object(target.bucket_id, shard, rec)
            await bucket_deletion.confirm_write(meta, target, shard, rec)


def _merged(batches: list[_Batch]) -> list[_Batch]:
    """The batches with those of one source (and one event day, where that names the key)
    joined up to a batch's size: after an outage, a few objects rather than one per tick."""
    out: list[_Batch] = []
    open_: dict[tuple[_Source, tuple[int, int, int] | None], _Batch] = {}
    for batch in batches:
        config = batch.source.config
        by_day = config.partitioned and config.date_source == EVENT_TIME
        slot = (batch.source, _day(batch.first_event) if by_day else None)
        into = open_.get(slot)
        if into is not None and into.size + batch.size <= _BATCH_BYTES:
            into.lines += batch.lines
            into.size += batch.size
            into.first_event = min(into.first_event, batch.first_event)
            continue
        open_[slot] = batch
        out.append(batch)
    return out


def _unacceptable(source: _Source, target: BucketRecord | None) -> str:
    """Why the target cannot take these logs now ("" when it can): the checks of
    PutBucketLogging, made again because the target may have changed since."""
    if target is None:
        return f"target bucket {source.config.target_bucket} does not exist"
    if target.owner != source.owner:
        return f"target bucket {target.name} belongs to another owner"
    if target.region != source.region:
        return f"target bucket {target.name} is in another region"
    if lock.enabled(target):
        return f"target bucket {target.name} has Object Lock enabled"
    return ""


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def request_record(
    bucket: BucketRecord,
    *,
    req: S3Request,
    http_version: str,
    op: str,
    key: str,
    requester: str,
    request_id: str,
    status: int,
    error_code: str,
    response_headers: Iterable[tuple[bytes, bytes]],
    bytes_in: int,
    bytes_out: int,
    received: float,
    started: float,
    body_done: float | None,
    ready: float,
    done: float,
) -> AccessRecord:
    """The record of one request on `bucket` (times: `received` epoch seconds, the others
    `time.perf_counter()` readings: start, body fully read, response ready, last byte sent)."""
    signature, auth_type = signature_of(req) if requester else ("", "")
    return AccessRecord(
        bucket_owner=bucket.owner,
        bucket=bucket.name,
        received=received,
        remote_ip=req.client_ip,
        requester=requester,
        request_id=request_id,
        operation=operation_name(op, req.method, bool(key)),
        key=key,
        method=req.method,
        raw_path=req.raw_path,
        raw_query=req.raw_query,
        http_version=http_version,
        status=status,
        error_code=error_code,
        bytes_sent=bytes_out,
        object_size=_object_size(op, status, response_headers, bytes_in),
        total_ms=round((done - started) * 1000),
        turn_around_ms=round((ready - (body_done or started)) * 1000),
        referer=req.header("referer"),
        user_agent=req.header("user-agent"),
        version_id=req.param("versionId") or "",
        host_id=request_id,  # s3front's x-amz-id-2 is the request id
        signature_version=signature,
        authentication_type=auth_type,
        host_header=req.header("host"),
    )


_WRITES = frozenset({"PutObject", "UploadPart", "PostObject"})


def _object_size(
    op: str, status: int, headers: Iterable[tuple[bytes, bytes]], bytes_in: int
) -> int | None:
    """The size of the object the request read or wrote, where it is known."""
    if status >= 300:
        return None
    if op in _WRITES:
        return bytes_in
    if op not in ("GetObject", "HeadObject"):
        return None
    length = None
    for name, value in headers:
        if name == b"content-range":  # "bytes 0-9/1234": the whole object is 1234
            total = value.rpartition(b"/")[2]
            if total.isdigit():
                return int(total)
        elif name == b"content-length" and value.isdigit():
            length = int(value)
    return length


def signature_of(req: S3Request) -> tuple[str, str]:
    """(signature version, authentication type) of a signed request, as the log spells them."""
    header = req.header("authorization").lstrip()
    if header.startswith("AWS4-"):
        return "SigV4", "AuthHeader"
    if header.startswith("AWS "):
        return "SigV2", "AuthHeader"
    if req.has_param("X-Amz-Algorithm") or req.has_param("X-Amz-Signature"):
        return "SigV4", "QueryString"
    if req.has_param("Signature") or req.has_param("AWSAccessKeyId"):
        return "SigV2", "QueryString"
    return "", ""
