"""MetaStore on Cassandra: buckets, the object index, manifests, uploads and parts.

Each section below starts with the CQL of the statements that touch its table (the tables are
defined in schema/cassandra/). Statements are prepared once, in `CassandraMeta.prepare`, which
runs at connect time in a thread.

Scans that page "in token order" (list_buckets, list_manifest_ids) continue with `token(pk) > token(last)`:
the order is the partitioner's, not the ids'. Murmur3 token collisions between two ids would
make a page skip the second id; at 2^64 tokens that is accepted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cassandra.query import BatchStatement, BatchType

from s3front import clock
from s3front.store.cassandra.completions import CassandraCompletions
from s3front.store.cassandra.session import Db, Row
from s3front.store.errors import StoreTimeout
from s3front.store.records import (
    BucketRecord,
    CompletionRecord,
    IntentRecord,
    ManifestEntry,
    ObjectRecord,
    OwnerBucket,
    PartRecord,
    UploadRecord,
)
from s3front.store.shard_merge import merge_shards

# -- buckets: PRIMARY KEY (name) ----------------------------------------------------------------
_BUCKET_COLS = "name, bucket_id, owner, created_ms, region, shards, versioning, attrs"
# A bucket row is created by an LWT, so every later write of it is one too: an LWT's cells carry
# the Paxos ballot's (server) timestamp, and a plain write with a client timestamp could land
# before or after it regardless of the order the calls were made in (e.g. a delete shadowing a
# re-creation). Bucket writes are rare; the extra round trips do not matter.
_BUCKET_INSERT_NEW = (
    f"INSERT INTO buckets ({_BUCKET_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
)
_BUCKET_UPDATE = (
    "UPDATE buckets SET bucket_id = ?, owner = ?, created_ms = ?, region = ?, shards = ?, "
    "versioning = ?, attrs = ? WHERE name = ? IF EXISTS"
)
_BUCKET_GET = f"SELECT {_BUCKET_COLS} FROM buckets WHERE name = ?"
_BUCKET_DELETE = "DELETE FROM buckets WHERE name = ? IF EXISTS"
# The deletion mark (schema version 2): null when there is none, never "".
_BUCKET_MARK_GET = "SELECT bucket_id, deleting FROM buckets WHERE name = ?"
_BUCKET_MARK_SET = (
    "UPDATE buckets SET deleting = ? WHERE name = ? IF bucket_id = ? AND deleting = ?"
)
_BUCKET_DELETE_MARKED = "DELETE FROM buckets WHERE name = ? IF deleting = ?"
_BUCKET_FIRST = f"SELECT {_BUCKET_COLS} FROM buckets LIMIT ?"
_BUCKET_AFTER = f"SELECT {_BUCKET_COLS} FROM buckets WHERE token(name) > token(?) LIMIT ?"

# -- owner_buckets: PRIMARY KEY (owner, name) ---------------------------------------------------
_OWNER_PUT = "INSERT INTO owner_buckets (owner, name, created_ms) VALUES (?, ?, ?)"
_OWNER_DELETE = "DELETE FROM owner_buckets WHERE owner = ? AND name = ?"
_OWNER_LIST = "SELECT owner, name, created_ms FROM owner_buckets WHERE owner = ?"

# -- objects: PRIMARY KEY ((bucket_id, shard), key, seq), key ASC, seq DESC ----------------------
_OBJ_COLS = (
    "key, seq, version_id, size, etag, last_modified_ms, owner, manifest_id, delete_marker, "
    "headers, checksums, parts, attrs"
)
_OBJ_PUT = (
    f"INSERT INTO objects (bucket_id, shard, {_OBJ_COLS}, inline) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_OBJ_PUT_NEW = _OBJ_PUT + " IF NOT EXISTS"
_OBJ_PUT_IF = (
    "UPDATE objects SET version_id = ?, size = ?, etag = ?, last_modified_ms = ?, owner = ?, "
    "manifest_id = ?, delete_marker = ?, headers = ?, checksums = ?, parts = ?, attrs = ?, "
    "inline = ? WHERE bucket_id = ? AND shard = ? AND key = ? AND seq = ? "
    # attrs too: tags, ACL and object-lock updates keep etag and time, and one of them must
    # not write back a copy read before another (a legal hold lost to a tagging update).
    "IF etag = ? AND last_modified_ms = ? AND attrs = ?"
)
_OBJ_WHERE = "FROM objects WHERE bucket_id = ? AND shard = ?"
_OBJ_GET_NEWEST = f"SELECT {_OBJ_COLS}, inline {_OBJ_WHERE} AND key = ? LIMIT 1"
_OBJ_GET_SEQ = f"SELECT {_OBJ_COLS}, inline {_OBJ_WHERE} AND key = ? AND seq = ?"
_OBJ_VERSIONS = f"SELECT {_OBJ_COLS}, inline {_OBJ_WHERE} AND key = ?"
_KEY_DELETE = "DELETE FROM objects WHERE bucket_id = ? AND shard = ? AND key = ?"
_OBJ_DELETE = _KEY_DELETE + " AND seq = ?"
_OBJ_DELETE_IF = _OBJ_DELETE + " IF etag = ? AND last_modified_ms = ? AND attrs = ?"
_OBJ_PARTS_FIRST = "SELECT DISTINCT bucket_id, shard FROM objects LIMIT ?"
_OBJ_PARTS_AFTER = (
    "SELECT DISTINCT bucket_id, shard FROM objects WHERE token(bucket_id, shard) > token(?, ?)"
    " LIMIT ?"
)


def _obj_scan(start_op: str, with_end: bool, with_inline: bool) -> str:
    cols = f"{_OBJ_COLS}, inline" if with_inline else _OBJ_COLS
    end = " AND key < ?" if with_end else ""
    return f"SELECT {cols} {_OBJ_WHERE} AND key {start_op} ?{end} LIMIT ?"


def _obj_older(with_inline: bool) -> str:
    cols = f"{_OBJ_COLS}, inline" if with_inline else _OBJ_COLS
    return f"SELECT {cols} {_OBJ_WHERE} AND key = ? AND seq < ? LIMIT ?"


# -- manifests: PRIMARY KEY (manifest_id, offset) -----------------------------------------------
_MAN_PUT = (
    "INSERT INTO manifests (manifest_id, offset, length, block_id, child) VALUES (?, ?, ?, ?, ?)"
)
_MAN_FLOOR = (
    "SELECT offset FROM manifests WHERE manifest_id = ? AND offset <= ? "
    "ORDER BY offset DESC LIMIT 1"
)
_MAN_FROM = (
    "SELECT offset, length, block_id, child FROM manifests "
    "WHERE manifest_id = ? AND offset >= ? LIMIT ?"
)
_MAN_DELETE = "DELETE FROM manifests WHERE manifest_id = ?"
_MAN_IDS_FIRST = "SELECT DISTINCT manifest_id FROM manifests LIMIT ?"
_MAN_IDS_AFTER = (
    "SELECT DISTINCT manifest_id FROM manifests WHERE token(manifest_id) > token(?) LIMIT ?"
)
# Rows per unlogged batch: one partition, so the batch is one mutation; a few hundred small rows
# stay far below the mutation size limit.
_MAN_BATCH_ROWS = 250

# -- uploads: PRIMARY KEY (bucket_id, key, upload_id) -------------------------------------------
_UP_COLS = "key, upload_id, initiated_ms, owner, headers, checksum_algorithm, attrs"
_UP_PUT = f"INSERT INTO uploads (bucket_id, {_UP_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_UP_GET = f"SELECT {_UP_COLS} FROM uploads WHERE bucket_id = ? AND key = ? AND upload_id = ?"
_UP_DELETE = "DELETE FROM uploads WHERE bucket_id = ? AND key = ? AND upload_id = ?"
_UP_SCAN_FIRST = f"SELECT {_UP_COLS} FROM uploads WHERE bucket_id = ? LIMIT ?"
_UP_SCAN_AFTER = (
    f"SELECT {_UP_COLS} FROM uploads WHERE bucket_id = ? AND (key, upload_id) > (?, ?) LIMIT ?"
)
_UP_BUCKETS_FIRST = "SELECT DISTINCT bucket_id FROM uploads LIMIT ?"
_UP_BUCKETS_AFTER = (
    "SELECT DISTINCT bucket_id FROM uploads WHERE token(bucket_id) > token(?) LIMIT ?"
)

# -- parts: PRIMARY KEY (upload_id, part_number) ------------------------------------------------
_PART_COLS = "part_number, size, etag, last_modified_ms, manifest_id, checksums"
_PART_PUT = f"INSERT INTO parts (upload_id, {_PART_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
_PART_LIST = f"SELECT {_PART_COLS} FROM parts WHERE upload_id = ? AND part_number > ? LIMIT ?"
_PART_DELETE_ALL = "DELETE FROM parts WHERE upload_id = ?"

# -- gc_intents: PRIMARY KEY (intent_id), every row with a TTL (schema/cassandra/0002) ---------
_INTENT_PUT = (
    "INSERT INTO gc_intents (intent_id, started_ms, expires_ms) VALUES (?, ?, ?) USING TTL ?"
)
_INTENT_DELETE = "DELETE FROM gc_intents WHERE intent_id = ?"
_INTENT_ALL = "SELECT intent_id, started_ms, expires_ms FROM gc_intents"
# The TTL counts from the replica's clock: this much beyond expires_ms covers clock skew, so
# the row never vanishes before the time it names.
_INTENT_TTL_SLACK_SECONDS = 60

# -- leases: PRIMARY KEY (lease_id), every row with a TTL (schema/cassandra/0004) -------------
_LEASE_TAKE = "INSERT INTO leases (lease_id, holder) VALUES (?, ?) IF NOT EXISTS USING TTL ?"
_LEASE_EXTEND = "UPDATE leases USING TTL ? SET holder = ? WHERE lease_id = ? IF holder = ?"
_LEASE_GET = "SELECT holder FROM leases WHERE lease_id = ?"
_LEASE_RELEASE = "DELETE FROM leases WHERE lease_id = ? IF holder = ?"


class CassandraMeta:
    """The MetaStore protocol over the prepared statements above."""

    def __init__(self, db: Db) -> None:
        self._db = db
        p = db.prepare
        self._bucket_update = p(_BUCKET_UPDATE)
        self._bucket_insert_new = p(_BUCKET_INSERT_NEW)
        self._bucket_get = p(_BUCKET_GET)
        self._bucket_get_serial = p(_BUCKET_GET, serial=True)
        self._bucket_delete = p(_BUCKET_DELETE)
        self._bucket_mark_get = p(_BUCKET_MARK_GET)
        self._bucket_mark_get_serial = p(_BUCKET_MARK_GET, serial=True)
        self._bucket_mark_set = p(_BUCKET_MARK_SET)
        self._bucket_delete_marked = p(_BUCKET_DELETE_MARKED)
        self._bucket_first = p(_BUCKET_FIRST)
        self._bucket_after = p(_BUCKET_AFTER)
        self._owner_put = p(_OWNER_PUT)
        self._owner_delete = p(_OWNER_DELETE)
        self._owner_list = p(_OWNER_LIST)
        self._obj_put = p(_OBJ_PUT)
        self._obj_get_newest = p(_OBJ_GET_NEWEST)
        self._obj_get_seq = p(_OBJ_GET_SEQ)
        self._obj_get_seq_serial = p(_OBJ_GET_SEQ, serial=True)
        self._obj_put_new = p(_OBJ_PUT_NEW)
        self._obj_put_if = p(_OBJ_PUT_IF)
        self._obj_versions = p(_OBJ_VERSIONS)
        self._obj_delete = p(_OBJ_DELETE)
        self._key_delete = p(_KEY_DELETE)
        self._obj_delete_if = p(_OBJ_DELETE_IF)
        self._obj_parts_first = p(_OBJ_PARTS_FIRST)
        self._obj_parts_after = p(_OBJ_PARTS_AFTER)
        self._up_buckets_first = p(_UP_BUCKETS_FIRST)
        self._up_buckets_after = p(_UP_BUCKETS_AFTER)
        self._lease_take = p(_LEASE_TAKE)
        self._lease_extend = p(_LEASE_EXTEND)
        self._lease_get_serial = p(_LEASE_GET, serial=True)
        self._lease_release = p(_LEASE_RELEASE)
        self._obj_scan = {
            (op, end, inline): p(_obj_scan(op, end, inline))
            for op in (">=", ">")
            for end in (False, True)
            for inline in (False, True)
        }
        self._obj_older = {inline: p(_obj_older(inline)) for inline in (False, True)}
        self._man_put = p(_MAN_PUT)
        self._man_floor = p(_MAN_FLOOR)
        self._man_from = p(_MAN_FROM)
        self._man_delete = p(_MAN_DELETE)
        self._man_ids_first = p(_MAN_IDS_FIRST)
        self._man_ids_after = p(_MAN_IDS_AFTER)
        self._up_put = p(_UP_PUT)
        self._up_get = p(_UP_GET)
        self._up_delete = p(_UP_DELETE)
        self._up_scan_first = p(_UP_SCAN_FIRST)
        self._up_scan_after = p(_UP_SCAN_AFTER)
        self._part_put = p(_PART_PUT)
        self._part_list = p(_PART_LIST)
        self._part_delete_all = p(_PART_DELETE_ALL)
        self._intent_put = p(_INTENT_PUT)
        self._intent_delete = p(_INTENT_DELETE)
        self._intent_all = p(_INTENT_ALL)
        self._completions = CassandraCompletions(db)

    # -- buckets --------------------------------------------------------------------------------
    async def insert_bucket(self, rec: BucketRecord) -> bool:
        async def won() -> bool | None:
            rows = await self._db.rows(self._bucket_get_serial, (rec.name,))
            # The bucket id is random, so the row itself says whose insert it is.
            return bool(rows[0]["bucket_id"] == rec.bucket_id) if rows else None

        return await self._lwt(self._bucket_insert_new, _bucket_params(rec), won)

    async def _lwt(
        self, stmt: Any, params: Sequence[object], outcome: Callable[[], Awaitable[bool | None]]
    ) -> bool:
        """Run a lightweight transaction; True if applied.

        A contended LWT can time out with its outcome unknown. Then `outcome` reads the row
        back through Paxos (a serial read completes any proposal in flight) and says whether
        this call's write is there (True), another one is (False), or nothing happened yet
        (None: try again).
        """
        for _ in range(3):
            try:
                return await self._db.applied(stmt, params)
            except StoreTimeout:
                pass
            decided = await outcome()
            if decided is not None:
                return decided
        raise StoreTimeout("lightweight transaction kept timing out under contention")

    async def get_bucket(self, name: str) -> BucketRecord | None:
        rows = await self._db.rows(self._bucket_get, (name,))
        return _bucket(rows[0]) if rows else None

    async def update_bucket(self, rec: BucketRecord) -> None:
        await self._db.run(self._bucket_update, (*_bucket_params(rec)[1:], rec.name))

    async def delete_bucket(self, name: str) -> None:
        await self._db.run(self._bucket_delete, (name,))

    async def get_bucket_mark(self, name: str) -> tuple[str, str] | None:
        rows = await self._db.rows(self._bucket_mark_get, (name,))
        return (rows[0]["bucket_id"], rows[0]["deleting"] or "") if rows else None

    async def _bucket_mark_serial(self, name: str) -> tuple[str, str] | None:
        rows = await self._db.rows(self._bucket_mark_get_serial, (name,))
        return (rows[0]["bucket_id"], rows[0]["deleting"] or "") if rows else None

    async def set_bucket_mark(self, name: str, bucket_id: str, mark: str, expected: str) -> bool:
        async def won() -> bool | None:
            now = await self._bucket_mark_serial(name)
            if now == (bucket_id, mark):
                return True
            return None if now == (bucket_id, expected) else False

        params = (mark or None, name, bucket_id, expected or None)
        return await self._lwt(self._bucket_mark_set, params, won)

    async def delete_bucket_marked(self, name: str, mark: str) -> bool:
        if not mark:
            return False

        async def won() -> bool | None:
            now = await self._bucket_mark_serial(name)
            # Gone: this call's delete (only the holder of the mark deletes the row).
            return True if now is None else (None if now[1] == mark else False)

        return await self._lwt(self._bucket_delete_marked, (name, mark), won)

    async def list_buckets(self, after: str, limit: int) -> list[BucketRecord]:
        if limit <= 0:
            return []
        if after:
            rows = await self._db.rows(self._bucket_after, (after, limit))
        else:
            rows = await self._db.rows(self._bucket_first, (limit,))
        return [_bucket(r) for r in rows]

    # -- buckets by owner -----------------------------------------------------------------------
    async def put_owner_bucket(self, row: OwnerBucket) -> None:
        await self._db.run(self._owner_put, (row.owner, row.name, row.created_ms))

    async def delete_owner_bucket(self, owner: str, name: str) -> None:
        await self._db.run(self._owner_delete, (owner, name))

    async def list_owner_buckets(self, owner: str) -> list[OwnerBucket]:
        rows = await self._db.rows(self._owner_list, (owner,))
        return [OwnerBucket(r["owner"], r["name"], r["created_ms"]) for r in rows]

    # -- object index ---------------------------------------------------------------------------
    async def put_object(self, bucket_id: str, shard: int, rec: ObjectRecord) -> None:
        await self._db.run(self._obj_put, _object_params(bucket_id, shard, rec))

    async def put_object_if(
        self, bucket_id: str, shard: int, rec: ObjectRecord, expected: ObjectRecord | None
    ) -> bool:
        row = _object_params(bucket_id, shard, rec)
        if expected is None:
            stmt, params = self._obj_put_new, row
        else:
            # UPDATE takes the key columns last, then the condition's values.
            stmt = self._obj_put_if
            params = (
                *row[4:],
                *row[:4],
                expected.etag,
                expected.last_modified_ms,
                dict(expected.attrs),
            )

        def state(r: ObjectRecord | None) -> tuple[str, int, dict[str, str]] | None:
            return None if r is None else (r.etag, r.last_modified_ms, dict(r.attrs))

        async def won() -> bool | None:
            found = await self._db.rows(
                self._obj_get_seq_serial, (bucket_id, shard, rec.key, rec.seq)
            )
            now = state(_object(found[0])) if found else None
            if now == state(rec):
                return True
            return None if now == state(expected) else False

        return await self._lwt(stmt, params, won)

    async def get_object(
        self, bucket_id: str, shard: int, key: str, seq: int | None = None
    ) -> ObjectRecord | None:
        if seq is None:
            rows = await self._db.rows(self._obj_get_newest, (bucket_id, shard, key))
        else:
            rows = await self._db.rows(self._obj_get_seq, (bucket_id, shard, key, seq))
        return _object(rows[0]) if rows else None

    async def get_object_by_version(
        self, bucket_id: str, shard: int, key: str, version_id: str
    ) -> ObjectRecord | None:
        rows = await self._db.rows(self._obj_versions, (bucket_id, shard, key))
        return next((_object(r) for r in rows if r["version_id"] == version_id), None)

    async def scan_objects(
        self,
        bucket_id: str,
        shard: int,
        *,
        start_key: str = "",
        start_exclusive: bool = False,
        after_seq: int | None = None,
        end_key: str | None = None,
        limit: int,
        with_inline: bool = False,
    ) -> list[ObjectRecord]:
        if limit <= 0 or (end_key is not None and start_key >= end_key):
            return []
        rows: list[Row] = []
        if after_seq is not None:
            # The rest of start_key's versions first, then the keys after it.
            older = self._obj_older[with_inline]
            rows = await self._db.rows(older, (bucket_id, shard, start_key, after_seq, limit))
            start_exclusive = True
        if len(rows) < limit:
            op = ">" if start_exclusive else ">="
            stmt = self._obj_scan[(op, end_key is not None, with_inline)]
            bounds = (start_key,) if end_key is None else (start_key, end_key)
            rows += await self._db.rows(stmt, (bucket_id, shard, *bounds, limit - len(rows)))
        return [_object(r) for r in rows]

    # One partition per shard: `scan_bucket` reads `limit` rows of each (`merge_shards`), so
    # listings page the shards themselves, reading about what a page needs.
    max_merged_shards = 0

    async def scan_bucket(
        self,
        bucket_id: str,
        shards: int,
        *,
        start_key: str = "",
        start_exclusive: bool = False,
        after_seq: int | None = None,
        end_key: str | None = None,
        limit: int,
    ) -> list[ObjectRecord]:
        return await merge_shards(
            self.scan_objects, bucket_id, shards, start_key=start_key,
            start_exclusive=start_exclusive, after_seq=after_seq, end_key=end_key, limit=limit,
        )  # fmt: skip

    async def delete_object(self, bucket_id: str, shard: int, key: str, seq: int) -> None:
        await self._db.run(self._obj_delete, (bucket_id, shard, key, seq))

    async def delete_key_rows(self, bucket_id: str, shard: int, key: str) -> None:
        # A range tombstone over the key's clustering prefix: one statement, no read first.
        await self._db.run(self._key_delete, (bucket_id, shard, key))

    async def delete_object_if(self, bucket_id: str, shard: int, expected: ObjectRecord) -> bool:
        key = (bucket_id, shard, expected.key, expected.seq)

        async def won() -> bool | None:
            found = await self._db.rows(self._obj_get_seq_serial, key)
            if not found:
                return True  # gone: ours, or a delete of the same row that raced it
            now = _object(found[0])
            same = (now.etag, now.last_modified_ms, dict(now.attrs)) == (
                expected.etag,
                expected.last_modified_ms,
                dict(expected.attrs),
            )
            return None if same else False

        # attrs too, as put_object_if: a legal hold set after `expected` was read stops it.
        params = (*key, expected.etag, expected.last_modified_ms, dict(expected.attrs))
        return await self._lwt(self._obj_delete_if, params, won)

    async def list_object_partitions(
        self, after: tuple[str, int] | None, limit: int
    ) -> list[tuple[str, int]]:
        if limit <= 0:
            return []
        if after is None:
            rows = await self._db.rows(self._obj_parts_first, (limit,))
        else:
            rows = await self._db.rows(self._obj_parts_after, (*after, limit))
        return [(r["bucket_id"], r["shard"]) for r in rows]

    # -- manifests ------------------------------------------------------------------------------
    async def put_manifest(self, manifest_id: str, entries: Sequence[ManifestEntry]) -> None:
        for i in range(0, len(entries), _MAN_BATCH_ROWS):
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for e in entries[i : i + _MAN_BATCH_ROWS]:
                batch.add(self._man_put, (manifest_id, e.offset, e.length, e.block_id, e.child))
            await self._db.run(batch)

    async def get_manifest(
        self, manifest_id: str, from_offset: int = 0, limit: int = 1000
    ) -> list[ManifestEntry]:
        start = 0
        if from_offset > 0:
            floor = await self._db.rows(self._man_floor, (manifest_id, from_offset))
            start = floor[0]["offset"] if floor else from_offset
        rows = await self._db.rows(self._man_from, (manifest_id, start, limit))
        return [ManifestEntry(r["offset"], r["length"], r["block_id"], r["child"]) for r in rows]

    async def delete_manifest(self, manifest_id: str) -> None:
        await self._db.run(self._man_delete, (manifest_id,))

    async def list_manifest_ids(self, after: str, limit: int) -> list[str]:
        if after:
            rows = await self._db.rows(self._man_ids_after, (after, limit))
        else:
            rows = await self._db.rows(self._man_ids_first, (limit,))
        return [r["manifest_id"] for r in rows]

    # -- multipart uploads ----------------------------------------------------------------------
    async def put_upload(self, bucket_id: str, rec: UploadRecord) -> None:
        await self._db.run(
            self._up_put,
            (
                bucket_id, rec.key, rec.upload_id, rec.initiated_ms, rec.owner,
                dict(rec.headers), rec.checksum_algorithm, dict(rec.attrs),
            ),
        )  # fmt: skip

    async def get_upload(self, bucket_id: str, key: str, upload_id: str) -> UploadRecord | None:
        rows = await self._db.rows(self._up_get, (bucket_id, key, upload_id))
        return _upload(rows[0]) if rows else None

    async def delete_upload(self, bucket_id: str, key: str, upload_id: str) -> None:
        await self._db.run(self._up_delete, (bucket_id, key, upload_id))

    async def scan_uploads(
        self, bucket_id: str, *, after_key: str = "", after_upload_id: str = "", limit: int
    ) -> list[UploadRecord]:
        if limit <= 0:
            return []
        if after_key or after_upload_id:
            params: tuple[object, ...] = (bucket_id, after_key, after_upload_id, limit)
            rows = await self._db.rows(self._up_scan_after, params)
        else:
            rows = await self._db.rows(self._up_scan_first, (bucket_id, limit))
        return [_upload(r) for r in rows]

    async def list_upload_buckets(self, after: str, limit: int) -> list[str]:
        if limit <= 0:
            return []
        if after:
            rows = await self._db.rows(self._up_buckets_after, (after, limit))
        else:
            rows = await self._db.rows(self._up_buckets_first, (limit,))
        return [r["bucket_id"] for r in rows]

    # -- parts ----------------------------------------------------------------------------------
    async def put_part(self, upload_id: str, rec: PartRecord) -> None:
        await self._db.run(
            self._part_put,
            (
                upload_id, rec.part_number, rec.size, rec.etag, rec.last_modified_ms,
                rec.manifest_id, dict(rec.checksums),
            ),
        )  # fmt: skip

    async def list_parts(
        self, upload_id: str, after: int = 0, limit: int = 10000
    ) -> list[PartRecord]:
        if limit <= 0:
            return []
        rows = await self._db.rows(self._part_list, (upload_id, after, limit))
        return [
            PartRecord(
                part_number=r["part_number"],
                size=r["size"],
                etag=r["etag"],
                last_modified_ms=r["last_modified_ms"],
                manifest_id=r["manifest_id"],
                checksums=_map(r["checksums"]),
            )
            for r in rows
        ]

    async def delete_parts(self, upload_id: str) -> None:
        await self._db.run(self._part_delete_all, (upload_id,))

    # -- completed uploads (s3front.store.cassandra.completions) ----------------------------------
    async def put_completion(self, bucket_id: str, rec: CompletionRecord) -> None:
        await self._completions.put(bucket_id, rec)

    async def get_completion(
        self, bucket_id: str, key: str, upload_id: str
    ) -> CompletionRecord | None:
        return await self._completions.get(bucket_id, key, upload_id)

    # -- write intents --------------------------------------------------------------------------
    async def put_intent(self, rec: IntentRecord) -> None:
        ttl = max(1, -(-(rec.expires_ms - clock.now_ms()) // 1000)) + _INTENT_TTL_SLACK_SECONDS
        params = (rec.intent_id, rec.started_ms, rec.expires_ms, ttl)
        await self._db.run(self._intent_put, params)

    async def delete_intent(self, intent_id: str) -> None:
        await self._db.run(self._intent_delete, (intent_id,))

    async def list_intents(self) -> list[IntentRecord]:
        rows = await self._db.rows(self._intent_all)
        return [IntentRecord(r["intent_id"], r["started_ms"], r["expires_ms"]) for r in rows]

    # -- leases ---------------------------------------------------------------------------------
    async def take_lease(self, lease_id: str, holder: str, ttl_seconds: int) -> bool:
        async def won() -> bool | None:
            rows = await self._db.rows(self._lease_get_serial, (lease_id,))
            return bool(rows and rows[0]["holder"] == holder)

        ttl = max(1, int(ttl_seconds))
        if await self._lwt(self._lease_take, (lease_id, holder, ttl), won):
            return True
        # Held: by this holder (extend it) or another (the condition fails).
        return await self._lwt(self._lease_extend, (ttl, holder, lease_id, holder), won)

    async def release_lease(self, lease_id: str, holder: str) -> None:
        await self._db.run(self._lease_release, (lease_id, holder))


# -- rows -> records ----------------------------------------------------------------------------
def _map(value: Any) -> dict[str, str]:
    return dict(value) if value else {}


def _bucket_params(rec: BucketRecord) -> tuple[object, ...]:
    return (
        rec.name, rec.bucket_id, rec.owner, rec.created_ms, rec.region, rec.shards,
        rec.versioning, dict(rec.attrs),
    )  # fmt: skip


def _object_params(bucket_id: str, shard: int, rec: ObjectRecord) -> tuple[object, ...]:
    """Values in _OBJ_PUT's order: the primary key first, inline last."""
    return (
        bucket_id, shard, rec.key, rec.seq, rec.version_id, rec.size, rec.etag,
        rec.last_modified_ms, rec.owner, rec.manifest_id, rec.delete_marker,
        dict(rec.headers), dict(rec.checksums), rec.parts, dict(rec.attrs), rec.inline,
    )  # fmt: skip


