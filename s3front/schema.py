"""The Cassandra schema job: create or upgrade the keyspace, idempotently.

The schema is a directory of numbered CQL files (schema/cassandra/0001_initial.cql, 0002_...),
applied in order. The keyspace is not in the files: the job creates it from its options
(SimpleStrategy with a replication factor, or NetworkTopologyStrategy with one per data centre)
and runs the files inside it. After each file it records the file's number in the keyspace's
`schema_version` table, which the job itself creates:

    schema_version (id text, version int, file text, applied_ms bigint,
                    PRIMARY KEY (id, version)) WITH CLUSTERING ORDER BY (version DESC)

so the newest row of partition 's3front' is the current version and the partition is the
history. A second run finds nothing newer and changes nothing. Files use IF NOT EXISTS
throughout, so a run interrupted inside a file can simply run again. After each DDL statement
the job waits for schema agreement across the cluster before going on.

The server needs `REQUIRED_VERSION`; `open_cassandra` refuses an older keyspace, and the job
fails (non-zero exit) whenever it ends below it -- e.g. an installation that lacks newer files.

The files are package data: `schema/cassandra/` in the repository is the source of truth, and
`s3front/_schema` is a symlink to it, which the wheel build copies (every `*.cql` there, so a new
file needs no packaging change) and an editable install reads in place. They are read through
`importlib.resources`, so any installed form of the package finds them; `S3FRONT_SCHEMA_DIR`
points the job at another directory instead.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from s3front.store.cassandra.session import CassandraConfig, Db, parse_url, raise_mapped
from s3front.store.errors import StoreError

# Keep equal to the number of the newest file in SCHEMA_DIR (a test checks).
REQUIRED_VERSION = 5

SCHEMA_DIR: Traversable = (
    Path(os.environ["S3FRONT_SCHEMA_DIR"])
    if os.environ.get("S3FRONT_SCHEMA_DIR")
    else resources.files("s3front") / "_schema"
)

_HISTORY_ID = "s3front"
_FILE_RE = re.compile(r"(\d{4})_[a-z0-9_]+\.cql")
_DC_RE = re.compile(r"[A-Za-z0-9_.\-]+")
# DDL waits for every node to agree on the schema; allow more than a plain request.
_DDL_TIMEOUT = 60.0


class SchemaError(Exception):
    """The schema could not be read or applied (message says why, for humans)."""


@dataclass(frozen=True, slots=True)
class SchemaFile:
    version: int
    name: str
    statements: tuple[str, ...]


def schema_files(directory: Traversable = SCHEMA_DIR) -> list[SchemaFile]:
    """The numbered files in order, each split into statements (none if the directory is
    missing: `cli_apply` then reports the version it could not reach)."""
    out = []
    entries = directory.iterdir() if directory.is_dir() else iter(())
    for entry in sorted((e for e in entries if e.name.endswith(".cql")), key=lambda e: e.name):
        if not (m := _FILE_RE.fullmatch(entry.name)):
            raise SchemaError(f"{directory}/{entry.name}: schema files are named NNNN_name.cql")
        text = entry.read_text(encoding="utf-8")
        out.append(SchemaFile(int(m.group(1)), entry.name, split_statements(text)))
    versions = [f.version for f in out]
    if len(set(versions)) != len(versions):
        raise SchemaError(f"{directory}: two schema files share a number")
    return out


def split_statements(text: str) -> tuple[str, ...]:
    """Statements of a CQL file: comment lines dropped, split at `;`.

    Schema files hold DDL only, so a `;` inside a string literal is not supported.
    """
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(("--", "//"))]
    return tuple(s.strip() for s in "\n".join(lines).split(";") if s.strip())


def replication_map(strategy: str, replication: dict[str, int] | None) -> dict[str, str | int]:
    """The keyspace `replication` option for a strategy and its factors."""
    if strategy == "SimpleStrategy":
        factors = replication or {"replication_factor": 1}
        if set(factors) != {"replication_factor"}:
            raise SchemaError("SimpleStrategy takes only replication_factor")
        return {"class": strategy, "replication_factor": factors["replication_factor"]}
    if strategy == "NetworkTopologyStrategy":
        if not replication:
            raise SchemaError("NetworkTopologyStrategy needs a factor per data centre (dc1:3)")
        for dc in replication:
            if not _DC_RE.fullmatch(dc):
                raise SchemaError(f"bad data centre name {dc!r}")
        return {"class": strategy, **replication}
    raise SchemaError(f"unknown replication strategy {strategy!r}")


def read_version(db: Db, keyspace: str) -> int | None:
    """The keyspace's schema version; 0 when nothing is recorded, None without the keyspace."""
    if not db.execute(
        "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = %s", (keyspace,)
    ):
        return None
    if not db.execute(
        "SELECT table_name FROM system_schema.tables "
        "WHERE keyspace_name = %s AND table_name = 'schema_version'",
        (keyspace,),
    ):
        return 0
    rows = db.execute(
        f"SELECT version FROM {keyspace}.schema_version WHERE id = %s "
        "ORDER BY version DESC LIMIT 1",
        (_HISTORY_ID,),
    )
    return int(rows[0]["version"]) if rows else 0


