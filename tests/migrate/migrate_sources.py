"""A populated embedded store for the migration tests, written through the store protocols.

It holds every kind of row the migration copies, in the shapes the objects layer makes them:
keys (plain, sealed-looking, revoked, the root marker), buckets with configuration documents
and a deletion mark, inline objects, objects with block manifests, a multipart object (a
manifest of child part manifests), a copy (a manifest whose only entry is another object's
manifest), many versions and delete markers, keys that sort differently as bytes and as
UTF-16, multipart uploads in progress (one with no parts) -- and garbage the copy must leave
behind: a block and a manifest nothing references.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from s3front.keys import tenant_id
from s3front.objects.keys import shard_of
from s3front.objects.manifest_ids import new_manifest_id
from s3front.store import open_store
from s3front.store.protocols import Store
from s3front.store.records import (
    AccessKeyRecord,
    BucketRecord,
    ManifestEntry,
    ObjectRecord,
    OwnerBucket,
    PartRecord,
    UploadRecord,
)

NOW = 1_700_000_000_000
BLOCK = 64 * 1024


@dataclass
class Populated:
    url: str
    path: Path
    buckets: list[BucketRecord] = field(default_factory=list)
    objects: list[tuple[BucketRecord, int, ObjectRecord]] = field(default_factory=list)
    uploads: list[tuple[BucketRecord, UploadRecord, list[PartRecord]]] = field(default_factory=list)
    keys: list[AccessKeyRecord] = field(default_factory=list)
    blocks: list[bytes] = field(default_factory=list)  # ids of every referenced block
    garbage_block: bytes = b""
    garbage_manifest: str = ""
    secret: str = ""  # a plaintext secret stored in the source (must never be printed)


async def _blocks(store: Store, pop: Populated, sizes: list[int]) -> list[ManifestEntry]:
    entries, offset = [], 0
    for size in sizes:
        data = os.urandom(size)
        block_id = hashlib.sha256(data).digest()
        await store.blocks.put_block(block_id, data)
        pop.blocks.append(block_id)
        entries.append(ManifestEntry(offset, size, block_id=block_id))
        offset += size
    return entries


async def _manifest(store: Store, pop: Populated, sizes: list[int]) -> tuple[str, int]:
    mid = new_manifest_id(NOW)
    await store.meta.put_manifest(mid, await _blocks(store, pop, sizes))
    return mid, sum(sizes)


async def populate(path: Path, prefix: str) -> Populated:
    """Write the rows (see the module docstring) into a new embedded store at `path`."""
    url = f"sqlite://{path}"
    pop = Populated(url, path)
    store = await open_store(url)
    try:
        await _fill(store, pop, prefix)
    finally:
        await store.close()
    return pop


async def _fill(store: Store, pop: Populated, prefix: str) -> None:
    meta = store.meta
    pop.secret = "plain-secret-" + prefix
    pop.keys = [
        AccessKeyRecord(f"AK{prefix.upper()}A", pop.secret, tenant_id("alice"), "alice", NOW),
        AccessKeyRecord(
            f"AK{prefix.upper()}B", "sealed:v2:bm90LWEtcmVhbC1zZWFs", tenant_id("bob"), "bob", NOW
        ),
        AccessKeyRecord(
            f"AK{prefix.upper()}C", "revoked-secret", tenant_id("bob"), "bob", NOW, "revoked"
        ),
    ]
    for k in pop.keys:
        await store.keys.put_key(k)

    plain = BucketRecord(
        f"{prefix}-plain",
        f"{prefix}-id-plain",
        tenant_id("alice"),
        NOW,
        "us-east-1",
        4,
        "",
        {"cors": "<CORSConfiguration/>", "policy": '{"Version":"2012-10-17"}', "tagging": "<T/>"},
    )
    versioned = BucketRecord(
        f"{prefix}-versioned",
        f"{prefix}-id-versioned",
        tenant_id("bob"),
        NOW + 1,
        "us-east-1",
        2,
        "Enabled",
        {"object-lock": "<ObjectLockConfiguration/>", "acl": "<AccessControlPolicy/>"},
    )
    pop.buckets = [plain, versioned]
    for b in pop.buckets:
        assert await meta.insert_bucket(b)
        await meta.put_owner_bucket(OwnerBucket(b.owner, b.name, b.created_ms))
    # A DeleteBucket that died halfway left its mark: copied as it is.
    assert await meta.set_bucket_mark(versioned.name, versioned.bucket_id, "1.deadbeef", "")

    async def put(bucket: BucketRecord, rec: ObjectRecord) -> None:
        shard = shard_of(rec.key, bucket.shards)
        await meta.put_object(bucket.bucket_id, shard, rec)
        pop.objects.append((bucket, shard, rec))

    owner = plain.owner
    # Inline objects, with keys whose byte order differs from their UTF-16 order.
    for key in ("a", "a/b", "é", "日本", "\U0001f600", "zz"):
        body = f"inline {key}".encode()
        await put(
            plain,
            ObjectRecord(
                key, 0, "null", len(body), hashlib.md5(body).hexdigest(), NOW, owner,
                inline=body, headers={"content-type": "text/plain", "x-amz-meta-k": key},
                checksums={"CRC32": "AAAAAA==", "type": "FULL_OBJECT"},
                attrs={"tagging": "<Tagging/>"},
            ),
        )  # fmt: skip
    # Block objects: one block, several blocks.
    for key, sizes in (("one-block", [BLOCK]), ("three-blocks", [BLOCK, BLOCK, 1000])):
        mid, size = await _manifest(store, pop, sizes)
        await put(plain, ObjectRecord(key, 0, "null", size, "e" * 32, NOW, owner, manifest_id=mid))
    # A multipart object: a manifest of two child part manifests.
    p1, s1 = await _manifest(store, pop, [BLOCK, 500])
    p2, s2 = await _manifest(store, pop, [700])
    top = new_manifest_id(NOW)
    await meta.put_manifest(top, [ManifestEntry(0, s1, child=p1), ManifestEntry(s1, s2, child=p2)])
    multipart = ObjectRecord(
        "multi", 0, "null", s1 + s2, "f" * 32 + "-2", NOW, owner, manifest_id=top, parts=2,
        checksums={"SHA256": "x" * 44, "type": "COMPOSITE"},
    )  # fmt: skip
    await put(plain, multipart)
    # A copy of it: one entry naming the source's manifest (shared, copied once).
    copy_mid = new_manifest_id(NOW)
    await meta.put_manifest(copy_mid, [ManifestEntry(0, s1 + s2, child=top)])
    await put(plain, ObjectRecord("copy", 0, "null", s1 + s2, "c" * 32, NOW, owner, copy_mid))
    # An empty object and an "encrypted" one (its SSE parameters are attrs; the bytes opaque).
    await put(
        plain, ObjectRecord("empty", 0, "null", 0, "d41d8cd98f00b204e9800998ecf8427e", NOW, owner)
    )
    sealed_mid, _ = await _manifest(store, pop, [BLOCK + 16])
    await put(
        plain,
        ObjectRecord(
            "sealed", 0, "null", BLOCK, "a" * 32, NOW, owner, manifest_id=sealed_mid,
            attrs={"sse": '{"alg":"AES256","dek":"wrapped"}'},
        ),
    )  # fmt: skip

    # Versions and delete markers in the versioned bucket (seq descending = newest first).
    vowner = versioned.owner
    for seq in range(1, 6):
        if seq in (3, 5):
            rec = ObjectRecord("doc", seq, f"v{seq}", 0, "", NOW + seq, vowner, delete_marker=True)
        else:
            mid, size = await _manifest(store, pop, [100 * seq])
            rec = ObjectRecord(
                "doc", seq, f"v{seq}", size, f"{seq:032x}", NOW + seq, vowner, manifest_id=mid,
                attrs={"legal-hold": "ON", "retention": "GOVERNANCE 2030-01-01"},
            )  # fmt: skip
        await put(versioned, rec)

    # Uploads in progress: one with two parts, one with none.
    for key, part_sizes in (("big-upload", [[BLOCK, BLOCK], [300]]), ("no-parts", [])):
        upload = UploadRecord(
            key, f"{prefix}-up-{key}", NOW, vowner, {"content-type": "application/x"}, "CRC32"
        )
        parts = []
        for n, sizes in enumerate(part_sizes, start=1):
            mid, size = await _manifest(store, pop, sizes)
            part = PartRecord(n, size, f"{n:032x}", NOW, mid, {"CRC32": "AAAAAA=="})
            await meta.put_part(upload.upload_id, part)
            parts.append(part)
        await meta.put_upload(versioned.bucket_id, upload)
        pop.uploads.append((versioned, upload, parts))

    # Garbage: referenced by nothing, so not copied.
    data = os.urandom(1234)
    pop.garbage_block = hashlib.sha256(data).digest()
    await store.blocks.put_block(pop.garbage_block, data)
    pop.garbage_manifest = new_manifest_id(NOW)
    await meta.put_manifest(
        pop.garbage_manifest, [ManifestEntry(0, 1234, block_id=pop.garbage_block)]
    )


def tree_state(path: Path) -> dict[str, tuple[int, int, str]]:
    """Every file and directory under `path`: mode, mtime (ns) and a digest of the contents."""
    st = path.lstat()
    out: dict[str, tuple[int, int, str]] = {".": (st.st_mode, st.st_mtime_ns, "")}
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            p = Path(root) / name
            st = p.lstat()
            digest = ""
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
            out[str(p.relative_to(path))] = (st.st_mode, st.st_mtime_ns, digest)
    return out
