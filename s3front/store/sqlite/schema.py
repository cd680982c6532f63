"""The SQLite store's tables (the layout is in the package docstring) and their setup."""

from __future__ import annotations

import contextlib
import sqlite3

from s3front.store.errors import StoreUnavailable

SCHEMA_VERSION = 1

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


def setup(conn: sqlite3.Connection, db_path: str) -> None:
    """Create the tables if missing (on the writer's connection), refusing a newer schema."""
    conn.execute("PRAGMA journal_mode=WAL")
    version = conn.execute("PRAGMA user_version").fetchall()[0][0]
    if version > SCHEMA_VERSION:
        raise StoreUnavailable(
            f"{db_path} has schema version {version}; this server knows {SCHEMA_VERSION}"
        )
    conn.executescript(SCHEMA)
    columns = {r[1] for r in conn.execute("PRAGMA table_info(buckets)").fetchall()}
    if "deleting" not in columns:  # a database made before bucket deletion marks
        with contextlib.suppress(sqlite3.OperationalError):  # another process was first
            conn.execute("ALTER TABLE buckets ADD COLUMN deleting TEXT NOT NULL DEFAULT ''")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
