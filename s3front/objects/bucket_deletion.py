"""DeleteBucket and object writes: why a PUT and a DeleteBucket that race never both succeed.

S3 deletes only an empty bucket, and a write that answered 200 stored an object later reads
return. "Is it empty?" and "write the object row" are steps on different rows, with no
transaction across them on Cassandra, so the two requests exclude each other through a
deletion mark on the bucket row (a column outside `BucketRecord`; see the MetaStore methods
`get_bucket_mark`, `set_bucket_mark`, `delete_bucket_marked`):

DeleteBucket (`delete_bucket`)
  D1  set the mark to a fresh value M, only if the bucket has none (an LWT on the bucket row).
      A live mark means another DeleteBucket is running: OperationAborted (409), as S3 answers
      conflicting bucket operations. A mark older than STALE_MS (its holder died) is taken over
      with an LWT conditional on that old mark.
  D2  look for one row in every shard of the object index (any version or delete marker).
  D3  a row: clear M (an LWT on M) and answer BucketNotEmpty. None: drop the multipart uploads
      in progress (S3 deletes a bucket that has some) and delete the bucket row only if its mark
      is still M (an LWT); if it is not, M was taken over: OperationAborted.

Object writes (`confirm_write`, called by every commit of an object row: PutObject,
CopyObject, CompleteMultipartUpload, POST Object)
  P2  the row is written;
  P3  read the bucket's mark from the store (never the bucket cache):
      - no bucket, or another bucket_id (deleted, maybe created again): delete the row just
        written (an orphan, unreachable under the old id) and answer NoSuchBucket;
      - the same bucket, unmarked: the write stands;
      - marked: wait for the mark to go (a DeleteBucket takes milliseconds) and read again; a
        mark older than STALE_MS is cleared (an LWT on that mark) first. A mark that outlasts
        WAIT_SECONDS answers 503 SlowDown and leaves the row: the outcome is unknown, which a
        5xx says, and SDKs retry it.

Why never both. DeleteBucket answers 204 only if its conditional delete in D3 applied, so M was
the mark then. A mark is only replaced or cleared by an LWT conditional on that exact mark (a
takeover, P3's clearing of a stale mark, or M's holder, which clears it only when it does not
delete), so the bucket row carried M from D1 until D3 deleted it; and a bucket created again
later has a new random bucket_id. Hence every read of the bucket row that begins after D1
completed sees M, no bucket, or another id. A write that answers 200 read "same id, no mark"
in P3, so that read began before D1 completed; its row was written (P2) before that read
began, so before D2 began, and D2 sees it: DeleteBucket answers BucketNotEmpty. On Cassandra
the reads and writes are LOCAL_QUORUM and LWTs commit at that level, so a write completed
before a read begins is seen by it; SQLite runs the statements one at a time.

Object rows are keyed by the bucket's random id, not its name, so even a row left behind by a
crash between P2 and P3 never shows up in a bucket created later under the same name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from s3front import clock, errors
from s3front.store.protocols import MetaStore
from s3front.store.records import BucketRecord, ObjectRecord, OwnerBucket

log = logging.getLogger("s3front.objects")

STALE_MS = 30_000  # a mark this old belongs to a DeleteBucket that died
WAIT_SECONDS = 5.0  # how long a write waits for a DeleteBucket in progress to finish
_POLL_FIRST, _POLL_MAX = 0.005, 0.1


def new_mark(now_ms: int) -> str:
    """A mark no other request holds, saying when it was set."""
    return f"{now_ms}.{uuid.uuid4().hex}"


def _stale(mark: str, now_ms: int) -> bool:
    ms = mark.partition(".")[0]
    return not ms.isdigit() or now_ms - int(ms) > STALE_MS


async def _take_mark(meta: MetaStore, bucket: BucketRecord) -> str:
    """D1: the mark this DeleteBucket now holds."""
    mark = new_mark(clock.now_ms())
    if await meta.set_bucket_mark(bucket.name, bucket.bucket_id, mark, ""):
        return mark
    state = await meta.get_bucket_mark(bucket.name)
    if state is None or state[0] != bucket.bucket_id:
        raise errors.NoSuchBucket(BucketName=bucket.name)
    held = state[1]
    if held and _stale(held, clock.now_ms()):
        log.warning("bucket %s: taking over a stale deletion mark %s", bucket.name, held)
        if await meta.set_bucket_mark(bucket.name, bucket.bucket_id, mark, held):
            return mark
    raise errors.OperationAborted()


async def delete_bucket(meta: MetaStore, bucket: BucketRecord) -> None:
    """DeleteBucket's store work (D1-D3 above): the bucket is gone when this returns."""
    mark = await _take_mark(meta, bucket)
    deleted = False
    try:
        for shard in range(bucket.shards):
            if await meta.scan_objects(bucket.bucket_id, shard, limit=1):
                raise errors.BucketNotEmpty(BucketName=bucket.name)
        # Uploads in progress die with the bucket (as in S3); their parts become garbage.
        while uploads := await meta.scan_uploads(bucket.bucket_id, limit=1000):
            for up in uploads:
                await meta.delete_parts(up.upload_id)
                await meta.delete_upload(bucket.bucket_id, up.key, up.upload_id)
        # The by-owner row first: a crash after it leaves a bucket ListBuckets omits, which
        # CreateBucket repairs, rather than a listed bucket that does not exist.
        await meta.delete_owner_bucket(bucket.owner, bucket.name)
        deleted = await meta.delete_bucket_marked(bucket.name, mark)
        if not deleted:
            await meta.put_owner_bucket(OwnerBucket(bucket.owner, bucket.name, bucket.created_ms))
            raise errors.OperationAborted()
    finally:
        if not deleted:
            # Writes wait while the mark is there; a failure to clear it costs them STALE_MS.
            with contextlib.suppress(Exception):
                await meta.set_bucket_mark(bucket.name, bucket.bucket_id, "", mark)


async def confirm_write(
    meta: MetaStore, bucket: BucketRecord, shard: int, rec: ObjectRecord
) -> None:
    """P3: let the object row just written stand only while its bucket does (see above)."""
    deadline = time.monotonic() + WAIT_SECONDS
    pause = _POLL_FIRST
    while True:
        state = await meta.get_bucket_mark(bucket.name)
        if state is None or state[0] != bucket.bucket_id:
            await meta.delete_object(bucket.bucket_id, shard, rec.key, rec.seq)
            raise errors.NoSuchBucket(BucketName=bucket.name)
        mark = state[1]
        if not mark:
            return
        if _stale(mark, clock.now_ms()):
            log.warning("bucket %s: clearing a stale deletion mark %s", bucket.name, mark)
            await meta.set_bucket_mark(bucket.name, bucket.bucket_id, "", mark)
            continue
        if time.monotonic() >= deadline:
            raise errors.SlowDown("The bucket is being deleted; please retry.")
        await asyncio.sleep(pause)
        pause = min(pause * 2, _POLL_MAX)