async def apply_schema(
    url: str,
    *,
    strategy: str = "SimpleStrategy",
    replication: dict[str, int] | None = None,
    progress: Callable[[str], None] | None = None,
    schema_dir: Traversable = SCHEMA_DIR,
) -> tuple[int, int]:
    """Create or upgrade the keyspace named by `url`; (version before, version after).

    The keyspace's replication is only set when the job creates it. Raises SchemaError.
    """
    return await asyncio.to_thread(
        apply_schema_sync, url, strategy, replication, progress or _quiet, schema_dir
    )


async def schema_status(url: str) -> int | None:
    """The applied version; None if the keyspace does not exist. Raises SchemaError."""
    return await asyncio.to_thread(_status, url)


def _quiet(_: str) -> None:
    pass


def _connect(url: str) -> tuple[CassandraConfig, Db]:
    try:
        cfg = parse_url(url)
    except ValueError as exc:
        raise SchemaError(str(exc)) from exc
    try:
        return cfg, Db.connect(cfg)
    except StoreError as exc:
        raise SchemaError(f"cannot reach Cassandra at {cfg.redacted()}: {exc}") from exc


def _status(url: str) -> int | None:
    cfg, db = _connect(url)
    try:
        return read_version(db, cfg.keyspace)
    except StoreError as exc:
        raise SchemaError(f"cannot read the schema version: {exc}") from exc
    finally:
        db.shutdown()


