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
    gc_intents     (intent_id)                     writes in progress, for GC (s3front.objects.gc)
    leases         (lease_id)                      lifecycle worker leases (lifecycle_worker)
    access_keys    (access_key)

A listing page of a bucket's shards is one statement that SQLite merges as it reads
(`meta._scan_sql`); Cassandra's listings merge per-shard scans in `s3front.objects.listing`.

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
are made on the event loop thread (`Db.exec_quick`; a lock held by another process is waited
out there for a few milliseconds before the write goes to the writer thread) -- and reads through a small pool of
threads, each with its own connection (WAL readers do not wait for the writer). Block file I/O
runs on threads of its own (a write waits in fsync; on the readers' threads, uploads starved
metadata reads): with 4 threads 1 MiB puts took ~2.5 ms and gets ~0.45 ms, against ~3.6-4 ms
and ~0.7-1.5 ms with everything on one thread. Point reads by primary key run on the event loop
thread itself (`Db.point`): ~20 us there, less than a hand-off to a thread and back. Several server
processes (`serve --workers`) may share the directory.
Another process (`s3front gc`) may open the same directory; busy_timeout makes the writers take
turns, and waiting longer raises StoreTimeout.

Permissions: the directory may hold access-key secrets in the clear (no master key; see
s3front.keys), so s3front creates its directories 0700 and its files 0600 whatever the umask
(the database is created before SQLite opens it, and SQLite gives -wal and -shm the database's
mode). Opening a store whose directory or database others can read logs a warning naming the
paths and modes; s3front does not chmod what it did not create, which may be deliberate.

Modules, as in `store.cassandra`: `session` (connections, threads, transactions), `schema` (the
tables), `meta`, `blocks`, `keys` (the three protocols), `files` (paths and permissions).
"""

from __future__ import annotations

import asyncio
import os
import shutil

from s3front.store.errors import StoreUnavailable
from s3front.store.sqlite import files, schema
from s3front.store.sqlite.blocks import SqliteBlocks
from s3front.store.sqlite.files import DB_NAME, Layout
from s3front.store.sqlite.keys import SqliteKeys
from s3front.store.sqlite.meta import SqliteMeta
from s3front.store.sqlite.session import BUSY_TIMEOUT_MS, READERS, Db


class SqliteStore:
    """The Store protocol: the three table groups over one directory (see the module docstring)."""

    def __init__(self, layout: Layout, readers: int, busy_timeout_ms: int) -> None:
        self.layout = layout
        self.db = Db(layout.db_path, readers, busy_timeout_ms)
        self._meta = SqliteMeta(self.db)
        self._blocks = SqliteBlocks(self.db, layout)
        self._keys = SqliteKeys(self.db)

    @property
    def meta(self) -> SqliteMeta:
        return self._meta

    @property
    def blocks(self) -> SqliteBlocks:
        return self._blocks

    @property
    def keys(self) -> SqliteKeys:
        return self._keys

    async def ping(self) -> None:
        await self.db.rows("SELECT 1", ())

    async def close(self) -> None:
        await self.db.close()
        # Every block write has ended: this process's scratch directory is empty.
        await asyncio.to_thread(shutil.rmtree, self.layout.tmp_dir, ignore_errors=True)


def parse_url(url: str) -> str:
    """The directory a `sqlite://` URL names: everything after the scheme's two slashes."""
    if not url.startswith("sqlite://"):
        raise ValueError(f"not a sqlite store URL: {url!r} (use sqlite:///abs/dir or sqlite://rel)")
    path = url[len("sqlite://") :]
    if not path:
        raise ValueError("sqlite store URL names no directory")
    return path


async def open_sqlite(
    url: str, *, readers: int = READERS, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> SqliteStore:
    """Open (creating if missing) the store directory named by `url`.

    readers: reader threads (0: all calls on the writer thread). busy_timeout_ms: how long a
    write waits for another process's write lock before StoreTimeout.
    """
    path = parse_url(url)
    layout = Layout.of(path)
    store = SqliteStore(layout, readers, busy_timeout_ms)

    def prepare() -> None:
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)  # the parents are the operator's: default modes
        files.make_private_dirs(path, layout.block_dir, layout.tmp_root)
        files.create_private_file(layout.db_path)
        # Blocks half-written by processes that died; nothing references them.
        files.clear_dead_tmp(layout.tmp_root)
        files.make_private_dirs(layout.tmp_dir)
        files.warn_if_readable(layout)

    try:
        await asyncio.to_thread(prepare)
        await store.db.write(lambda conn: schema.setup(conn, layout.db_path))
    except BaseException as e:
        await store.close()
        if isinstance(e, OSError):
            raise StoreUnavailable(f"cannot open sqlite store at {path!r}: {e}") from e
        raise
    return store


__all__ = ["DB_NAME", "SqliteStore", "open_sqlite", "parse_url"]
