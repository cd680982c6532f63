"""Schema jobs racing on the 3-node cluster: several `s3front schema apply` at the same moment
(more than the two k8s may run), three times over, must all succeed and leave one schema that every
node holds alike -- same schema version, same table ids (the same table created through two
coordinators at once would get two ids: "Column family ID mismatch").

Before the job sent its DDL to one node and retried what a settling cluster refuses, two or three
jobs at once failed about one round in two with "Keyspace ... doesn't exist" or "table
schema_version does not exist".
"""

from __future__ import annotations

import os
import secrets
import subprocess

from conftest import Cluster, schema_cmd

JOBS = 4
ROUNDS = 3


def test_schema_jobs_racing_all_succeed_with_one_schema(cluster: Cluster) -> None:
    cluster.settle_schema()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    names = [f"s3r_{secrets.token_hex(5)}" for _ in range(ROUNDS)]
    try:
        # The keyspaces stay until the end: each round's schema spreads over a larger schema.
        for name in names:
            procs = [
                subprocess.Popen(
                    schema_cmd(cluster.url(name)),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=env,
                )
                for _ in range(JOBS)
            ]
            outputs = [(p.wait(timeout=240), p.communicate()[0]) for p in procs]
            failed = [out for rc, out in outputs if rc != 0]
            assert not failed, failed
            # Every node: the same schema, and the same id for each of the keyspace's tables.
            versions = cluster.per_node("SELECT schema_version FROM system.local")
            assert len(versions) == 3 and len(set(versions.values())) == 1, versions
            ids = cluster.per_node(
                "SELECT table_name, id FROM system_schema.tables WHERE keyspace_name = %s",
                (name,),
            )
            assert len(ids) == 3 and len(set(ids.values())) == 1, ids
            assert "schema_version" in next(iter(ids.values()))
    finally:
        for name in names:
            cluster.drop_keyspace(name)
