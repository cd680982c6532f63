"""The Kubernetes manifests: they render, validate against the API schemas, and agree with the
CLI, the schema version and a real server's probe paths."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import s3front_e2e_support as sup
import yaml
from s3front_cassandra_node import Node

from s3front.cli import build_parser, cmd_schema, cmd_serve
from s3front.store.cassandra.schema import REQUIRED_VERSION

K8S = Path(__file__).resolve().parents[2] / "k8s"
# The oldest Kubernetes these manifests promise to work on, and the newest the validator knows.
K8S_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
# The image's ENTRYPOINT (docker/Dockerfile); containers without `command` run it with `args`.
ENTRYPOINT = ["s3front"]


# Names that carry a suffix: the ConfigMap's content hash, the Job's schema version.
_SUFFIXED_KINDS = ("ConfigMap", "Job")


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one rendered object of `kind` named `name` (or `name-<suffix>` for suffixed kinds)."""
    hits = [
        d
        for d in docs
        if d["kind"] == kind
        and (
            d["metadata"]["name"] == name
            or (kind in _SUFFIXED_KINDS and d["metadata"]["name"].startswith(name + "-"))
        )
    ]
    assert len(hits) == 1, f"expected one {kind} {name}, found {len(hits)}"
    return hits[0]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def container(doc: dict[str, Any], name: str, init: bool = False) -> dict[str, Any]:
    key = "initContainers" if init else "containers"
    hits: list[dict[str, Any]] = [c for c in pod_spec(doc)[key] if c["name"] == name]
    assert len(hits) == 1, f"expected one container {name}"
    return hits[0]


