"""`s3front gc --grace 0` from two hosts at once while uploads, copies and multipart completes go
on across three servers: nothing referenced is freed (every acknowledged object reads back).

Overwrites and deletes in the load make garbage, so the passes have blocks to free; the test
then reads every object the load left behind, whole.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import threading
import time

import s3front_e2e_support as sup
from botocore.exceptions import ClientError
from conftest import Keyspace, s3

PART = 5 * 1024 * 1024


def _load(n: int, servers: list[sup.Server], bucket: str, final: dict[str, str],
          lock: threading.Lock, errors: list[str], stop: threading.Event) -> None:  # fmt: skip
    rng = random.Random(100 + n)
    clients = [s3(s) for s in servers]
    shared = [os.urandom(64 * 1024) for _ in range(4)]  # equal blocks: dedup across objects
    i = 0
    while not stop.is_set():
        i += 1
        c = clients[rng.randrange(3)]
        key = f"g{n}/{rng.randrange(8)}"  # few keys: overwrites and deletes make garbage
        try:
            what = rng.choices(["put", "copy", "mpu", "delete"], [50, 20, 10, 20])[0]
            if what == "put":
                body = rng.choice(shared) + rng.randbytes(rng.randrange(0, 200_000))
                c.put_object(Bucket=bucket, Key=key, Body=body)
                digest = hashlib.sha256(body).hexdigest()
            elif what == "copy":
                with lock:
                    sources = [k for k in final if k.startswith(f"g{n}/") and k != key]
                if not sources:
                    continue
                src = rng.choice(sources)
                with lock:
                    digest = final[src]
                c.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": src})
            elif what == "mpu":
                parts = [rng.choice(shared) * 80 + rng.randbytes(PART - 64 * 1024 * 80 + 10),
                         rng.randbytes(1000)]  # fmt: skip
                up = c.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
                etags = [
                    clients[(p + n) % 3].upload_part(
                        Bucket=bucket, Key=key, UploadId=up, PartNumber=p, Body=d
                    )["ETag"]
                    for p, d in enumerate(parts, start=1)
                ]
                clients[(n + 2) % 3].complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=up,
                    MultipartUpload={"Parts": [{"PartNumber": p, "ETag": e}
                                               for p, e in enumerate(etags, start=1)]},
                )  # fmt: skip
                digest = hashlib.sha256(b"".join(parts)).hexdigest()
            else:
                c.delete_object(Bucket=bucket, Key=key)
                with lock:
                    final.pop(key, None)
                continue
            with lock:
                final[key] = digest
        except ClientError as exc:
            with lock:
                errors.append(f"{key}: {exc}")
            return


def test_gc_on_two_hosts_during_writes(
    keyspace: Keyspace, servers: list[sup.Server], summary: list[str]
) -> None:
    bucket = sup.unique_bucket("gc")
    s3(servers[0]).create_bucket(Bucket=bucket)
    time.sleep(1.5)  # bucket_cache_seconds
    final: dict[str, str] = {}
    lock, errors, stop = threading.Lock(), [], threading.Event()
    workers = [
        threading.Thread(target=_load, args=(n, servers, bucket, final, lock, errors, stop))
        for n in range(4)
    ]
    for w in workers:
        w.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    cmd = [sys.executable, "-m", "s3front", "gc", "--store", keyspace.url, "--grace", "0"]
    summaries: list[str] = []
    try:
        deadline = time.monotonic() + float(os.environ.get("S3FRONT_CLUSTER_GC_SECONDS", "40"))
        while time.monotonic() < deadline and not errors:
            runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env) for _ in range(2)]  # fmt: skip
            for run in runs:
                out, _ = run.communicate(timeout=240)
                assert run.returncode == 0, out
                summaries.append(out.strip().splitlines()[-1] if out.strip() else "")
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=120)
    assert not errors, errors[:5]
    assert len(summaries) >= 2
    # One more pass after the writes: what the last passes could not yet free.
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    clients = [s3(s) for s in servers]
    assert final
    for i, (key, digest) in enumerate(sorted(final.items())):
        data = clients[i % 3].get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(data).hexdigest() == digest, key
    last = " ".join(done.stdout.split())
    summary.append(
        f"gc race: {len(summaries) + 1} gc passes (two at a time) during writes; "
        f"{len(final)} objects read back whole; last pass: {last}"
    )
