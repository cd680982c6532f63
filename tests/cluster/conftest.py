"""Fixtures for the cluster suite: a 3-node Cassandra cluster and three s3front servers on it.

The cluster (scripts/local-cassandra --nodes 3: 127.0.0.2-4, datacenter1) is started once per
test session, beside the single development node (127.0.0.1) the other Cassandra suites use.
It runs in `make test` (and so in CI): the servers, the keyspace and the cluster (if this
session started it; S3FRONT_KEEP_CLUSTER=1 keeps it) are closed right after the suite's last
test rather than at the session's end, so three idle JVMs do not slow the suites after it.
Under CI a cluster that cannot start fails the run; elsewhere the suite is skipped.

The tests' one-line results (the node-kill campaign's counts, the gc race) are printed in a
"cluster suite" section at the end of the run, without -s.

Environment: S3FRONT_KEEP_CLUSTER=1 leaves a cluster this session started running;
S3FRONT_CLUSTER_LOAD_SECONDS (default 90) is the mixed load's length after the node kill,
S3FRONT_CLUSTER_GC_SECONDS (default 40) how long the gc passes race the writes.

The keyspace is created the way k8s creates it: two `s3front schema apply --strategy
NetworkTopologyStrategy --replication datacenter1:3` jobs started at the same moment.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import s3front_e2e_support as sup
from s3front_required import unavailable

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "local-cassandra"
NODES = 3
HOSTS = [f"127.0.0.{n + 1}" for n in range(1, NODES + 1)]
HERE = Path(__file__).resolve().parent

# What the session fixtures below opened, closed LIFO after the suite's last test.
_TEARDOWN = contextlib.ExitStack()
_SUMMARY = pytest.StashKey[list[str]]()


def _here(item: pytest.Item | None) -> bool:
    return item is not None and Path(str(item.fspath)).resolve().parent == HERE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _here(item):
            item.add_marker(pytest.mark.cluster)
            # pytest-timeout counts a test's setup: the suite's first test also pays for the
            # cluster start (up to 4 minutes on a loaded 2-core machine), the schema jobs and
            # three server starts, which the default 300 s does not always cover.
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(900))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if _here(item) and not _here(nextitem):
        _TEARDOWN.close()


def pytest_sessionfinish() -> None:
    _TEARDOWN.close()  # a run that stopped early


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines = config.stash.get(_SUMMARY, [])
    if lines:
        terminalreporter.write_sep("-", "cluster suite")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def summary(request: pytest.FixtureRequest) -> list[str]:
    """Lines for the run's "cluster suite" section (shown without -s)."""
    return request.config.stash.setdefault(_SUMMARY, [])


def script(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, check=False, timeout=timeout
    )


def _unavailable(reason: str) -> NoReturn:
    unavailable("Cassandra cluster", reason)


