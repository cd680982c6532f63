"""Moving a store: `s3front migrate --from sqlite:///dir --to cassandra://host:9042/keyspace`.

Grows an installation from the embedded store to Cassandra. Modules:

  source   the embedded store opened strictly read-only (it stays byte for byte as it was)
  streams  paged walks of either store, and the merge pairing a source walk with a target walk
  guard    the write intent that keeps the target's GC off what the copy has not linked yet
  copier   the copy itself: keys, buckets, uploads and parts, object versions, manifests, blocks
  verify   counts per kind on both stores and a sample of objects read back from both
  command  the command: refusals, progress, the report and the exit code

Resumable and idempotent by construction rather than by a checkpoint file: the copy pairs each
source partition with the target's and writes only what is missing or different, each row after
everything it references (see `copier`).
"""

from __future__ import annotations

from s3front.migrate.command import migrate

__all__ = ["migrate"]
