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
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import s3front_e2e_support as sup
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

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
    # The CQL files are package data (s3front/_schema links to schema/cassandra): the builder
    # needs both to build the wheel, and nothing points the schema job elsewhere.
    assert "S3FRONT_SCHEMA_DIR" not in DOCKERFILE.read_text()
    copies = [rest.split() for k, rest in ins if k == "COPY" and "--from" not in rest]
    assert ["schema", "./schema"] in copies and ["s3front", "./s3front"] in copies
    assert (ROOT / "s3front" / "_schema").resolve() == (ROOT / "schema" / "cassandra").resolve()


def _constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "docker" / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version.strip(), f"not pinned: {line}"
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _runtime_requirements() -> dict[str, list[Requirement]]:
    """Every distribution `pip install s3front` brings in (on this platform), by name, with
    the requirements that name it: pyproject's dependencies and theirs, extras followed."""
    found: dict[str, list[Requirement]] = {}
    todo: list[tuple[str, set[str]]] = [("s3front", set())]
    while todo:
        dist, extras = todo.pop()
        for text in metadata.requires(dist) or []:
            req = Requirement(text)
            env_ok = req.marker is None or any(
                req.marker.evaluate({"extra": e}) for e in (extras or {""})
            )
            if not env_ok or (
                dist == "s3front" and req.marker is not None and "extra" in str(req.marker)
            ):
                continue
            name = canonicalize_name(req.name)
            if name not in found:
                todo.append((req.name, set(req.extras)))
            found.setdefault(name, []).append(req)
    return found


def test_constraints_pin_every_runtime_dependency_at_an_allowed_version() -> None:
    pins = _constraints()
    needed = _runtime_requirements()
    assert "cassandra-driver" in needed and "uvloop" in needed  # the walk follows extras
    for name, reqs in needed.items():
        assert name in pins, f"{name} is not pinned in docker/constraints.txt (make constraints)"
        for req in reqs:
            assert req.specifier.contains(pins[name], prereleases=True), (req, pins[name])
    # The build backend is pinned too, at a version pyproject's build-system accepts.
    assert SpecifierSet(">=68").contains(pins["setuptools"])
    # No test tool sneaks into the image's pins.
    assert not {"pytest", "boto3", "mypy", "ruff"} & set(pins)


def test_the_builder_installs_with_the_constraints() -> None:
    runs = [rest for k, rest in instructions(DOCKERFILE.read_text()) if k == "RUN"]
    (wheel,) = [r for r in runs if "pip wheel" in r]
    assert "PIP_CONSTRAINT=/src/docker/constraints.txt" in wheel
    copies = [rest.split() for k, rest in instructions(DOCKERFILE.read_text()) if k == "COPY"]
    assert ["docker/constraints.txt", "./docker/constraints.txt"] in copies
    (install,) = [r for r in runs if "pip install" in r]
    assert "--no-index" in install  # the runtime installs only the builder's pinned wheels


def test_entrypoint_and_cmd_are_a_real_serve_command() -> None:
    entrypoint = json.loads(one("ENTRYPOINT"))
    cmd = json.loads(one("CMD"))
    assert entrypoint == ["s3front"]
    args = build_parser().parse_args(cmd)
    assert args.func is cmd_serve and args.host == "0.0.0.0"


def _healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command, run here with the image's settings plus `env`."""
    check = one("HEALTHCHECK")
    exec_form = json.loads(check[check.index("CMD") + 3 :])
    assert exec_form[:2] == ["s3front", "healthcheck"]
    image_env = dict(re.findall(r"(\w+)=(\S+)", one("ENV")))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("S3FRONT_")}
    return subprocess.run(
        [sys.executable, "-m", "s3front", *exec_form[1:]],
        env={**clean, **image_env, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_healthcheck_follows_the_configured_port(live_server: Any) -> None:
    ok = _healthcheck({"S3FRONT_PORT": str(live_server.port)})
    assert ok.returncode == 0, ok.stderr
    elsewhere = _healthcheck({"S3FRONT_PORT": str(sup.free_port())})
    assert elsewhere.returncode == 1 and len(elsewhere.stderr.splitlines()) == 1


def test_healthcheck_follows_the_configured_scheme(tmp_path: Path) -> None:
    tls = sup.make_tls(tmp_path / "tls")
    srv = sup.start_server(tmp_path / "srv", scheme="https", tls=tls, variant="https-sqlite")
    try:
        tls_env = {"S3FRONT_TLS_CERT": str(tls.cert_path), "S3FRONT_TLS_KEY": str(tls.key_path)}
        ok = _healthcheck({"S3FRONT_PORT": str(srv.port), **tls_env})
        assert ok.returncode == 0, ok.stderr
        # The same port asked in plain HTTP is not an answer: the scheme matters.
        plain = _healthcheck({"S3FRONT_PORT": str(srv.port)})
        assert plain.returncode == 1, plain.stderr
        # And from a config file (S3FRONT_CONFIG), as serve would read it.
        conf = tmp_path / "s3front.toml"
        conf.write_text(
            f'port = {srv.port}\ntls_cert = "{tls.cert_path}"\ntls_key = "{tls.key_path}"\n'
        )
        assert _healthcheck({"S3FRONT_CONFIG": str(conf)}).returncode == 0
    finally:
        sup.stop_server(srv)


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("pyproject.toml", True),
        ("README.md", True),
        ("s3front/cli.py", True),
        ("schema/cassandra/0001_initial.cql", True),
        ("s3front/_schema", True),
        ("docker/constraints.txt", True),
        ("docker/compose.yaml", False),
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
