"""The embedded store: one SQLite database plus a content-addressed block directory.

`sqlite:///var/lib/s3front` names a directory (created if missing) laid out as

    s3front.db            the metadata tables, WAL mode (plus -wal and -shm beside it)
    blocks/ab/abcd...ef   one file per block, named by the hex SHA-256 of its bytes
    blocks/tmp/PID.RAND/  blocks being written by one open store of process PID

The tables mirror the Cassandra layout, with (partition, clustering) as the primary key and the
rows stored in key order (WITHOUT ROWID), so every scan is an index range:

    buckets        (name)                          the global bucket namespace
    owner_buckets  (owner, name)                   ListBuckets
    objects        (bucket_id, shard, key, seq DESC) the object index: newest version first
    manifests      (manifest_id, offset)           block / child-manifest entries
    blocks         (block_id)                      size and written_ms of each block file
    uploads        (bucket_id, key, upload_id)     multipart uploads in progress
    parts          (upload_id, part_number)        their parts
    completions    (bucket_id, key, upload_id)     completed uploads' results, for a while
    gc_intents     (intent_id)                     writes in progress, for GC (s3front.gc)
    leases         (lease_id)                      lifecycle worker leases (lifecycle_worker)
    access_keys    (access_key)

Mappings (headers, checksums, attrs) are JSON text. Keys are TEXT with SQLite's default BINARY
collation, which compares UTF-8 bytes: code point order, the same order Cassandra gives `text`.

Why block files and not BLOBs: measured on the development machine (2 cores, ext4, no fsync),
a 1 MiB block costs ~1.6 ms to write as a file and ~6.3 ms as a BLOB (the WAL writes it twice),
and reads ~90 us vs ~330 us. 4 KiB blocks are a little faster as BLOBs (104 vs 129 us) but
objects that small are stored inline in the object row anyway.

Durability: synchronous=NORMAL. In WAL mode a commit is then durable against a crash of the
process (the WAL is in the OS page cache, which survives the process) but not against power loss,
which may lose the last commits while leaving the database consistent. Process crashes are what
s3front's crash tests exercise and what a server mostly meets; FULL would fsync every commit.
Block files follow the same policy but are fsynced before their rename, so a block file that exists
is never torn.

Concurrency: sqlite3 calls block, so they run in threads. Writes go through one writer thread
and connection (SQLite allows one writer at a time anyway; queueing them in-process avoids
busy-waiting on the file lock) -- except the one-row writes of small PUTs and DELETEs, which
are tried on the event loop thread first (`_exec_quick`) -- and reads through a small pool of
threads, each with its own connection (WAL readers do not wait for the writer). Block file I/O
runs on threads of its own (a write waits in fsync; on the readers' threads, uploads starved
metadata reads): with 4 threads 1 MiB puts took ~2.5 ms and gets ~0.45 ms, against ~3.6-4 ms
and ~0.7-1.5 ms with everything on one thread. Point reads by primary key run on the event loop
thread itself (`_point`): ~20 us there, less than a hand-off to a thread and back. Several server
processes (`serve --workers`) may share the directory.
Another process (`s3front gc`) may open the same directory; busy_timeout makes the writers take
turns, and waiting longer raises StoreTimeout.

Permissions: the directory may hold access-key secrets in the clear (no master key; see
s3front.keys), so s3front creates its directories 0700 and its files 0600 whatever the umask
(the database is created before SQLite opens it, and SQLite gives -wal and -shm the database's
mode). Opening a store whose directory or database others can read logs a warning naming the
paths and modes; s3front does not chmod what it did not create, which may be deliberate.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import operator
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from s3front.config import MiB
from s3front.store.errors import StoreTimeout, StoreUnavailable
from s3front.store.records import (
    AccessKeyRecord,
    BlockInfo,
    BucketRecord,
    CompletionRecord,
    IntentRecord,
    ManifestEntry,
    ObjectRecord,
    OwnerBucket,
    PartRecord,
    UploadRecord,
)

T = TypeVar("T")
R = TypeVar("R")

DB_NAME = "s3front.db"
_DIR_MODE = 0o700
_FILE_MODE = 0o600
log = logging.getLogger("s3front.store")
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000
READERS = 4
FILE_THREADS = 8

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY, bucket_id TEXT NOT NULL, owner TEXT NOT NULL,
    created_ms INTEGER NOT NULL, region TEXT NOT NULL, shards INTEGER NOT NULL,
    versioning TEXT NOT NULL, attrs TEXT NOT NULL, deleting TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS owner_buckets (
    owner TEXT NOT NULL, name TEXT NOT NULL, created_ms INTEGER NOT NULL,
    PRIMARY KEY (owner, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
    bucket_id TEXT NOT NULL, shard INTEGER NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL,
    version_id TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    last_modified_ms INTEGER NOT NULL, owner TEXT NOT NULL, manifest_id TEXT, inline BLOB,
    delete_marker INTEGER NOT NULL, headers TEXT NOT NULL, checksums TEXT NOT NULL,
    parts INTEGER NOT NULL, attrs TEXT NOT NULL,
    PRIMARY KEY (bucket_id, shard, key, seq DESC)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manifests (
    manifest_id TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
    block_id BLOB, child TEXT,
    PRIMARY KEY (manifest_id, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (
    block_id BLOB PRIMARY KEY, size INTEGER NOT NULL, written_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    bucket_id TEXT NOT NULL, key TEXT NOT NULL, upload_id TEXT NOT NULL,
    initiated_ms INTEGER NOT NULL, owner TEXT NOT NULL, headers TEXT NOT NULL,
    checksum_algorithm TEXT NOT NULL, attrs TEXT NOT NULL,
    PRIMARY KEY (bucket_id, key, upload_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL,
    etag TEXT NOT NULL, last_modified_ms INTEGER NOT NULL, manifest_id TEXT NOT NULL,
    checksums TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS completions (
    bucket_id TEXT NOT NULL, key TEXT NOT NULL, upload_id TEXT NOT NULL,
    parts_digest TEXT NOT NULL, etag TEXT NOT NULL, version_id TEXT NOT NULL,
    expires_ms INTEGER NOT NULL, checksums TEXT NOT NULL, headers TEXT NOT NULL,
    PRIMARY KEY (bucket_id, key, upload_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS completions_expiry ON completions (expires_ms);
CREATE TABLE IF NOT EXISTS gc_intents (
    intent_id TEXT PRIMARY KEY, started_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
    lease_id TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS access_keys (
    access_key TEXT PRIMARY KEY, secret TEXT NOT NULL, tenant TEXT NOT NULL,
    display_name TEXT NOT NULL, created_ms INTEGER NOT NULL, status TEXT NOT NULL
) WITHOUT ROWID;
"""

