"""The CQL statements each S3 operation sends, pinned to the table in bench/RESULTS.md.

A real `s3front serve` on a keyspace of its own; each operation is sent once with the SigV4
harness, and the server's `s3front_cql_statements_total{table, kind}` counters are read from
`/-/metrics` before and after it. The difference must be exactly the row of the table under
"CQL statements per S3 operation" in bench/RESULTS.md (parsed from the file, so the two cannot
drift): a change that adds a statement to an operation fails here until the table, and the
measurements beside it, are brought up to date.

Steady state is what is pinned: the bucket's record is cached (`bucket_cache_seconds` 60, and a
warm-up request first), the background GC and lifecycle workers are off. Access-key lookups
are left out of the counts: they are cached per process for 5 s (s3front.keys.CACHE_SECONDS),
so whether one falls inside a given request depends on the clock, not on the operation.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator

import pytest
from s3front_e2e_support import REPO_ROOT, Server, start_server, stop_server, unique_bucket
from s3front_keyspaces import own_keyspace

pytestmark = pytest.mark.cassandra

RESULTS = REPO_ROOT / "bench" / "RESULTS.md"
HEADING = "## CQL statements per S3 operation"
_METRIC = re.compile(
    r'^s3front_cql_statements_total\{kind="(\w+)",table="([\w.]+)"\} ([0-9.e+]+)$', re.M
)
_ITEM = re.compile(r"^([\w.]+) (\w+)(?: x(\d+))?$")

Counts = dict[tuple[str, str], int]


def pinned_table(text: str) -> dict[str, tuple[int, Counts]]:
    """operation -> (statements, {(table, kind): n}) from the Markdown table under HEADING."""
    section = text.split(HEADING, 1)[1]
    out: dict[str, tuple[int, Counts]] = {}
    for line in section.splitlines()[1:]:
        if line.startswith("## "):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].isdigit():
            continue  # prose, the header row, the separator
        op, total, items = cells
        counts: Counts = {}
        for item in items.split(", "):
            m = _ITEM.match(item.strip("` "))
            assert m, f"bench/RESULTS.md, {op}: cannot read {item!r} (want 'table kind [xN]')"
            counts[(m[1], m[2])] = int(m[3] or 1)
        assert sum(counts.values()) == int(total), f"bench/RESULTS.md, {op}: items != total"
        out[op] = (int(total), counts)
    return out


def scrape(server: Server) -> Counts:
    resp = server.raw("GET", "/-/metrics", sign=False)
    assert resp.status == 200
    text = resp.body.decode()
    return {(t, k): int(float(v)) for k, t, v in _METRIC.findall(text)}


def sent_by(server: Server, method: str, path: str, **kw: object) -> tuple[Counts, bytes]:
    """Send one request; the statements it caused (access-key lookups left out) and its body."""
    before = scrape(server)
    resp = server.raw(method, path, **kw)  # type: ignore[arg-type]
    after = scrape(server)
    assert resp.status in (200, 204), f"{method} {path}: {resp.status} {resp.body[:300]!r}"
    diff = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
    diff.pop(("access_keys", "read"), None)
    return diff, resp.body


@pytest.fixture(scope="module")
def server(cassandra_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with own_keyspace(cassandra_url, "stmts") as url:
        srv = start_server(
            tmp_path_factory.mktemp("stmts"),
            store_url=url,
            variant="http-cassandra",
            ready_timeout=90,
            env_extra={
                "S3FRONT_BUCKET_CACHE_SECONDS": "60",
                "S3FRONT_GC_INTERVAL": "0",
                "S3FRONT_LIFECYCLE_INTERVAL": "0",
            },
        )
        try:
            yield srv
        finally:
            stop_server(srv)


def test_table_lists_the_issue_17_operations() -> None:
    pinned = pinned_table(RESULTS.read_text())
    for op in ("PUT 4 KiB", "GET 4 KiB", "HEAD 4 KiB", "DELETE 4 KiB", "PUT 1 MiB", "GET 1 MiB"):
        assert op in pinned, f"bench/RESULTS.md has no row for {op}"


def test_statements_per_operation_match_the_table(server: Server) -> None:
    pinned = pinned_table(RESULTS.read_text())
    bucket = unique_bucket("stmts")
    small, big = os.urandom(4096), os.urandom(1024 * 1024)
    assert server.raw("PUT", f"/{bucket}").status == 200
    # Warm-up: the bucket's record into the cache, the access key into its cache.
    assert server.raw("PUT", f"/{bucket}/warm", body=b"w").status == 200

    got: dict[str, Counts] = {}
    got["PUT 4 KiB"], _ = sent_by(server, "PUT", f"/{bucket}/small", body=small)
    got["GET 4 KiB"], body = sent_by(server, "GET", f"/{bucket}/small")
    assert body == small
    got["HEAD 4 KiB"], _ = sent_by(server, "HEAD", f"/{bucket}/small")
    got["PUT 1 MiB"], _ = sent_by(server, "PUT", f"/{bucket}/big", body=big)
    got["GET 1 MiB"], body = sent_by(server, "GET", f"/{bucket}/big")
    assert hashlib.sha256(body).digest() == hashlib.sha256(big).digest()
    got["LIST (ListObjectsV2)"], body = sent_by(server, "GET", f"/{bucket}", query="list-type=2")
    assert body.count(b"<Key>") == 3
    got["COPY 4 KiB"], _ = sent_by(
        server, "PUT", f"/{bucket}/copy", headers={"x-amz-copy-source": f"/{bucket}/small"}
    )
    got["DELETE 4 KiB"], _ = sent_by(server, "DELETE", f"/{bucket}/small")

    got["CreateMultipartUpload"], body = sent_by(server, "POST", f"/{bucket}/mp", query="uploads=")
    m = re.search(rb"<UploadId>([^<]+)</UploadId>", body)
    assert m, body
    upload_id = m[1].decode()
    got["UploadPart 4 KiB"], _ = sent_by(
        server, "PUT", f"/{bucket}/mp", query=f"partNumber=1&uploadId={upload_id}", body=small
    )
    etag = '"' + hashlib.md5(small).hexdigest() + '"'
    xml = (
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
        f"<ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    ).encode()
    got["CompleteMultipartUpload (1 part)"], _ = sent_by(
        server, "POST", f"/{bucket}/mp", query=f"uploadId={upload_id}", body=xml
    )

    table = {op: counts for op, (_total, counts) in pinned.items()}
    for op, counts in got.items():
        assert op in table, f"bench/RESULTS.md has no row for {op}; measured {fmt(counts)}"
    mismatched = {op: fmt(counts) for op, counts in got.items() if counts != table[op]}
    assert not mismatched, (
        "statements per operation differ from bench/RESULTS.md "
        f"(measured now, as table cells): {mismatched}"
    )


def fmt(counts: Counts) -> str:
    """The cell text bench/RESULTS.md uses for these counts."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{t} {k}" + (f" x{n}" if n > 1 else "") for (t, k), n in items)


def test_reading_the_table() -> None:
    text = (
        f"intro\n{HEADING}\n\nprose\n\n| operation | statements | by table and kind |\n"
        "|---|---:|---|\n| PUT 1 MiB | 3 | gc_intents write x2, objects write |\n"
        "\n## Next\n| X | 1 | a read |\n"
    )
    assert pinned_table(text) == {
        "PUT 1 MiB": (3, {("gc_intents", "write"): 2, ("objects", "write"): 1})
    }
    assert fmt({("objects", "write"): 1, ("gc_intents", "write"): 2}) == (
        "gc_intents write x2, objects write"
    )
    with pytest.raises(AssertionError, match="items != total"):
        pinned_table(text.replace("| 3 |", "| 4 |"))


def test_metric_counts_real_statements(server: Server) -> None:
    """The counter moves by what the store sends, so a table of zeros could not pass."""
    bucket = unique_bucket("stmtz")
    assert server.raw("PUT", f"/{bucket}").status == 200
    counts, _ = sent_by(server, "PUT", f"/{bucket}/k", body=b"x")
    assert counts.get(("objects", "write"), 0) >= 1
