"""What `s3front migrate` refuses, each with one line and before it writes anything: the source
as its own target, a source that is not an embedded store, a source a server still has open, a
target keyspace missing or not at the schema version this s3front writes."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from migrate_sources import Populated, tree_state

from s3front.migrate import migrate
from s3front.migrate.source import KNOWN_SCHEMA_VERSION, SourceInUse
from s3front.store import open_store
from s3front.store.cassandra.schema import REQUIRED_VERSION, SCHEMA_DIR, apply_schema_sync
from s3front.store.cassandra.session import Db, parse_url
from s3front.store.errors import SchemaOutdated, StoreUnavailable
from s3front.store.records import AccessKeyRecord
from s3front.store.sqlite import schema as sqlite_store

pytestmark = pytest.mark.anyio


async def _migrate(src: str, dst: str) -> int:
    return await migrate(src, dst, out=io.StringIO(), err=io.StringIO())


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3FRONT_")}
    return subprocess.run(
        [sys.executable, "-m", "s3front", "migrate", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_refuses_the_source_as_its_own_target(source: Populated, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(source.path)
    for dst in (source.url, source.url + "/", f"sqlite://{link}"):
        with pytest.raises(ValueError, match="name the same store"):
            await _migrate(source.url, dst)
    cp = _cli("--from", source.url, "--to", source.url + "/")
    assert cp.returncode == 2
    assert cp.stderr == "s3front: --from and --to name the same store\n"


async def test_refuses_a_source_that_is_not_an_embedded_store(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--from must name an embedded store"):
        await _migrate("cassandra://127.0.0.1:9042/ks", f"sqlite://{tmp_path / 't'}")
    missing = tmp_path / "nothing-here"
    with pytest.raises(StoreUnavailable, match="no embedded store at"):
        await _migrate(f"sqlite://{missing}", f"sqlite://{tmp_path / 't'}")
    assert not missing.exists()  # the reader creates nothing, not even the directory
    assert not (tmp_path / "t").exists()


async def test_refuses_a_source_in_use_and_writes_nothing(
    source: Populated, tmp_path: Path, prefix: str
) -> None:
    server = await open_store(source.url)  # as a running server holds it: a live WAL
    try:
        await server.keys.put_key(AccessKeyRecord(f"AK{prefix}X", "s", "t", "d", 1))
        before = tree_state(source.path)
        with pytest.raises(SourceInUse, match="in use or was not closed cleanly"):
            await _migrate(source.url, f"sqlite://{tmp_path / 't'}")
        assert tree_state(source.path) == before
        assert not (tmp_path / "t").exists()
    finally:
        await server.close()
    # Closed cleanly: the WAL is folded in and gone, and the migration goes ahead.
    assert await _migrate(source.url, f"sqlite://{tmp_path / 't'}") == 0


def test_reader_knows_the_embedded_schema_version() -> None:
    assert KNOWN_SCHEMA_VERSION == sqlite_store.SCHEMA_VERSION


@pytest.fixture
def old_keyspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A keyspace at schema version 3 (the files up to 0003 applied), dropped afterwards."""
    base: str = request.getfixturevalue("cassandra_url")
    old_dir = tmp_path / "schema"
    old_dir.mkdir()
    for entry in SCHEMA_DIR.iterdir():
        if entry.name.endswith(".cql") and int(entry.name[:4]) <= 3:
            (old_dir / entry.name).write_text(entry.read_text())
    hosts, _, query = base.partition("?")
    keyspace = f"s3mig_old_{os.getpid()}"
    url = f"{hosts.rsplit('/', 1)[0]}/{keyspace}?{query}"
    assert apply_schema_sync(url, schema_dir=old_dir)[1] == 3
    try:
        yield url
    finally:
        db = Db.connect(parse_url(url, require_keyspace=False))
        try:
            db.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        finally:
            db.shutdown()


@pytest.mark.cassandra
async def test_refuses_a_keyspace_at_an_older_schema(source: Populated, old_keyspace: str) -> None:
    with pytest.raises(
        SchemaOutdated, match=f"is at schema version 3; .* into schema version {REQUIRED_VERSION}"
    ):
        await _migrate(source.url, old_keyspace)
    cp = _cli("--from", source.url, "--to", old_keyspace)
    assert cp.returncode == 1
    assert cp.stderr.count("\n") == 1 and cp.stderr.startswith("s3front: --to: keyspace")
    assert "Traceback" not in cp.stderr


@pytest.mark.cassandra
def test_refuses_a_missing_keyspace(source: Populated, cassandra_url: str) -> None:
    hosts, _, query = cassandra_url.partition("?")
    url = f"{hosts.rsplit('/', 1)[0]}/s3mig_never_made?{query}"
    cp = _cli("--from", source.url, "--to", url)
    assert cp.returncode == 1
    assert cp.stderr == (
        "s3front: --to: keyspace 's3mig_never_made' does not exist; this s3front migrates into "
        f"schema version {REQUIRED_VERSION}: run `s3front schema apply` on it first\n"
    )


def test_usage_needs_both_stores() -> None:
    cp = _cli("--from", "sqlite:///nowhere")
    assert cp.returncode == 2 and "--to" in cp.stderr and cp.stderr.count("\n") == 1


def test_copy_of_source_dir_is_a_different_store(source: Populated, tmp_path: Path) -> None:
    """Same contents, another directory: not "the same store" (a copy may be a target)."""
    other = tmp_path / "other"
    shutil.copytree(source.path, other)
    cp = _cli("--from", source.url, "--to", f"sqlite://{other}", "--sample", "0")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "verification: OK (0/0 sampled" in cp.stdout


def test_unreachable_target_is_one_line_without_the_password(source: Populated) -> None:
    url = "cassandra://user:pw-must-not-show@127.0.0.1:9/ks?connect_timeout=2"
    cp = _cli("--from", source.url, "--to", url)
    assert cp.returncode == 1
    assert cp.stderr.startswith(
        "s3front: --to: cannot reach Cassandra at cassandra://127.0.0.1:9/ks"
    )
    assert cp.stderr.count("\n") == 1 and "pw-must-not-show" not in cp.stderr + cp.stdout
