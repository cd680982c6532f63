"""s3cmd 2.4 (from the project's virtualenv) against a live server, SigV2 and SigV4, path-style.

s3cmd uses ListObjects V1, multipart at 15 MiB chunks (40 MiB -> 3 parts), sends Content-MD5,
and `s3cmd info` asks for ?location, ?policy, ?cors, ?acl and more; a 5xx there makes it retry
(the generated config caps retries so a bug fails fast instead of hanging).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import s3front_e2e_support as sup

SMALL = b"small object for s3cmd\n" * 10


@pytest.mark.parametrize("sig", ["v2", "v4"])
def test_s3cmd_roundtrip(server: Any, big_file: Any, tmp_path: Path, sig: str) -> None:
    cfg = sup.s3cmd_config(tmp_path / "s3cfg", server, v2=(sig == "v2"))
    env = sup.client_env(tmp_path, server)
    bucket = sup.unique_bucket()

    def s3cmd(*args: str, timeout: float = 120) -> str:
        return sup.run(sup.s3cmd_cmd(cfg, *args), env=env, timeout=timeout).stdout

    small = tmp_path / "small.txt"
    small.write_bytes(SMALL)

    s3cmd("mb", f"s3://{bucket}")
    try:
        assert f"s3://{bucket}" in s3cmd("ls")
        s3cmd("put", str(small), f"s3://{bucket}/small.txt")
        mark = server.log_mark()
        s3cmd("put", str(big_file.path), f"s3://{bucket}/dir/big.bin", timeout=300)
        ops = [e["op"] for e in server.access_log(mark) if e.get("key") == "dir/big.bin"]
        assert ops.count("UploadPart") == 3, ops  # multipart, 15 MiB chunks
        assert "CompleteMultipartUpload" in ops, ops

        listing = s3cmd("ls", f"s3://{bucket}")
        assert f"s3://{bucket}/small.txt" in listing, listing
        assert f"DIR  s3://{bucket}/dir/" in listing, listing
        recursive = s3cmd("ls", "-r", f"s3://{bucket}")
        assert f"s3://{bucket}/dir/big.bin" in recursive, recursive
        assert str(big_file.size) in recursive, recursive
        everything = s3cmd("la")
        assert f"s3://{bucket}/small.txt" in everything, everything

        info = s3cmd("info", f"s3://{bucket}/small.txt")
        assert f"File size: {len(SMALL)}" in info, info
        info = s3cmd("info", f"s3://{bucket}/dir/big.bin")
        assert f"File size: {big_file.size}" in info, info

        started = time.monotonic()
        info = s3cmd("info", f"s3://{bucket}", timeout=60)
        assert time.monotonic() - started < 20, "s3cmd info took long: retries on errors?"
        assert "Location:" in info, info

        out_small = tmp_path / "small.out"
        s3cmd("get", f"s3://{bucket}/small.txt", str(out_small))
        assert out_small.read_bytes() == SMALL
        out_big = tmp_path / "big.out"
        s3cmd("get", f"s3://{bucket}/dir/big.bin", str(out_big), timeout=300)
        assert sup.sha256_file(out_big) == big_file.sha256

        s3cmd("del", f"s3://{bucket}/small.txt")
        s3cmd("del", f"s3://{bucket}/dir/big.bin")
        assert f"s3://{bucket}/" not in s3cmd("ls", "-r", f"s3://{bucket}")
    finally:
        done = sup.run(
            sup.s3cmd_cmd(cfg, "rb", "--recursive", "--force", f"s3://{bucket}"),
            env=env,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert f"s3://{bucket}" not in s3cmd("ls")
