"""The embedded store, opened strictly read-only: the source of a migration.

`open_sqlite` (s3front.store.sqlite) is no use here: it creates its directories and a scratch
directory for block writes, sets the journal mode and schema version, and every SQLite connection
in WAL mode, even one opened with `mode=ro`, creates the -wal and -shm files beside the database
and leaves them there. A migration must leave the source exactly as it found it (an operator may
still go back to it), so this reader:

  - opens the database with `immutable=1`: SQLite then takes no locks and writes no file at all;
  - refuses a store whose -wal file is not empty, because that means a server still has it open
    (or one died and the last commits are only in the WAL, which `immutable` would not read):
    stop the server -- a clean stop checkpoints and removes the WAL -- and run again;
  - reads block files by name and creates nothing;
  - remembers the database's size and modification time, so that `check_unchanged` can tell
    whether anything wrote to the store while the migration read it.

The table layout read here is the embedded store's on-disk format (the module docstring of
s3front.store.sqlite): columns named as the record fields, mappings as JSON text. Every query is
a range of the primary key, paged like the MetaStore scans, so memory stays bounded. It serves
the few read methods of the store protocols that the migration uses, with the same signatures,
so the copier reads any store the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import quote

from s3front.store.errors import StoreUnavailable
from s3front.store.records import (
    AccessKeyRecord,
    BucketRecord,
    ManifestEntry,
    ObjectRecord,
    PartRecord,
    UploadRecord,
)

T = TypeVar("T")

DB_NAME = "s3front.db"
# The embedded store's schema version this reader knows (s3front.store.sqlite.SCHEMA_VERSION;
# a test keeps them equal).
KNOWN_SCHEMA_VERSION = 1
_JSON = {"headers", "checksums", "attrs"}


class SourceInUse(StoreUnavailable):
    """The source store is open in a server (or was not closed cleanly), or changed meanwhile."""


def _columns(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


class _Table:
    """SELECT of one record type: the columns are the record's fields."""

    def __init__(self, table: str, cls: Callable[..., Any], fields: tuple[str, ...]) -> None:
        self.cls = cls
        self.fields = fields
        self.select = f"SELECT {', '.join(fields)} FROM {table}"
        self._json = [i for i, f in enumerate(fields) if f in _JSON]
        self._bool = [i for i, f in enumerate(fields) if f == "delete_marker"]

    def load(self, row: tuple[Any, ...]) -> Any:
        values = list(row)
        for i in self._json:
            values[i] = json.loads(values[i]) if values[i] else {}
        for i in self._bool:
            values[i] = bool(values[i])
        return self.cls(*values)


_BUCKETS = _Table("buckets", BucketRecord, _columns(BucketRecord))
_OBJECTS = _Table("objects", ObjectRecord, _columns(ObjectRecord))
_MANIFESTS = _Table("manifests", ManifestEntry, _columns(ManifestEntry))
_UPLOADS = _Table("uploads", UploadRecord, _columns(UploadRecord))
_PARTS = _Table("parts", PartRecord, _columns(PartRecord))
_KEYS = _Table("access_keys", AccessKeyRecord, _columns(AccessKeyRecord))


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns


