"""Two `s3front serve` processes on one Cassandra keyspace run the lifecycle worker at once over
thousands of objects: every expired object gets exactly one delete marker, and no object the
rules do not expire is touched."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import s3front_e2e_support as sup

pytestmark = pytest.mark.cassandra

OBJECTS = 3000  # half of them under the expiring prefix
DAY_SECONDS = 2


@pytest.fixture
def two_servers(lc_cassandra_url: str, tmp_path: Path) -> Iterator[list[Any]]:
    env = {"S3FRONT_LIFECYCLE_DAY_SECONDS": str(DAY_SECONDS), "S3FRONT_LIFECYCLE_INTERVAL": "1"}
    servers: list[Any] = []
    try:
        for name in ("a", "b"):
            servers.append(
                sup.start_server(
                    tmp_path / name,
                    store_url=lc_cassandra_url,
                    variant="http-cassandra",
                    ready_timeout=60,
                    env_extra=env,
                )
            )
        yield servers
    finally:
        for srv in servers:
            sup.stop_server(srv)


def _markers_added(srv: Any) -> int:
    return sum(int(n) for n in re.findall(r"markers added (\d+)", srv.log_text()))


def test_two_servers_expire_each_object_once(two_servers: list[Any]) -> None:
    a, b = two_servers
    s3 = a.client()
    s3b = b.client()
    try:
        bucket = sup.unique_bucket("lc2")
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        keys = [f"{'exp' if i % 2 else 'keep'}/{i:05d}" for i in range(OBJECTS)]
        with ThreadPoolExecutor(16) as pool:
            clients = [s3, s3b]
            put = [
                pool.submit(clients[i % 2].put_object, Bucket=bucket, Key=k, Body=k.encode())
                for i, k in enumerate(keys)
            ]
            version_of = {k: f.result()["VersionId"] for k, f in zip(keys, put, strict=True)}
        time.sleep(DAY_SECONDS * 2)  # every object is now more than a "day" old
        # The rule arrives after the objects: both servers' next passes find all of them due.
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [
                    {"ID": "exp", "Status": "Enabled", "Filter": {"Prefix": "exp/"},
                     "Expiration": {"Days": 1}}
                ]
            },
        )  # fmt: skip
        expiring = {k for k in keys if k.startswith("exp/")}

        def markers() -> dict[str, int]:
            found: dict[str, int] = {}
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                for m in page.get("DeleteMarkers", []):
                    found[m["Key"]] = found.get(m["Key"], 0) + 1
            return found

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(markers()) < len(expiring):
            time.sleep(1)
        time.sleep(3)  # a few more passes by both servers: nothing more may happen
        found = markers()
        assert set(found) == expiring
        assert set(found.values()) == {1}  # exactly one marker per expired object
        versions: dict[str, list[str]] = {}
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for v in page.get("Versions", []):
                versions.setdefault(v["Key"], []).append(v["VersionId"])
        # Every object's data is still there, untouched; the others have no marker.
        assert versions == {k: [version_of[k]] for k in keys}
        # What the two servers report adds up to the markers that exist: none was counted
        # twice, and none was written twice.
        print("markers added by server a, b:", _markers_added(a), _markers_added(b))
        assert _markers_added(a) + _markers_added(b) == len(expiring)
    finally:
        s3.close()
        s3b.close()
