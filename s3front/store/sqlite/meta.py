"""The SQLite metadata tables: buckets, the object index, manifests, uploads and parts, write
intents and leases (the MetaStore protocol)."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from s3front import clock
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
from s3front.store.sqlite.session import QUICK_SCAN, Db, Rows, first, names

BUCKETS = Rows("buckets", BucketRecord, names(BucketRecord))
_BUCKET_UPDATE = (
    "UPDATE buckets SET "
    + ", ".join(f"{f} = ?" for f in BUCKETS.fields if f != "name")
    + " WHERE name = ?"
)
OWNER_BUCKETS = Rows("owner_buckets", OwnerBucket, names(OwnerBucket))
OBJECTS = Rows("objects", ObjectRecord, names(ObjectRecord), "bucket_id, shard")
# Listings never need the bytes: select NULL in the inline column's place.
OBJECTS_NO_INLINE = OBJECTS.select.replace(" inline,", " NULL,")
# Nor, in a merged scan (only listings make those), the mappings: decoding them was about a
# fifth of a 100-key listing's CPU (boto3 stores a content-type and a CRC32 with every object).
_UNLISTED = {"inline": "NULL", "headers": "'{}'", "checksums": "'{}'", "attrs": "'{}'"}
OBJECTS_LISTED = "SELECT {} FROM objects".format(
    ", ".join(_UNLISTED.get(f, f) for f in OBJECTS.fields)
)


@functools.lru_cache(maxsize=256)
def _scan_sql(shards: int | None, cond: str, with_inline: bool) -> str:
    """The object-index scan `cond` (over :key, :seq, :end) in clustering order, up to :limit.

    shards None: within one shard (:bucket, :shard). Otherwise over shards 0..shards-1 of
    :bucket merged: a compound SELECT with one arm per shard, each an ordered range of the
    primary key, which SQLite merges as it reads them (EXPLAIN QUERY PLAN: "MERGE (UNION ALL)",
    no sort) and stops at the limit. A 100-key listing page thus reads about 100 rows in one
    statement, where eight per-shard pages read 1.6 times as many in eight, and merged them in
    Python.
    """
    order = " ORDER BY key, seq DESC LIMIT :limit"
    if shards is None:
        select = OBJECTS.select if with_inline else OBJECTS_NO_INLINE
        return f"{select} WHERE bucket_id = :bucket AND shard = :shard AND {cond}{order}"
    select = OBJECTS_LISTED
    arms = (f"{select} WHERE bucket_id = :bucket AND shard = {s} AND {cond}" for s in range(shards))
    return " UNION ALL ".join(arms) + order


MANIFESTS = Rows("manifests", ManifestEntry, names(ManifestEntry), "manifest_id")
UPLOADS = Rows("uploads", UploadRecord, names(UploadRecord), "bucket_id")
PARTS = Rows("parts", PartRecord, names(PartRecord), "upload_id")
COMPLETIONS = Rows("completions", CompletionRecord, names(CompletionRecord), "bucket_id")
INTENTS = Rows("gc_intents", IntentRecord, names(IntentRecord))


def _distinct_after(c: sqlite3.Connection, sql: str, after: str, limit: int) -> list[str]:
    """Up to `limit` distinct values of a key column after `after`, one index seek each (`sql`
    selects the min of the column above a bound): SELECT DISTINCT would walk every row."""
    out: list[str] = []
    c.execute("BEGIN")  # one snapshot for the whole page
    try:
        while len(out) < limit:
            (next_id,) = c.execute(sql, (out[-1] if out else after,)).fetchall()[0]
            if next_id is None:
                break
            out.append(next_id)
    finally:
        c.execute("COMMIT")
    return out


class SqliteMeta:
    """MetaStore over the store's database."""

    def __init__(self, db: Db) -> None:
        self._db = db

    # -- buckets ----------------------------------------------------------------------------------
    async def insert_bucket(self, rec: BucketRecord) -> bool:
        sql = BUCKETS.insert + " ON CONFLICT DO NOTHING"
        return await self._db.exec(sql, BUCKETS.params(rec)) == 1

    async def get_bucket(self, name: str) -> BucketRecord | None:
        return first(BUCKETS, await self._db.point(BUCKETS.select + " WHERE name = ?", (name,)))

    async def update_bucket(self, rec: BucketRecord) -> None:
        # UPDATE, not REPLACE: a REPLACE would reset the deletion mark, which is not a field.
        name, *rest = BUCKETS.params(rec)
        await self._db.exec(_BUCKET_UPDATE, (*rest, name))

    async def delete_bucket(self, name: str) -> None:
        await self._db.exec("DELETE FROM buckets WHERE name = ?", (name,))

    async def get_bucket_mark(self, name: str) -> tuple[str, str] | None:
        rows = await self._db.point(
            "SELECT bucket_id, deleting FROM buckets WHERE name = ?", (name,)
        )
        return (rows[0][0], rows[0][1]) if rows else None

    async def set_bucket_mark(self, name: str, bucket_id: str, mark: str, expected: str) -> bool:
        sql = "UPDATE buckets SET deleting = ? WHERE name = ? AND bucket_id = ? AND deleting = ?"
        return await self._db.exec(sql, (mark, name, bucket_id, expected)) == 1

    async def delete_bucket_marked(self, name: str, mark: str) -> bool:
        sql = "DELETE FROM buckets WHERE name = ? AND deleting = ? AND deleting != ''"
        return await self._db.exec(sql, (name, mark)) == 1

    async def list_buckets(self, after: str, limit: int) -> list[BucketRecord]:
        sql = BUCKETS.select + " WHERE name > ? ORDER BY name LIMIT ?"
        return [BUCKETS.load(r) for r in await self._db.rows(sql, (after, limit))]

    async def put_owner_bucket(self, row: OwnerBucket) -> None:
        await self._db.exec(OWNER_BUCKETS.replace, OWNER_BUCKETS.params(row))

    async def delete_owner_bucket(self, owner: str, name: str) -> None:
        await self._db.exec("DELETE FROM owner_buckets WHERE owner = ? AND name = ?", (owner, name))

    async def list_owner_buckets(self, owner: str) -> list[OwnerBucket]:
        sql = OWNER_BUCKETS.select + " WHERE owner = ? ORDER BY name"
        return [OWNER_BUCKETS.load(r) for r in await self._db.rows(sql, (owner,))]

    # -- object index -----------------------------------------------------------------------------
    async def put_object(self, bucket_id: str, shard: int, rec: ObjectRecord) -> None:
        await self._db.exec_quick(OBJECTS.replace, OBJECTS.params(rec, bucket_id, shard))

    async def put_object_if(
        self, bucket_id: str, shard: int, rec: ObjectRecord, expected: ObjectRecord | None
    ) -> bool:
        def tx(c: sqlite3.Connection) -> bool:
            row = c.execute(
                "SELECT etag, last_modified_ms, attrs FROM objects"
                " WHERE bucket_id = ? AND shard = ? AND key = ? AND seq = ?",
                (bucket_id, shard, rec.key, rec.seq),
            ).fetchall()
            if expected is None:
                ok = not row
            else:
                # attrs too, as on Cassandra: attribute updates keep etag and time.
                ok = bool(row) and (row[0][0], row[0][1], json.loads(row[0][2])) == (
                    expected.etag,
                    expected.last_modified_ms,
                    dict(expected.attrs),
                )
            if ok:
                c.execute(OBJECTS.replace, OBJECTS.params(rec, bucket_id, shard))
            return ok

        return await self._db.tx(tx)

    async def get_object(
        self, bucket_id: str, shard: int, key: str, seq: int | None = None
    ) -> ObjectRecord | None:
        sql = OBJECTS.select + " WHERE bucket_id = ? AND shard = ? AND key = ?"
        if seq is None:
            # Clustering order is seq DESC: the first row of the key is its newest version.
            rows = await self._db.point(sql + " ORDER BY seq DESC LIMIT 1", (bucket_id, shard, key))
        else:
            rows = await self._db.point(sql + " AND seq = ?", (bucket_id, shard, key, seq))
        return first(OBJECTS, rows)

    async def get_object_by_version(
        self, bucket_id: str, shard: int, key: str, version_id: str
    ) -> ObjectRecord | None:
        sql = OBJECTS.select + (
            " WHERE bucket_id = ? AND shard = ? AND key = ? AND version_id = ?"
            " ORDER BY seq DESC LIMIT 1"
        )
        return first(OBJECTS, await self._db.point(sql, (bucket_id, shard, key, version_id)))

    # One compound SELECT of at most this many arms (SQLite allows 500; a bucket made with
    # more shards is merged by the listing, as on Cassandra).
    max_merged_shards = 64

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
        where = {"bucket": bucket_id, "shard": shard}
        bounds = (start_key, start_exclusive, after_seq, end_key)
        return await self._scan(None, where, bounds, limit, with_inline)

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
        if shards > self.max_merged_shards:  # more arms than one statement should have
            return await merge_shards(
                self.scan_objects, bucket_id, shards, start_key=start_key,
                start_exclusive=start_exclusive, after_seq=after_seq, end_key=end_key,
                limit=limit,
            )  # fmt: skip
        bounds = (start_key, start_exclusive, after_seq, end_key)
        return await self._scan(shards, {"bucket": bucket_id}, bounds, limit, False)

    async def _scan(
        self,
        shards: int | None,
        where: dict[str, Any],
        bounds: tuple[str, bool, int | None, str | None],
        limit: int,
        with_inline: bool,
    ) -> list[ObjectRecord]:
        start_key, start_exclusive, after_seq, end_key = bounds
        if limit <= 0:
            return []

        def scan(c: sqlite3.Connection) -> list[Any]:
            rows: list[Any] = []
            op = ">" if start_exclusive else ">="
            c.execute("BEGIN")  # both ranges from one snapshot
            try:
                if after_seq is not None:
                    # The rest of start_key's versions, then later keys: two index ranges,
                    # where one OR would make SQLite scan.
                    op = ">"
                    if end_key is None or start_key < end_key:
                        sql = _scan_sql(shards, "key = :key AND seq < :seq", with_inline)
                        params = {**where, "key": start_key, "seq": after_seq, "limit": limit}
                        rows = c.execute(sql, params).fetchall()
                if len(rows) < limit:
                    cond = f"key {op} :key" + ("" if end_key is None else " AND key < :end")
                    params = {**where, "key": start_key, "limit": limit - len(rows)}
                    if end_key is not None:
                        params["end"] = end_key
                    rows += c.execute(_scan_sql(shards, cond, with_inline), params).fetchall()
            finally:
                c.execute("COMMIT")
            return rows

        rows = await (self._db.quick(scan) if limit <= QUICK_SCAN else self._db.read(scan))
        return [OBJECTS.load(r) for r in rows]

    async def delete_object(self, bucket_id: str, shard: int, key: str, seq: int) -> None:
        sql = "DELETE FROM objects WHERE bucket_id = ? AND shard = ? AND key = ? AND seq = ?"
        await self._db.exec_quick(sql, (bucket_id, shard, key, seq))

    async def delete_key_rows(self, bucket_id: str, shard: int, key: str) -> None:
        sql = "DELETE FROM objects WHERE bucket_id = ? AND shard = ? AND key = ?"
        await self._db.exec_quick(sql, (bucket_id, shard, key))

    async def delete_object_if(self, bucket_id: str, shard: int, expected: ObjectRecord) -> bool:
        # attrs too, as put_object_if: a legal hold or retention set after `expected` was read
        # keeps etag and time, and must stop the removal.
        def tx(c: sqlite3.Connection) -> bool:
            where = " WHERE bucket_id = ? AND shard = ? AND key = ? AND seq = ?"
            key = (bucket_id, shard, expected.key, expected.seq)
            row = c.execute("SELECT etag, last_modified_ms, attrs FROM objects" + where, key)
            found = row.fetchall()
            ok = bool(found) and (found[0][0], found[0][1], json.loads(found[0][2])) == (
                expected.etag,
                expected.last_modified_ms,
                dict(expected.attrs),
            )
            if ok:
                c.execute("DELETE FROM objects" + where, key)
            return ok

        return await self._db.tx(tx)

    async def list_object_partitions(
        self, after: tuple[str, int] | None, limit: int
    ) -> list[tuple[str, int]]:
        sql = (
            "SELECT bucket_id, shard FROM objects WHERE (bucket_id, shard) > (?, ?)"
            " ORDER BY bucket_id, shard LIMIT 1"
        )

        def partitions(c: sqlite3.Connection) -> list[tuple[str, int]]:
            # One index seek per partition, as list_manifest_ids.
            out: list[tuple[str, int]] = []
            last = after or ("", -(2**62))
            c.execute("BEGIN")
            try:
                while len(out) < limit:
                    rows = c.execute(sql, out[-1] if out else last).fetchall()
                    if not rows:
                        break
                    out.append((rows[0][0], rows[0][1]))
            finally:
                c.execute("COMMIT")
            return out

        return await self._db.read(partitions)

    # -- manifests --------------------------------------------------------------------------------
    async def put_manifest(self, manifest_id: str, entries: Sequence[ManifestEntry]) -> None:
        rows = [MANIFESTS.params(e, manifest_id) for e in entries]
        await self._db.tx(lambda c: c.executemany(MANIFESTS.replace, rows).rowcount)

    async def get_manifest(
        self, manifest_id: str, from_offset: int = 0, limit: int = 1000
    ) -> list[ManifestEntry]:
        # Start at the entry containing from_offset: the largest offset <= from_offset (or the
        # first entry when there is none).
        sql = MANIFESTS.select + (
            " WHERE manifest_id = ?1 AND offset >= coalesce((SELECT max(offset) FROM manifests"
            " WHERE manifest_id = ?1 AND offset <= ?2), -1) ORDER BY offset LIMIT ?3"
        )
        params = (manifest_id, from_offset, limit)
        rows = await (self._db.point(sql, params) if limit <= 64 else self._db.rows(sql, params))
        return [MANIFESTS.load(r) for r in rows]

    async def delete_manifest(self, manifest_id: str) -> None:
        await self._db.exec("DELETE FROM manifests WHERE manifest_id = ?", (manifest_id,))

    async def list_manifest_ids(self, after: str, limit: int) -> list[str]:
        sql = "SELECT min(manifest_id) FROM manifests WHERE manifest_id > ?"
        return await self._db.read(lambda c: _distinct_after(c, sql, after, limit))

    # -- uploads and parts ------------------------------------------------------------------------
    async def put_upload(self, bucket_id: str, rec: UploadRecord) -> None:
        await self._db.exec(UPLOADS.replace, UPLOADS.params(rec, bucket_id))

    async def get_upload(self, bucket_id: str, key: str, upload_id: str) -> UploadRecord | None:
        sql = UPLOADS.select + " WHERE bucket_id = ? AND key = ? AND upload_id = ?"
        return first(UPLOADS, await self._db.point(sql, (bucket_id, key, upload_id)))

    async def delete_upload(self, bucket_id: str, key: str, upload_id: str) -> None:
        sql = "DELETE FROM uploads WHERE bucket_id = ? AND key = ? AND upload_id = ?"
        await self._db.exec(sql, (bucket_id, key, upload_id))

    async def scan_uploads(
        self, bucket_id: str, *, after_key: str = "", after_upload_id: str = "", limit: int
    ) -> list[UploadRecord]:
        sql = UPLOADS.select + (
            " WHERE bucket_id = ? AND (key, upload_id) > (?, ?) ORDER BY key, upload_id LIMIT ?"
        )
        rows = await self._db.rows(sql, (bucket_id, after_key, after_upload_id, limit))
        return [UPLOADS.load(r) for r in rows]

    async def list_upload_buckets(self, after: str, limit: int) -> list[str]:
        sql = "SELECT min(bucket_id) FROM uploads WHERE bucket_id > ?"
        return await self._db.read(lambda c: _distinct_after(c, sql, after, limit))

    async def put_part(self, upload_id: str, rec: PartRecord) -> None:
        await self._db.exec_quick(PARTS.replace, PARTS.params(rec, upload_id))

    async def list_parts(
        self, upload_id: str, after: int = 0, limit: int = 10000
    ) -> list[PartRecord]:
        sql = PARTS.select + " WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?"
        return [PARTS.load(r) for r in await self._db.rows(sql, (upload_id, after, limit))]

    async def delete_parts(self, upload_id: str) -> None:
        await self._db.exec("DELETE FROM parts WHERE upload_id = ?", (upload_id,))

    # -- completed uploads ------------------------------------------------------------------------
    async def put_completion(self, bucket_id: str, rec: CompletionRecord) -> None:
        # Expired rows are swept here, by the writes that add rows (an index range): the table
        # then holds about one retention period's completions, without a worker of its own.
        await self._db.exec("DELETE FROM completions WHERE expires_ms <= ?", (clock.now_ms(),))
        await self._db.exec(COMPLETIONS.replace, COMPLETIONS.params(rec, bucket_id))

    async def get_completion(
        self, bucket_id: str, key: str, upload_id: str
    ) -> CompletionRecord | None:
        sql = COMPLETIONS.select + " WHERE bucket_id = ? AND key = ? AND upload_id = ?"
        rec = first(COMPLETIONS, await self._db.point(sql, (bucket_id, key, upload_id)))
        return rec if rec is not None and rec.expires_ms > clock.now_ms() else None

    # -- write intents ----------------------------------------------------------------------------
    async def put_intent(self, rec: IntentRecord) -> None:
        # On the loop thread like the other one-row writes of a PUT: one per upload that writes
        # blocks, and one delete at its end.
        await self._db.exec_quick(INTENTS.replace, INTENTS.params(rec))

    async def delete_intent(self, intent_id: str) -> None:
        await self._db.exec_quick("DELETE FROM gc_intents WHERE intent_id = ?", (intent_id,))

    async def list_intents(self) -> list[IntentRecord]:
        return [INTENTS.load(r) for r in await self._db.rows(INTENTS.select, ())]

    # -- leases -----------------------------------------------------------------------------------
    async def take_lease(self, lease_id: str, holder: str, ttl_seconds: int) -> bool:
        def tx(c: sqlite3.Connection) -> bool:
            now = clock.now_ms()
            row = c.execute(
                "SELECT holder, expires_ms FROM leases WHERE lease_id = ?", (lease_id,)
            ).fetchall()
            if row and row[0][0] != holder and row[0][1] > now:
                return False
            c.execute(
                "REPLACE INTO leases (lease_id, holder, expires_ms) VALUES (?, ?, ?)",
                (lease_id, holder, now + ttl_seconds * 1000),
            )
            return True

        return await self._db.tx(tx)

    async def release_lease(self, lease_id: str, holder: str) -> None:
        sql = "DELETE FROM leases WHERE lease_id = ? AND holder = ?"
        await self._db.exec(sql, (lease_id, holder))
