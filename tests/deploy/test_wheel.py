"""The built wheel, installed (not editable) into a fresh venv, can set up Cassandra and serve.

A wheel that lacks the CQL files used to create an empty keyspace, print "already at version 0;
nothing to do" and exit 0; `serve` then refused the keyspace. Dependencies come from the package
index (pip's cache makes that quick after `make install`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import s3front_e2e_support as sup

from s3front.store.cassandra.schema import REQUIRED_VERSION, SCHEMA_DIR, schema_files
from s3front.store.cassandra.session import parse_url

ROOT = Path(__file__).resolve().parents[2]
CQL = sorted(p.name for p in (ROOT / "schema" / "cassandra").glob("*.cql"))


def _run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "PYTHON"))}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)], out
    )
    assert done.returncode == 0, done.stderr[-4000:]
    (whl,) = out.glob("s3front-*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with the wheel and its dependencies: the path of its python."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(home / "venv")
    python = home / "venv" / "bin" / "python"
    done = _run([str(python), "-m", "pip", "install", "-q", str(wheel)], home, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    yield python


def test_the_wheel_carries_every_schema_file(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert CQL and [n for n in names if n.endswith(".cql")] == [f"s3front/_schema/{n}" for n in CQL]


def test_the_source_tree_reads_the_files_in_schema_dir() -> None:
    """An editable install (this test run) reads schema/cassandra itself, through the package."""
    assert [f.name for f in schema_files()] == CQL
    assert Path(str(SCHEMA_DIR)).resolve() == (ROOT / "schema" / "cassandra").resolve()
    assert schema_files()[-1].version == REQUIRED_VERSION


def test_the_installed_package_is_the_wheel_not_the_source_tree(
    installed: Path, tmp_path: Path
) -> None:
    done = _run([str(installed), "-c", "import s3front; print(s3front.__file__)"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert str(installed.parents[1]) in done.stdout and str(ROOT) not in done.stdout
    version = _run([str(installed), "-m", "s3front", "--version"], tmp_path)
    assert version.returncode == 0 and version.stdout.strip().startswith("s3front ")


@pytest.mark.cassandra
def test_wheel_install_applies_the_schema_and_serves(
    installed: Path, cassandra_url: str, tmp_path: Path
) -> None:
    keyspace = f"s3w_{os.urandom(5).hex()}"
    url = cassandra_url.replace(f"/{parse_url(cassandra_url).keyspace}?", f"/{keyspace}?")
    s3front = str(installed.with_name("s3front"))
    applied = _run([s3front, "schema", "apply", "--store", url], tmp_path)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"upgraded from version 0 to {REQUIRED_VERSION}" in applied.stdout
    status = _run([s3front, "schema", "status", "--store", url], tmp_path)
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout

    # No PYTHONPATH: the server must import the wheel's s3front, not a source tree.
    server = sup.start_server(
        tmp_path / "srv", store_url=url, python=str(installed), env_extra={"PYTHONPATH": ""}
    )
    try:
        s3 = server.client()
        s3.create_bucket(Bucket="wheel")
        s3.put_object(Bucket="wheel", Key="k", Body=b"from the wheel")
        assert s3.get_object(Bucket="wheel", Key="k")["Body"].read() == b"from the wheel"
    finally:
        sup.stop_server(server)


@pytest.mark.cassandra
def test_schema_apply_fails_when_the_files_stop_short(
    installed: Path, cassandra_url: str, tmp_path: Path
) -> None:
    """The same installation with its schema directory pointed at an empty one: the keyspace
    ends below the server's version, so the job must not report success."""
    keyspace = f"s3w_{os.urandom(5).hex()}"
    url = cassandra_url.replace(f"/{parse_url(cassandra_url).keyspace}?", f"/{keyspace}?")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "PYTHON"))}
    env["S3FRONT_SCHEMA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [str(installed.with_name("s3front")), "schema", "apply", "--store", url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"needs {REQUIRED_VERSION}" in done.stderr and "Traceback" not in done.stderr
