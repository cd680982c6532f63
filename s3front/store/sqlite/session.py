"""The SQLite store's plumbing: connections, threads, transactions and error mapping (`Db`),
and how a record type maps to table columns (`Rows`). See the package docstring for why reads
and writes run where they do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import operator
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, Literal, TypeVar

from s3front.config import MiB
from s3front.store.errors import StoreTimeout, StoreUnavailable

T = TypeVar("T")
R = TypeVar("R")

BUSY_TIMEOUT_MS = 5000
READERS = 4
FILE_THREADS = 8

# Scans of at most this many rows run on the event loop thread: a listing page of up to ~120
# keys, one merged scan of ~0.3 ms (as long as the eight per-shard pages it replaced, which ran
# there one after another), less than the hand-off to a reader thread and back costs.
QUICK_SCAN = 128
# One-row writes made on the event loop thread between two checkpoints on the writer thread
# (the loop-thread connection never checkpoints itself: a checkpoint fsyncs).
_CHECKPOINT_EVERY = 200
_CHECKPOINT_WAIT_MS = 1000
# A WAL longer than this many frames (pages; 4 KiB each) after a passive checkpoint is started
# over by a RESTART checkpoint (which stops writers while it runs).
_RESTART_FRAMES = 4096
# A checkpoint lets the next write start the WAL over, but the file keeps the length it reached;
# beyond this, the write that starts it over truncates it (after a burst, or a checkpoint that
# had to wait), so the WAL on disk does not stay at its longest.
_WAL_KEEP_BYTES = 8 * MiB

# A one-row write that finds the write lock taken (another process is committing; that takes
# ~50 us) is tried again on the event loop after these waits (0: after the loop's other ready
# work), before it goes to the writer thread. With three processes writing small objects, 19 %
# of the writes found the lock taken; each hand-off to the writer thread and back cost ~90 us of
# CPU and, under load, waits for the loop thread to let go of the GIL.
_LOOP_WRITE_WAITS = (0.0, 0.0, 0.0005, 0.001, 0.002)

# Primary SQLite result codes (the low byte of an extended code).
_TIMEOUT_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_UNAVAILABLE_CODES = {10, 11, 13, 14, 15, 26}  # IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB


class _Busy(enum.Enum):
    """What `Db._try_on_loop` returns when the loop thread's connection found a lock taken."""

    BUSY = enum.auto()


def _js(m: Mapping[str, str]) -> str:
    return json.dumps(dict(m), separators=(",", ":"), sort_keys=True)


JSON_FIELDS = {"attrs", "headers", "checksums"}
BOOL_FIELDS = {"delete_marker"}


class Rows(Generic[R]):
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


def names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def first(rows_of: Rows[R], rows: list[Any]) -> R | None:
    return rows_of.load(rows[0]) if rows else None


def _restart_checkpoint(conn: sqlite3.Connection) -> list[Any]:
    """Checkpoint the WAL (on the writer thread) so that it stays short.

    PASSIVE first: it copies what it can without taking the write lock, so the loop threads'
    writes go on meanwhile. When it copied everything, the next write starts the WAL over by
    itself. But writes keep arriving on the event loop threads, and a passive checkpoint chasing
    them may never find the WAL fully copied, so the WAL would never start over and grow without
    bound (measured: ~290 MB after 20,000 small PUTs). So once more than `_RESTART_FRAMES` are
    left behind, RESTART: it takes the write lock while it copies (a loop-thread write meanwhile
    fails at once and queues on the writer thread behind it), bounded by the busy timeout.
    """
    passive = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    if passive[0][1] < _RESTART_FRAMES:  # (busy, frames in the WAL, frames copied)
        return passive
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


