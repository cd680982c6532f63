"""docker/Dockerfile, .dockerignore and docker/compose.yaml, checked without a Docker engine:
hadolint, the commands against the real CLI parser, the health check against a real server."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from s3front.cli import build_parser, cmd_schema, cmd_serve
from s3front.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def one(kind: str) -> str:
    hits = [rest for k, rest in instructions(DOCKERFILE.read_text()) if k == kind]
    return hits[-1]  # the last one counts, as in Docker


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a match on a directory covers its contents."""
    ignored = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = os.path.normpath(raw.lstrip("!"))
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
            ignored = not negate
    return ignored


def ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def test_hadolint_passes(hadolint: str) -> None:
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_would_catch_a_bad_dockerfile(hadolint: str, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /src && pip install s3front\n")
    done = subprocess.run([hadolint, str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "DL3007" in done.stdout


def test_image_shape() -> None:
    ins = instructions(DOCKERFILE.read_text())
    froms = [rest for k, rest in ins if k == "FROM"]
    assert len(froms) == 2 and froms[-1].startswith("python:${PYTHON_VERSION}-slim")
    assert one("USER").split(":")[0] not in ("root", "0")
    assert one("EXPOSE") == "9000"
    env = one("ENV")
    assert "S3FRONT_STORE=sqlite:///var/lib/s3front" in env
    assert json.loads(one("VOLUME")) == ["/var/lib/s3front"]
    # The schema job in the image reads CQL files from S3FRONT_SCHEMA_DIR, which COPY fills.
    schema_dir = re.search(r"S3FRONT_SCHEMA_DIR=(\S+)", env)
    assert schema_dir is not None
    copies = [rest.split() for k, rest in ins if k == "COPY" and "--from" not in rest]
    assert ["schema", "/usr/share/s3front/schema"] in copies
    rel = Path(schema_dir.group(1)).relative_to("/usr/share/s3front/schema")
    assert sorted((ROOT / "schema" / rel).glob("*.cql"))


def test_entrypoint_and_cmd_are_a_real_serve_command() -> None:
    entrypoint = json.loads(one("ENTRYPOINT"))
    cmd = json.loads(one("CMD"))
    assert entrypoint == ["s3front"]
    args = build_parser().parse_args(cmd)
    assert args.func is cmd_serve and args.host == "0.0.0.0"


def test_healthcheck_command_works_against_a_real_server(live_server: Any) -> None:
    check = one("HEALTHCHECK")
    exec_form = json.loads(check[check.index("CMD") + 3 :])
    assert exec_form[:2] == ["python", "-c"]
    script: str = exec_form[2]
    assert "http://127.0.0.1:9000/-/healthz" in script
    here = script.replace(":9000/", f":{live_server.port}/")
    ok = subprocess.run([sys.executable, "-c", here], capture_output=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    # Nothing listens on the image's port here (or something else does): the check must fail
    # for a path the server does not serve.
    bad = here.replace("/-/healthz", "/-/no-such-endpoint")
    failed = subprocess.run([sys.executable, "-c", bad], capture_output=True, timeout=30)
    assert failed.returncode != 0


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("pyproject.toml", True),
        ("README.md", True),
        ("s3front/cli.py", True),
        ("schema/cassandra/0001_initial.cql", True),
        ("s3front/__pycache__/cli.cpython-311.pyc", False),
        (".venv/bin/python", False),
        (".git/HEAD", False),
        ("data/blocks", False),
        ("tests/conftest.py", False),
    ],
)
def test_dockerignore_sends_what_the_build_copies(path: str, sent: bool) -> None:
    assert dockerignored(path, ignore_patterns()) is (not sent)


def test_every_copied_path_survives_dockerignore() -> None:
    for k, rest in instructions(DOCKERFILE.read_text()):
        if k != "COPY" or "--from" in rest:
            continue
        *sources, _dest = rest.split()
        for src in sources:
            assert (ROOT / src).exists(), src
            assert not dockerignored(src, ignore_patterns()), src


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


def test_compose_services_and_dependencies_are_consistent() -> None:
    services = compose()["services"]
    assert set(services) == {"cassandra", "schema", "s3front"}
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"
    assert services["schema"]["depends_on"]["cassandra"]["condition"] == "service_healthy"
    assert services["s3front"]["depends_on"]["schema"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["schema"]["restart"] == "on-failure"
    assert "cqlsh" in services["cassandra"]["healthcheck"]["test"]
    assert services["cassandra"]["image"] == "cassandra:5.0"
    # Both s3front services run the image that compose builds from docker/Dockerfile.
    for name in ("schema", "s3front"):
        build = services[name]["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert services["s3front"]["image"] == services["schema"]["image"]
    for svc in services.values():
        for volume in svc.get("volumes", []):
            assert volume.split(":")[0] in compose()["volumes"]


def test_compose_commands_are_real_cli_commands() -> None:
    services = compose()["services"]
    schema = build_parser().parse_args(services["schema"]["command"])
    assert schema.func is cmd_schema and schema.schema_cmd == "apply"
    assert schema.store == "cassandra://cassandra:9042/s3front?dc=datacenter1"
    serve = build_parser().parse_args(services["s3front"]["command"])
    assert serve.func is cmd_serve and serve.host == "0.0.0.0"
    env = services["s3front"]["environment"]
    # The server uses the keyspace the schema job created, on the data centre Cassandra joins.
    assert env["S3FRONT_STORE"] == schema.store
    assert f"dc={services['cassandra']['environment']['CASSANDRA_DC']}" in schema.store
    assert services["s3front"]["ports"] == ["127.0.0.1:9000:9000"]


def test_env_example_names_real_settings_with_placeholder_values() -> None:
    names = {f"S3FRONT_{f.name.upper()}" for f in fields(Settings)}
    lines = (ROOT / "docker" / "env.example").read_text().splitlines()
    pairs = dict(ln.split("=", 1) for ln in lines if ln and not ln.startswith("#"))
    assert set(pairs) <= names
    assert "EXAMPLE" in pairs["S3FRONT_ROOT_ACCESS_KEY"]
    assert "example" in pairs["S3FRONT_ROOT_SECRET_KEY"]
    # Every variable compose interpolates from .env is one the example documents.
    used = set(re.findall(r"\$\{(S3FRONT_[A-Z_]+)", COMPOSE.read_text()))
    assert used <= set(pairs)
