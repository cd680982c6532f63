"""The check after a copy: what the source has, the target has, and a sample reads back equal.

Read-only on both stores. Per kind (access keys, buckets with their by-owner rows and deletion
marks, object versions, delete markers, uploads, parts) it counts the source's rows and those
the target holds equal, pairing the two walks of each partition (`streams.paired`). For every
object version and part with a manifest it walks both manifest trees side by side and counts
their entries and block references. Then it reads a random sample of object versions back from
both stores in full -- every block fetched and checked against its id, all bytes hashed -- and
compares the digests.

Rows under migrated buckets that only the target has (written there after an earlier run, by a
server) are counted and reported, but are not a failure: the migration never deletes on the
target.
"""

from __future__ import annotations

import random
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

from s3front.keys import tenant_id
from s3front.migrate import streams
from s3front.store.protocols import Store
from s3front.store.records import BucketRecord, ManifestEntry, ObjectRecord

MAX_EXAMPLES = 10  # mismatches named in the report, per run


@dataclass(slots=True)
class KindCheck:
    source: int = 0
    matched: int = 0


@dataclass(slots=True)
class VerifyReport:
    kinds: dict[str, KindCheck] = field(default_factory=dict)
    extra_on_target: int = 0
    sampled: int = 0
    sample_matched: int = 0
    mismatches: int = 0
    examples: list[str] = field(default_factory=list)

    def kind(self, name: str) -> KindCheck:
        return self.kinds.setdefault(name, KindCheck())

    def mismatch(self, what: str) -> None:
        self.mismatches += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(what)

    @property
    def ok(self) -> bool:
        return self.mismatches == 0 and all(k.source == k.matched for k in self.kinds.values())


