"""The cassandra:// URL and the schema job's option parsing (no cluster needed)."""

from __future__ import annotations

import pytest

from s3front.store.cassandra.schema import (
    REQUIRED_VERSION,
    SchemaError,
    parse_replication,
    replication_map,
    schema_files,
    split_statements,
)
from s3front.store.cassandra.session import parse_url


def test_url_defaults() -> None:
    cfg = parse_url("cassandra://10.0.0.1,10.0.0.2/s3")
    assert cfg.hosts == ("10.0.0.1", "10.0.0.2")
    assert (cfg.port, cfg.keyspace, cfg.dc) == (9042, "s3", None)
    assert (cfg.consistency, cfg.serial_consistency) == ("LOCAL_QUORUM", "LOCAL_SERIAL")
    assert (cfg.tls, cfg.username, cfg.request_timeout) == (False, None, 10.0)


def test_url_all_options() -> None:
    cfg = parse_url(
        "cassandra://h1,h2:9142/ks?dc=eu&consistency=quorum&serial_consistency=SERIAL"
        "&username=app&password=hunter2&tls=1&tls_ca=/ca.pem&connect_timeout=2&request_timeout=3"
    )
    assert (cfg.hosts, cfg.port, cfg.dc) == (("h1", "h2"), 9142, "eu")
    assert (cfg.consistency, cfg.serial_consistency) == ("QUORUM", "SERIAL")
    assert (cfg.username, cfg.password, cfg.tls, cfg.tls_ca) == ("app", "hunter2", True, "/ca.pem")
    assert (cfg.connect_timeout, cfg.request_timeout) == (2.0, 3.0)
    # The password never shows up in a repr or a message.
    assert "hunter2" not in repr(cfg) and "hunter2" not in cfg.redacted()


def test_url_password_from_userinfo_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_url("cassandra://u:p%40ss@h/ks").password == "p@ss"
    monkeypatch.setenv("S3FRONT_CASSANDRA_PASSWORD", "from-env")
    cfg = parse_url("cassandra://h/ks?username=u")
    assert (cfg.username, cfg.password) == ("u", "from-env")


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///x",
        "cassandra:///ks",
        "cassandra://h/",
        "cassandra://h/Bad-Name",
        "cassandra://h1:1,h2:2/ks",
        "cassandra://h/ks?consistency=SOMETIMES",
        "cassandra://h/ks?colour=blue",
    ],
)
def test_url_rejected(url: str) -> None:
    with pytest.raises(ValueError):
        parse_url(url)


@pytest.mark.parametrize(
    ("strategy", "spec", "dc", "expected"),
    [
        ("SimpleStrategy", "", None, None),
        ("SimpleStrategy", "3", None, {"replication_factor": 3}),
        ("SimpleStrategy", "replication_factor=2", None, {"replication_factor": 2}),
        ("NetworkTopologyStrategy", "dc1:3,dc2=2", None, {"dc1": 3, "dc2": 2}),
        ("NetworkTopologyStrategy", "3", "eu", {"eu": 3}),
    ],
)
def test_parse_replication(
    strategy: str, spec: str, dc: str | None, expected: dict[str, int] | None
) -> None:
    assert parse_replication(strategy, spec, dc) == expected


def test_replication_map() -> None:
    assert replication_map("SimpleStrategy", None) == {
        "class": "SimpleStrategy",
        "replication_factor": 1,
    }
    assert replication_map("NetworkTopologyStrategy", {"dc1": 3}) == {
        "class": "NetworkTopologyStrategy",
        "dc1": 3,
    }
    for strategy, factors in [
        ("NetworkTopologyStrategy", None),
        ("NetworkTopologyStrategy", {"dc'1": 3}),
        ("SimpleStrategy", {"dc1": 3}),
        ("LocalStrategy", None),
    ]:
        with pytest.raises(SchemaError):
            replication_map(strategy, factors)


def test_required_version_is_newest_file() -> None:
    files = schema_files()
    assert [f.version for f in files] == list(range(1, len(files) + 1))
    assert files[-1].version == REQUIRED_VERSION


def test_schema_files_create_every_table_idempotently() -> None:
    statements = [s for f in schema_files() for s in f.statements]
    created = {s.split()[5] for s in statements if s.upper().startswith("CREATE TABLE")}
    assert created == {
        "buckets", "owner_buckets", "objects", "manifests", "blocks", "block_data", "uploads", "parts",
        "access_keys", "gc_intents", "leases", "mp_completions",
    }  # fmt: skip
    assert all("IF NOT EXISTS" in s for s in statements if s.upper().startswith("CREATE"))
    assert not any("INDEX" in s.upper() for s in statements)


def test_split_statements() -> None:
    text = "-- head; comment\nCREATE TABLE a (x int PRIMARY KEY);\n\n// c\nDROP TABLE a;\n"
    assert split_statements(text) == ("CREATE TABLE a (x int PRIMARY KEY)", "DROP TABLE a")