def argv(c: dict[str, Any]) -> list[str]:
    return [*(c.get("command") or ENTRYPOINT), *c.get("args", [])]


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_renders_every_resource(rendered: list[dict[str, Any]]) -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"].split("-")[0]) for d in rendered)
    assert kinds == sorted(
        [
            ("ConfigMap", "s3front"),
            ("Deployment", "s3front"),
            ("HorizontalPodAutoscaler", "s3front"),
            ("Job", "s3front"),
            ("NetworkPolicy", "cassandra"),
            ("PodDisruptionBudget", "cassandra"),
            ("PodDisruptionBudget", "s3front"),
            ("Service", "cassandra"),
            ("Service", "s3front"),
            ("StatefulSet", "cassandra"),
        ]
    )


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_against_the_api_schema(
    rendered: list[dict[str, Any]], version: str
) -> None:
    for doc in rendered:
        # strict: unknown fields (typos such as "readinesProbe") are errors, as on a real server.
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_broken_manifest(rendered: list[dict[str, Any]]) -> None:
    # The YAML slip that made a probe's shell command a mapping must not validate.
    broken = yaml.safe_load(yaml.safe_dump(find(rendered, "StatefulSet", "cassandra")))
    probe = pod_spec(broken)["containers"][0]["readinessProbe"]["exec"]
    probe["command"][2] = {"nodetool info | grep -q 'Native Transport active": "true'"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


def test_secret_example_is_not_deployed_and_holds_only_placeholders(
    rendered: list[dict[str, Any]], rendered_text: str
) -> None:
    assert not [d for d in rendered if d["kind"] == "Secret"]
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert "secret.example.yaml" not in kustomization["resources"]
    example, admin = yaml.safe_load_all((K8S / "secret.example.yaml").read_text())
    for secret in (example, admin):
        kubernetes_validate.validate(secret, K8S_VERSIONS[-1], strict=True)
        assert all(v.startswith("REPLACE-ME") for v in secret["stringData"].values())
    assert admin["metadata"]["name"] == "cassandra-admin"
    assert set(admin["stringData"]) == {"CASSANDRA_ADMIN_PASSWORD"}
    # The Deployment reads exactly the Secret the example (and README.md, Deploying) creates.
    dep = find(rendered, "Deployment", "s3front")
    refs = [
        e["secretRef"]["name"] for e in container(dep, "s3front")["envFrom"] if "secretRef" in e
    ]
    assert refs == [example["metadata"]["name"]]
    assert set(example["stringData"]) == {
        "S3FRONT_ROOT_ACCESS_KEY",
        "S3FRONT_ROOT_SECRET_KEY",
        "S3FRONT_MASTER_KEY",
        "S3FRONT_CASSANDRA_PASSWORD",
    }


def test_config_map_is_referenced_and_names_real_settings(rendered: list[dict[str, Any]]) -> None:
    from dataclasses import fields

    from s3front.config import Settings

    cm = find(rendered, "ConfigMap", "s3front-config")
    names = {f"S3FRONT_{f.name.upper()}" for f in fields(Settings)}
    assert set(cm["data"]) <= names
    assert {"S3FRONT_STORE", "S3FRONT_DOMAINS", "S3FRONT_REGION"} <= set(cm["data"])
    dep = find(rendered, "Deployment", "s3front")
    refs = [
        e["configMapRef"]["name"]
        for e in container(dep, "s3front")["envFrom"]
        if "configMapRef" in e
    ]
    assert refs == [cm["metadata"]["name"]]  # kustomize rewrote the reference to the hashed name


def test_schema_job_is_named_after_the_schema_version(rendered: list[dict[str, Any]]) -> None:
    (job,) = [d for d in rendered if d["kind"] == "Job"]
    assert job["metadata"]["name"] == f"s3front-schema-v{REQUIRED_VERSION}"
    assert job["metadata"]["annotations"]["s3front/schema-version"] == str(REQUIRED_VERSION)
    assert job["spec"]["backoffLimit"] >= 6


def test_schema_job_command_is_a_real_cli_command(rendered: list[dict[str, Any]]) -> None:
    job = find(rendered, "Job", "s3front-schema")
    cmd = argv(container(job, "schema"))
    assert cmd[0] == "s3front"
    args = build_parser().parse_args(cmd[1:])
    assert args.func is cmd_schema and args.schema_cmd == "apply"
    assert args.strategy == "NetworkTopologyStrategy"
    # The replication names the data centre the Cassandra nodes actually join.
    sts = find(rendered, "StatefulSet", "cassandra")
    env = {e["name"]: e["value"] for e in container(sts, "cassandra")["env"]}
    dc, _, rf = args.replication.partition(":")
    assert dc == env["CASSANDRA_DC"]
    assert int(rf) == sts["spec"]["replicas"] == 3
    # The job migrates the keyspace the servers use.
    cm = find(rendered, "ConfigMap", "s3front-config")
    assert args.store == cm["data"]["S3FRONT_STORE"]
    assert f"dc={env['CASSANDRA_DC']}" in args.store


def test_schema_job_command_runs_under_python_m(rendered: list[dict[str, Any]]) -> None:
    cmd = argv(container(find(rendered, "Job", "s3front-schema"), "schema"))
    done = subprocess.run(
        [sys.executable, "-m", "s3front", *cmd[1:], "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "--replication" in done.stdout


def test_schema_job_waits_for_cassandra(rendered: list[dict[str, Any]], live_server: Any) -> None:
    init = container(find(rendered, "Job", "s3front-schema"), "wait-for-cassandra", init=True)
    assert init["command"][:2] == ["python", "-c"]
    script: str = init["command"][2]
    # Point the wait loop at a port that listens (the live server) and run it for real.
    local = script.replace('("cassandra", 9042)', f'("127.0.0.1", {live_server.port})')
    assert local != script
    done = subprocess.run([sys.executable, "-c", local], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_deployment_command_is_a_real_cli_command(rendered: list[dict[str, Any]]) -> None:
    dep = find(rendered, "Deployment", "s3front")
    c = container(dep, "s3front")
    args = build_parser().parse_args(argv(c)[1:])
    assert args.func is cmd_serve
    assert args.host == "0.0.0.0"  # reachable from the Service, not only from inside the pod
    assert args.port == c["ports"][0]["containerPort"] == 9000


def test_deployment_is_hardened(rendered: list[dict[str, Any]]) -> None:
    dep = find(rendered, "Deployment", "s3front")
    spec = pod_spec(dep)
    c = container(dep, "s3front")
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert tmp and {"name": tmp[0]["name"], "emptyDir": {}} in spec["volumes"]
    assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]


def test_probe_paths_answer_200_on_a_real_server(
    rendered: list[dict[str, Any]], live_server: Any
) -> None:
    c = container(find(rendered, "Deployment", "s3front"), "s3front")
    probes = {k: c[k]["httpGet"] for k in ("livenessProbe", "readinessProbe", "startupProbe")}
    assert probes["livenessProbe"]["path"] == "/-/healthz"
    assert probes["readinessProbe"]["path"] == "/-/readyz"
    port_names = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe in probes.values():
        assert port_names[probe["port"]] == 9000
        assert get_status(live_server.base + probe["path"]) == 200, probe["path"]
    # And a path that is not an endpoint is not 200, so the check above can fail.
    assert get_status(live_server.base + "/-/nothing-here") != 200


def test_selectors_match_pod_labels(rendered: list[dict[str, Any]]) -> None:
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in rendered
        if d["kind"] in ("Deployment", "StatefulSet")
    }
    for d in rendered:
        if d["kind"] == "Service":
            selector = d["spec"]["selector"]
        elif d["kind"] in ("PodDisruptionBudget", "Deployment", "StatefulSet"):
            selector = d["spec"]["selector"]["matchLabels"]
        else:
            continue
        matched = [n for n, labels in pods.items() if selector.items() <= labels.items()]
        assert matched == [d["metadata"]["name"]], (d["kind"], d["metadata"]["name"], matched)


def test_statefulset_and_autoscaler(rendered: list[dict[str, Any]]) -> None:
    sts = find(rendered, "StatefulSet", "cassandra")
    svc = find(rendered, "Service", "cassandra")
    assert sts["spec"]["serviceName"] == svc["metadata"]["name"]
    assert svc["spec"]["clusterIP"] == "None"
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    c = container(sts, "cassandra")
    assert c["resources"]["requests"]["memory"]
    probe = c["readinessProbe"]["exec"]["command"]
    assert probe[:2] == ["/bin/sh", "-c"] and "nodetool" in shlex.split(probe[2])
    hpa = find(rendered, "HorizontalPodAutoscaler", "s3front")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "s3front"
    assert hpa["spec"]["minReplicas"] >= 3
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


# -- issue 17 item 5: placement, ownership of the replica count, schema wait, network, auth ----


def test_cassandra_pods_never_share_a_node(rendered: list[dict[str, Any]]) -> None:
    sts = find(rendered, "StatefulSet", "cassandra")
    terms = pod_spec(sts)["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert any(
        t["topologyKey"] == "kubernetes.io/hostname"
        and t["labelSelector"]["matchLabels"].items() <= pod_labels.items()
        for t in terms
    ), terms
    # The racks are documented where they are set.
    env = {e["name"]: e["value"] for e in container(sts, "cassandra")["env"]}
    assert env["CASSANDRA_RACK"] == "rack1"
    head = (K8S / "cassandra.yaml").read_text().split("apiVersion")[0]
    assert "Racks:" in head and "CASSANDRA_RACK" in head


def test_the_autoscaler_alone_owns_the_server_count(rendered: list[dict[str, Any]]) -> None:
    dep = find(rendered, "Deployment", "s3front")
    assert "replicas" not in dep["spec"]
    hpa = find(rendered, "HorizontalPodAutoscaler", "s3front")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": dep["metadata"]["name"],
    }


def test_server_pdb_matches_the_readme(rendered: list[dict[str, Any]]) -> None:
    # README.md, Kubernetes: "at most one Cassandra node and at most one server down at a time"
    # -- whatever the HPA scales to, so maxUnavailable, not minAvailable.
    readme = (K8S.parent / "README.md").read_text()
    assert "at most one Cassandra node and at most one server down at a time" in readme
    for name in ("s3front", "cassandra"):
        pdb = find(rendered, "PodDisruptionBudget", name)
        assert pdb["spec"] == {
            "maxUnavailable": 1,
            "selector": pdb["spec"]["selector"],
        }, name


def _allowed_sources(policy: dict[str, Any], port: str) -> list[dict[str, Any]]:
    return [
        peer
        for rule in policy["spec"]["ingress"]
        if any(p["port"] == port for p in rule.get("ports", []))
        for peer in rule["from"]
    ]


def _selects(peer: dict[str, Any], labels: dict[str, str]) -> bool:
    """True if a NetworkPolicy peer admits pods with these labels (in this namespace only)."""
    if "namespaceSelector" in peer or "ipBlock" in peer:
        return False
    selector = peer["podSelector"]
    ok = selector.get("matchLabels", {}).items() <= labels.items()
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr
        ok = ok and labels.get(expr["key"]) in expr["values"]
    return bool(ok)


def test_only_servers_and_the_schema_job_reach_cql(rendered: list[dict[str, Any]]) -> None:
    sts = find(rendered, "StatefulSet", "cassandra")
    policy = find(rendered, "NetworkPolicy", "cassandra")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= (
        sts["spec"]["template"]["metadata"]["labels"].items()
    )
    # Every rule names its ports (a rule without ports would open every port).
    assert all(rule.get("ports") for rule in policy["spec"]["ingress"])
    cql = _allowed_sources(policy, "cql")
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in rendered
        if d["kind"] in ("Deployment", "StatefulSet", "Job")
    }
    reach = sorted(n for n, labels in pods.items() if any(_selects(p, labels) for p in cql))
    job = find(rendered, "Job", "s3front-schema")["metadata"]["name"]
    assert reach == sorted(["s3front", job]), reach
    intra = _allowed_sources(policy, "intra-node")
    reach = sorted(n for n, labels in pods.items() if any(_selects(p, labels) for p in intra))
    assert reach == ["cassandra"], reach
    # The named ports exist on the Cassandra container.
    names = {p["name"] for p in container(sts, "cassandra")["ports"]}
    assert {"cql", "intra-node"} <= names


