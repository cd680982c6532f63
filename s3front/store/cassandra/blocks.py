"""BlockStore on Cassandra: one partition per block, its bytes in one cell.

Tables `blocks` (block_id PRIMARY KEY, size, written_ms) -- what GC scans -- and `block_data`
(block_id PRIMARY KEY, data): a GC pass over the block list never reads block bytes (with both
in one row, a page of the scan could pull a page of 1 MiB cells into the node's heap). A block
is at most 1 MiB, which stays well inside one mutation (half a commitlog segment).

Both rows of a block are written by one unlogged batch: one round trip, and since the two rows
share their partition key (block_id) in one keyspace, Cassandra applies them as one mutation on
each replica (and a single-partition batch is exempt from the batch size limits), so neither row
is ever written without the other -- not bytes no scan finds, nor a listed block without bytes.
(Two statements, as before issue 17, cost a second round trip per block.)

GC safety without Paxos: every write of a block carries the write time twice, as `written_ms`
and as the cells' own timestamp (`USING TIMESTAMP`, in microseconds). GC deletes a block it saw
with written time W by a tombstone timestamped at the end of millisecond W. Such a tombstone
only shadows cells written at or before W, so an upload that wrote or reused the block after
the scan keeps it, whatever order the two requests reach the replicas in. (A conditional
`DELETE ... IF written_ms = ?` would leave a window: a plain write issued just before the Paxos
ballot but applied after its read is shadowed by the ballot's later timestamp.)

scan_blocks pages in token order: `after` is the last id returned and the next page starts at
`token(block_id) > token(after)`.
"""

from __future__ import annotations

import time

from cassandra.query import BatchStatement, BatchType

from s3front.store.cassandra.session import Db
from s3front.store.records import BlockInfo

_BLOCK_PUT = "INSERT INTO blocks (block_id, size, written_ms) VALUES (?, ?, ?) USING TIMESTAMP ?"
_DATA_PUT = "INSERT INTO block_data (block_id, data) VALUES (?, ?) USING TIMESTAMP ?"
_BLOCK_GET = "SELECT data FROM block_data WHERE block_id = ?"
_BLOCK_WRITTEN = "SELECT written_ms FROM blocks WHERE block_id = ?"
_BLOCK_DELETE_UPTO = "DELETE FROM blocks USING TIMESTAMP ? WHERE block_id = ?"
_DATA_DELETE_UPTO = "DELETE FROM block_data USING TIMESTAMP ? WHERE block_id = ?"
_BLOCK_SCAN_FIRST = "SELECT block_id, size, written_ms FROM blocks LIMIT ?"
_BLOCK_SCAN_AFTER = (
    "SELECT block_id, size, written_ms FROM blocks WHERE token(block_id) > token(?) LIMIT ?"
)


class CassandraBlocks:
    """The BlockStore protocol over the statements above."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self._put = db.prepare(_BLOCK_PUT)
        self._put_data = db.prepare(_DATA_PUT)
        self._delete_data_upto = db.prepare(_DATA_DELETE_UPTO)
        self._get = db.prepare(_BLOCK_GET)
        self._written = db.prepare(_BLOCK_WRITTEN)
        self._delete_upto = db.prepare(_BLOCK_DELETE_UPTO)
        self._scan_first = db.prepare(_BLOCK_SCAN_FIRST)
        self._scan_after = db.prepare(_BLOCK_SCAN_AFTER)

    async def put_block(self, block_id: bytes, data: bytes) -> None:
        ts_us = time.time_ns() // 1000
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        batch.add(self._put, (block_id, len(data), ts_us // 1000, ts_us))
        batch.add(self._put_data, (block_id, data, ts_us))
        await self._db.run(batch)

    async def get_block(self, block_id: bytes) -> bytes | None:
        rows = await self._db.rows(self._get, (block_id,))
        return bytes(rows[0]["data"]) if rows and rows[0]["data"] is not None else None

    async def delete_block(self, block_id: bytes, written_ms: int) -> bool:
        rows = await self._db.rows(self._written, (block_id,))
        if not rows or rows[0]["written_ms"] != written_ms:
            return False
        # Shadows the cells written up to the end of millisecond written_ms, nothing later.
        # Data first: a crash in between leaves a listed block that the next pass deletes.
        upto = written_ms * 1000 + 999
        await self._db.run(self._delete_data_upto, (upto, block_id))
        await self._db.run(self._delete_upto, (upto, block_id))
        return True

    async def scan_blocks(self, after: bytes, limit: int) -> list[BlockInfo]:
        if limit <= 0:
            return []
        if after:
            rows = await self._db.rows(self._scan_after, (after, limit))
        else:
            rows = await self._db.rows(self._scan_first, (limit,))
        return [BlockInfo(bytes(r["block_id"]), r["size"], r["written_ms"]) for r in rows]
