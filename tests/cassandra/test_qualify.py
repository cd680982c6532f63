"""Table names qualified with the keyspace before a statement is prepared (no cluster needed).

The live check is tests/cassandra/test_connections.py (no server warning when the store opens);
this pins the rewriting itself, on every statement form the store uses.
"""

from __future__ import annotations

import re

import pytest

from s3front.store.cassandra.schema import SchemaError, qualified, schema_files
from s3front.store.cassandra.session import parse_url, qualify


@pytest.mark.parametrize(
    ("cql", "want"),
    [
        (
            "SELECT name, bucket_id FROM buckets WHERE token(name) > token(?) LIMIT ?",
            "SELECT name, bucket_id FROM ks.buckets WHERE token(name) > token(?) LIMIT ?",
        ),
        (
            "INSERT INTO blocks (block_id, size, written_ms) VALUES (?, ?, ?) USING TIMESTAMP ?",
            "INSERT INTO ks.blocks (block_id, size, written_ms) VALUES (?, ?, ?) USING TIMESTAMP ?",
        ),
        (
            "UPDATE buckets SET deleting = ? WHERE name = ? IF bucket_id = ? AND deleting = ?",
            "UPDATE ks.buckets SET deleting = ? WHERE name = ? IF bucket_id = ? AND deleting = ?",
        ),
        (
            "DELETE FROM block_data USING TIMESTAMP ? WHERE block_id = ?",
            "DELETE FROM ks.block_data USING TIMESTAMP ? WHERE block_id = ?",
        ),
        (
            "SELECT DISTINCT manifest_id FROM manifests LIMIT ?",
            "SELECT DISTINCT manifest_id FROM ks.manifests LIMIT ?",
        ),
        # Several lines, lower case, a column whose name contains a keyword.
        (
            "select last_update, from_ms\nfrom\n  objects where bucket_id = ?",
            "select last_update, from_ms\nfrom\n  ks.objects where bucket_id = ?",
        ),
        # Already qualified: left alone.
        ("SELECT release_version FROM system.local", "SELECT release_version FROM system.local"),
        ("SELECT x FROM other . t WHERE k = ?", "SELECT x FROM other . t WHERE k = ?"),
    ],
)
def test_qualify(cql: str, want: str) -> None:
    assert qualify(cql, "ks") == want


@pytest.mark.parametrize("cql", ['SELECT * FROM "Buckets"', "TRUNCATE buckets", "SELECT now()"])
def test_qualify_refuses_what_it_cannot_qualify(cql: str) -> None:
    # Prepared as it is, such a statement would bring the anti-pattern warning back silently.
    with pytest.raises(ValueError, match="no table name"):
        qualify(cql, "ks")


def test_tcp_nodelay_url_option() -> None:
    assert parse_url("cassandra://h/ks").tcp_nodelay is True
    assert parse_url("cassandra://h/ks?tcp_nodelay=0").tcp_nodelay is False
    assert parse_url("cassandra://h/ks?tcp_nodelay=1").tcp_nodelay is True


def test_every_shipped_schema_statement_names_its_keyspace() -> None:
    """The schema job qualifies table names instead of `USE keyspace`, which the driver applies
    per node on its own (a node that did not know the new keyspace yet kept a connection without
    one, and racing jobs on a fresh cluster then failed: "No keyspace has been specified")."""
    statements = [s for f in schema_files() for s in f.statements]
    assert statements
    for stmt in statements:
        out = qualified(stmt, "ks_1")
        head = re.match(r"\s*(CREATE TABLE IF NOT EXISTS|ALTER TABLE)\s+(\S+)", out)
        assert head is not None and head[2].startswith("ks_1."), out
        assert out.replace("ks_1.", "", 1) == stmt


@pytest.mark.parametrize(
    ("cql", "want"),
    [
        ("CREATE TABLE t (x int PRIMARY KEY)", "CREATE TABLE ks.t (x int PRIMARY KEY)"),
        ("create table if not exists t(x int)", "create table if not exists ks.t(x int)"),
        (
            "ALTER TABLE buckets ADD IF NOT EXISTS d text",
            "ALTER TABLE ks.buckets ADD IF NOT EXISTS d text",
        ),
        ("DROP TABLE IF EXISTS t ", "DROP TABLE IF EXISTS ks.t "),
    ],
)
def test_schema_statement_forms(cql: str, want: str) -> None:
    assert qualified(cql, "ks") == want


@pytest.mark.parametrize(
    "cql",
    ["CREATE INDEX i ON t (x)", "CREATE TABLE other.t (x int)", "INSERT INTO t (x) VALUES (1)"],
)
def test_schema_statement_of_another_form_is_refused(cql: str) -> None:
    with pytest.raises(SchemaError, match="unsupported form"):
        qualified(cql, "ks")
