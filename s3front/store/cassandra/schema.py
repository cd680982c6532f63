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
throughout, so a run interrupted inside a file can simply run again.

On a cluster (`_Job`): every DDL statement of every job goes to one node, the first live one by
address, and after each the job waits until all live nodes agree on the schema. Cassandra before
5.1 has no transactional schema: the same table created at once through two coordinators gets
two table ids, and the nodes then fail with "Column family ID mismatch"; one node applies its
own schema changes one at a time, so the second job's CREATE ... IF NOT EXISTS sees the first's.
A statement the cluster is not ready for -- "keyspace/table doesn't exist" from a node the change
has not reached yet, a timeout, no host, nodes still disagreeing -- is retried with back-off
until the job's deadline (`S3FRONT_SCHEMA_DEADLINE`, default 120 s). Two jobs started at the
same moment (two k8s Job pods) therefore both succeed and leave one schema.

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
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from cassandra import InvalidRequest, OperationTimedOut, Timeout, Unavailable
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionException

from s3front import clock
from s3front.store.cassandra.session import CassandraConfig, Db, parse_url, raise_mapped
from s3front.store.errors import StoreError, StoreTimeout, StoreUnavailable

# Keep equal to the number of the newest file in SCHEMA_DIR (a test checks).
REQUIRED_VERSION = 5

SCHEMA_DIR: Traversable = (
    Path(os.environ["S3FRONT_SCHEMA_DIR"])
    if os.environ.get("S3FRONT_SCHEMA_DIR")
    else resources.files("s3front") / "_schema"
)

_HISTORY_ID = "s3front"
_RECORD = "INSERT INTO {}.schema_version (id, version, file, applied_ms) VALUES (%s, %s, %s, %s)"
# The statement forms a schema file may hold, up to the table name that gets the keyspace.
_QUALIFIABLE = re.compile(
    r"(\s*(?:CREATE\s+TABLE(?:\s+IF\s+NOT\s+EXISTS)?|ALTER\s+TABLE|DROP\s+TABLE(?:\s+IF\s+EXISTS)?)"
    r"\s+)(\w+)(?=[\s(])",
    re.IGNORECASE,
)
_FILE_RE = re.compile(r"(\d{4})_[a-z0-9_]+\.cql")
_DC_RE = re.compile(r"[A-Za-z0-9_.\-]+")
# DDL waits for every node to agree on the schema; allow more than a plain request.
_DDL_TIMEOUT = 60.0
# How long one job keeps retrying what the cluster is not ready for (S3FRONT_SCHEMA_DEADLINE).
_JOB_DEADLINE = 120.0
# A node the schema change has not reached yet answers with one of these (retried at most
# _NOT_YET_TRIES times, about 7 s).
_NOT_YET_TRIES = 4
_NOT_YET_RE = re.compile(r"does(n't| not) exist|unconfigured table|unknown keyspace", re.I)


class SchemaError(Exception):
    """The schema could not be read or applied (message says why, for humans)."""


@dataclass(frozen=True, slots=True)
class SchemaFile:
    version: int
    name: str
    statements: tuple[str, ...]


def schema_files(directory: Traversable = SCHEMA_DIR) -> list[SchemaFile]:
    """The numbered files in order, each split into statements (none if the directory is
    missing: `s3front schema apply` then reports the version it could not reach)."""
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


def qualified(statement: str, keyspace: str) -> str:
    """`statement` with its table named in `keyspace`.

    Schema files name tables without a keyspace (the job chooses it). The names are qualified
    here rather than by `USE keyspace`: the driver sends USE to each node's connections on its
    own, a node that did not know the new keyspace yet keeps a connection without one, and a
    statement sent there later fails ("No keyspace has been specified"), as racing schema jobs
    on a fresh cluster showed.
    """
    m = _QUALIFIABLE.match(statement)
    if m is None:
        first = statement.strip().splitlines()[0]
        raise SchemaError(f"schema statement of an unsupported form: {first} ...")
    return f"{m.group(1)}{keyspace}.{m.group(2)}{statement[m.end() :]}"


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
    try:
        rows = db.execute(
            f"SELECT version FROM {keyspace}.schema_version WHERE id = %s "
            "ORDER BY version DESC LIMIT 1",
            (_HISTORY_ID,),
        )
    except InvalidRequest:
        # A schema job is creating the table right now: system_schema lists it a moment before
        # the node serves it ("table schema_version does not exist"). Nothing recorded yet.
        return 0
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
    return await asyncio.to_thread(schema_status_sync, url)


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


