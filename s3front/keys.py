"""Access keys: generation, the root key at start-up, and the lookup auth uses.

The lookup is cached briefly so that a request does not cost a store read for its key; a
revoked key stops working within `CACHE_SECONDS`.
"""

from __future__ import annotations

import secrets
import string
import time

from s3front.store.protocols import KeyStore
from s3front.store.records import AccessKeyRecord

ROOT_TENANT = "root"
CACHE_SECONDS = 5.0
_ALNUM = string.ascii_uppercase + string.digits


def new_access_key() -> str:
    # AWS access keys are 20 upper-case alphanumerics; clients and tools expect that shape.
    return "S3F" + "".join(secrets.choice(_ALNUM) for _ in range(17))


def new_secret_key() -> str:
    return secrets.token_urlsafe(30)[:40]


class KeyCache:
    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys
        self._cache: dict[str, tuple[float, AccessKeyRecord | None]] = {}

    async def lookup(self, access_key: str) -> AccessKeyRecord | None:
        now = time.monotonic()
        hit = self._cache.get(access_key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        rec = await self._keys.get_key(access_key)
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[access_key] = (now, rec)
        return rec


async def ensure_root_key(
    keys: KeyStore, access_key: str, secret_key: str, now_ms: int
) -> AccessKeyRecord | None:
    """Make sure a root key exists. Returns the record only if this call generated it.

    With keys from the environment, those are (re)written, so changing the environment rotates
    the root key. Without, a key pair is generated once, on the first start.
    """
    if access_key and secret_key:
        existing = await keys.get_key(access_key)
        if existing is None or existing.secret != secret_key or existing.status != "active":
            await keys.put_key(AccessKeyRecord(access_key, secret_key, ROOT_TENANT, "root", now_ms))
        return None
    if any(k.tenant == ROOT_TENANT and k.status == "active" for k in await keys.list_keys()):
        return None
    rec = AccessKeyRecord(new_access_key(), new_secret_key(), ROOT_TENANT, "root", now_ms)
    await keys.put_key(rec)
    return rec
