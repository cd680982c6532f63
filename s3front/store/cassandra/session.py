"""Connecting to Cassandra, and running statements from asyncio.

The store URL names the cluster and how to talk to it:

    cassandra://[user[:password]@]host1,host2:9042/keyspace?dc=dc1&consistency=LOCAL_QUORUM
        &serial_consistency=LOCAL_SERIAL&username=..&password=..&tls=1&tls_ca=/path/ca.pem
        &tls_check_hostname=1&connect_timeout=5&request_timeout=10&protocol_version=4

`tcp_nodelay=0` is a diagnostic, for measuring what TCP_NODELAY buys (bench/compare.py's
`s3front-cassandra-nagle` target); never set it in production (see `make_cluster`).

The password may also come from the environment (S3FRONT_CASSANDRA_PASSWORD) so that it stays
out of process listings and config files; it is never logged or shown in a repr.

Every statement names its tables with the keyspace (`qualify`, applied by `Db.prepare`), so no
connection ever has a current keyspace: Cassandra 4+ warns about `USE <keyspace>` (or the v5
per-statement keyspace) with prepared statements whose table names are not qualified.

Consistency is chosen here and only here: one execution profile carries the consistency for
every read and write and the serial consistency for lightweight transactions.

The driver does its I/O on its own threads. `Db.rows` starts a request with `execute_async`
and hands each page back to the event loop with `call_soon_threadsafe`, so awaiting a query
never blocks the loop; pages beyond the first are fetched the same way. Every request sent is
counted in `s3front_cql_statements_total{table, kind}` (bench/RESULTS.md: the statements per S3
operation, pinned by tests/cassandra/test_statement_counts.py). Driver failures become
`StoreUnavailable` / `StoreTimeout` in `_store_error`, and every await is bounded, so a dead
cluster turns into an error, never a hang.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from cassandra import (
    ConsistencyLevel,
    CoordinationFailure,
    OperationTimedOut,
    Timeout,
    Unavailable,
)
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    Cluster,
    DefaultConnection,
    ExecutionProfile,
    NoHostAvailable,
)
from cassandra.connection import ConnectionBusy, ConnectionException
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    TokenAwarePolicy,
)
from cassandra.pool import NoConnectionsAvailable
from cassandra.query import dict_factory

from s3front import metrics
from s3front.store.errors import StoreError, StoreTimeout, StoreUnavailable

# Rows come back from the driver as dicts of untyped values; the table modules turn them into
# records right away, so `Any` does not travel further than that.
Row = dict[str, Any]

_KEYSPACE_RE = re.compile(r"[a-z][a-z0-9_]{0,47}")


@dataclass(frozen=True, slots=True)
class CassandraConfig:
    """Everything a `cassandra://` URL says."""

    hosts: tuple[str, ...]
    port: int
    keyspace: str
    dc: str | None = None
    consistency: str = "LOCAL_QUORUM"
    serial_consistency: str = "LOCAL_SERIAL"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    tls_ca: str | None = None
    tls_check_hostname: bool = True
    connect_timeout: float = 5.0
    request_timeout: float = 10.0
    # Fixed, which saves the driver's version negotiation (extra round trips and a warning per
    # connection). v4, not v5: v5 frames every message in checksummed segments, which this
    # driver cuts, checks and joins in Python: per 1 MiB block read 6.9 ms of CPU with v5 and
    # 0.8 ms with v4, per block written 2.5 and 1.7 ms (bench/cql_floor.py, issue 17).
    # Cassandra 4.0 and later speak both; `protocol_version=5` in the URL selects v5.
    protocol_version: int = 4
    # Diagnostic only (`tcp_nodelay=0`): the driver's default, Nagle's algorithm on.
    tcp_nodelay: bool = True

    def redacted(self) -> str:
        """The URL without credentials, for messages."""
        dc = f"?dc={self.dc}" if self.dc else ""
        return f"cassandra://{','.join(self.hosts)}:{self.port}/{self.keyspace}{dc}"


def parse_url(url: str, *, require_keyspace: bool = True) -> CassandraConfig:
    """Parse a `cassandra://` URL (see the module docstring). Raises ValueError."""
    if not url.startswith("cassandra://"):
        raise ValueError(f"not a cassandra:// URL: {url.split('?', 1)[0]!r}")
    rest = url[len("cassandra://") :]
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}

    username = params.pop("username", None)
    password = params.pop("password", None)
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user, _, pw = userinfo.partition(":")
        username = username or unquote(user)
        password = password or (unquote(pw) if pw else None)
    password = password or os.environ.get("S3FRONT_CASSANDRA_PASSWORD") or None

    hosts: list[str] = []
    ports: set[int] = set()
    for item in filter(None, netloc.split(",")):
        host, port = _split_host_port(item)
        hosts.append(host)
        if port is not None:
            ports.add(port)
    if not hosts:
        raise ValueError("cassandra URL names no host")
    if len(ports) > 1:
        raise ValueError("all Cassandra hosts in one URL must use the same port")

    keyspace = unquote(path.strip("/"))
    if keyspace and not _KEYSPACE_RE.fullmatch(keyspace):
        raise ValueError(
            f"keyspace {keyspace!r}: use lower-case letters, digits and _ (at most 48)"
        )
    if require_keyspace and not keyspace:
        raise ValueError("cassandra URL names no keyspace (cassandra://host:9042/keyspace)")

    for name in ("consistency", "serial_consistency"):
        if name in params:
            params[name] = params[name].upper()
            if params[name] not in ConsistencyLevel.name_to_value:
                raise ValueError(f"unknown {name} level {params[name]!r}")
    known = {"dc", "consistency", "serial_consistency", "tls", "tls_ca", "tls_check_hostname",
             "connect_timeout", "request_timeout", "protocol_version", "tcp_nodelay"}  # fmt: skip
    if unknown := set(params) - known:
        raise ValueError(f"unknown cassandra URL parameter(s): {', '.join(sorted(unknown))}")

    return CassandraConfig(
        hosts=tuple(hosts),
        port=ports.pop() if ports else 9042,
        keyspace=keyspace,
        dc=params.get("dc") or None,
        consistency=params.get("consistency", "LOCAL_QUORUM"),
        serial_consistency=params.get("serial_consistency", "LOCAL_SERIAL"),
        username=username or None,
        password=password,
        tls=_flag(params.get("tls", "0")),
        tls_ca=params.get("tls_ca") or None,
        tls_check_hostname=_flag(params.get("tls_check_hostname", "1")),
        connect_timeout=float(params.get("connect_timeout", "5")),
        request_timeout=float(params.get("request_timeout", "10")),
        protocol_version=int(params.get("protocol_version", "4")),
        tcp_nodelay=_flag(params.get("tcp_nodelay", "1")),
    )


def _split_host_port(item: str) -> tuple[str, int | None]:
    if item.startswith("["):  # [ipv6]:port
        host, _, tail = item[1:].partition("]")
        return host, int(tail[1:]) if tail.startswith(":") else None
    if item.count(":") == 1:
        host, port = item.split(":")
        return host, int(port)
    return item, None


def _flag(value: str) -> bool:
    return value.lower() in ("1", "true", "yes", "on")


# The driver leaves Nagle's algorithm on (cassandra-driver 3.30 sets no socket option). A request
# bigger than one TCP segment (any PUT of a few KiB or more) is then written as segments the
# kernel holds back until the node ACKs the previous one, and the node delays that ACK by up to
# 40 ms: a 4 KiB PUT took 45 ms instead of 3. Requests are whole frames, written at once, so
# sending them without delay costs no extra packets.
NODELAY_SOCKOPTS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


class Connection(DefaultConnection):  # type: ignore[misc]
    """The driver's connection (libev when its extension is built) reading and writing its
    socket in 256 KiB pieces rather than 4 KiB: a 1 MiB block took 256 recv() or send() calls,
    each a turn of the driver's Python I/O loop. Measured with bench/cql_floor.py (protocol v4,
    `--variants io-4k,io-64k,io-256k`): CPU per 1 MiB block written 1.42 / 0.85 / 0.72 ms, read
    1.47 / 1.30 / 0.73 ms; no change for small statements."""

    in_buffer_size = 262144
    out_buffer_size = 262144


def make_cluster(cfg: CassandraConfig) -> Any:
    """A driver `Cluster` for the config (not yet connected)."""
    lbp = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=cfg.dc))
    profile = ExecutionProfile(
        load_balancing_policy=lbp,
        consistency_level=ConsistencyLevel.name_to_value[cfg.consistency],
        serial_consistency_level=ConsistencyLevel.name_to_value[cfg.serial_consistency],
        request_timeout=cfg.request_timeout,
        row_factory=dict_factory,
    )
    auth = None
    if cfg.username:
        auth = PlainTextAuthProvider(username=cfg.username, password=cfg.password or "")
    ssl_context = None
    if cfg.tls:
        ssl_context = ssl.create_default_context(cafile=cfg.tls_ca)
        ssl_context.check_hostname = cfg.tls_check_hostname
    return Cluster(
        contact_points=list(cfg.hosts),
        port=cfg.port,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        auth_provider=auth,
        ssl_context=ssl_context,
        connect_timeout=cfg.connect_timeout,
        control_connection_timeout=cfg.connect_timeout,
        # The default backs off to 10 minutes; a restarted node should be used again promptly.
        reconnection_policy=ExponentialReconnectionPolicy(base_delay=0.5, max_delay=10.0),
        max_schema_agreement_wait=30,
        protocol_version=cfg.protocol_version,
        # Every connection the driver makes (pools, control connection, reconnections) gets
        # these: they reach `Connection` through `Cluster._make_connection_kwargs`.
        sockopts=NODELAY_SOCKOPTS if cfg.tcp_nodelay else None,
        # Over TLS the driver's own pieces: a TLS socket returns at most one record (16 KiB)
        # per recv, and the big pieces were measured, and their read loop checked, only on
        # plain sockets (issue 17).
        connection_class=DefaultConnection if cfg.tls else Connection,
        # Off explicitly: the driver compresses whenever lz4 or snappy happens to be installed,
        # which costs the server CPU per byte for bandwidth a data-centre link does not lack.
        compression=False,
    )


class Db:
    """A connected driver session, plus the asyncio bridge and the error mapping."""

    def __init__(self, cluster: Any, session: Any, cfg: CassandraConfig) -> None:
        self.cluster = cluster
        self.session = session
        self.cfg = cfg
        self._keyspace: str | None = None
        # (table, kind) of each prepared statement, what `_count` labels with: by the object
        # (a serial read shares its text, so its query id, with the plain one) and, for the
        # statements of a batch, the table by query id.
        self._labels: dict[int, tuple[str, str]] = {}
        self._tables: dict[bytes, str] = {}

    @classmethod
    def connect(cls, cfg: CassandraConfig, keyspace: str | None = None) -> Db:
        """Connect (blocking: call it in a thread). Raises StoreUnavailable / StoreTimeout."""
        cluster = make_cluster(cfg)
        try:
            session = cluster.connect(keyspace)
        except Exception as exc:
            cluster.shutdown()
            raise_mapped(exc)
            raise
        return cls(cluster, session, cfg)

    def prepare(self, cql: str, *, serial: bool = False) -> Any:
        """Prepare a statement (blocking; done once at connect), its tables qualified with the
        keyspace given to `prepare_in`.

        serial: read at the serial consistency (through Paxos) rather than the profile's.
        """
        label = statement_label(cql, serial=serial)
        if self._keyspace is not None:
            cql = qualify(cql, self._keyspace)
        try:
            stmt = self.session.prepare(cql)
        except Exception as exc:
            raise_mapped(exc)
            raise
        if serial:
            stmt.consistency_level = ConsistencyLevel.name_to_value[self.cfg.serial_consistency]
        self._labels[id(stmt)] = label
        self._tables[stmt.query_id] = label[0]
        return stmt

    def _count(self, stmt: Any) -> None:
        """Count one statement sent, in `s3front_cql_statements_total{table, kind}`."""
        label = self._labels.get(id(stmt))
        if label is None:  # a batch: labelled by its first statement's table
            entries = getattr(stmt, "_statements_and_parameters", None) or ((None, b"", ()),)
            label = (self._tables.get(entries[0][1], "other"), "batch")
        metrics.CQL_STATEMENTS.inc(label)

    async def rows(self, stmt: Any, params: Sequence[object] = ()) -> list[Row]:
        """Run a statement and return all its rows, following the driver's paging."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cfg.request_timeout
        delay = 0.005
        while True:
            try:
                return await self._pages(loop, stmt, params)
            except NoHostAvailable as exc:
                # The driver refuses to queue more on a connection whose socket buffer is full
                # (many large block writes at once). Such a request was never sent, so it is
                # safe to send again, even an LWT: back off until the buffers drain.
                if not _all_busy(exc):
                    raise_mapped(exc)
                    raise
                if loop.time() + delay > deadline:
                    raise StoreTimeout("Cassandra connections stayed saturated") from exc
            except Exception as exc:
                raise_mapped(exc)
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def _pages(
        self, loop: asyncio.AbstractEventLoop, stmt: Any, params: Sequence[object]
    ) -> list[Row]:
        self._count(stmt)
        pager = _Pager(loop)
        # No driver timeout (None): with one, the driver makes a timer per request, adds it to
        # its timer heap under a lock and wakes its I/O thread to service the heap (an eventfd
        # write and a thread switch), then cancels it when the answer comes. The event loop's
        # own timer below bounds the request instead, and hands a timeout to the driver (which
        # frees the stream id), so a request still never waits longer than request_timeout.
        future = self.session.execute_async(stmt, params, timeout=None)
        future.add_callbacks(pager.on_page, pager.on_error)
        out: list[Row] = []
        while True:
            timer = loop.call_later(self.cfg.request_timeout, _expire, pager.waiter, future)
            try:
                page = await pager.waiter
            finally:
                timer.cancel()
            if not future.has_more_pages:
                if out:
                    out.extend(page)
                    return out
                return page
            out.extend(page)
            table = self._labels.get(id(stmt), _UNKNOWN)[0]
            metrics.CQL_STATEMENTS.inc((table, "next_page"))
            pager.waiter = loop.create_future()
            future.start_fetching_next_page()

    async def run(self, stmt: Any, params: Sequence[object] = ()) -> None:
        """Run a statement whose result does not matter (writes)."""
        await self.rows(stmt, params)

    async def applied(self, stmt: Any, params: Sequence[object] = ()) -> bool:
        """Run a lightweight transaction; True if it was applied."""
        rows = await self.rows(stmt, params)
        return bool(rows and rows[0]["[applied]"])

    def execute(self, cql: str, params: Sequence[object] = ()) -> list[Row]:
        """Run a statement synchronously (setup and the schema job only, never a request path)."""
        try:
            return list(self.session.execute(cql, params, timeout=self.cfg.request_timeout))
        except Exception as exc:
            raise_mapped(exc)
            raise

    def prepare_in(self, keyspace: str) -> None:
        """Prepare later statements with their unqualified table names in `keyspace`.

        The names are qualified in the statement text rather than by a session keyspace (USE)
        or protocol v5's per-statement keyspace: with either, Cassandra 4+ answers every
        prepare of an unqualified statement with an anti-pattern warning (which the driver
        logs, a dozen lines at every start of every server process).
        """
        if not _KEYSPACE_RE.fullmatch(keyspace):
            raise ValueError(f"not a keyspace name: {keyspace!r}")
        self._keyspace = keyspace

    def shutdown(self) -> None:
        self.cluster.shutdown()