class ReadOnlySqlite:
    """The read side of the store protocols over an embedded store directory; writes nothing.

    One connection, used from one thread: the migration reads one thing at a time from the
    source and spends its time writing to the target.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.db_path = os.path.join(path, DB_NAME)
        self.block_dir = os.path.join(path, "blocks")
        self._thread = ThreadPoolExecutor(1, "s3front-migrate-src")
        self._conn: sqlite3.Connection | None = None
        self._has_mark = True
        self._stamp: tuple[int, int] | None = None

    # -- opening and closing --------------------------------------------------------------------
    def _open(self) -> None:
        if not os.path.isdir(self.path):
            raise StoreUnavailable(f"no embedded store at {self.path}: not a directory")
        self._stamp = _stat(self.db_path)
        if self._stamp is None:
            raise StoreUnavailable(f"no embedded store at {self.path}: {DB_NAME} is missing")
        self._refuse_if_in_use()
        uri = f"file:{quote(os.path.abspath(self.db_path))}?immutable=1"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            columns = {r[1] for r in conn.execute("PRAGMA table_info(buckets)")}
        except sqlite3.DatabaseError as e:
            raise StoreUnavailable(f"cannot read the embedded store at {self.path}: {e}") from e
        if version > KNOWN_SCHEMA_VERSION or not {"buckets", "objects"} <= tables:
            conn.close()
            raise StoreUnavailable(
                f"{self.db_path} is not an embedded store this s3front can read "
                f"(schema version {version}, this version knows {KNOWN_SCHEMA_VERSION})"
            )
        # Databases made before bucket deletion marks have no such column (and no marks).
        self._has_mark = "deleting" in columns
        self._conn = conn

    def _refuse_if_in_use(self) -> None:
        wal = _stat(self.db_path + "-wal")
        if wal is not None and wal[0] > 0:
            raise SourceInUse(
                f"the embedded store at {self.path} is in use or was not closed cleanly "
                f"({DB_NAME}-wal is not empty): stop every server on it (a clean stop folds the "
                "WAL into the database), or start and stop one once after a crash, then migrate"
            )

    def check_unchanged(self) -> None:
        """Raise SourceInUse if the database was written since it was opened."""
        self._refuse_if_in_use()
        if _stat(self.db_path) != self._stamp:
            raise SourceInUse(
                f"the embedded store at {self.path} changed during the migration: stop every "
                "server on it and run the migration again (it resumes)"
            )

    async def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._thread, shut)
        self._thread.shutdown(wait=True)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._conn is None:
                raise StoreUnavailable("the source store is closed")
            try:
                return fn(self._conn)
            except sqlite3.DatabaseError as e:
                raise StoreUnavailable(f"cannot read the embedded store: {e}") from e

        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    async def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return await self._run(lambda c: c.execute(sql, params).fetchall())

    # -- the store's face: the migration reads src.meta / src.blocks / src.keys ------------------
    @property
    def meta(self) -> ReadOnlySqlite:
        return self

    @property
    def blocks(self) -> ReadOnlySqlite:
        return self

    @property
    def keys(self) -> ReadOnlySqlite:
        return self

    # -- reads ---------------------------------------------------------------------------------
    async def list_keys(self) -> list[AccessKeyRecord]:
        rows = await self._rows(_KEYS.select + " ORDER BY access_key", ())
        return [_KEYS.load(r) for r in rows]

    async def list_buckets(self, after: str, limit: int) -> list[BucketRecord]:
        sql = _BUCKETS.select + " WHERE name > ? ORDER BY name LIMIT ?"
        return [_BUCKETS.load(r) for r in await self._rows(sql, (after, limit))]

    async def get_bucket_mark(self, name: str) -> tuple[str, str] | None:
        mark = "deleting" if self._has_mark else "''"
        rows = await self._rows(f"SELECT bucket_id, {mark} FROM buckets WHERE name = ?", (name,))
        return (rows[0][0], rows[0][1] or "") if rows else None

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
        # The migration pages with (start_key, after_seq) only; end_key is not needed. Inline
        # bytes always come along: the copy needs them, and with_inline=False merely drops them.
        if end_key is not None:
            raise ValueError("end_key is not supported by the migration's reader")
        base = _OBJECTS.select + " WHERE bucket_id = ? AND shard = ?"
        order = " ORDER BY key, seq DESC LIMIT ?"

        def scan(c: sqlite3.Connection) -> list[tuple[Any, ...]]:
            rows: list[tuple[Any, ...]] = []
            op = ">" if start_exclusive else ">="
            if after_seq is not None:
                op = ">"
                params = (bucket_id, shard, start_key, after_seq, limit)
                rows = c.execute(base + " AND key = ? AND seq < ?" + order, params).fetchall()
            if len(rows) < limit:
                params2 = (bucket_id, shard, start_key, limit - len(rows))
                rows += c.execute(base + f" AND key {op} ?" + order, params2).fetchall()
            return rows

        records = [_OBJECTS.load(r) for r in await self._run(scan)]
        if not with_inline:
            records = [dataclasses.replace(r, inline=None) for r in records]
        return records

    async def get_manifest(
        self, manifest_id: str, from_offset: int = 0, limit: int = 1000
    ) -> list[ManifestEntry]:
        sql = _MANIFESTS.select + (
            " WHERE manifest_id = ?1 AND offset >= coalesce((SELECT max(offset) FROM manifests"
            " WHERE manifest_id = ?1 AND offset <= ?2), -1) ORDER BY offset LIMIT ?3"
        )
        rows = await self._rows(sql, (manifest_id, from_offset, limit))
        return [_MANIFESTS.load(r) for r in rows]

    async def scan_uploads(
        self, bucket_id: str, *, after_key: str = "", after_upload_id: str = "", limit: int
    ) -> list[UploadRecord]:
        sql = _UPLOADS.select + (
            " WHERE bucket_id = ? AND (key, upload_id) > (?, ?) ORDER BY key, upload_id LIMIT ?"
        )
        rows = await self._rows(sql, (bucket_id, after_key, after_upload_id, limit))
        return [_UPLOADS.load(r) for r in rows]

    async def list_parts(
        self, upload_id: str, after: int = 0, limit: int = 10000
    ) -> list[PartRecord]:
        sql = (
            _PARTS.select + " WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?"
        )
        return [_PARTS.load(r) for r in await self._rows(sql, (upload_id, after, limit))]

    async def get_block(self, block_id: bytes) -> bytes | None:
        h = block_id.hex()
        path = os.path.join(self.block_dir, h[:2], h)

        def read() -> bytes | None:
            try:
                with open(path, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return None

        try:
            return await asyncio.to_thread(read)
        except OSError as e:
            raise StoreUnavailable(f"cannot read block file {path}: {e}") from e


async def open_source(path: str) -> ReadOnlySqlite:
    """Open the embedded store directory `path` read-only (see the module docstring)."""
    src = ReadOnlySqlite(path)
    try:
        await asyncio.get_running_loop().run_in_executor(src._thread, src._open)
    except BaseException:
        await src.close()
        raise
    return src
