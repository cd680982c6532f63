"""AWS CLI v1 (`aws s3` and `aws s3api`) as subprocesses against a live server.

The CLI gets our keys from the environment only (no user config), `--endpoint-url`, and
`--ca-bundle` over HTTPS. Every call has a timeout.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import s3front_e2e_support as sup

SMALL = b"aws cli small object\n" * 50


class Aws:
    def __init__(self, server: Any, tmp_path: Path) -> None:
        self.server = server
        self.env = sup.client_env(tmp_path, server)
        self.cwd = tmp_path

    def __call__(self, *args: str, timeout: float = 180, check: bool = True) -> Any:
        return sup.run(
            sup.aws_cmd(self.server, *args),
            env=self.env,
            timeout=timeout,
            cwd=self.cwd,
            check=check,
        )

    def json(self, *args: str, timeout: float = 120) -> Any:
        out = self(*args, timeout=timeout).stdout.strip()
        return json.loads(out) if out else {}


def test_aws_s3_high_level(server: Any, big_file: Any, tmp_path: Path) -> None:
    aws = Aws(server, tmp_path)
    bucket = sup.unique_bucket()
    small = tmp_path / "small.txt"
    small.write_bytes(SMALL)
    aws("s3", "mb", f"s3://{bucket}")
    try:
        aws("s3", "cp", str(small), f"s3://{bucket}/small.txt")
        aws("s3", "cp", str(big_file.path), f"s3://{bucket}/big.bin", timeout=300)
        head = aws.json("s3api", "head-object", "--bucket", bucket, "--key", "big.bin")
        assert head["ContentLength"] == big_file.size
        assert head["ETag"].strip('"').endswith("-5"), head  # 8 MiB parts

        listing = aws("s3", "ls", f"s3://{bucket}").stdout
        assert "small.txt" in listing and "big.bin" in listing, listing

        # `aws s3 cp` downloads in ranged GETs carrying If-Match.
        out = tmp_path / "big.out"
        aws("s3", "cp", f"s3://{bucket}/big.bin", str(out), timeout=300)
        assert sup.sha256_file(out) == big_file.sha256

        # sync up, sync again (nothing to do), sync down.
        src = tmp_path / "tree"
        (src / "sub").mkdir(parents=True)
        files = {"a.txt": b"a" * 10, "sub/b.txt": b"b" * 1000, "sub/c d.txt": b"c" * 5}
        for rel, data in files.items():
            (src / rel).write_bytes(data)
        aws("s3", "sync", str(src), f"s3://{bucket}/tree/")
        again = aws("s3", "sync", str(src), f"s3://{bucket}/tree/").stdout
        assert "upload:" not in again, again
        dst = tmp_path / "back"
        aws("s3", "sync", f"s3://{bucket}/tree/", str(dst))
        for rel, data in files.items():
            assert (dst / rel).read_bytes() == data
        recursive = aws("s3", "ls", "--recursive", f"s3://{bucket}").stdout
        assert "tree/sub/c d.txt" in recursive, recursive

        aws("s3", "rm", f"s3://{bucket}/big.bin")
        aws("s3", "rm", "--recursive", f"s3://{bucket}/")
        assert aws("s3", "ls", f"s3://{bucket}").stdout.strip() == ""
    finally:
        aws("s3", "rb", "--force", f"s3://{bucket}", check=False)
    assert bucket not in aws("s3", "ls").stdout


def test_aws_s3api(server: Any, tmp_path: Path) -> None:
    aws = Aws(server, tmp_path)
    bucket = sup.unique_bucket()
    small = tmp_path / "small.txt"
    small.write_bytes(SMALL)
    aws("s3api", "create-bucket", "--bucket", bucket)
    try:
        loc = aws.json("s3api", "get-bucket-location", "--bucket", bucket)
        assert loc.get("LocationConstraint") in (None, "", "us-east-1"), loc
        ver = aws.json("s3api", "get-bucket-versioning", "--bucket", bucket)
        assert "Status" not in ver, ver

        put = aws.json(
            "s3api", "put-object", "--bucket", bucket, "--key", "k/small.txt", "--body", str(small)
        )
        assert put["ETag"].strip('"') == hashlib.md5(SMALL).hexdigest()
        head = aws.json("s3api", "head-object", "--bucket", bucket, "--key", "k/small.txt")
        assert head["ContentLength"] == len(SMALL)
        rng = tmp_path / "range.out"
        got = aws.json(
            "s3api",
            "get-object",
            "--bucket",
            bucket,
            "--key",
            "k/small.txt",
            "--range",
            "bytes=5-24",
            str(rng),
        )
        assert got["ContentRange"] == f"bytes 5-24/{len(SMALL)}", got
        assert rng.read_bytes() == SMALL[5:25]

        # Hand-driven multipart: 5 MiB + a short last part.
        part1 = tmp_path / "p1"
        part2 = tmp_path / "p2"
        d1 = sup.make_random_file(part1, 5 * sup.MiB)
        d2 = sup.make_random_file(part2, 1234)
        up = aws.json("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "mp.bin")
        upload_id = up["UploadId"]
        etags = []
        for n, p in ((1, part1), (2, part2)):
            r = aws.json(
                "s3api",
                "upload-part",
                "--bucket",
                bucket,
                "--key",
                "mp.bin",
                "--part-number",
                str(n),
                f"--upload-id={upload_id}",
                "--body",
                str(p),
            )
            etags.append(r["ETag"])
        parts = aws.json(
            "s3api", "list-parts", "--bucket", bucket, "--key", "mp.bin", f"--upload-id={upload_id}"
        )
        assert [p["PartNumber"] for p in parts["Parts"]] == [1, 2]
        layout = {"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]}
        (tmp_path / "parts.json").write_text(json.dumps(layout))
        done = aws.json(
            "s3api",
            "complete-multipart-upload",
            "--bucket",
            bucket,
            "--key",
            "mp.bin",
            # "=": an upload id may start with "-", which argparse would take for an option.
            f"--upload-id={upload_id}",
            "--multipart-upload",
            f"file://{tmp_path / 'parts.json'}",
        )
        assert done["ETag"].strip('"').endswith("-2"), done
        out = tmp_path / "mp.out"
        aws.json("s3api", "get-object", "--bucket", bucket, "--key", "mp.bin", str(out))
        assert out.stat().st_size == d1.size + d2.size
        assert out.read_bytes()[: d1.size] == part1.read_bytes()
        assert out.read_bytes()[d1.size :] == part2.read_bytes()

        lst = aws.json("s3api", "list-objects-v2", "--bucket", bucket)
        assert sorted(o["Key"] for o in lst["Contents"]) == ["k/small.txt", "mp.bin"]
        lst = aws.json("s3api", "list-objects", "--bucket", bucket, "--delimiter", "/")
        assert [p["Prefix"] for p in lst["CommonPrefixes"]] == ["k/"], lst

        aws("s3api", "delete-object", "--bucket", bucket, "--key", "k/small.txt")
        aws("s3api", "delete-object", "--bucket", bucket, "--key", "mp.bin")
        lst = aws.json("s3api", "list-objects-v2", "--bucket", bucket)
        assert not lst.get("Contents"), lst
    finally:
        aws("s3api", "delete-bucket", "--bucket", bucket, check=False)
    buckets = aws.json("s3api", "list-buckets")
    assert bucket not in [b["Name"] for b in buckets.get("Buckets", [])]