class _Pager:
    """Hands each page of one driver request to the event loop: the driver calls `on_page` or
    `on_error` on its I/O thread, once per page, and they resolve `waiter` (the page awaited
    now) on the loop's thread. One future per page and one wake-up of the loop per page: the
    least a thread hop costs (an asyncio.Queue and asyncio.timeout cost ~10 us more each)."""

    __slots__ = ("loop", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiter: asyncio.Future[list[Row]] = loop.create_future()

    def on_page(self, page: list[Row] | None) -> None:
        self.loop.call_soon_threadsafe(_resolve, self.waiter, page or [], None)

    def on_error(self, exc: BaseException) -> None:
        self.loop.call_soon_threadsafe(_resolve, self.waiter, None, exc)


def _resolve(
    waiter: asyncio.Future[list[Row]], page: list[Row] | None, exc: BaseException | None
) -> None:
    if waiter.done():  # timed out by the backstop, or the request was cancelled
        return
    if exc is not None:
        waiter.set_exception(exc)
    else:
        waiter.set_result(page or [])


def _expire(waiter: asyncio.Future[list[Row]], future: Any) -> None:
    """The request timed out: fail its waiter, and have the driver give the request up on its
    own I/O thread, as its own timeout would (`_on_timeout` frees the stream id and counts the
    timeout against the host)."""
    if waiter.done():
        return
    waiter.set_exception(StoreTimeout("Cassandra did not answer in time"))
    on_timeout = getattr(future, "_on_timeout", None)
    if on_timeout is not None:
        future.session.cluster.connection_class.create_timer(0, on_timeout)


_UNKNOWN = ("other", "other")
_VERB_KIND = {"SELECT": "read", "INSERT": "write", "UPDATE": "write", "DELETE": "write"}
_LWT_RE = re.compile(r"\bIF\s+(NOT\s+EXISTS|EXISTS|\w+\s*=)", re.IGNORECASE)


def statement_label(cql: str, *, serial: bool = False) -> tuple[str, str]:
    """(table, kind) of a statement for the statement counter: kind is read, serial_read (at the
    serial consistency, through Paxos), write or lwt."""
    verb = cql.split(None, 1)[0].upper()
    kind = _VERB_KIND.get(verb, "other")
    if kind == "write" and _LWT_RE.search(cql):
        kind = "lwt"
    elif kind == "read" and serial:
        kind = "serial_read"
    m = _TABLE_REF.search(cql) or _QUALIFIED_TABLE.search(cql)
    return (m[3] if m else "other"), kind


# A table reference: FROM / INTO / UPDATE and a bare name (these three words are reserved in CQL,
# so they never appear unquoted as identifiers). `system.local` is already qualified.
_TABLE_REF = re.compile(r"\b(FROM|INTO|UPDATE)(\s+)([a-z_][a-z0-9_]*)\b(?!\s*\.)", re.IGNORECASE)
_QUALIFIED_TABLE = re.compile(r"\b(FROM|INTO|UPDATE)(\s+)([a-z_][a-z0-9_]*\s*\.\s*\w+)", re.I)
_QUALIFIED_REF = re.compile(r"\b(FROM|INTO|UPDATE)\s+[a-z_][a-z0-9_]*\s*\.\s*\w", re.IGNORECASE)


def qualify(cql: str, keyspace: str) -> str:
    """`cql` with every unqualified table name prefixed by `keyspace.`.

    Raises ValueError for a statement that names no table in a form this recognises (a quoted
    name, say): preparing it unqualified would bring the warning back without notice.
    """
    out = _TABLE_REF.sub(lambda m: f"{m[1]}{m[2]}{keyspace}.{m[3]}", cql)
    if not _QUALIFIED_REF.search(out):
        raise ValueError(f"no table name to qualify in: {cql[:80]}")
    return out


def _all_busy(exc: NoHostAvailable) -> bool:
    """True if every host refused only because its connections were saturated locally."""
    errors = exc.errors.values() if isinstance(exc.errors, dict) else ()
    return bool(errors) and all(
        isinstance(e, ConnectionBusy | NoConnectionsAvailable) for e in errors
    )


def raise_mapped(exc: BaseException) -> None:
    """Raise the store error for a driver failure; return for anything else (a bug)."""
    mapped = _store_error(exc)
    if mapped is not None:
        raise mapped from exc


def _store_error(exc: BaseException) -> StoreError | None:
    """The store error for a driver failure, or None for anything else (a bug)."""
    if isinstance(exc, OperationTimedOut | Timeout):  # client-side; Read/WriteTimeout
        return StoreTimeout(f"Cassandra timed out: {exc}")
    if isinstance(exc, NoHostAvailable | Unavailable | CoordinationFailure):
        return StoreUnavailable(f"Cassandra unavailable: {exc}")
    if isinstance(exc, ConnectionException | ConnectionError | OSError):
        return StoreUnavailable(f"Cassandra connection failed: {exc}")
    return None