def apply_schema_sync(
    url: str,
    strategy: str = "SimpleStrategy",
    replication: dict[str, int] | None = None,
    progress: Callable[[str], None] = _quiet,
    schema_dir: Traversable = SCHEMA_DIR,
) -> tuple[int, int]:
    """`apply_schema` for callers without an event loop (or inside one, e.g. test fixtures)."""
    files = schema_files(schema_dir)
    options = replication_map(strategy, replication)
    cfg, db = _connect(url)
    ks = cfg.keyspace
    try:
        old = read_version(db, ks)
        if old is None:
            opts = ", ".join(f"'{k}': {v!r}" if isinstance(v, str) else f"'{k}': {v}"
                             for k, v in options.items())  # fmt: skip
            _ddl(db, f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {{{opts}}}")
            progress(f"created keyspace {ks} ({strategy} {replication or ''})".rstrip())
        _ddl(
            db,
            f"CREATE TABLE IF NOT EXISTS {ks}.schema_version (id text, version int, file text, "
            "applied_ms bigint, PRIMARY KEY (id, version)) "
            "WITH CLUSTERING ORDER BY (version DESC)",
        )
        db.use_keyspace(ks)
        current = old or 0
        for f in files:
            if f.version <= current:
                continue
            for stmt in f.statements:
                try:
                    _ddl(db, stmt)
                except SchemaError as exc:
                    raise SchemaError(f"{f.name}: {exc}") from exc
            db.execute(
                "INSERT INTO schema_version (id, version, file, applied_ms) "
                "VALUES (%s, %s, %s, %s)",
                (_HISTORY_ID, f.version, f.name, int(time.time() * 1000)),
            )
            current = f.version
            progress(f"applied {f.name} (version {f.version})")
        return old or 0, current
    except StoreError as exc:
        raise SchemaError(f"Cassandra failed during the schema job: {exc}") from exc
    finally:
        db.shutdown()


def _ddl(db: Db, cql: str) -> None:
    """Run one DDL statement and wait until the whole cluster agrees on the new schema."""
    try:
        result: Any = db.session.execute(cql, timeout=_DDL_TIMEOUT)
    except Exception as exc:
        raise_mapped(exc)  # unreachable / timeout -> StoreError, reported by the caller
        first_line = cql.strip().splitlines()[0]
        raise SchemaError(f"statement failed: {first_line} ...: {exc}") from exc
    if not result.response_future.is_schema_agreed:
        raise SchemaError(f"nodes did not agree on the schema in time after: {cql[:60]} ...")


# -- command line (wired into `s3front schema apply|status` by s3front.cli) --------------------
_STRATEGIES = {
    "simple": "SimpleStrategy",
    "simplestrategy": "SimpleStrategy",
    "network": "NetworkTopologyStrategy",
    "nts": "NetworkTopologyStrategy",
    "networktopologystrategy": "NetworkTopologyStrategy",
}


def parse_replication(strategy: str, spec: str, dc: str | None = None) -> dict[str, int] | None:
    """Factors from a command-line spec.

    SimpleStrategy: "" (1), "3" or "replication_factor=3". NetworkTopologyStrategy:
    "dc1:3,dc2:3" (or dc1=3), or just "3" for the URL's local data centre.
    """
    spec = spec.strip()
    if not spec:
        return None
    if spec.isdigit():
        if strategy == "SimpleStrategy":
            return {"replication_factor": int(spec)}
        if dc is None:
            raise SchemaError("give data centres (dc1:3) or a dc= in the URL")
        return {dc: int(spec)}
    factors: dict[str, int] = {}
    for item in spec.split(","):
        name, sep, value = item.replace("=", ":").partition(":")
        if not sep or not value.strip().isdigit():
            raise SchemaError(f"bad replication item {item!r} (want name:factor)")
        factors[name.strip()] = int(value)
    return factors


def cli_apply(url: str, strategy: str = "SimpleStrategy", replication_spec: str = "") -> int:
    """`s3front schema apply`: print what happens; exit code 0, 1 (failed) or 2 (bad options)."""
    try:
        full = _STRATEGIES.get(strategy.lower(), strategy)
        cfg = parse_url(url)
        replication = parse_replication(full, replication_spec, cfg.dc)
        replication_map(full, replication)
    except (SchemaError, ValueError) as exc:
        print(f"s3front schema apply: {exc}", file=sys.stderr)
        return 2
    try:
        old, new = apply_schema_sync(
            url, full, replication, lambda msg: print(f"schema: {msg}", flush=True)
        )
    except SchemaError as exc:
        print(f"s3front schema apply: FAILED: {exc}", file=sys.stderr)
        return 1
    if old == new:
        print(f"schema: keyspace {cfg.keyspace} already at version {new}; nothing to do")
    else:
        print(f"schema: keyspace {cfg.keyspace} upgraded from version {old} to {new}")
    if new < REQUIRED_VERSION:
        # The files this installation carries stop short of what its server needs (a broken
        # install, or S3FRONT_SCHEMA_DIR naming an old copy): `serve` would refuse the keyspace.
        print(
            f"s3front schema apply: FAILED: keyspace {cfg.keyspace} is at version {new}, the "
            f"server needs {REQUIRED_VERSION}: this installation's schema files ({SCHEMA_DIR}) "
            "are missing or out of date",
            file=sys.stderr,
        )
        return 1
    return 0


def cli_status(url: str) -> int:
    """`s3front schema status`: 0 if current, 3 if missing or outdated, 1 if unreachable."""
    try:
        version = _status(url)
        ks = parse_url(url).keyspace
    except (SchemaError, ValueError) as exc:
        print(f"s3front schema status: {exc}", file=sys.stderr)
        return 1
    if version is None:
        print(f"schema: keyspace {ks} does not exist (needs version {REQUIRED_VERSION})")
        return 3
    state = "up to date" if version >= REQUIRED_VERSION else "outdated: run `s3front schema apply`"
    print(f"schema: keyspace {ks} at version {version}, needs {REQUIRED_VERSION} ({state})")
    return 0 if version >= REQUIRED_VERSION else 3


__all__ = [
    "REQUIRED_VERSION",
    "SchemaError",
    "apply_schema",
    "apply_schema_sync",
    "cli_apply",
    "cli_status",
    "read_version",
    "schema_status",
]
