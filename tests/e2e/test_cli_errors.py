"""Every expected failure of the `s3front` command is one line on stderr and a non-zero exit,
never a traceback (issue 18, item 2): the real command in a subprocess, each case its own test.

Cases that need a keyspace at an old schema version use the test Cassandra (marked)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import s3front_e2e_support as sup

from s3front import __version__
from s3front.cli import build_parser
from s3front.store.cassandra.schema import SCHEMA_DIR, apply_schema_sync
from s3front.store.cassandra.session import Db, parse_url

UNREACHABLE = "cassandra://127.0.0.1:1/ks?connect_timeout=3"


def cli(
    *args: str, cwd: Path, env_extra: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "s3front", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0, proc
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("s3front"), proc.stderr
    return lines[0]


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A working directory with a usable TLS pair, a broken PEM and config files."""
    tls = sup.make_tls(tmp_path / "tls")
    (tmp_path / "cert.pem").write_bytes(Path(tls.cert_path).read_bytes())
    (tmp_path / "key.pem").write_bytes(Path(tls.key_path).read_bytes())
    (tmp_path / "garbage.pem").write_text("not a certificate\n")
    (tmp_path / "unknown.toml").write_text('colour = "blue"\n')
    (tmp_path / "broken.toml").write_text("port = \n")
    (tmp_path / "port.toml").write_text("port = 70000\n")
    return tmp_path


SQLITE = "sqlite://./data"