# Scans of at most this many rows run on the event loop thread (a listing page per shard).
_QUICK_SCAN = 64
# One-row writes made on the event loop thread between two checkpoints on the writer thread
# (the loop-thread connection never checkpoints itself: a checkpoint fsyncs).
_CHECKPOINT_EVERY = 200
_CHECKPOINT_WAIT_MS = 1000
# A checkpoint lets the next write start the WAL over, but the file keeps the length it reached;
# beyond this, the write that starts it over truncates it (after a burst, or a checkpoint that
# had to wait), so the WAL on disk does not stay at its longest.
_WAL_KEEP_BYTES = 8 * MiB

# Primary SQLite result codes (the low byte of an extended code).
_TIMEOUT_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_UNAVAILABLE_CODES = {10, 11, 13, 14, 15, 26}  # IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB


def _js(m: Mapping[str, str]) -> str:
    return json.dumps(dict(m), separators=(",", ":"), sort_keys=True)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


JSON_FIELDS = {"attrs", "headers", "checksums"}
BOOL_FIELDS = {"delete_marker"}


class _Rows(Generic[R]):
    """How one record type maps to a table: columns named as the record's fields, after the
    partition columns that the protocol passes separately (bucket_id, shard, upload_id)."""

    def __init__(self, table: str, cls: Callable[..., R], fields: tuple[str, ...], keys: str = ""):
        self.cls, self.fields = cls, fields
        self.cols = ", ".join(fields)
        all_cols = [*filter(None, keys.split(", ")), *fields]
        marks = ", ".join("?" * len(all_cols))
        self.replace = f"REPLACE INTO {table} ({', '.join(all_cols)}) VALUES ({marks})"
        self.insert = f"INSERT INTO {table} ({', '.join(all_cols)}) VALUES ({marks})"
        self.select = f"SELECT {self.cols} FROM {table}"
        self._json_at = [i for i, f in enumerate(fields) if f in JSON_FIELDS]
        self._bool_at = [i for i, f in enumerate(fields) if f in BOOL_FIELDS]
        assert len(fields) > 1  # attrgetter of several names returns a tuple
        self._values = operator.attrgetter(*fields)

    def params(self, rec: R, *keys: Any) -> tuple[Any, ...]:
        # The converted columns by index, as in `load`: every small PUT writes a row.
        values = list(self._values(rec))
        for i in self._json_at:
            values[i] = _js(values[i]) if values[i] else "{}"
        return (*keys, *values)

    def load(self, row: Sequence[Any]) -> R:
        # Positional, with the few converted columns known by index: a listing loads
        # thousands of rows, and a kwargs dict per row was most of the cost.
        values = list(row)
        for i in self._json_at:
            v = values[i]
            values[i] = json.loads(v) if v != "{}" else {}  # most mappings are empty
        for i in self._bool_at:
            values[i] = bool(values[i])
        return self.cls(*values)


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