@dataclass
class Cluster:
    hosts: list[str]

    def kill(self, node: int) -> None:
        done = script("kill", "--node", str(node))
        assert done.returncode == 0, done.stdout + done.stderr

    def start(self, node: int) -> None:
        done = script("start", "--node", str(node))
        assert done.returncode == 0, done.stdout + done.stderr

    def per_node(self, cql: str, params: tuple[object, ...] = ()) -> dict[str, str]:
        """Each live node's own answer (asked of that node alone), its rows as one sorted
        string: for comparing what the nodes hold in their local system tables."""
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile
        from cassandra.cluster import Cluster as DriverCluster
        from cassandra.policies import WhiteListRoundRobinPolicy

        answers = {}
        for host in self.hosts:
            only = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy([host]))
            driver = DriverCluster(
                [host], port=9042, execution_profiles={EXEC_PROFILE_DEFAULT: only},
                connect_timeout=5, protocol_version=5,
            )  # fmt: skip
            try:
                rows = driver.connect().execute(cql, params)
                answers[host] = str(sorted(tuple(map(str, row)) for row in rows))
            except Exception:  # a node that is down has no say
                pass
            finally:
                driver.shutdown()
        return answers

    def schema_versions(self) -> dict[str, str]:
        """Each live node's own schema version."""
        return self.per_node("SELECT schema_version FROM system.local")

    def drop_keyspace(self, name: str) -> None:
        """Best effort cleanup (a node may be down)."""
        from cassandra.cluster import Cluster as DriverCluster

        driver = DriverCluster(self.hosts, port=9042, protocol_version=5)
        try:
            driver.connect().execute(f"DROP KEYSPACE IF EXISTS {name}", timeout=120)
        except Exception:
            pass
        finally:
            driver.shutdown()

    def settle_schema(self, seconds: float = 75) -> None:
        """Wait until the live nodes agree on the schema; restart a node that stays apart.

        Seen here with Cassandra 5.0.9: a node SIGKILLed and restarted while keyspaces were
        created and dropped can keep a schema digest of its own for many minutes although its
        schema tables hold the same rows (its one-minute schema pulls do not fix it); a
        restart does. Without this, the next DDL (the schema jobs) waits 30 s and fails.
        """
        deadline = time.monotonic() + seconds
        while True:
            versions = self.schema_versions()
            counts = Counter(versions.values())
            if len(counts) <= 1:
                return
            if time.monotonic() > deadline:
                break
            time.sleep(3)
        majority = counts.most_common(1)[0][0]
        for host, version in versions.items():
            if version != majority:
                number = self.hosts.index(host) + 1
                sys.stderr.write(f"\nnode {number} kept schema {version}; restarting it\n")
                assert script("stop", "--node", str(number)).returncode == 0
                self.start(number)
        time.sleep(5)
        assert len(set(self.schema_versions().values())) == 1, self.schema_versions()

    def url(self, keyspace: str) -> str:
        return f"cassandra://{','.join(self.hosts)}:9042/{keyspace}?dc=datacenter1"


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    if not SCRIPT.exists():
        _unavailable("scripts/local-cassandra is missing")
    was_running = script("status", "--nodes", str(NODES)).returncode == 0
    t0 = time.monotonic()
    started = script("start", "--nodes", str(NODES))
    if started.returncode != 0:
        _unavailable(
            f"local-cassandra start --nodes {NODES} failed:\n{started.stdout}{started.stderr}"
        )
    sys.stderr.write(f"\ncluster ready in {time.monotonic() - t0:.1f}s\n")

    def close() -> None:
        if not was_running and not os.environ.get("S3FRONT_KEEP_CLUSTER"):
            script("stop", "--nodes", str(NODES))
        else:
            # A test may have left a node down; leave the cluster whole for the next session.
            script("start", "--nodes", str(NODES))

    _TEARDOWN.callback(close)
    return Cluster(HOSTS)


def schema_cmd(url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "s3front",
        "schema",
        "apply",
        "--store",
        url,
        "--strategy",
        "NetworkTopologyStrategy",
        "--replication",
        "datacenter1:3",
    ]


@dataclass
class Keyspace:
    url: str
    name: str
    schema_results: list[subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def keyspace(cluster: Cluster) -> Keyspace:
    cluster.settle_schema()
    name = f"s3c_{secrets.token_hex(5)}"
    url = cluster.url(name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    # Two schema jobs at the same moment, as two k8s Job pods may run.
    procs = [
        subprocess.Popen(
            schema_cmd(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    _TEARDOWN.callback(cluster.drop_keyspace, name)
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return Keyspace(url, name, results)


@pytest.fixture(scope="session")
def servers(keyspace: Keyspace, tmp_path_factory: pytest.TempPathFactory) -> list[sup.Server]:
    for result in keyspace.schema_results:
        assert result.returncode == 0, result.stdout + result.stderr
    base = tmp_path_factory.mktemp("cluster-servers")
    started: list[sup.Server] = []
    for i in range(3):
        server = sup.start_server(
            base / f"s{i}", store_url=keyspace.url, ready_timeout=90, variant="http-cluster"
        )
        _TEARDOWN.callback(sup.stop_server, server)
        started.append(server)
    return started


def s3(server: sup.Server, **config: Any) -> Any:
    """A boto3 client without retries: every failure is seen (and counted) by the test."""
    import boto3
    from botocore.config import Config

    cfg = Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=config.pop("read_timeout", 60),
        **config,
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
        config=cfg,
    )