class Db:
    """One store's connections and threads: a writer thread, reader threads, block-file threads
    (`files`) and the event loop thread's own connection, all on the database at `db_path`."""

    def __init__(self, db_path: str, readers: int, busy_timeout_ms: int) -> None:
        self.db_path = db_path
        self._busy_timeout_ms = busy_timeout_ms
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
        self.files = (
            ThreadPoolExecutor(FILE_THREADS, "s3front-sqlite-f") if readers else self._writer
        )

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
        # secure_delete: Debian's SQLite zeroes every deleted row and freed page by default,
        # which for a small object's inline bytes (overflow pages) means writing them again
        # (about a fifth of a small DELETE's statement time, measured). FAST zeroes what costs no extra I/O;
        # the bytes of larger objects, in block files, are unlinked, never zeroed, either way.
        settings = (
            "synchronous=NORMAL",
            f"journal_size_limit={_WAL_KEEP_BYTES}",
            "secure_delete=FAST",
        )
        for pragma in (f"busy_timeout={busy_timeout_ms}", *settings, *pragmas):
            conn.execute(f"PRAGMA {pragma}")
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    async def run(self, pool: ThreadPoolExecutor, fn: Callable[[sqlite3.Connection], T]) -> T:
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

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self.run(self._readers, fn)

    async def rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        # fetchall, always: a half-read cursor keeps its read transaction (and old snapshot) open.
        return await self.run(self._readers, lambda c: c.execute(sql, params).fetchall())

    async def point(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """A point read (a few rows by primary key), on the event loop thread (`quick`)."""
        return await self.quick(lambda c: c.execute(sql, params).fetchall())

    async def quick(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A short read (a point read, a scan of a few dozen rows) on the calling thread.

        Such a read takes ~10-100 us, less than the hand-off to a reader thread and back costs,
        and a WAL reader never waits for a writer. In the rare case that it would have to wait
        (another process recovering the WAL), the read goes to a reader thread instead, so the
        loop never blocks on a lock (`_try_on_loop`).
        """
        result = self._try_on_loop(fn)
        if result is not _Busy.BUSY:
            return result
        return await self.run(self._readers, fn)

    def _try_on_loop(self, fn: Callable[[sqlite3.Connection], T]) -> T | Literal[_Busy.BUSY]:
        """fn on the event loop thread's connection, or BUSY if it found a lock taken. That
        connection has no busy timeout, so such an attempt fails at once, having changed nothing
        (BUSY comes from starting the transaction or its first write)."""
        if self._closed:
            raise StoreUnavailable("sqlite store is closed")
        try:
            return fn(self._loop_conn())
        except sqlite3.OperationalError as e:
            if getattr(e, "sqlite_errorcode", 0) & 0xFF not in _TIMEOUT_CODES:
                raise _map_error(e) from e
        except sqlite3.Error as e:
            raise _map_error(e) from e
        return _Busy.BUSY

    def _loop_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "loop_conn", None)
        if conn is None:
            # No busy timeout (see quick) and no checkpoints on commit (see exec_quick).
            conn = self._local.loop_conn = self._connect(0, "wal_autocheckpoint=0")
        return conn

    async def exec(self, sql: str, params: Sequence[Any]) -> int:
        """One write statement (autocommit); returns the number of rows changed."""
        return await self.run(self._writer, lambda c: c.execute(sql, params).rowcount)

    async def exec_quick(self, sql: str, params: Sequence[Any]) -> int:
        """A one-row write (autocommit) on the event loop thread; the number of rows changed.

        For the writes every small PUT and DELETE makes (the object row, a part or block row):
        measured on the development machine, such a statement costs ~75 us of CPU, and handing
        it to the writer thread and back cost ~90 us more. If the write lock is taken (the
        writer thread or another process is writing) the attempt fails at once without having
        changed anything, and is made again on the loop after a few short waits
        (`_write_on_loop`); a lock held longer than those sends the write to the writer thread,
        which waits its turn. The connection does not checkpoint the WAL on commit (that
        fsyncs, and would stall the loop); every `_CHECKPOINT_EVERY` writes a checkpoint runs on
        the writer thread instead (`_restart_checkpoint`).
        """
        changed = await self._write_on_loop(lambda c: c.execute(sql, params).rowcount)
        self._loop_writes += 1
        if self._loop_writes - self._checkpointed_at >= _CHECKPOINT_EVERY:
            self._checkpoint_soon()
        return changed

    async def _write_on_loop(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """fn (one autocommit write) on the event loop thread, tried again after each of
        `_LOOP_WRITE_WAITS` while another connection holds the write lock, then on the writer
        thread."""
        for wait in _LOOP_WRITE_WAITS:
            result = self._try_on_loop(fn)
            if result is not _Busy.BUSY:
                return result
            await asyncio.sleep(wait)
        return await self.run(self._writer, fn)

    def _checkpoint_soon(self) -> None:
        """Start a checkpoint unless one is running. Called on every write once enough have
        accumulated, so a checkpoint that took long (slow fsyncs) is followed by the next one at
        once, instead of at the next multiple of `_CHECKPOINT_EVERY` with the WAL grown twice."""
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        self._checkpointed_at = self._loop_writes
        task = asyncio.ensure_future(self.run(self._writer, _restart_checkpoint))
        # A failed checkpoint only leaves the WAL longer; the next one catches up. Retrieve the
        # error so it is not reported as never retrieved.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._checkpoint = task

    async def tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
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

        return await self.run(self._writer, tx)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """fn on the writer thread, outside a transaction (schema setup)."""
        return await self.run(self._writer, fn)

    async def close(self) -> None:
        """Wait for a checkpoint in progress, then end every thread and close every
        connection; later calls raise StoreUnavailable."""
        if self._checkpoint is not None:
            await asyncio.gather(self._checkpoint, return_exceptions=True)
        self._closed = True

        def shutdown() -> None:
            self._readers.shutdown(wait=True)
            self.files.shutdown(wait=True)
            self._writer.shutdown(wait=True)
            with self._conns_lock:
                for conn in self._conns:
                    conn.close()
                self._conns.clear()

        await asyncio.to_thread(shutdown)
