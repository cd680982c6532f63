"""Access keys on the embedded store: sealing, the lookup auth uses, rotation, the root key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from s3front import keys
from s3front.store import open_store
from s3front.store.protocols import Store

T = TypeVar("T")

# Master keys are 32 random bytes as hex or base64 (s3front.config.decode_master_key).
M1 = "5f0c6e0b3c2d1a9e8f7d6c5b4a39281706f5e4d3c2b1a0998877665544332211"
M2 = "0123456789abcdef0fedcba98765432112233445566778899aabbccddeeff001"
M = "Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZkdISUo="


def with_store(tmp_path: Path, body: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = await open_store(f"sqlite://{tmp_path}")
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(run())


def test_tenant_ids_are_stable_and_canonical() -> None:
    rid = keys.tenant_id("root")
    assert rid == keys.ROOT_TENANT_ID and len(rid) == 64 and int(rid, 16) >= 0
    assert keys.tenant_id("alice") != rid
    assert keys.tenant_id(rid) == rid  # an id stays itself


def test_sealed_secrets(tmp_path: Path) -> None:
    async def body(store: Store) -> None:
        rec = await keys.create_key(store.keys, "alice", "Alice", M1, 1)
        raw = await store.keys.get_key(rec.access_key)
        assert raw is not None and keys.is_sealed(raw.secret)
        assert rec.secret not in raw.secret
        assert raw.tenant == keys.tenant_id("alice") and raw.display_name == "Alice"

        found = await keys.KeyCache(store.keys, M1).lookup(rec.access_key)
        assert found is not None and found.secret == rec.secret
        with pytest.raises(keys.MasterKeyError, match="not the key it was sealed with") as info:
            await keys.KeyCache(store.keys, M2).lookup(rec.access_key)
        assert rec.secret not in str(info.value)
        with pytest.raises(keys.MasterKeyError, match="no master key"):
            await keys.check_master_key(store.keys, "")
        with pytest.raises(keys.MasterKeyError):
            await keys.ensure_root_key(store.keys, "AK", "SK", 1, M2)
        await keys.check_master_key(store.keys, M1)

        # A sealed secret moved to another key does not unseal.
        from dataclasses import replace

        await store.keys.put_key(replace(raw, access_key="MOVED"))
        with pytest.raises(keys.MasterKeyError):
            await keys.lookup_key(store.keys, "MOVED", M1)

    with_store(tmp_path, body)


def test_plaintext_keeps_working_and_legacy_tenant_names(tmp_path: Path) -> None:
    async def body(store: Store) -> None:
        from s3front.store.records import AccessKeyRecord

        await store.keys.put_key(AccessKeyRecord("OLD", "plain", "root", "root", 1))
        for master in ("", M):
            found = await keys.lookup_key(store.keys, "OLD", master)
            assert found is not None and found.secret == "plain"
            assert found.tenant == keys.ROOT_TENANT_ID

    with_store(tmp_path, body)


def test_rotate_and_root_key(tmp_path: Path) -> None:
    async def body(store: Store) -> None:
        old = await keys.create_key(store.keys, "bob", "", "", 1)
        assert old.display_name == "bob"
        new = await keys.rotate_key(store.keys, old.access_key, "", 2)
        assert new is not None and new.tenant == old.tenant and new.access_key != old.access_key
        cache = keys.KeyCache(store.keys)
        stale = await cache.lookup(old.access_key)
        assert stale is not None and stale.status == "revoked"
        assert await keys.rotate_key(store.keys, "NOPE", "", 3) is None

        generated = await keys.ensure_root_key(store.keys, "", "", 1, M)
        assert generated is not None and generated.tenant == keys.ROOT_TENANT_ID
        assert await keys.ensure_root_key(store.keys, "", "", 1, M) is None
        # Keys from the environment are (re)written, sealed when a master key is set.
        assert await keys.ensure_root_key(store.keys, "ENVKEY", "envsecret", 1, M) is None
        raw = await store.keys.get_key("ENVKEY")
        assert raw is not None and keys.is_sealed(raw.secret)
        assert keys.unseal(raw.secret, "ENVKEY", M) == "envsecret"

        # With a master key the server seals what was stored in the clear (bob's keys too).
        raw_new = await store.keys.get_key(new.access_key)
        assert raw_new is not None and keys.is_sealed(raw_new.secret)
        cache = keys.KeyCache(store.keys, M)

        # Revocation through the cache's owner is immediate.
        await cache.lookup(new.access_key)
        await keys.revoke_key(store.keys, new.access_key)
        cache.invalidate(new.access_key)
        found = await cache.lookup(new.access_key)
        assert found is not None and found.status == "revoked"

    with_store(tmp_path, body)


def test_old_v1_and_plaintext_secrets_are_resealed(tmp_path: Path) -> None:
    """A store sealed the old way (AES key = SHA-256 of the master key's text) keeps working
    and is rewritten as v2, as are secrets stored in the clear, when the server starts."""
    import base64
    import hashlib
    import secrets as pysecrets

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from s3front.store.records import AccessKeyRecord

    nonce = pysecrets.token_bytes(12)
    v1 = AESGCM(hashlib.sha256(M1.encode()).digest()).encrypt(nonce, b"old-secret", b"OLDKEY")
    v1_text = "sealed:v1:" + base64.b64encode(nonce + v1).decode()

    async def body(store: Store) -> None:
        await store.keys.put_key(AccessKeyRecord("OLDKEY", v1_text, keys.tenant_id("a"), "a", 1))
        await store.keys.put_key(
            AccessKeyRecord("CLEAR", "clear-secret", keys.tenant_id("b"), "b", 1)
        )
        found = await keys.lookup_key(store.keys, "OLDKEY", M1)
        assert found is not None and found.secret == "old-secret"
        await keys.ensure_root_key(store.keys, "", "", 2, M1)
        for ak, secret in (("OLDKEY", "old-secret"), ("CLEAR", "clear-secret")):
            raw = await store.keys.get_key(ak)
            assert raw is not None and raw.secret.startswith("sealed:v2:"), raw
            assert keys.unseal(raw.secret, ak, M1) == secret
        # Nothing is left to reseal.
        assert await keys.reseal_secrets(store.keys, M1) == 0

    with_store(tmp_path, body)


def test_create_key_refuses_to_write_in_the_clear_into_a_sealed_store(tmp_path: Path) -> None:
    async def body(store: Store) -> None:
        await keys.create_key(store.keys, "a", "", M1, 1)
        before = await store.keys.list_keys()
        with pytest.raises(keys.MasterKeyError, match="refusing to store a new secret"):
            await keys.create_key(store.keys, "b", "", "", 2)
        with pytest.raises(keys.MasterKeyError, match="not the key it was sealed with"):
            await keys.create_key(store.keys, "b", "", M2, 2)
        assert await store.keys.list_keys() == before

    with_store(tmp_path, body)


def test_root_key_from_the_environment(tmp_path: Path) -> None:
    async def body(store: Store) -> None:
        # Revoked stays revoked.
        assert await keys.ensure_root_key(store.keys, "ENV1", "s1", 1) is None
        await keys.revoke_key(store.keys, "ENV1")
        with pytest.raises(keys.RootKeyError, match="ENV1, which was revoked") as info:
            await keys.ensure_root_key(store.keys, "ENV1", "s1", 2)
        assert "s1" not in str(info.value)
        rec = await store.keys.get_key("ENV1")
        assert rec is not None and rec.status == "revoked"
        # Another tenant's key is not taken over.
        other = await keys.create_key(store.keys, "alice", "", "", 3)
        with pytest.raises(keys.RootKeyError, match="belongs to another tenant"):
            await keys.ensure_root_key(store.keys, other.access_key, "x", 4)
        with pytest.raises(keys.RootKeyError, match="reserved"):
            await keys.ensure_root_key(store.keys, keys.ROOT_MARKER, "x", 4)
        # A new key: the marker follows it; the listing never shows the marker.
        assert await keys.ensure_root_key(store.keys, "ENV2", "s2", 5) is None
        marker = await store.keys.get_key(keys.ROOT_MARKER)
        assert marker is not None and marker.display_name == "ENV2" and marker.status != "active"
        listed = keys.listed_keys(await store.keys.list_keys())
        assert keys.ROOT_MARKER not in {k.access_key for k in listed}
        assert await keys.revoke_key(store.keys, keys.ROOT_MARKER) is None
        assert await keys.rotate_key(store.keys, keys.ROOT_MARKER, "", 6) is None

    with_store(tmp_path, body)


def test_a_store_from_before_the_marker_revokes_its_oldest_root_key(tmp_path: Path) -> None:
    """Upgrading: no record says which root key the server made; the oldest root key is the
    one generated on the first start (or the first environment's), so that is the one a new
    root key replaces. Younger root keys (made with `keys create --tenant root`) stay."""
    from s3front.store.records import AccessKeyRecord

    async def body(store: Store) -> None:
        await store.keys.put_key(AccessKeyRecord("FIRST", "a", keys.ROOT_TENANT_ID, "root", 10))
        await store.keys.put_key(AccessKeyRecord("LATER", "b", keys.ROOT_TENANT_ID, "root", 20))
        assert await keys.ensure_root_key(store.keys, "NEW", "c", 30) is None
        states = {k.access_key: k.status for k in keys.listed_keys(await store.keys.list_keys())}
        assert states == {"FIRST": "revoked", "LATER": "active", "NEW": "active"}

    with_store(tmp_path, body)