BUCKETS = _Rows("buckets", BucketRecord, _names(BucketRecord))
_BUCKET_UPDATE = (
    "UPDATE buckets SET "
    + ", ".join(f"{f} = ?" for f in BUCKETS.fields if f != "name")
    + " WHERE name = ?"
)
OWNER_BUCKETS = _Rows("owner_buckets", OwnerBucket, _names(OwnerBucket))
OBJECTS = _Rows("objects", ObjectRecord, _names(ObjectRecord), "bucket_id, shard")
# Listings never need the bytes: select NULL in the inline column's place.
OBJECTS_NO_INLINE = OBJECTS.select.replace(" inline,", " NULL,")
MANIFESTS = _Rows("manifests", ManifestEntry, _names(ManifestEntry), "manifest_id")
UPLOADS = _Rows("uploads", UploadRecord, _names(UploadRecord), "bucket_id")
PARTS = _Rows("parts", PartRecord, _names(PartRecord), "upload_id")
KEYS = _Rows("access_keys", AccessKeyRecord, _names(AccessKeyRecord))
COMPLETIONS = _Rows("completions", CompletionRecord, _names(CompletionRecord), "bucket_id")
INTENTS = _Rows("gc_intents", IntentRecord, _names(IntentRecord))


def _restart_checkpoint(conn: sqlite3.Connection) -> list[Any]:
    """Checkpoint the whole WAL so that the next write starts it over (on the writer thread).

    RESTART, not PASSIVE: writes keep arriving on the event loop threads, and a passive
    checkpoint chasing them never finds the WAL fully copied, so the WAL never starts over and
    grows without bound (measured: ~290 MB after 20,000 small PUTs). RESTART takes the write
    lock while it copies; a loop-thread write meanwhile fails at once and queues on the writer
    thread behind it. Waiting for the lock and for readers is bounded by the busy timeout; if
    that runs out, it has done what a passive checkpoint would have.
    """
    conn.execute(f"PRAGMA busy_timeout={_CHECKPOINT_WAIT_MS}")
    try:
        return conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
    finally:
        conn.execute("PRAGMA busy_timeout=0")


def _map_error(e: sqlite3.Error) -> Exception:
    code = getattr(e, "sqlite_errorcode", 0) & 0xFF
    if code in _TIMEOUT_CODES:
        return StoreTimeout(f"sqlite: {e}")
    if code in _UNAVAILABLE_CODES:
        return StoreUnavailable(f"sqlite: {e}")
    return e