def _bucket(r: Row) -> BucketRecord:
    return BucketRecord(
        name=r["name"],
        bucket_id=r["bucket_id"],
        owner=r["owner"],
        created_ms=r["created_ms"],
        region=r["region"],
        shards=r["shards"],
        versioning=r["versioning"] or "",
        attrs=_map(r["attrs"]),
    )


def _object(r: Row) -> ObjectRecord:
    return ObjectRecord(
        key=r["key"],
        seq=r["seq"],
        version_id=r["version_id"],
        size=r["size"],
        etag=r["etag"],
        last_modified_ms=r["last_modified_ms"],
        owner=r["owner"],
        manifest_id=r["manifest_id"],
        inline=r.get("inline"),
        delete_marker=bool(r["delete_marker"]),
        headers=_map(r["headers"]),
        checksums=_map(r["checksums"]),
        parts=r["parts"] or 0,
        attrs=_map(r["attrs"]),
    )


def _upload(r: Row) -> UploadRecord:
    return UploadRecord(
        key=r["key"],
        upload_id=r["upload_id"],
        initiated_ms=r["initiated_ms"],
        owner=r["owner"],
        headers=_map(r["headers"]),
        checksum_algorithm=r["checksum_algorithm"] or "",
        attrs=_map(r["attrs"]),
    )
