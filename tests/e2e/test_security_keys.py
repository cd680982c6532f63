"""Issue 14, items 6, 7 and 13: secrets at rest, the root key, and CLI failures.

Everything runs the real thing: `s3front serve` and `s3front keys|gc|stats|schema`
subprocesses, boto3 against the server, and the store's files or keyspace as they are left.
The tests that change the root key get a store of their own (a fresh directory, or a fresh
Cassandra keyspace): the session's servers share one keyspace and its root key.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import hmac
import os
import re
import secrets
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import s3front_e2e_support as sup
from botocore.exceptions import ClientError
from s3front_keyspaces import own_keyspace

MASTER = "12066eb327070c9d6a8366f25a662b51ccc5347a90f913c58ac29d63fcea514c"
OTHER_MASTER = "56f9ade1df195d1b40b2170826d37623362cf0d9428c3272567fae2eaf21dc47"
UNREACHABLE = "cassandra://127.0.0.1:1/ks?connect_timeout=3"
NO_ROOT_ENV = {"S3FRONT_ROOT_ACCESS_KEY": "", "S3FRONT_ROOT_SECRET_KEY": ""}


def cli(
    *args: str, env_extra: Mapping[str, str] | None = None, umask: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    env.update(env_extra or {})
    preexec: Callable[[], Any] | None = None
    if umask is not None:
        mask = umask

        def preexec() -> None:
            os.umask(mask)

    return subprocess.run(
        [sys.executable, "-m", "s3front", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        preexec_fn=preexec,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The failure's stderr, checked to be exactly one line and no traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def new_root() -> tuple[str, str]:
    return "S3FROOT" + secrets.token_hex(6).upper() + "X", secrets.token_urlsafe(30)[:40]


def root_env(access_key: str, secret_key: str) -> dict[str, str]:
    return {"S3FRONT_ROOT_ACCESS_KEY": access_key, "S3FRONT_ROOT_SECRET_KEY": secret_key}


def start(tmp_path: Path, store_url: str, env: Mapping[str, str], **kw: Any) -> sup.Server:
    timeout = 60 if store_url.startswith("cassandra:") else 30
    workdir = tmp_path / f"srv-{secrets.token_hex(3)}"
    return sup.start_server(
        workdir, store_url=store_url, env_extra=env, ready_timeout=timeout, **kw
    )


def refused(tmp_path: Path, store_url: str, env: Mapping[str, str]) -> str:
    """Start a server that must refuse to start; returns its log."""
    try:
        srv = start(tmp_path, store_url, env)
    except sup.ServerStartError as exc:
        text = str(exc)
    else:
        sup.stop_server(srv)
        pytest.fail(f"the server started; log:\n{srv.log_text()[-4000:]}")
    assert "server exited with 2 before answering" in text, text
    assert "Traceback" not in text, text
    return text


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


@pytest.fixture(params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)])
def own_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL nobody else uses: a new directory, or a new keyspace with the schema."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'data'}"
        return
    with own_keyspace(request.getfixturevalue("cassandra_url"), "s3k") as url:
        yield url


# -- item 6: the store's files, the master key, sealing -------------------------------------------


def _modes(root: Path) -> dict[str, tuple[int, bool]]:
    """Path -> (permission bits, is a directory)."""
    out = {}
    for p in [root, *root.rglob("*")]:
        st = p.stat()
        out[str(p)] = (stat.S_IMODE(st.st_mode), stat.S_ISDIR(st.st_mode))
    return out


def test_sqlite_store_is_private_whatever_the_umask(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = os.umask(0)  # the server inherits it
    try:
        srv = start(tmp_path, f"sqlite://{data}", {})
    finally:
        os.umask(old)
    try:
        s3 = srv.client()
        bucket = sup.unique_bucket()
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="big", Body=os.urandom(100 * 1024))  # block files
        # While the server runs: the database with its -wal and -shm, the block directories.
        running = _modes(data)
    finally:
        sup.stop_server(srv)
    assert any(p.endswith("-wal") for p in running) and any("/blocks/" in p for p in running)
    block_files = [p for p, (_, is_dir) in running.items() if "/blocks/" in p and not is_dir]
    assert block_files, running
    for path, (mode, is_dir) in running.items():
        assert mode == (0o700 if is_dir else 0o600), f"{path} has mode {mode:04o}"
    assert "accessible to other users" not in srv.log_text()

    # The CLI creates the same private layout when it is the first to open a store.
    fresh = tmp_path / "fresh"
    proc = cli("keys", "create", "--tenant", "t", "--store", f"sqlite://{fresh}", umask=0)
    assert proc.returncode == 0, proc.stderr
    for path, (mode, is_dir) in _modes(fresh).items():
        assert mode == (0o700 if is_dir else 0o600), f"{path} has mode {mode:04o}"


def test_loose_sqlite_permissions_are_warned(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    srv = start(tmp_path, f"sqlite://{data}", {})
    sup.stop_server(srv)
    log = srv.log_text()
    warning = [line for line in log.splitlines() if "accessible to other users" in line]
    assert len(warning) == 1 and "WARNING" in warning[0] and f"{data} (mode 0755)" in warning[0]
    assert sup.SECRET_KEY not in log


@pytest.mark.parametrize(
    "bad",
    [
        "correct horse battery staple",
        "0" * 64,  # hex, but not random
        secrets.token_hex(31),
        secrets.token_hex(32)[:-1],
        base64.b64encode(secrets.token_bytes(24)).decode(),
        base64.b64encode(secrets.token_bytes(33)).decode(),
    ],
    ids=["passphrase", "zeros", "31-bytes", "63-hex", "24-bytes-b64", "33-bytes-b64"],
)
def test_bad_master_keys_are_refused(tmp_path: Path, bad: str) -> None:
    store = f"sqlite://{tmp_path / 'data'}"
    env = {"S3FRONT_MASTER_KEY": bad}
    for args in (
        ["serve", "--port", str(sup.free_port()), "--store", store],
        ["keys", "create", "--tenant", "t", "--store", store],
    ):
        proc = cli(*args, env_extra=env)
        assert proc.returncode == 2, proc
        line = one_line_error(proc)
        assert "S3FRONT_MASTER_KEY must be 32 random bytes" in line
        assert bad not in proc.stderr + proc.stdout
    # Nothing was written with the bad key.
    assert not (tmp_path / "data").exists()


def test_good_master_key_encodings_are_accepted(tmp_path: Path) -> None:
    raw = secrets.token_bytes(32)
    for i, text in enumerate(
        [
            raw.hex(),
            raw.hex().upper(),
            base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode().rstrip("="),
        ]
    ):
        store = f"sqlite://{tmp_path / 'data'}"
        proc = cli(
            "keys", "create", "--tenant", f"t{i}", "--store", store,
            env_extra={"S3FRONT_MASTER_KEY": text},
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr  # the same 32 bytes unseal the earlier keys


def test_keys_create_never_writes_plaintext_into_a_sealed_store(
    tmp_path: Path, own_store: str
) -> None:
    sealed = cli("keys", "create", "--tenant", "a", "--store", own_store,
                 env_extra={"S3FRONT_MASTER_KEY": MASTER})  # fmt: skip
    assert sealed.returncode == 0, sealed.stderr
    before = cli("keys", "list", "--store", own_store)
    assert before.returncode == 0, before.stderr

    for env, message in (
        ({}, "S3FRONT_MASTER_KEY is not set: refusing to store a new secret in the clear"),
        ({"S3FRONT_MASTER_KEY": OTHER_MASTER}, "not the key it was sealed with"),
    ):
        for args in (["create", "--tenant", "b"], ["rotate", _access_key(sealed.stdout)]):
            proc = cli("keys", *args, "--store", own_store, env_extra=env)
            assert proc.returncode == 2, proc
            assert message in one_line_error(proc)
            assert "secret key" not in proc.stdout
    after = cli("keys", "list", "--store", own_store)
    assert after.stdout == before.stdout  # nothing added, nothing revoked


def _access_key(out: str) -> str:
    m = re.search(r"access key:\s+(\S+)", out)
    assert m, out
    return m.group(1)


def _secret_key(out: str) -> str:
    m = re.search(r"secret key:\s+(\S+)", out)
    assert m, out
    return m.group(1)


def test_plaintext_secrets_are_sealed_when_a_master_key_is_given(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = f"sqlite://{data}"
    made = cli("keys", "create", "--tenant", "carol", "--store", store)
    assert made.returncode == 0, made.stderr
    secret = _secret_key(made.stdout).encode()
    assert secret in (data / "s3front.db").read_bytes()  # no master key: in the clear, 0600

    srv = start(tmp_path, store, {"S3FRONT_MASTER_KEY": MASTER})
    try:
        carol = srv.client(access_key=_access_key(made.stdout), secret_key=secret.decode())
        assert carol.list_buckets()["Buckets"] == []
    finally:
        sup.stop_server(srv)
    stored = b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())
    assert secret not in stored and sup.SECRET_KEY.encode() not in stored
    log = srv.log_text()
    assert "sealed 1 access key secret(s)" in log or "sealed 2 access key secret(s)" in log
    assert secret.decode() not in log and MASTER not in log


# -- item 7: the root key -------------------------------------------------------------------------


def test_revoked_root_key_stays_revoked_across_restarts(tmp_path: Path, own_store: str) -> None:
    root, root_secret = new_root()
    srv = start(tmp_path, own_store, root_env(root, root_secret))
    try:
        s3 = srv.client(access_key=root, secret_key=root_secret)
        assert s3.list_buckets()["Buckets"] == []
        revoked = cli("keys", "revoke", root, "--store", own_store)
        assert revoked.returncode == 0, revoked.stderr
    finally:
        sup.stop_server(srv)

    log = refused(tmp_path, own_store, root_env(root, root_secret))
    last = [line for line in log.splitlines() if line.strip()][-1]
    assert last == (
        f"s3front: S3FRONT_ROOT_ACCESS_KEY names access key {root}, which was revoked; "
        "a revoked key stays revoked: set a new root key"
    ), log
    assert root_secret not in log
    listing = cli("keys", "list", "--store", own_store)
    assert re.search(rf"^{root}\t.*\trevoked$", listing.stdout, re.M), listing.stdout
    assert "s3front:root-key" not in listing.stdout

    # A new root key starts the server; the revoked one stays refused.
    root2, secret2 = new_root()
    srv = start(tmp_path, own_store, root_env(root2, secret2))
    try:
        assert srv.client(access_key=root2, secret_key=secret2).list_buckets()["Buckets"] == []
        old = srv.client(access_key=root, secret_key=root_secret)
        assert error_code(old.list_buckets) == "InvalidAccessKeyId"
    finally:
        sup.stop_server(srv)


def test_a_new_root_key_disables_the_previous_one(tmp_path: Path, own_store: str) -> None:
    srv = start(tmp_path, own_store, NO_ROOT_ENV)
    try:
        log = srv.log_text()
        generated, generated_secret = _access_key(log), _secret_key(log)
        assert srv.client(access_key=generated, secret_key=generated_secret).list_buckets()
    finally:
        sup.stop_server(srv)
    # An extra root key made by the operator is theirs: a new root key leaves it alone.
    extra = cli("keys", "create", "--tenant", "root", "--store", own_store)
    assert extra.returncode == 0, extra.stderr

    first, first_secret = new_root()
    second, second_secret = new_root()
    # Generated -> first from the environment -> second: each time the previous one stops.
    for env_key, env_secret, previous, previous_secret in (
        (first, first_secret, generated, generated_secret),
        (second, second_secret, first, first_secret),
    ):
        srv = start(tmp_path, own_store, root_env(env_key, env_secret))
        try:
            old = srv.client(access_key=previous, secret_key=previous_secret)
            assert error_code(old.list_buckets) == "InvalidAccessKeyId"
            new = srv.client(access_key=env_key, secret_key=env_secret)
            assert new.list_buckets()["Buckets"] == []
            kept = srv.client(
                access_key=_access_key(extra.stdout), secret_key=_secret_key(extra.stdout)
            )
            assert kept.list_buckets()["Buckets"] == []
        finally:
            sup.stop_server(srv)
        log = srv.log_text()
        assert re.search(
            rf"WARNING .*root access key {previous} revoked: "
            rf"S3FRONT_ROOT_ACCESS_KEY now names {env_key}",
            log,
        ), log
        assert env_secret not in log and previous_secret not in log


def test_the_root_key_record_is_never_a_usable_key(tmp_path: Path) -> None:
    """The pseudo-record that names the managed root key is refused like an unknown key, signed
    with the empty secret older drafts gave it (SigV4 and SigV2) or with its stored secret."""
    from s3front.keys import ROOT_MARKER

    store = f"sqlite://{tmp_path / 'data'}"
    srv = start(tmp_path, store, NO_ROOT_ENV)  # generates a root key and writes the record
    try:
        host = f"127.0.0.1:{srv.port}"
        signed = sup.sign_v4("GET", "/", "", {"host": host}, sup.EMPTY_SHA256, ROOT_MARKER, "")
        v4 = sup.send_raw(srv.scheme, srv.port, "GET", "/", signed.headers, b"")
        date = email.utils.formatdate(usegmt=True)
        v2_sig = base64.b64encode(
            hmac.new(b"", f"GET\n\n\n{date}\n/".encode(), hashlib.sha1).digest()
        ).decode()
        v2 = sup.send_raw(
            srv.scheme,
            srv.port,
            "GET",
            "/",
            {"host": host, "date": date, "authorization": f"AWS {ROOT_MARKER}:{v2_sig}"},
            b"",
        )
        stored = asyncio.run(_stored_secret(store, ROOT_MARKER))
        signed = sup.sign_v4("GET", "/", "", {"host": host}, sup.EMPTY_SHA256, ROOT_MARKER, stored)
        with_stored = sup.send_raw(srv.scheme, srv.port, "GET", "/", signed.headers, b"")
    finally:
        sup.stop_server(srv)
    assert stored
    for resp in (v4, v2, with_stored):
        assert resp.status == 403, resp
        assert b"<Code>InvalidAccessKeyId</Code>" in resp.body, resp.body
    # It exists (so the refusal above is the status check, not a missing key) and is hidden.
    assert ROOT_MARKER not in cli("keys", "list", "--store", store).stdout
    revoke = cli("keys", "revoke", ROOT_MARKER, "--store", store)
    assert revoke.returncode == 1 and "no such access key" in revoke.stderr


async def _stored_secret(store_url: str, access_key: str) -> str:
    from s3front.store import open_store

    store = await open_store(store_url)
    try:
        rec = await store.keys.get_key(access_key)
    finally:
        await store.close()
    assert rec is not None
    return rec.secret


def test_root_key_of_another_tenant_is_refused(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path / 'data'}"
    made = cli("keys", "create", "--tenant", "mallory", "--store", store)
    assert made.returncode == 0, made.stderr
    taken = _access_key(made.stdout)
    log = refused(tmp_path, store, root_env(taken, "whatever-secret-0123456789"))
    assert f"names access key {taken}, which belongs to another tenant" in log
    assert "whatever-secret" not in log


# -- item 13: CLI failures --------------------------------------------------------------------------


@pytest.mark.parametrize("grace", ["inf", "-inf", "nan", "-1", "soon"])
def test_gc_grace_must_be_a_finite_number(tmp_path: Path, grace: str) -> None:
    proc = cli("gc", "--grace", grace, "--store", f"sqlite://{tmp_path / 'data'}")
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("s3front gc: error:"), proc.stderr  # one line, no usage
    assert "argument --grace" in proc.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["gc"],
        ["stats"],
        ["keys", "list"],
        ["keys", "create", "--tenant", "x"],
        ["keys", "revoke", "S3FNOSUCHKEY"],
        ["schema", "apply"],
        ["schema", "status"],
    ],
    ids=lambda a: "-".join(a[:2]),
)
def test_unreachable_store_is_one_line_not_a_traceback(args: list[str]) -> None:
    proc = cli(*args, "--store", UNREACHABLE)
    assert proc.returncode == 1, proc
    line = one_line_error(proc)
    assert "127.0.0.1:1" in line or "unavailable" in line.lower(), line


def test_serve_on_an_unreachable_store_is_one_line(tmp_path: Path) -> None:
    proc = cli("serve", "--port", str(sup.free_port()), "--store", UNREACHABLE)
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr, proc.stderr
    last = [line for line in proc.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("s3front: ") and "127.0.0.1:1" in last, proc.stderr