class SqliteStore:
    """MetaStore, BlockStore and KeyStore over one directory (see the module docstring)."""

    def __init__(self, path: str, readers: int, busy_timeout_ms: int) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self.db_path = os.path.join(path, DB_NAME)
        self.block_dir = os.path.join(path, "blocks")
        # Each process writes its half-written blocks in its own directory, so that a process
        # opening the store (another server worker, `s3front gc`) clears only dead ones' files.
        self._tmp_root = os.path.join(self.block_dir, "tmp")
        self._tmp_dir = os.path.join(self._tmp_root, f"{os.getpid()}.{uuid.uuid4().hex[:8]}")
        self._local = threading.local()
        self._closed = False
        self._loop_writes = 0
        self._checkpointed_at = 0  # _loop_writes when the last checkpoint started
        self._checkpoint: asyncio.Future[list[Any]] | None = None
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._writer = ThreadPoolExecutor(1, "s3front-sqlite-w")
        # readers=0: everything on the writer thread (kept for measurements).
        self._readers = ThreadPoolExecutor(readers, "s3front-sqlite-r") if readers else self._writer
        # Block files get threads of their own: a write waits in fsync, and with the files on
        # the readers' threads, a few concurrent uploads left no thread for metadata reads.
        self._files = (
            ThreadPoolExecutor(FILE_THREADS, "s3front-sqlite-f") if readers else self._writer
        )

    # -- plumbing -----------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (threads belong to one store, so one attribute suffices)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect(self._busy_timeout_ms)
        return conn

    def _connect(self, busy_timeout_ms: int, *pragmas: str) -> sqlite3.Connection:
        # isolation_level=None: autocommit; multi-statement writes say BEGIN themselves.
        # check_same_thread=False only so that close() can close it from another thread.
        conn = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False)
        settings = ("synchronous=NORMAL", f"journal_size_limit={_WAL_KEEP_BYTES}")
        for pragma in (f"busy_timeout={busy_timeout_ms}", *settings, *pragmas):
            conn.execute(f"PRAGMA {pragma}")
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    async def _run(self, pool: ThreadPoolExecutor, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreUnavailable("sqlite store is closed")

        def call(fn: Callable[[sqlite3.Connection], T]) -> T:
            try:
                return fn(self._conn())
            except sqlite3.Error as e:
                raise _map_error(e) from e

        runner = self._call_writer if pool is self._writer else call
        return await asyncio.get_running_loop().run_in_executor(pool, runner, fn)

    def _call_writer(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """fn on the writer's connection, waiting for another process's write lock in short
        steps. SQLite's own busy handler sleeps 1, 2, 5, 10, 15... ms between attempts; with
        two server processes writing small objects, that made p99 latencies several times
        longer than polling every 0.1-2 ms does. A failed attempt changed nothing (BUSY comes
        from BEGIN IMMEDIATE or the first write of an autocommit statement), so it is retried.
        """
        conn = self._conn()
        if not getattr(self._local, "polls_busy", False):
            conn.execute("PRAGMA busy_timeout=0")
            self._local.polls_busy = True
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        delay = 0.0001
        while True:
            try:
                return fn(conn)
            except sqlite3.Error as e:
                code = getattr(e, "sqlite_errorcode", 0) & 0xFF
                if code not in _TIMEOUT_CODES or time.monotonic() + delay > deadline:
                    raise _map_error(e) from e
            time.sleep(delay)
            delay = min(delay * 2, 0.002)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(self._readers, fn)

    async def _rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        # fetchall, always: a half-read cursor keeps its read transaction (and old snapshot) open.
        return await self._run(self._readers, lambda c: c.execute(sql, params).fetchall())

    async def _point(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """A point read (a few rows by primary key), on the event loop thread (`_quick`)."""
        return await self._quick(lambda c: c.execute(sql, params).fetchall())

    async def _quick(
        self, fn: Callable[[sqlite3.Connection], T], fallback: ThreadPoolExecutor | None = None
    ) -> T:
        """A short read (a point read, a scan of a few dozen rows) on the calling thread.

        Such a read takes ~10-100 us, less than the hand-off to a reader thread and back costs,
        and a WAL reader never waits for a writer. The loop-thread connection has no busy
        timeout: in the rare case that it would have to wait (another process recovering the
        WAL), the read goes to a reader thread instead (or to `fallback`: the writer thread for
        `_exec_quick`'s writes), so the loop never blocks on a lock.
        """
        if self._closed:
            raise StoreUnavailable("sqlite store is closed")
        try:
            return fn(self._loop_conn())
        except sqlite3.OperationalError as e:
            if getattr(e, "sqlite_errorcode", 0) & 0xFF not in _TIMEOUT_CODES:
                raise _map_error(e) from e
        except sqlite3.Error as e:
            raise _map_error(e) from e
        return await self._run(self._readers if fallback is None else fallback, fn)

    def _loop_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "loop_conn", None)
        if conn is None:
            # No busy timeout (see _quick) and no checkpoints on commit (see _exec_quick).
            conn = self._local.loop_conn = self._connect(0, "wal_autocheckpoint=0")
        return conn

    async def _exec(self, sql: str, params: Sequence[Any]) -> int:
        """One write statement (autocommit); returns the number of rows changed."""
        return await self._run(self._writer, lambda c: c.execute(sql, params).rowcount)

    async def _exec_quick(self, sql: str, params: Sequence[Any]) -> int:
        """A one-row write (autocommit) on the event loop thread; the number of rows changed.

        For the writes every small PUT and DELETE makes (the object row, a part or block row):
        measured on the development machine, such a statement costs ~75 us of CPU, and handing
        it to the writer thread and back cost ~90 us more. If the write lock is taken (the
        writer thread or another process is writing) the attempt fails at once without having
        changed anything -- the connection has no busy timeout -- and the write goes to the
        writer thread, which waits its turn. The connection does not checkpoint the WAL on
        commit (that fsyncs, and would stall the loop); every `_CHECKPOINT_EVERY` writes a
        checkpoint runs on the writer thread instead (`_restart_checkpoint`).
        """
        changed = await self._quick(lambda c: c.execute(sql, params).rowcount, self._writer)
        self._loop_writes += 1
        if self._loop_writes - self._checkpointed_at >= _CHECKPOINT_EVERY:
            self._checkpoint_soon()
        return changed

    def _checkpoint_soon(self) -> None:
        """Start a checkpoint unless one is running. Called on every write once enough have
        accumulated, so a checkpoint that took long (slow fsyncs) is followed by the next one at
        once, instead of at the next multiple of `_CHECKPOINT_EVERY` with the WAL grown twice."""
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        self._checkpointed_at = self._loop_writes
        task = asyncio.ensure_future(self._run(self._writer, _restart_checkpoint))
        # A failed checkpoint only leaves the WAL longer; the next one catches up. Retrieve the
        # error so it is not reported as never retrieved.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._checkpoint = task

    async def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Several write statements in one transaction."""

        def tx(c: sqlite3.Connection) -> T:
            c.execute("BEGIN IMMEDIATE")
            try:
                result = fn(c)
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
            return result

        return await self._run(self._writer, tx)

    @staticmethod
    def _first(rows_of: _Rows[R], rows: list[Any]) -> R | None:
        return rows_of.load(rows[0]) if rows else None

    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        version = conn.execute("PRAGMA user_version").fetchall()[0][0]
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"{self.db_path} has schema version {version}; this server knows {SCHEMA_VERSION}"
            )
        conn.executescript(SCHEMA)
        columns = {r[1] for r in conn.execute("PRAGMA table_info(buckets)").fetchall()}
        if "deleting" not in columns:  # a database made before bucket deletion marks
            with contextlib.suppress(sqlite3.OperationalError):  # another process was first
                conn.execute("ALTER TABLE buckets ADD COLUMN deleting TEXT NOT NULL DEFAULT ''")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # -- Store ------------------------------------------------------------------------------------
    @property
    def meta(self) -> SqliteStore:
        return self

    @property
    def blocks(self) -> SqliteStore:
        return self

    @property
    def keys(self) -> SqliteStore:
        return self

    async def ping(self) -> None:
        await self._rows("SELECT 1", ())

    async def close(self) -> None:
        if self._checkpoint is not None:
            await asyncio.gather(self._checkpoint, return_exceptions=True)
        self._closed = True

        def shutdown() -> None:
            self._readers.shutdown(wait=True)
            self._files.shutdown(wait=True)
            self._writer.shutdown(wait=True)
            with self._conns_lock:
                for conn in self._conns:
                    conn.close()
                self._conns.clear()
            # Every block write has ended: this process's scratch directory is empty.
            shutil.rmtree(self._tmp_dir, ignore_errors=True)

        await asyncio.to_thread(shutdown)

    # -- buckets ----------------------------------------------------------------------------------
    async def insert_bucket(self, rec: BucketRecord) -> bool:
        sql = BUCKETS.insert + " ON CONFLICT DO NOTHING"
        return await self._exec(sql, BUCKETS.params(rec)) == 1

    async def get_bucket(self, name: str) -> BucketRecord | None:
        return self._first(BUCKETS, await self._point(BUCKETS.select + " WHERE name = ?", (name,)))

    async def update_bucket(self, rec: BucketRecord) -> None:
        # UPDATE, not REPLACE: a REPLACE would reset the deletion mark, which is not a field.
        name, *rest = BUCKETS.params(rec)
        await self._exec(_BUCKET_UPDATE, (*rest, name))

    async def delete_bucket(self, name: str) -> None:
        await self._exec("DELETE FROM buckets WHERE name = ?", (name,))

    async def get_bucket_mark(self, name: str) -> tuple[str, str] | None:
        rows = await self._point("SELECT bucket_id, deleting FROM buckets WHERE name = ?", (name,))
        return (rows[0][0], rows[0][1]) if rows else None

    async def set_bucket_mark(self, name: str, bucket_id: str, mark: str, expected: str) -> bool:
        sql = "UPDATE buckets SET deleting = ? WHERE name = ? AND bucket_id = ? AND deleting = ?"
        return await self._exec(sql, (mark, name, bucket_id, expected)) == 1

    async def delete_bucket_marked(self, name: str, mark: str) -> bool:
        sql = "DELETE FROM buckets WHERE name = ? AND deleting = ? AND deleting != ''"
        return await self._exec(sql, (name, mark)) == 1

    async def list_buckets(self, after: str, limit: int) -> list[BucketRecord]:
        sql = BUCKETS.select + " WHERE name > ? ORDER BY name LIMIT ?"
        return [BUCKETS.load(r) for r in await self._rows(sql, (after, limit))]

    async def put_owner_bucket(self, row: OwnerBucket) -> None:
        await self._exec(OWNER_BUCKETS.replace, OWNER_BUCKETS.params(row))

    async def delete_owner_bucket(self, owner: str, name: str) -> None:
        await self._exec("DELETE FROM owner_buckets WHERE owner = ? AND name = ?", (owner, name))

    async def list_owner_buckets(self, owner: str) -> list[OwnerBucket]:
        sql = OWNER_BUCKETS.select + " WHERE owner = ? ORDER BY name"
        return [OWNER_BUCKETS.load(r) for r in await self._rows(sql, (owner,))]

    # -- object index -----------------------------------------------------------------------------
    async def put_object(self, bucket_id: str, shard: int, rec: ObjectRecord) -> None:
        await self._exec_quick(OBJECTS.replace, OBJECTS.params(rec, bucket_id, shard))

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

        return await self._tx(tx)

    async def get_object(
        self, bucket_id: str, shard: int, key: str, seq: int | None = None
    ) -> ObjectRecord | None:
        sql = OBJECTS.select + " WHERE bucket_id = ? AND shard = ? AND key = ?"
        if seq is None:
            # Clustering order is seq DESC: the first row of the key is its newest version.
            rows = await self._point(sql + " ORDER BY seq DESC LIMIT 1", (bucket_id, shard, key))
        else:
            rows = await self._point(sql + " AND seq = ?", (bucket_id, shard, key, seq))
        return self._first(OBJECTS, rows)

    async def get_object_by_version(
        self, bucket_id: str, shard: int, key: str, version_id: str
    ) -> ObjectRecord | None:
        sql = OBJECTS.select + (
            " WHERE bucket_id = ? AND shard = ? AND key = ? AND version_id = ?"
            " ORDER BY seq DESC LIMIT 1"
        )
        return self._first(OBJECTS, await self._point(sql, (bucket_id, shard, key, version_id)))

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
        if limit <= 0:
            return []
        base = (OBJECTS.select if with_inline else OBJECTS_NO_INLINE) + (
            " WHERE bucket_id = ? AND shard = ?"
        )
        end, end_p = ("", ()) if end_key is None else (" AND key < ?", (end_key,))
        order = " ORDER BY key, seq DESC LIMIT ?"

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
                        params = (bucket_id, shard, start_key, after_seq, limit)
                        rows = c.execute(
                            base + " AND key = ? AND seq < ?" + order, params
                        ).fetchall()
                if len(rows) < limit:
                    params = (bucket_id, shard, start_key, *end_p, limit - len(rows))
                    rows += c.execute(base + f" AND key {op} ?" + end + order, params).fetchall()
            finally:
                c.execute("COMMIT")
            return rows

        rows = await (self._quick(scan) if limit <= _QUICK_SCAN else self._read(scan))
        return [OBJECTS.load(r) for r in rows]

    async def delete_object(self, bucket_id: str, shard: int, key: str, seq: int) -> None:
        sql = "DELETE FROM objects WHERE bucket_id = ? AND shard = ? AND key = ? AND seq = ?"
        await self._exec_quick(sql, (bucket_id, shard, key, seq))

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

        return await self._tx(tx)

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

        return await self._read(partitions)

    # -- manifests --------------------------------------------------------------------------------
    async def put_manifest(self, manifest_id: str, entries: Sequence[ManifestEntry]) -> None:
        rows = [MANIFESTS.params(e, manifest_id) for e in entries]
        await self._tx(lambda c: c.executemany(MANIFESTS.replace, rows).rowcount)

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
        rows = await (self._point(sql, params) if limit <= 64 else self._rows(sql, params))
        return [MANIFESTS.load(r) for r in rows]

    async def delete_manifest(self, manifest_id: str) -> None:
        await self._exec("DELETE FROM manifests WHERE manifest_id = ?", (manifest_id,))

    async def list_manifest_ids(self, after: str, limit: int) -> list[str]:
        sql = "SELECT min(manifest_id) FROM manifests WHERE manifest_id > ?"

        def ids(c: sqlite3.Connection) -> list[str]:
            # One index seek per id: SELECT DISTINCT would walk every entry of every manifest.
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

        return await self._read(ids)

    # -- uploads and parts ------------------------------------------------------------------------
    async def put_upload(self, bucket_id: str, rec: UploadRecord) -> None:
        await self._exec(UPLOADS.replace, UPLOADS.params(rec, bucket_id))

    async def get_upload(self, bucket_id: str, key: str, upload_id: str) -> UploadRecord | None:
        sql = UPLOADS.select + " WHERE bucket_id = ? AND key = ? AND upload_id = ?"
        return self._first(UPLOADS, await self._point(sql, (bucket_id, key, upload_id)))

    async def delete_upload(self, bucket_id: str, key: str, upload_id: str) -> None:
        sql = "DELETE FROM uploads WHERE bucket_id = ? AND key = ? AND upload_id = ?"
        await self._exec(sql, (bucket_id, key, upload_id))

    async def scan_uploads(
        self, bucket_id: str, *, after_key: str = "", after_upload_id: str = "", limit: int
    ) -> list[UploadRecord]:
        sql = UPLOADS.select + (
            " WHERE bucket_id = ? AND (key, upload_id) > (?, ?) ORDER BY key, upload_id LIMIT ?"
        )
        rows = await self._rows(sql, (bucket_id, after_key, after_upload_id, limit))
        return [UPLOADS.load(r) for r in rows]

    async def list_upload_buckets(self, after: str, limit: int) -> list[str]:
        sql = "SELECT min(bucket_id) FROM uploads WHERE bucket_id > ?"

        def ids(c: sqlite3.Connection) -> list[str]:
            out: list[str] = []
            c.execute("BEGIN")
            try:
                while len(out) < limit:
                    (next_id,) = c.execute(sql, (out[-1] if out else after,)).fetchall()[0]
                    if next_id is None:
                        break
                    out.append(next_id)
            finally:
                c.execute("COMMIT")
            return out

        return await self._read(ids)

    async def put_part(self, upload_id: str, rec: PartRecord) -> None:
        await self._exec_quick(PARTS.replace, PARTS.params(rec, upload_id))

    async def list_parts(
        self, upload_id: str, after: int = 0, limit: int = 10000
    ) -> list[PartRecord]:
        sql = PARTS.select + " WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?"
        return [PARTS.load(r) for r in await self._rows(sql, (upload_id, after, limit))]

    async def delete_parts(self, upload_id: str) -> None:
        await self._exec("DELETE FROM parts WHERE upload_id = ?", (upload_id,))

    # -- completed uploads ------------------------------------------------------------------------
    async def put_completion(self, bucket_id: str, rec: CompletionRecord) -> None:
        # Expired rows are swept here, by the writes that add rows (an index range): the table
        # then holds about one retention period's completions, without a worker of its own.
        await self._exec("DELETE FROM completions WHERE expires_ms <= ?", (_now_ms(),))
        await self._exec(COMPLETIONS.replace, COMPLETIONS.params(rec, bucket_id))

    async def get_completion(
        self, bucket_id: str, key: str, upload_id: str
    ) -> CompletionRecord | None:
        sql = COMPLETIONS.select + " WHERE bucket_id = ? AND key = ? AND upload_id = ?"
        rec = self._first(COMPLETIONS, await self._point(sql, (bucket_id, key, upload_id)))
        return rec if rec is not None and rec.expires_ms > _now_ms() else None

    # -- write intents ----------------------------------------------------------------------------
    async def put_intent(self, rec: IntentRecord) -> None:
        # On the loop thread like the other one-row writes of a PUT: one per upload that writes
        # blocks, and one delete at its end.
        await self._exec_quick(INTENTS.replace, INTENTS.params(rec))

    async def delete_intent(self, intent_id: str) -> None:
        await self._exec_quick("DELETE FROM gc_intents WHERE intent_id = ?", (intent_id,))

    async def list_intents(self) -> list[IntentRecord]:
        return [INTENTS.load(r) for r in await self._rows(INTENTS.select, ())]

    # -- leases -----------------------------------------------------------------------------------
    async def take_lease(self, lease_id: str, holder: str, ttl_seconds: int) -> bool:
        def tx(c: sqlite3.Connection) -> bool:
            now = _now_ms()
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

        return await self._tx(tx)

    async def release_lease(self, lease_id: str, holder: str) -> None:
        sql = "DELETE FROM leases WHERE lease_id = ? AND holder = ?"
        await self._exec(sql, (lease_id, holder))

    # -- blocks -----------------------------------------------------------------------------------
    def _block_path(self, block_id: bytes) -> str:
        h = block_id.hex()
        return os.path.join(self.block_dir, h[:2], h)

    def _write_block_file(self, block_id: bytes, data: bytes) -> None:
        path = self._block_path(block_id)
        if os.path.exists(path):
            return  # content-addressed: the same id always has the same bytes
        tmp = os.path.join(self._tmp_dir, uuid.uuid4().hex)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):
            os.mkdir(os.path.dirname(path), _DIR_MODE)
        os.replace(tmp, path)  # atomic: readers see no file or the whole block

    async def put_block(self, block_id: bytes, data: bytes) -> None:
        # Row first, file second. The row's written_ms moves forward before the file is
        # (re)checked, so a GC delete holding the old written_ms fails its condition; and a
        # crash in between leaves a row whose file the next put of this block writes. (A GC
        # holding the *new* written_ms could still interleave, which its grace period rules out.)
        now, size = _now_ms(), len(data)
        await self._exec_quick(
            "INSERT INTO blocks (block_id, size, written_ms) VALUES (?, ?, ?) ON CONFLICT"
            " DO UPDATE SET written_ms = max(excluded.written_ms, blocks.written_ms + 1)",
            (block_id, size, now),
        )  # +1: a reuse within the same millisecond must still change written_ms
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._files, self._write_block_file, block_id, data
            )
        except OSError as e:
            raise StoreUnavailable(f"sqlite store: cannot write block: {e}") from e

    async def get_block(self, block_id: bytes) -> bytes | None:
        def read() -> bytes | None:
            try:
                with open(self._block_path(block_id), "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return None

        try:
            return await asyncio.get_running_loop().run_in_executor(self._files, read)
        except OSError as e:
            raise StoreUnavailable(f"sqlite store: cannot read block: {e}") from e

    async def delete_block(self, block_id: bytes, written_ms: int) -> bool:
        def delete(c: sqlite3.Connection) -> bool:
            n = c.execute(
                "DELETE FROM blocks WHERE block_id = ? AND written_ms = ?", (block_id, written_ms)
            ).rowcount
            if n:
                # Inside the write transaction, so no put_block's row write can slip in between.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._block_path(block_id))
            return n == 1

        try:
            return await self._tx(delete)
        except OSError as e:
            raise StoreUnavailable(f"sqlite store: cannot delete block: {e}") from e

    async def scan_blocks(self, after: bytes, limit: int) -> list[BlockInfo]:
        sql = "SELECT block_id, size, written_ms FROM blocks WHERE block_id > ?"
        sql += " ORDER BY block_id LIMIT ?"
        return [BlockInfo(*r) for r in await self._rows(sql, (after, limit))]

    # -- access keys ------------------------------------------------------------------------------
    async def put_key(self, rec: AccessKeyRecord) -> None:
        await self._exec(KEYS.replace, KEYS.params(rec))

    async def get_key(self, access_key: str) -> AccessKeyRecord | None:
        return self._first(
            KEYS, await self._point(KEYS.select + " WHERE access_key = ?", (access_key,))
        )

    async def list_keys(self) -> list[AccessKeyRecord]:
        return [KEYS.load(r) for r in await self._rows(KEYS.select + " ORDER BY access_key", ())]

    async def delete_key(self, access_key: str) -> None:
        await self._exec("DELETE FROM access_keys WHERE access_key = ?", (access_key,))


def parse_url(url: str) -> str:
    """The directory a `sqlite://` URL names: everything after the scheme's two slashes."""
    if not url.startswith("sqlite://"):
        raise ValueError(f"not a sqlite store URL: {url!r} (use sqlite:///abs/dir or sqlite://rel)")
    path = url[len("sqlite://") :]
    if not path:
        raise ValueError("sqlite store URL names no directory")
    return path


def _clear_dead_tmp(tmp_root: str) -> None:
    """Remove what no live process is writing: loose files, and the directories (named
    "<pid>.<random>", one per open store) of processes that are gone."""
    try:
        names = os.listdir(tmp_root)
    except FileNotFoundError:
        return
    for name in names:
        path = os.path.join(tmp_root, name)
        pid = name.split(".", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue  # maybe another store open in this or another process
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _make_private_dirs(*paths: str) -> None:
    """Create each directory (in order, so give parents first) 0700 if it is missing; mkdir's
    mode can only lose bits to the umask, never gain them."""
    for p in paths:
        with contextlib.suppress(FileExistsError):
            os.mkdir(p, _DIR_MODE)


def _create_private_file(path: str) -> None:
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE))


_warned: set[str] = set()  # store directories already warned about by this process


def _warn_if_readable(store: SqliteStore) -> None:
    """One warning naming what users other than the owner can reach (group/other bits)."""
    if store.path in _warned:
        return
    loose = []
    for p in (store.path, store.block_dir, store.db_path, store.db_path + "-wal"):
        with contextlib.suppress(FileNotFoundError):
            mode = os.stat(p).st_mode & 0o777
            if mode & 0o077:
                loose.append(f"{p} (mode {mode:04o})")
    if loose:
        _warned.add(store.path)
        log.warning(
            "the store's files are accessible to other users, and may hold access key secrets: "
            "%s; chmod 700 the directory and 600 the database files",
            ", ".join(loose),
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's
    return True


async def open_sqlite(
    url: str, *, readers: int = READERS, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> SqliteStore:
    """Open (creating if missing) the store directory named by `url`.

    readers: reader threads (0: all calls on the writer thread). busy_timeout_ms: how long a
    write waits for another process's write lock before StoreTimeout.
    """
    path = parse_url(url)
    store = SqliteStore(path, readers, busy_timeout_ms)

    def prepare() -> None:
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)  # the parents are the operator's: default modes
        _make_private_dirs(path, store.block_dir, store._tmp_root)
        _create_private_file(store.db_path)
        # Blocks half-written by processes that died; nothing references them.
        _clear_dead_tmp(store._tmp_root)
        _make_private_dirs(store._tmp_dir)
        _warn_if_readable(store)

    try:
        await asyncio.to_thread(prepare)
        await store._run(store._writer, store._setup)
    except BaseException as e:
        await store.close()
        if isinstance(e, OSError):
            raise StoreUnavailable(f"cannot open sqlite store at {path!r}: {e}") from e
        raise
    return store