class Verifier:
    def __init__(
        self,
        src: streams.ReadStore,
        dst: Store,
        *,
        sample: int,
        progress: Callable[[int], None] = lambda n: None,
        rng: random.Random | None = None,
    ) -> None:
        self.src, self.dst = src, dst
        self.report = VerifyReport()
        self._sample_size = sample
        self._progress = progress
        self._rng = rng or random.Random()
        self._seen = 0  # object versions eligible for the sample so far
        self._sample: list[ObjectRecord] = []  # reservoir (Algorithm R)
        self._owned: dict[str, set[tuple[str, int]]] = {}  # the target's by-owner rows

    async def run(self) -> VerifyReport:
        await self.check_keys()
        async for bucket in streams.buckets(self.src.meta):
            if await self.check_bucket(bucket):
                await self.check_uploads(bucket)
                await self.check_objects(bucket)
        await self.check_sample()
        return self.report

    async def check_keys(self) -> None:
        count = self.report.kind("access keys")
        tenants: dict[str, bool] = {}  # tenant -> every key of it matched
        for rec in await self.src.keys.list_keys():
            count.source += 1
            self._progress(1)
            same = await self.dst.keys.get_key(rec.access_key) == rec
            if same:
                count.matched += 1
            else:
                self.report.mismatch(f"access key {rec.access_key}: missing or different")
            if rec.status in ("active", "revoked"):  # not the root marker or the KMS key ring
                tenant = tenant_id(rec.tenant)
                tenants[tenant] = tenants.get(tenant, True) and same
        # A tenant is its keys (canonical id = hash of the name): no table of its own.
        self.report.kinds["tenants"] = KindCheck(len(tenants), sum(tenants.values()))

    async def check_bucket(self, rec: BucketRecord) -> bool:
        count = self.report.kind("buckets")
        count.source += 1
        self._progress(1)
        meta = self.dst.meta
        there = await meta.get_bucket(rec.name)
        if there != rec:
            self.report.mismatch(f"bucket {rec.name}: missing or different")
            return there is not None and there.bucket_id == rec.bucket_id
        if rec.owner not in self._owned:
            rows = await meta.list_owner_buckets(rec.owner)
            self._owned[rec.owner] = {(r.name, r.created_ms) for r in rows}
        owned = (rec.name, rec.created_ms) in self._owned[rec.owner]
        src_mark = await self.src.meta.get_bucket_mark(rec.name)
        if owned and src_mark == await meta.get_bucket_mark(rec.name):
            count.matched += 1
        else:
            self.report.mismatch(f"bucket {rec.name}: by-owner row or deletion mark differs")
        return True

    async def check_uploads(self, bucket: BucketRecord) -> None:
        uploads, parts = self.report.kind("uploads"), self.report.kind("parts")
        src_walk = streams.uploads(self.src.meta, bucket.bucket_id)
        dst_walk = streams.uploads(self.dst.meta, bucket.bucket_id)
        async for s, d in streams.paired(src_walk, dst_walk, streams.upload_order):
            if s is None:
                self.report.extra_on_target += 1
                continue
            uploads.source += 1
            self._progress(1)
            if d == s:
                uploads.matched += 1
            else:
                self.report.mismatch(f"bucket {bucket.name}: upload {s.upload_id} differs")
            src_parts = streams.parts(self.src.meta, s.upload_id)
            dst_parts = streams.parts(self.dst.meta, s.upload_id)
            async for sp, dp in streams.paired(src_parts, dst_parts, streams.part_order):
                if sp is None:
                    self.report.extra_on_target += 1
                    continue
                parts.source += 1
                self._progress(1)
                what = f"bucket {bucket.name}: upload {s.upload_id} part {sp.part_number}"
                if dp == sp and await self._same_tree(sp.manifest_id, what):
                    parts.matched += 1
                elif dp != sp:
                    self.report.mismatch(f"{what}: missing or different")

    async def check_objects(self, bucket: BucketRecord) -> None:
        versions, markers = self.report.kind("object versions"), self.report.kind("delete markers")
        for shard in range(bucket.shards):
            src_walk = streams.objects(self.src.meta, bucket.bucket_id, shard)
            dst_walk = streams.objects(self.dst.meta, bucket.bucket_id, shard)
            async for s, d in streams.paired(src_walk, dst_walk, streams.object_order):
                if s is None:
                    self.report.extra_on_target += 1
                    continue
                versions.source += 1
                markers.source += s.delete_marker
                self._progress(1)
                what = f"bucket {bucket.name}: {s.key!r} version {s.version_id}"
                if d is None or not streams.same_object(s, d):
                    self.report.mismatch(f"{what}: missing or different")
                    continue
                if s.manifest_id is not None and not await self._same_tree(s.manifest_id, what):
                    continue
                versions.matched += 1
                markers.matched += s.delete_marker
                if s.size > 0:
                    self._offer(s)

    def _offer(self, rec: ObjectRecord) -> None:
        self._seen += 1
        if len(self._sample) < self._sample_size:
            self._sample.append(rec)
        elif self._sample_size > 0:
            j = self._rng.randrange(self._seen)
            if j < self._sample_size:
                self._sample[j] = rec

    async def _same_tree(self, manifest_id: str, what: str) -> bool:
        """Both manifest trees have the same entries, in the same order."""
        src_walk = _entries(self.src.meta, manifest_id)
        dst_walk = _entries(self.dst.meta, manifest_id)
        entries = self.report.kind("manifest entries")
        try:
            while True:
                a, b = await anext(src_walk, None), await anext(dst_walk, None)
                if a is None and b is None:
                    return True
                if a is not None:
                    entries.source += 1
                if a is None or b is None or a != b:
                    self.report.mismatch(f"{what}: manifest {manifest_id} differs on the target")
                    return False
                entries.matched += 1
        except streams.DataMismatch as e:
            self.report.mismatch(f"{what}: {e}")
            return False
        finally:
            await src_walk.aclose()
            await dst_walk.aclose()

    async def check_sample(self) -> None:
        for rec in self._sample:
            self.report.sampled += 1
            try:
                a = await streams.object_digest(self.src.meta, self.src.blocks, rec)
            except streams.DataMismatch as e:
                self.report.mismatch(f"{rec.key!r} version {rec.version_id} on the source: {e}")
                continue
            try:
                b = await streams.object_digest(self.dst.meta, self.dst.blocks, rec)
            except streams.DataMismatch as e:
                self.report.mismatch(f"{rec.key!r} version {rec.version_id} on the target: {e}")
                continue
            if a == b:
                self.report.sample_matched += 1
            else:
                self.report.mismatch(f"{rec.key!r} version {rec.version_id}: bytes differ")


async def _entries(
    meta: streams.ReadMeta, manifest_id: str, depth: int = 0
) -> AsyncGenerator[tuple[int, ManifestEntry], None]:
    """Every entry of a manifest tree, depth first, each with its depth."""
    if depth > 64:
        raise streams.DataMismatch(f"manifest {manifest_id}: nested more than 64 deep")
    async for page in streams.manifest_pages(meta, manifest_id):
        for e in page:
            yield depth, e
            if e.child is not None:
                async for inner in _entries(meta, e.child, depth + 1):
                    yield inner