def schema_status_sync(url: str) -> int | None:
    """`schema_status` for synchronous callers (the CLI)."""
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
    deadline: float | None = None,
) -> tuple[int, int]:
    """`apply_schema` for callers without an event loop (or inside one, e.g. test fixtures).

    deadline: seconds to keep retrying what a settling cluster refuses (default: the
    S3FRONT_SCHEMA_DEADLINE variable, else 120).
    """
    files = schema_files(schema_dir)
    options = replication_map(strategy, replication)
    # A cluster that cannot be reached at all fails the job at once (a wrong URL, Cassandra not
    # up yet: the k8s Job retries with back-off); failures after connecting are retried.
    cfg, db = _connect(url)
    job = _Job(deadline, progress)
    ks = cfg.keyspace
    try:
        # Every statement checked before the first runs.
        plan = [(f, [qualified(stmt, ks) for stmt in f.statements]) for f in files]
        old = job.retry(lambda: read_version(db, ks))
        if old is None:
            opts = ", ".join(f"'{k}': {v!r}" if isinstance(v, str) else f"'{k}': {v}"
                             for k, v in options.items())  # fmt: skip
            job.ddl(db, f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {{{opts}}}")
            progress(f"created keyspace {ks} ({strategy} {replication or ''})".rstrip())
        job.ddl(
            db,
            f"CREATE TABLE IF NOT EXISTS {ks}.schema_version (id text, version int, file text, "
            "applied_ms bigint, PRIMARY KEY (id, version)) "
            "WITH CLUSTERING ORDER BY (version DESC)",
        )
        # Another job may have gone ahead meanwhile: start from what is recorded now.
        current = job.retry(lambda: read_version(db, ks)) or 0
        for f, statements in plan:
            if f.version <= current:
                continue
            for stmt in statements:
                try:
                    job.ddl(db, stmt)
                except SchemaError as exc:
                    raise SchemaError(f"{f.name}: {exc}") from exc
            row: tuple[object, ...] = (_HISTORY_ID, f.version, f.name, clock.now_ms())
            job.retry(partial(db.execute, _RECORD.format(ks), row))
            current = f.version
            progress(f"applied {f.name} (version {f.version})")
        return old or 0, current
    except StoreError as exc:
        raise SchemaError(f"Cassandra failed during the schema job: {exc}") from exc
    finally:
        db.shutdown()


_T = TypeVar("_T")


class _NotAgreed(Exception):
    """The live nodes still report different schema versions."""


class _Job:
    """Runs the schema job's statements on a cluster that may not be ready for them: DDL on one
    node and followed by a wait for agreement, everything retried with back-off while the
    failure is one the cluster recovers from, until the deadline (see the module docstring)."""

    def __init__(
        self, deadline_seconds: float | None = None, progress: Callable[[str], None] = _quiet
    ) -> None:
        if deadline_seconds is None:
            deadline_seconds = float(os.environ.get("S3FRONT_SCHEMA_DEADLINE") or _JOB_DEADLINE)
        self.deadline = time.monotonic() + deadline_seconds
        self.progress = progress

    def retry(self, fn: Callable[[], _T]) -> _T:
        delay, not_yet = 0.5, 0
        while True:
            try:
                return fn()
            except Exception as exc:
                # "doesn't exist" after the wait for agreement is most likely a real error (a
                # schema file naming a table no file creates): retried only a few times.
                not_yet += isinstance(exc, InvalidRequest)
                if (
                    not _transient(exc)
                    or not_yet > _NOT_YET_TRIES
                    or time.monotonic() + delay > self.deadline
                ):
                    raise
                self.progress(f"retrying in {delay:.1f}s: {_one_line(exc)}")
            time.sleep(delay)
            delay = min(delay * 2, 8.0)

    def ddl(self, db: Db, cql: str) -> None:
        """Run one DDL statement and wait until the whole cluster agrees on the new schema."""
        try:
            self.retry(partial(_ddl_once, db, cql))
        except _NotAgreed as exc:
            msg = f"nodes did not agree on the schema in time after: {cql[:60]} ..."
            raise SchemaError(msg) from exc
        except Exception as exc:
            raise_mapped(exc)  # unreachable / timeout -> StoreError, reported by the caller
            first_line = cql.strip().splitlines()[0]
            raise SchemaError(f"statement failed: {first_line} ...: {exc}") from exc


def _ddl_once(db: Db, cql: str) -> None:
    db.session.execute(cql, timeout=_DDL_TIMEOUT, host=_ddl_host(db))
    # Always asked, not only when the driver's own wait after the change timed out: a retried
    # CREATE ... IF NOT EXISTS changes nothing, and the driver then does not wait.
    if not db.cluster.control_connection.wait_for_schema_agreement():
        raise _NotAgreed(cql)


def _ddl_host(db: Db) -> Any:
    """The node every job sends its DDL to: the first live one (by address) of those this
    session has connections to (the local data centre's)."""
    pools = db.session.get_pool_state()
    live = sorted((h for h in pools if h.is_up), key=lambda h: str(h.endpoint))
    return live[0] if live else None  # None: let the driver choose (and fail if it must)


def _transient(exc: BaseException) -> bool:
    """True for a failure that a cluster still settling (schema spreading, a node restarting)
    recovers from, so that running the same idempotent statement again can succeed."""
    if isinstance(exc, InvalidRequest):
        return bool(_NOT_YET_RE.search(str(exc)))
    return isinstance(
        exc,
        _NotAgreed
        | OperationTimedOut
        | Timeout
        | Unavailable
        | NoHostAvailable
        | ConnectionException
        | StoreUnavailable
        | StoreTimeout,
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


# -- command-line options (`s3front schema apply|status` in s3front.cli prints the outcome) ------
_STRATEGIES = {
    "simple": "SimpleStrategy",
    "simplestrategy": "SimpleStrategy",
    "network": "NetworkTopologyStrategy",
    "nts": "NetworkTopologyStrategy",
    "networktopologystrategy": "NetworkTopologyStrategy",
}


def resolve_strategy(name: str) -> str:
    """The full class name of a strategy given on the command line (simple, nts, ...)."""
    return _STRATEGIES.get(name.lower(), name)


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


__all__ = [
    "REQUIRED_VERSION",
    "SchemaError",
    "apply_schema",
    "apply_schema_sync",
    "parse_replication",
    "read_version",
    "resolve_strategy",
    "schema_status",
    "schema_status_sync",
]
