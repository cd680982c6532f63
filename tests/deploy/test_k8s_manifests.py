"""The Kubernetes manifests: they render, validate against the API schemas, and agree with the
CLI, the schema version and a real server's probe paths."""

from __future__ import annotations

import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

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
    example = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    kubernetes_validate.validate(example, K8S_VERSIONS[-1], strict=True)
    assert all(v.startswith("REPLACE-ME") for v in example["stringData"].values())
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
    assert dep["spec"]["replicas"] == 3
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
