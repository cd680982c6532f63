"""The schema job against a real Cassandra, and the server's schema version check."""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from pathlib import Path

import pytest

from s3front.cli import schema_apply as cli_apply
from s3front.cli import schema_status as cli_status
from s3front.store.cassandra import open_cassandra
from s3front.store.cassandra.schema import (
    REQUIRED_VERSION,
    SCHEMA_DIR,
    SchemaError,
    apply_schema,
)
from s3front.store.cassandra.schema import schema_status as status
from s3front.store.cassandra.session import Db, parse_url
from s3front.store.errors import SchemaOutdated

pytestmark = pytest.mark.cassandra


def test_apply_twice_changes_nothing(
    fresh_keyspace_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    messages: list[str] = []
    first = asyncio.run(apply_schema(fresh_keyspace_url, progress=messages.append))
    assert first == (0, REQUIRED_VERSION)
    assert any("created keyspace" in m for m in messages)
    assert any("applied 0001_initial.cql" in m for m in messages)

    assert cli_apply(fresh_keyspace_url, "simple", "1") == 0
    assert "nothing to do" in capsys.readouterr().out
    messages.clear()
    assert asyncio.run(apply_schema(fresh_keyspace_url, progress=messages.append)) == (
        REQUIRED_VERSION,
        REQUIRED_VERSION,
    )
    assert messages == []  # second run did nothing at all
    assert asyncio.run(status(fresh_keyspace_url)) == REQUIRED_VERSION


def test_cli_apply_creates_and_reports(
    fresh_keyspace_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_status(fresh_keyspace_url) == 3
    assert "does not exist" in capsys.readouterr().out
    assert cli_apply(fresh_keyspace_url, "NetworkTopologyStrategy", "1") == 0
    out = capsys.readouterr().out
    assert f"upgraded from version 0 to {REQUIRED_VERSION}" in out
    assert cli_status(fresh_keyspace_url) == 0
    assert "up to date" in capsys.readouterr().out
    cfg = parse_url(fresh_keyspace_url)
    db = Db.connect(cfg)
    try:
        rows = db.execute(
            "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = %s",
            (cfg.keyspace,),
        )
    finally:
        db.shutdown()
    assert rows[0]["replication"]["class"].endswith("NetworkTopologyStrategy")
    assert rows[0]["replication"][cfg.dc] == "1"


def test_status_of_missing_keyspace_is_none(fresh_keyspace_url: str) -> None:
    assert asyncio.run(status(fresh_keyspace_url)) is None


def test_session_keyspace_is_current(cassandra_url: str) -> None:
    assert asyncio.run(status(cassandra_url)) == REQUIRED_VERSION


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_apply_unreachable_fails_fast_and_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"cassandra://127.0.0.1:{_unused_port()}/nowhere?connect_timeout=2"
    t0 = time.monotonic()
    assert cli_apply(url, "simple", "1") == 1
    assert time.monotonic() - t0 < 15
    err = capsys.readouterr().err
    assert "FAILED" in err and "cannot reach Cassandra" in err
    with pytest.raises(SchemaError, match="cannot reach Cassandra"):
        asyncio.run(apply_schema(url))


def test_bad_options_exit_2(cassandra_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_apply(cassandra_url, "NetworkTopologyStrategy", "dc1") == 2
    assert cli_apply(cassandra_url, "Sideways", "1") == 2
    assert "unknown replication strategy" in capsys.readouterr().err


def test_failing_statement_is_reported(fresh_keyspace_url: str, tmp_path: Path) -> None:
    # 0002 fails in its second statement: the job names the file and keeps version 1, so a
    # fixed 0002 applies on the next run.
    shutil.copy(SCHEMA_DIR / "0001_initial.cql", tmp_path)
    (tmp_path / "0002_broken.cql").write_text(
        "CREATE TABLE IF NOT EXISTS extra (x int PRIMARY KEY);\nALTER TABLE nosuch ADD y int;\n"
    )
    with pytest.raises(
        SchemaError, match=r"0002_broken.cql: statement failed: ALTER TABLE \w+\.nosuch"
    ):
        asyncio.run(apply_schema(fresh_keyspace_url, schema_dir=tmp_path))
    assert asyncio.run(status(fresh_keyspace_url)) == 1
    (tmp_path / "0002_broken.cql").write_text(
        "CREATE TABLE IF NOT EXISTS extra (x int PRIMARY KEY);"
    )
    assert asyncio.run(apply_schema(fresh_keyspace_url, schema_dir=tmp_path)) == (1, 2)


def test_open_outdated_keyspace_raises(fresh_keyspace_url: str) -> None:
    with pytest.raises(SchemaOutdated, match=r"does not exist.*s3front schema apply"):
        asyncio.run(open_cassandra(fresh_keyspace_url))
    cfg = parse_url(fresh_keyspace_url)
    db = Db.connect(cfg)
    try:
        db.execute(
            f"CREATE KEYSPACE {cfg.keyspace} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        db.execute(
            f"CREATE TABLE {cfg.keyspace}.schema_version (id text, version int, file text, "
            "applied_ms bigint, PRIMARY KEY (id, version))"
        )
        db.execute(
            f"INSERT INTO {cfg.keyspace}.schema_version (id, version, file, applied_ms) "
            "VALUES ('s3front', 0, '', 0)"
        )
    finally:
        db.shutdown()
    with pytest.raises(SchemaOutdated, match=r"version 0.*s3front schema apply"):
        asyncio.run(open_cassandra(fresh_keyspace_url))
    # The job upgrades it, and then the store opens.
    assert asyncio.run(apply_schema(fresh_keyspace_url)) == (0, REQUIRED_VERSION)

    async def opens() -> None:
        store = await open_cassandra(fresh_keyspace_url)
        await store.ping()
        await store.close()

    asyncio.run(opens())


def test_syntax_error_is_not_retried(fresh_keyspace_url: str, tmp_path: Path) -> None:
    # The job retries what a settling cluster refuses (until its deadline); a statement that can
    # never work must still fail at once, naming the file.
    shutil.copy(SCHEMA_DIR / "0001_initial.cql", tmp_path)
    (tmp_path / "0002_broken.cql").write_text("CREATE TABLE IF NOT EXISTS extra (x int PRIMARY;\n")
    t0 = time.monotonic()
    with pytest.raises(SchemaError, match=r"0002_broken.cql: statement failed: CREATE TABLE"):
        asyncio.run(apply_schema(fresh_keyspace_url, schema_dir=tmp_path))
    # 0001 applies in a few seconds; a retried statement would take at least 7 s more.
    assert time.monotonic() - t0 < 30
    assert asyncio.run(status(fresh_keyspace_url)) == 1