# (arguments, environment, text the line must contain, exit code)
CASES: dict[str, tuple[list[str], dict[str, str], str, int]] = {
    "port-too-large": (["serve", "--port", "99999"], {}, "--port", 2),
    "port-zero": (["serve", "--port", "0"], {}, "between 1 and 65535", 2),
    "port-not-a-number": (["serve", "--port", "http"], {}, "not a port number", 2),
    "port-in-config-file": (
        ["serve", "--config", "port.toml", "--store", SQLITE],
        {},
        "port must be between 1 and 65535",
        2,
    ),
    "port-in-environment": (
        ["serve", "--store", SQLITE],
        {"S3FRONT_PORT": "70000"},
        "port must be between 1 and 65535",
        2,
    ),
    "bad-store-scheme": (["serve", "--store", "s3://elsewhere"], {}, "unknown store URL", 2),
    "bad-cassandra-url": (["serve", "--store", "cassandra://"], {}, "cassandra", 2),
    "missing-config-file": (
        ["serve", "--config", "missing.toml"],
        {},
        "cannot read missing.toml",
        1,
    ),
    "config-file-from-environment-missing": (
        ["keys", "list"],
        {"S3FRONT_CONFIG": "gone.toml"},
        "cannot read gone.toml",
        1,
    ),
    "unknown-setting-in-config": (["serve", "--config", "unknown.toml"], {}, "colour", 2),
    "unparsable-config": (["serve", "--config", "broken.toml"], {}, "", 2),
    "missing-tls-cert": (
        ["serve", "--store", SQLITE, "--tls-cert", "nocert.pem", "--tls-key", "key.pem"],
        {},
        "nocert.pem",
        2,
    ),
    "missing-tls-key": (
        ["serve", "--store", SQLITE, "--tls-cert", "cert.pem", "--tls-key", "nokey.pem"],
        {},
        "nokey.pem",
        2,
    ),
    "garbage-tls-cert": (
        ["serve", "--store", SQLITE, "--tls-cert", "garbage.pem", "--tls-key", "key.pem"],
        {},
        "garbage.pem",
        2,
    ),
    "tls-cert-without-key": (
        ["serve", "--store", SQLITE, "--tls-cert", "cert.pem"],
        {},
        "go together",
        2,
    ),
    "bad-master-key": (
        ["keys", "list", "--store", SQLITE],
        {"S3FRONT_MASTER_KEY": "hunter2"},
        "S3FRONT_MASTER_KEY",
        2,
    ),
    "bad-workers": (["serve", "--workers", "0", "--store", SQLITE], {}, "workers", 2),
    "bad-grace": (["gc", "--grace", "-1", "--store", SQLITE], {}, "--grace", 2),
    "unknown-command": (["serv"], {}, "invalid choice", 2),
    "missing-subcommand": (["keys"], {}, "required", 2),
    "unknown-option": (["stats", "--colour"], {}, "unrecognized arguments", 2),
    "serve-unreachable-cassandra": (["serve", "--store", UNREACHABLE], {}, "127.0.0.1:1", 1),
    "keys-unreachable-cassandra": (["keys", "list", "--store", UNREACHABLE], {}, "127.0.0.1:1", 1),
    "gc-unreachable-cassandra": (["gc", "--store", UNREACHABLE], {}, "127.0.0.1:1", 1),
    "stats-unreachable-cassandra": (["stats", "--store", UNREACHABLE], {}, "127.0.0.1:1", 1),
    "schema-unreachable-cassandra": (
        ["schema", "status", "--store", UNREACHABLE],
        {},
        "127.0.0.1:1",
        1,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_error_is_one_line(files: Path, case: str) -> None:
    args, env, expected, code = CASES[case]
    if "port" not in case and args[0] == "serve":  # never the default port of a real server
        args = [*args, "--port", str(sup.free_port())]
    proc = cli(*args, cwd=files, env_extra=env)
    line = one_line(proc)
    assert expected in line, line
    assert proc.returncode == code, (proc.returncode, line)
    assert "hunter2" not in proc.stderr + proc.stdout
    assert not (files / "data").exists() or case.startswith("bad-grace")


@pytest.fixture
def outdated_url(cassandra_url: str) -> Iterator[str]:
    """A keyspace at schema version 1 (only the first file applied)."""
    cfg = parse_url(cassandra_url)
    keyspace = f"s3o_{os.urandom(5).hex()}"
    url = cassandra_url.replace(f"/{cfg.keyspace}?", f"/{keyspace}?")
    first = Path(str(SCHEMA_DIR)) / "0001_initial.cql"
    only_first = Path(os.environ.get("TMPDIR", "/tmp")) / f"schema-{keyspace}"
    only_first.mkdir()
    (only_first / first.name).write_bytes(first.read_bytes())
    apply_schema_sync(url, schema_dir=only_first)
    yield url
    db = Db.connect(parse_url(cassandra_url))
    try:
        db.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
    finally:
        db.shutdown()
        (only_first / first.name).unlink()
        only_first.rmdir()


@pytest.mark.cassandra
@pytest.mark.parametrize(
    "args", [["serve"], ["keys", "list"], ["gc"], ["stats"]], ids=lambda a: "-".join(a)
)
def test_outdated_schema_is_one_line(tmp_path: Path, outdated_url: str, args: list[str]) -> None:
    extra = ["--port", str(sup.free_port())] if args == ["serve"] else []
    proc = cli(*args, "--store", outdated_url, *extra, cwd=tmp_path)
    line = one_line(proc)
    assert proc.returncode == 1 and "schema apply" in line, line


def test_version(tmp_path: Path) -> None:
    proc = cli("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"s3front {__version__}"


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str | None, str]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield sub.prog, helps.get(name), sub.description or ""
                yield from _subparsers(sub)


def test_every_subcommand_and_option_has_help() -> None:
    seen = list(_subparsers(build_parser()))
    assert {prog for prog, _, _ in seen} >= {
        "s3front serve",
        "s3front schema apply",
        "s3front keys rotate",
        "s3front gc",
        "s3front stats",
    }
    for prog, text, _ in seen:
        assert text, f"{prog} has no help text"

    def options(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str | None]]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from options(sub)
            elif action.dest not in ("help", "version"):
                yield f"{parser.prog} {action.dest}", action.help

    for name, text in options(build_parser()):
        assert text, f"{name} has no help text"
