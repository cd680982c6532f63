"""The tenant directory behind ACL display names and the "Invalid id" check (issue 19 item 1),
on a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3front import errors
from s3front.access import tenants
from s3front.access.acl import Acl
from s3front.keys import create_key, tenant_id
from s3front.store import open_store
from s3front.xml import Grant


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_directory_names_and_existence(tmp_path: Path) -> None:
    store = await open_store(f"sqlite://{tmp_path / 'store'}")
    try:
        keys = store.keys
        alice, bob = tenant_id("alice"), tenant_id("bob")
        # Alice's oldest key has another display name; the key named as the tenant wins.
        await create_key(keys, "alice", "ci", "", 1)
        await create_key(keys, "alice", "alice", "", 2)
        await create_key(keys, "bob", "builder", "", 3)
        names = await tenants.directory(keys)
        assert names[alice] == "alice" and names[bob] == "builder"
        assert tenant_id("carol") not in names
        assert await tenants.exists(keys, bob)
        assert not await tenants.exists(keys, tenant_id("carol"))
        # A tenant created after the directory was read is found at once (re-read on a miss).
        await create_key(keys, "carol", "carol", "", 4)
        assert await tenants.exists(keys, tenant_id("carol"))

        nobody = "c" * 64
        ok = Acl(alice, (Grant("CanonicalUser", bob, "READ"), Grant("Group", "g", "READ")))
        await tenants.check_grantees(keys, ok, alice, header=True)
        bad = Acl(alice, (Grant("CanonicalUser", nobody, "READ"),))
        for header, argument in ((True, "id"), (False, "CanonicalUser/ID")):
            with pytest.raises(errors.InvalidArgument) as info:
                await tenants.check_grantees(keys, bad, alice, header=header)
            assert info.value.message == "Invalid id"
            assert info.value.extra == {"ArgumentName": argument, "ArgumentValue": nobody}
        # The owners need no look-up: they own the resource.
        await tenants.check_grantees(
            keys,
            Acl(nobody, (Grant("CanonicalUser", nobody, "FULL_CONTROL"),)),
            nobody,
            header=True,
        )
    finally:
        await store.close()
