"""`s3front migrate --from sqlite:///dir --to cassandra://host:9042/keyspace`.

Refuses, with one line and before anything is written: a source that is not an embedded store
URL, a target that names the source itself, a Cassandra keyspace that is missing or not at
the schema version this s3front needs (`s3front schema apply` first), a source a server still
has open. Then it copies (`copier`), holding a write intent on the target (`guard`), checks
that nothing wrote to the source meanwhile, verifies (`verify`) and prints a report: counts per
kind, what this run wrote, the verification. Exit 0 when the verification passed and nothing
conflicted; 1 otherwise (run it again after fixing the cause: it resumes).

Progress: a status line on a terminal, otherwise a line every `log_every` seconds on stderr
(`s3front.progress`); the report goes to stdout. No secret is ever printed: keys are counted,
not shown.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from s3front.migrate.copier import EXIT_AFTER_ENV, Copier, CopyReport
from s3front.migrate.guard import MigrationIntent
from s3front.migrate.source import ReadOnlySqlite, open_source
from s3front.migrate.verify import Verifier, VerifyReport
from s3front.progress import Progress
from s3front.store.errors import SchemaOutdated, StoreUnavailable
from s3front.store.protocols import Store

DEFAULT_SAMPLE = 100


def sqlite_dir(url: str) -> str:
    """The directory of a `sqlite://` URL (the same rule as the embedded store's)."""
    path = url[len("sqlite://") :] if url.startswith("sqlite://") else ""
    if not path:
        raise ValueError(f"--from must name an embedded store: sqlite:///path (not {url!r})")
    return path


def same_store(src_dir: str, dst_url: str) -> bool:
    if not dst_url.startswith("sqlite://"):
        return False
    dst_dir = dst_url[len("sqlite://") :]
    return os.path.realpath(src_dir) == os.path.realpath(dst_dir)


async def check_target_schema(dst_url: str) -> None:
    """Refuse a Cassandra keyspace that is not at exactly the schema version this s3front
    writes: older lacks tables the copy fills, newer may expect columns this version leaves
    empty."""
    if not dst_url.startswith("cassandra:"):
        return
    from s3front.store.cassandra import parse_url
    from s3front.store.cassandra.schema import REQUIRED_VERSION, SchemaError, schema_status

    keyspace = parse_url(dst_url).keyspace
    try:
        version = await schema_status(dst_url)
    except SchemaError as e:  # unreachable, or the version unreadable
        raise StoreUnavailable(f"--to: {e}") from None
    if version != REQUIRED_VERSION:
        found = "does not exist" if version is None else f"is at schema version {version}"
        hint = (
            "run `s3front schema apply` on it first"
            if version is None or version < REQUIRED_VERSION
            else "migrate with the s3front version that matches it"
        )
        raise SchemaOutdated(
            f"--to: keyspace {keyspace!r} {found}; this s3front migrates into schema version "
            f"{REQUIRED_VERSION}: {hint}"
        )


async def migrate(
    src_url: str,
    dst_url: str,
    *,
    sample: int = DEFAULT_SAMPLE,
    out: TextIO | None = None,
    err: TextIO | None = None,
    log_every: float = 30.0,
) -> int:
    """Run the whole migration; the exit code. Refusals raise ValueError or a StoreError."""
    from s3front.store import open_store

    out = out or sys.stdout
    err = err or sys.stderr
    src_dir = sqlite_dir(src_url)
    if src_url == dst_url or same_store(src_dir, dst_url):
        raise ValueError("--from and --to name the same store")
    await check_target_schema(dst_url)
    exit_after = int(os.environ[EXIT_AFTER_ENV]) if os.environ.get(EXIT_AFTER_ENV) else None
    src = await open_source(src_dir)
    try:
        dst = await open_store(dst_url)
        try:
            copied = await _copy(src, dst, err, log_every, exit_after)
            src.check_unchanged()
            with Progress("migrate: verifying", unit="rows", stream=err, log_every=log_every) as p:
                verified = await Verifier(src, dst, sample=sample, progress=p.advance).run()
        finally:
            await dst.close()
    finally:
        await src.close()
    print_report(copied, verified, out)
    return 0 if verified.ok and not copied.conflicts and not copied.errors else 1


async def _copy(
    src: ReadOnlySqlite, dst: Store, err: TextIO, log_every: float, exit_after: int | None
) -> CopyReport:
    intent = MigrationIntent(dst.meta)
    await intent.start()
    try:
        with Progress("migrate: copying", unit="rows", stream=err, log_every=log_every) as p:
            copier = Copier(src, dst, intent, progress=p.advance, exit_after=exit_after)
            return await copier.run()
    finally:
        await intent.stop()


def print_report(copied: CopyReport, verified: VerifyReport, out: TextIO) -> None:
    rows = [("", "source", "target", "written", "present")]
    for name, check in verified.kinds.items():
        count = copied.kinds.get(name)
        written = str(count.written) if count else "-"
        present = str(count.present) if count else "-"
        rows.append((name, str(check.source), str(check.matched), written, present))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        line = r[0].ljust(widths[0]) + "".join(
            "  " + v.rjust(w) for v, w in zip(r[1:], widths[1:], strict=True)
        )
        out.write(line.rstrip() + "\n")
    out.write(
        f"written by this run: {copied.blocks_written} blocks ({copied.block_bytes_written} "
        f"bytes), {copied.manifest_pages_written} manifest pages; blocks copied as stored "
        "(same content-addressed ids, no re-chunking)\n"
    )
    if copied.sealed_secrets:
        out.write(
            f"{copied.sealed_secrets} key records are sealed under a master key: serve the "
            "target with the same S3FRONT_MASTER_KEY (SSE-S3 and SSE-KMS objects need it too)\n"
        )
    extra = copied.extra_on_target or verified.extra_on_target
    if extra:
        out.write(f"note: {extra} rows under the migrated buckets exist only on the target\n")
    for c in copied.conflicts:
        out.write(f"conflict: {c}\n")
    for e in copied.errors:
        out.write(f"error: {e}\n")
    for m in verified.examples:
        out.write(f"mismatch: {m}\n")
    if verified.mismatches > len(verified.examples):
        out.write(f"... and {verified.mismatches - len(verified.examples)} more mismatches\n")
    sample = f"{verified.sample_matched}/{verified.sampled} sampled objects read back identical"
    verdict = "OK" if verified.ok else "FAILED"
    out.write(f"verification: {verdict} ({sample})\n")
    out.flush()
