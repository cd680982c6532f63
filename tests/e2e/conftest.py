"""End-to-end fixtures: a real `s3front serve` subprocess per (scheme, store) variant.

`server` is parametrised over http/https and sqlite/cassandra and scoped to the session, so
each variant starts once (pytest groups the tests by parameter). Tests must use unique bucket
names (`sup.unique_bucket()`): the Cassandra variants share one keyspace per session.

On a failing test the server's log lines written during that test are attached to the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import s3front_e2e_support as sup

_VARIANTS = [
    pytest.param(("http", "sqlite"), id="http-sqlite"),
    pytest.param(("https", "sqlite"), id="https-sqlite"),
    pytest.param(("http", "cassandra"), id="http-cassandra", marks=pytest.mark.cassandra),
    pytest.param(("https", "cassandra"), id="https-cassandra", marks=pytest.mark.cassandra),
]


_VARIANT_TUPLES = [p.values[0] for p in _VARIANTS]
# TLS is uvicorn's transport and the store is the back end: the two layers do not meet, so every
# test runs on http-sqlite, https-sqlite and http-cassandra (each scheme and each store), and on
# https-cassandra only when it is about HTTPS itself (marked `variants("https")`: SSE-C keys,
# say). The whole cross product added a quarter to the CI run and covered nothing more.
_PAIRWISE_ONLY = ("https", "cassandra")


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> Any:
    names = [f"{sup.vhost_bucket(v)}.localhost" for v in sup.VARIANTS]
    return sup.make_tls(tmp_path_factory.mktemp("tls"), names)


@pytest.fixture(scope="session", params=_VARIANTS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tls_material: Any,
) -> Iterator[Any]:
    scheme, backend = request.param
    variant = f"{scheme}-{backend}"
    workdir = tmp_path_factory.mktemp(f"server-{variant}")
    store_url = None
    if backend == "cassandra":
        store_url = request.getfixturevalue("cassandra_url")
    srv = sup.start_server(
        workdir,
        scheme=scheme,
        store_url=store_url,
        tls=tls_material if scheme == "https" else None,
        variant=variant,
        ready_timeout=60 if backend == "cassandra" else 30,
        # Bucket logging delivers every second, not every minute, so tests can wait for it.
        env_extra={"S3FRONT_ACCESS_LOG_FLUSH_SECONDS": "1"},
    )
    try:
        yield srv
    finally:
        sup.stop_server(srv)


@pytest.fixture(scope="session")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """40 MiB of random bytes on disk (multipart for every client)."""
    return sup.make_random_file(tmp_path_factory.mktemp("data") / "big.bin", 40 * sup.MiB)


@pytest.fixture
def s3(server: Any) -> Iterator[Any]:
    """A boto3 client with default settings, path-style."""
    client = server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    """A fresh bucket, emptied and removed afterwards (best effort)."""
    name = sup.unique_bucket()
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete(s3, name)


def empty_and_delete(s3: Any, name: str) -> None:
    import botocore.exceptions

    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])
        uploads = s3.list_multipart_uploads(Bucket=name).get("Uploads", [])
        for up in uploads:
            s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        s3.delete_bucket(Bucket=name)
    except botocore.exceptions.BotoCoreError:
        pass
    except botocore.exceptions.ClientError:
        pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    srv = getattr(item, "funcargs", {}).get("server")
    mark = item.stash.get(_LOG_MARK, None)
    if srv is not None and mark is not None:
        text = srv.log_since(mark)
        report.sections.append(("s3front log during this test", text[-20000:] or "(empty)"))
        if not srv.alive():
            report.sections.append(("s3front", f"server exited with {srv.proc.returncode}"))


_LOG_MARK = pytest.StashKey[int]()


@pytest.fixture(autouse=True)
def _server_log_mark(request: pytest.FixtureRequest) -> None:
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        request.node.stash[_LOG_MARK] = srv.log_mark()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.variants("https")` (or "http", "sqlite", "cassandra"): the test runs only
    on server variants with that scheme or store. Others are deselected at collection rather
    than skipped, so a CI run reports no skips for combinations that cannot apply (an SSE-C
    key over plain HTTP). https-cassandra runs only the tests marked for https (above)."""
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("variants")
        callspec = getattr(item, "callspec", None)
        variant = next(
            (v for v in (callspec.params.values() if callspec else ()) if v in _VARIANT_TUPLES),
            None,
        )
        (dropped if _deselected(variant, marker) else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _deselected(variant: tuple[str, str] | None, marker: pytest.Mark | None) -> bool:
    if variant is None:
        return False
    wanted = set(marker.args) if marker is not None else set()
    if marker is not None and not wanted & set(variant):
        return True
    return variant == _PAIRWISE_ONLY and "https" not in wanted
