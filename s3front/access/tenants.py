"""Which tenants exist and what they are called, for ACL grants and Owner elements.

There is no tenants table: a tenant exists while some access-key record names it (revoked keys
included: a tenant whose keys are all revoked still owns its buckets and objects). Its display
name is the display name of its key whose display name *is* the tenant's name (the default of
`s3front keys create`), else that of its oldest key, so every caller sees the same name for it.

The directory is read from the key store at most every `CACHE_SECONDS` per store (one scan of
the key records, small), and again at once when a grant names an id it does not hold, so a
tenant created by the CLI a moment ago can be granted access right away.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from s3front import errors
from s3front.access.acl import Acl
from s3front.keys import CACHE_SECONDS, listed_keys, tenant_id
from s3front.store.protocols import KeyStore

if TYPE_CHECKING:
    from s3front.api.context import Ctx


@dataclass(frozen=True, slots=True)
class _Directory:
    names: Mapping[str, str]  # canonical id -> display name
    loaded: float


_CACHE: weakref.WeakKeyDictionary[KeyStore, _Directory] = weakref.WeakKeyDictionary()


async def _load(keys: KeyStore) -> _Directory:
    best: dict[str, tuple[bool, int, str, str]] = {}
    for rec in listed_keys(await keys.list_keys()):
        # Sort key: a key named as the tenant first, then the oldest, then by access key.
        rank = (tenant_id(rec.display_name) != rec.tenant, rec.created_ms, rec.access_key)
        current = best.get(rec.tenant)
        if current is None or rank < current[:3]:
            best[rec.tenant] = (*rank, rec.display_name)
    directory = _Directory({t: v[3] for t, v in best.items()}, time.monotonic())
    _CACHE[keys] = directory
    return directory


async def directory(keys: KeyStore) -> Mapping[str, str]:
    """Canonical id -> display name of every tenant (cached for `CACHE_SECONDS`)."""
    cached = _CACHE.get(keys)
    if cached is None or time.monotonic() - cached.loaded > CACHE_SECONDS:
        cached = await _load(keys)
    return cached.names


async def exists(keys: KeyStore, tenant: str) -> bool:
    """Whether the canonical id names a tenant; a miss re-reads the store before answering."""
    if tenant in await directory(keys):
        return True
    return tenant in (await _load(keys)).names


async def owner_names(ctx: Ctx) -> dict[str, str]:
    """Display names for Owner, Initiator and Grantee elements: every tenant's, with the
    caller's own as its key says (what s3front has always shown a caller for itself)."""
    names = dict(await directory(ctx.store.keys))
    if ctx.principal is not None:
        names[ctx.principal.tenant] = ctx.principal.display_name
    return names


async def check_grantees(keys: KeyStore, acl: Acl, bucket_owner: str, *, header: bool) -> None:
    """InvalidArgument "Invalid id" for a grant to a canonical id no tenant has, as S3 answers
    a grant to an unknown canonical user. The resource's and the bucket's owners exist (they own
    something), so a canned ACL costs no look-up. `header`: the grants came from x-amz-grant-*
    headers (S3 names the argument "id" there, "CanonicalUser/ID" in a body)."""
    for grant in acl.grants:
        who = grant.grantee
        if grant.grantee_type != "CanonicalUser" or who in (acl.owner, bucket_owner):
            continue
        if not await exists(keys, who):
            raise errors.InvalidArgument(
                "Invalid id",
                ArgumentName="id" if header else "CanonicalUser/ID",
                ArgumentValue=who,
            )
