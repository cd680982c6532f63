"""Master-key rotation: re-wrap data keys and re-seal secrets, never rewriting object data.

`s3front kms rotate-master --new-key-env VAR` walks the store once:
1. every object version and every multipart upload whose data key is wrapped by the old master
   key (SSE-S3; `Sealing.kek_id` names the wrapping key) gets it re-wrapped by the new one --
   a small row rewrite; blocks and manifests are untouched;
2. every SSE-KMS key record of the key ring and every sealed access-key secret is re-sealed.

Resumable: a row already wrapped by the new key is skipped, so an interrupted run is simply run
again with the same two keys (progress lines say where it is). Each object row is rewritten
with the store's compare-and-set (`put_object_if`, a lightweight transaction on Cassandra)
against the row as read, so a concurrent overwrite or delete wins and is not undone; an upload
is re-read just before it is rewritten.

Procedure (documented in the README): a server holds one master key, so rotation is a short
maintenance window -- stop the servers (or accept that requests for rows already re-wrapped fail
until they restart), run the command with S3FRONT_MASTER_KEY = the old key and VAR = the new
one, restart every server with the new key, and run the command once more with the same two
keys to catch anything written meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from s3front import keys as access_keys
from s3front import kms
from s3front.config import decode_master_key
from s3front.objects.encryption import (
    SSE_S3,
    UnwrapError,
    master_key_id,
    rewrapped,
    sealing_of,
    with_sealing,
)
from s3front.objects.scan import all_buckets
from s3front.store.protocols import Store

PAGE = 500


@dataclass(slots=True)
class RotationReport:
    objects: int = 0  # object rows re-wrapped
    uploads: int = 0
    already: int = 0  # rows found wrapped by the new key (an earlier, interrupted run)
    skipped: int = 0  # rows changed concurrently (the newer row is left alone)
    unknown: int = 0  # rows wrapped by neither key (reported, left alone)
    kms_keys: int = 0
    secrets: int = 0

    def summary(self) -> str:
        return (
            f"re-wrapped {self.objects} object data key(s) and {self.uploads} upload data "
            f"key(s) ({self.already} already done, {self.skipped} changed meanwhile, "
            f"{self.unknown} wrapped by another key); re-sealed {self.kms_keys} KMS key(s) and "
            f"{self.secrets} access key secret(s)"
        )


async def rotate_master(
    store: Store, old_text: str, new_text: str, progress: Callable[[str], None] | None = None
) -> RotationReport:
    if not old_text:
        raise kms.KmsError("S3FRONT_MASTER_KEY (the current master key) is not set")
    old, new = decode_master_key(old_text), decode_master_key(new_text)
    if old == new:
        raise kms.KmsError("the new master key is the current one")
    new_id = master_key_id(new)
    report = RotationReport()
    say = progress or (lambda _m: None)
    meta = store.meta
    for bucket in await all_buckets(store):
        for shard in range(bucket.shards):
            start_key, after_seq = "", None
            while rows := await meta.scan_objects(
                bucket.bucket_id,
                shard,
                start_key=start_key,
                after_seq=after_seq,
                limit=PAGE,
                with_inline=True,
            ):
                start_key, after_seq = rows[-1].key, rows[-1].seq
                for rec in rows:
                    sealing = sealing_of(rec.attrs)
                    if sealing is None or sealing.mode != SSE_S3:
                        continue
                    if sealing.kek_id == new_id:
                        report.already += 1
                        continue
                    try:
                        moved = rewrapped(sealing, old, new, kek_id=new_id)
                    except UnwrapError:
                        report.unknown += 1
                        continue
                    done = await meta.put_object_if(
                        bucket.bucket_id,
                        shard,
                        replace(rec, attrs=with_sealing(rec.attrs, moved)),
                        rec,
                    )
                    if done:
                        report.objects += 1
                    else:
                        report.skipped += 1
        after_key, after_id = "", ""
        while uploads := await meta.scan_uploads(
            bucket.bucket_id, after_key=after_key, after_upload_id=after_id, limit=PAGE
        ):
            after_key, after_id = uploads[-1].key, uploads[-1].upload_id
            for up in uploads:
                sealing = sealing_of(up.attrs)
                if sealing is None or sealing.mode != SSE_S3:
                    continue
                if sealing.kek_id == new_id:
                    report.already += 1
                    continue
                current = await meta.get_upload(bucket.bucket_id, up.key, up.upload_id)
                if current is None:
                    report.skipped += 1
                    continue
                try:
                    moved = rewrapped(sealing, old, new, kek_id=new_id)
                except UnwrapError:
                    report.unknown += 1
                    continue
                await meta.put_upload(
                    bucket.bucket_id, replace(current, attrs=with_sealing(current.attrs, moved))
                )
                report.uploads += 1
        say(f"bucket {bucket.name}: {report.objects} object(s), {report.uploads} upload(s) so far")
    # The key ring and the access-key secrets: sealed with the keys module's scheme.
    for key in await store.keys.list_keys():
        if not access_keys.is_sealed(key.secret):
            continue
        try:
            plain = access_keys.unseal(key.secret, key.access_key, old_text)
        except access_keys.MasterKeyError:
            # Sealed by the new key already (an interrupted run), or by neither (raises).
            access_keys.unseal(key.secret, key.access_key, new_text)
            continue
        fresh = await store.keys.get_key(key.access_key)
        if fresh is None or fresh.secret != key.secret:
            continue  # changed meanwhile (revoked, rotated): that writer sealed it
        await store.keys.put_key(
            replace(fresh, secret=access_keys.seal(plain, key.access_key, new_text))
        )
        if kms.is_kms_record(key):
            report.kms_keys += 1
        else:
            report.secrets += 1
    say("key ring and access keys re-sealed")
    return report
