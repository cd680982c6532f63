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