def test_cassandra_authentication_is_on_and_used(rendered: list[dict[str, Any]]) -> None:
    sts = find(rendered, "StatefulSet", "cassandra")
    c = container(sts, "cassandra")
    script = c["command"][2]
    assert (
        c["command"][:2] == ["/bin/sh", "-c"] and "exec docker-entrypoint.sh cassandra -f" in script
    )
    # The image's default file may say either form; the real sed turns both into the password
    # authenticator and leaves the rest alone.
    sed = shlex.split(script.split("&&")[0])
    assert sed[:3] == ["sed", "-i", "-E"]
    for before in (
        "a: 1\nauthenticator:\n  class_name : org.apache.cassandra.auth.AllowAllAuthenticator\n"
        "authorizer: AllowAllAuthorizer\n",
        "a: 1\nauthenticator: AllowAllAuthenticator\nauthorizer: AllowAllAuthorizer\n",
    ):
        done = subprocess.run(["sed", "-E", sed[3]], input=before, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout == (
            "a: 1\nauthenticator: PasswordAuthenticator\nauthorizer: AllowAllAuthorizer\n"
        )
    # Servers and the schema Job log in as the role the Job creates, with the password from the
    # Secret in the environment (never in the URL or on a command line).
    cm = find(rendered, "ConfigMap", "s3front-config")
    store = cm["data"]["S3FRONT_STORE"]
    from s3front.store.cassandra.session import parse_url

    assert parse_url(store).username == "s3front" and ":" not in store.split("@")[0][12:]
    job = find(rendered, "Job", "s3front-schema")
    schema = container(job, "schema")
    assert build_parser().parse_args(argv(schema)[1:]).store == store
    roles = container(job, "cassandra-roles", init=True)
    inits = [i["name"] for i in pod_spec(job)["initContainers"]]
    assert inits == ["wait-for-cassandra", "cassandra-roles"]
    roles_env = {e["name"]: e for e in roles["env"]}
    assert roles_env["S3FRONT_CASSANDRA_USERNAME"]["value"] == parse_url(store).username
    assert roles_env["CASSANDRA_AUTH_RF"]["value"] == str(sts["spec"]["replicas"])
    env = {e["name"]: e for e in schema["env"]}
    for e in (env["S3FRONT_CASSANDRA_PASSWORD"], roles_env["S3FRONT_CASSANDRA_PASSWORD"]):
        assert e["valueFrom"]["secretKeyRef"] == {
            "name": "s3front-credentials",
            "key": "S3FRONT_CASSANDRA_PASSWORD",
        }
    assert roles_env["CASSANDRA_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == (
        "cassandra-admin"
    )
    # The servers get the role's password through the Secret they already load whole, and not
    # the superuser's.
    dep = find(rendered, "Deployment", "s3front")
    refs = [
        e["secretRef"]["name"] for e in container(dep, "s3front")["envFrom"] if "secretRef" in e
    ]
    assert refs == ["s3front-credentials"]


@pytest.fixture
def auth_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A private local Cassandra node with PasswordAuthenticator (its own port and data dir)."""
    node = Node(tmp_path_factory.mktemp("auth"))
    node.env["S3FRONT_CASSANDRA_AUTHENTICATOR"] = "PasswordAuthenticator"
    node.run("start")
    try:
        yield node
    finally:
        node.run("stop")


def _probe(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), exc.read().decode()
    except OSError as exc:
        return 0, str(exc)


def _login(port: int, user: str, password: str) -> bool:
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster, NoHostAvailable

    cluster = Cluster(
        ["127.0.0.1"],
        port=port,
        protocol_version=5,
        auth_provider=PlainTextAuthProvider(user, password),
    )
    try:
        cluster.connect()
        return True
    except NoHostAvailable:
        return False
    finally:
        cluster.shutdown()


@pytest.mark.cassandra
@pytest.mark.timeout(600)
def test_roles_schema_and_server_waiting_on_an_authenticating_cassandra(
    rendered: list[dict[str, Any]], auth_node: Node, tmp_path: Path
) -> None:
    """The manifests' own commands, run for real against a Cassandra with PasswordAuthenticator:
    the server started first waits (probes answer, readiness says it waits for the schema), the
    Job's role step makes the superuser and the role (twice: idempotent), the Job's schema step
    logs in with the role, and the waiting server becomes ready without a restart."""
    import secrets

    port = auth_node.port
    keyspace = f"s3k_{secrets.token_hex(5)}"
    cm = find(rendered, "ConfigMap", "s3front-config")
    store = cm["data"]["S3FRONT_STORE"].replace(
        "@cassandra:9042/s3front?", f"@127.0.0.1:{port}/{keyspace}?"
    )
    assert store != cm["data"]["S3FRONT_STORE"]
    role_pw, admin_pw = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    base_env["S3FRONT_CASSANDRA_PASSWORD"] = role_pw

    # The server, as the Deployment runs it, on loopback, before anything else exists.
    dep = container(find(rendered, "Deployment", "s3front"), "s3front")
    args = build_parser().parse_args(argv(dep)[1:])
    assert args.wait_for_store is True
    http_port = sup.free_port()
    serve = [sys.executable, "-m", "s3front", *argv(dep)[1:], "--store", store]
    serve[serve.index("--host") + 1] = "127.0.0.1"
    serve[serve.index("--port") + 1] = str(http_port)
    server_env = {
        **base_env,
        "S3FRONT_ROOT_ACCESS_KEY": sup.ACCESS_KEY,
        "S3FRONT_ROOT_SECRET_KEY": sup.SECRET_KEY,
        "S3FRONT_DOMAINS": "localhost",
    }
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(serve, env=server_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 60
        while _probe(base + "/-/healthz")[0] != 200:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "no /-/healthz while waiting"
            time.sleep(0.5)
        status, body = _probe(base + "/-/readyz")
        assert status == 503 and body.startswith("waiting for the store"), body
        assert role_pw not in body
        assert _probe(base + "/some-bucket")[0] == 503

        # The Job's role step, twice (the second run finds the superuser made by the first).
        job = find(rendered, "Job", "s3front-schema")
        roles = container(job, "cassandra-roles", init=True)
        roles_env = {e["name"]: e.get("value", "") for e in roles["env"]}
        roles_env.update(
            CASSANDRA_HOST="127.0.0.1",
            CASSANDRA_PORT=str(port),
            CASSANDRA_AUTH_RF="1",  # one node here
            CASSANDRA_ADMIN_PASSWORD=admin_pw,
            S3FRONT_CASSANDRA_PASSWORD=role_pw,
            CASSANDRA_ROLES_DEADLINE="180",
        )
        assert roles["command"][:2] == ["python", "-c"]
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-c", roles["command"][2]],
                env={**base_env, **roles_env},
                capture_output=True,
                text=True,
                timeout=240,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            assert admin_pw not in done.stdout + done.stderr
            assert role_pw not in done.stdout + done.stderr
        assert not _login(port, "cassandra", "cassandra")
        assert _login(port, roles_env["CASSANDRA_ADMIN_USERNAME"], admin_pw)
        assert not _login(port, "s3front", "wrong")

        # Still waiting, now for the schema (the role logs in; the keyspace is missing).
        deadline = time.monotonic() + 60
        while "schema" not in (body := _probe(base + "/-/readyz")[1]):
            assert time.monotonic() < deadline, body
            time.sleep(1)
        assert "does not exist" in body and "s3front schema apply" in body

        # The Job's schema step with the role (replication 1: one node here).
        schema = argv(container(job, "schema"))
        schema[schema.index("--store") + 1] = store
        schema[schema.index("--replication") + 1] = "datacenter1:1"
        done = subprocess.run(
            [sys.executable, "-m", "s3front", *schema[1:]],
            env=base_env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stdout + done.stderr

        # The same server process becomes ready and serves.
        deadline = time.monotonic() + 90
        while _probe(base + "/-/readyz")[0] != 200:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(1)
        assert _probe(base + "/-/readyz")[1] == "ready\n"
    finally:
        server.terminate()
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    text = (tmp_path / "server.log").read_text()
    assert "Traceback" not in text, text
    assert role_pw not in text
