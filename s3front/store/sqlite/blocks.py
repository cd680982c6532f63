"""The SQLite block store: one file per block under blocks/, and a row per block (its size and
written time, for GC) in the database (the BlockStore protocol)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import uuid

from s3front import clock
from s3front.store.errors import StoreUnavailable
from s3front.store.records import BlockInfo
from s3front.store.sqlite.files import DIR_MODE, FILE_MODE, Layout
from s3front.store.sqlite.session import Db


class SqliteBlocks:
    """BlockStore over the store's database and block directory."""

    def __init__(self, db: Db, layout: Layout) -> None:
        self._db = db
        self._layout = layout

    def _write_block_file(self, block_id: bytes, data: bytes) -> None:
        path = self._layout.block_path(block_id)
        if os.path.exists(path):
            return  # content-addressed: the same id always has the same bytes
        tmp = os.path.join(self._layout.tmp_dir, uuid.uuid4().hex)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):
            os.mkdir(os.path.dirname(path), DIR_MODE)
        os.replace(tmp, path)  # atomic: readers see no file or the whole block

    async def put_block(self, block_id: bytes, data: bytes) -> None:
        # Row first, file second. The row's written_ms moves forward before the file is
        # (re)checked, so a GC delete holding the old written_ms fails its condition; and a
        # crash in between leaves a row whose file the next put of this block writes. (A GC
        # holding the *new* written_ms could still interleave, which its grace period rules out.)
        now, size = clock.now_ms(), len(data)
        await self._db.exec_quick(
            "INSERT INTO blocks (block_id, size, written_ms) VALUES (?, ?, ?) ON CONFLICT"
            " DO UPDATE SET written_ms = max(excluded.written_ms, blocks.written_ms + 1)",
            (block_id, size, now),
        )  # +1: a reuse within the same millisecond must still change written_ms
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._db.files, self._write_block_file, block_id, data
            )
        except OSError as e:
            raise StoreUnavailable(f"sqlite store: cannot write block: {e}") from e

    async def get_block(self, block_id: bytes) -> bytes | None:
        def read() -> bytes | None:
            try:
                with open(self._layout.block_path(block_id), "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return None

        try:
            return await asyncio.get_running_loop().run_in_executor(self._db.files, read)
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
                    os.unlink(self._layout.block_path(block_id))
            return n == 1

        try:
            return await self._db.tx(delete)
        except OSError as e:
            raise StoreUnavailable(f"sqlite store: cannot delete block: {e}") from e

    async def scan_blocks(self, after: bytes, limit: int) -> list[BlockInfo]:
        sql = "SELECT block_id, size, written_ms FROM blocks WHERE block_id > ?"
        sql += " ORDER BY block_id LIMIT ?"
        return [BlockInfo(*r) for r in await self._db.rows(sql, (after, limit))]
