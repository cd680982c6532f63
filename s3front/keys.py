"""Tenants and access keys: canonical ids, generation, sealing, the root key, the auth lookup.

A **tenant** is a name ("root", "alice", ...). Its **canonical id** is derived from the name
(SHA-256, 64 hex digits), so it is stable without a tenants table and the same on every server.
Records store the canonical id: `AccessKeyRecord.tenant`, `BucketRecord.owner`,
`ObjectRecord.owner` and `UploadRecord.owner` are canonical ids, which is what S3 shows as
Owner/ID everywhere; the display name travels with each key (`AccessKeyRecord.display_name`,
the tenant name unless `--display-name` says otherwise). A tenant has any number of keys.

**Secrets at rest.** With a master key configured (`S3FRONT_MASTER_KEY`), secrets are sealed
with AES-256-GCM on write (`sealed:v1:<base64 nonce|ciphertext>`; the access key is the
associated data, so a sealed secret cannot be moved to another key) and unsealed in the lookup
auth uses. Plaintext secrets keep working, with or without a master key. Sealed secrets without
the master key, or with a wrong one, stop the server at start with a clear message.

The lookup is cached briefly so that a request does not cost a store read for its key. A key
revoked through this process's `KeyCache.invalidate` stops at once; a key revoked by the CLI (a
separate process) stops working within `CACHE_SECONDS`.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import string
import time
from dataclasses import replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from s3front.store.protocols import KeyStore
from s3front.store.records import AccessKeyRecord

ROOT_TENANT = "root"
CACHE_SECONDS = 5.0
_ALNUM = string.ascii_uppercase + string.digits
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SEALED = "sealed:v1:"


class MasterKeyError(ValueError):
    """Sealed secrets cannot be read: the master key is missing or wrong."""


def tenant_id(name_or_id: str) -> str:
    """The canonical id of a tenant given by name (or already by canonical id)."""
    if _HEX64.fullmatch(name_or_id):
        return name_or_id
    return hashlib.sha256(b"s3front-tenant\x00" + name_or_id.encode("utf-8")).hexdigest()


ROOT_TENANT_ID = tenant_id(ROOT_TENANT)


def new_access_key() -> str:
    # AWS access keys are 20 upper-case alphanumerics; clients and tools expect that shape.
    return "S3F" + "".join(secrets.choice(_ALNUM) for _ in range(17))


def new_secret_key() -> str:
    return secrets.token_urlsafe(30)[:40]


# -- sealing -------------------------------------------------------------------------------------


def _aead(master_key: str) -> AESGCM:
    return AESGCM(hashlib.sha256(master_key.encode("utf-8")).digest())


def is_sealed(secret: str) -> bool:
    return secret.startswith(_SEALED)


def seal(secret: str, access_key: str, master_key: str) -> str:
    """The secret as stored: sealed with the master key, or plaintext when there is none."""
    if not master_key:
        return secret
    aead = _aead(master_key)
    nonce = secrets.token_bytes(12)
    sealed = aead.encrypt(nonce, secret.encode("utf-8"), access_key.encode("utf-8"))
    return _SEALED + base64.b64encode(nonce + sealed).decode("ascii")


def unseal(stored: str, access_key: str, master_key: str) -> str:
    if not is_sealed(stored):
        return stored
    if not master_key:
        raise MasterKeyError(
            "access key secrets are sealed but no master key is configured; "
            "set S3FRONT_MASTER_KEY to the key they were sealed with"
        )
    aead = _aead(master_key)
    try:
        raw = base64.b64decode(stored[len(_SEALED) :])
        return aead.decrypt(raw[:12], raw[12:], access_key.encode("utf-8")).decode("utf-8")
    except (InvalidTag, ValueError):
        # The message names the key, never any secret material.
        raise MasterKeyError(
            f"the secret of access key {access_key} cannot be unsealed: "
            "S3FRONT_MASTER_KEY is not the key it was sealed with"
        ) from None


def usable(rec: AccessKeyRecord, master_key: str) -> AccessKeyRecord:
    """The record as auth needs it: plaintext secret, tenant as canonical id.

    Keys written before tenants had canonical ids name the tenant ("root"); they map to the
    same id as a key created for that name today.
    """
    return replace(
        rec,
        secret=unseal(rec.secret, rec.access_key, master_key),
        tenant=tenant_id(rec.tenant),
    )


async def check_master_key(keys: KeyStore, master_key: str) -> None:
    """Refuse to run when a sealed secret cannot be unsealed (raises MasterKeyError)."""
    for rec in await keys.list_keys():
        if is_sealed(rec.secret):
            unseal(rec.secret, rec.access_key, master_key)


# -- the lookup auth uses ------------------------------------------------------------------------


class KeyCache:
    def __init__(self, keys: KeyStore, master_key: str = "") -> None:
        self._keys = keys
        self._master_key = master_key
        self._cache: dict[str, tuple[float, AccessKeyRecord | None]] = {}

    async def lookup(self, access_key: str) -> AccessKeyRecord | None:
        now = time.monotonic()
        hit = self._cache.get(access_key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        rec = await self._keys.get_key(access_key)
        if rec is not None:
            rec = usable(rec, self._master_key)
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[access_key] = (now, rec)
        return rec

    def invalidate(self, access_key: str) -> None:
        self._cache.pop(access_key, None)


async def lookup_key(keys: KeyStore, access_key: str, master_key: str) -> AccessKeyRecord | None:
    """An uncached lookup (browser POST uploads, tools)."""
    rec = await keys.get_key(access_key)
    return None if rec is None else usable(rec, master_key)


# -- managing keys -------------------------------------------------------------------------------


async def create_key(
    keys: KeyStore,
    tenant: str,
    display_name: str,
    master_key: str,
    now_ms: int,
    *,
    access_key: str | None = None,
    secret: str | None = None,
) -> AccessKeyRecord:
    """Create a key for a tenant (by name or canonical id); returns it with its plain secret."""
    access_key = access_key or new_access_key()
    secret = secret or new_secret_key()
    rec = AccessKeyRecord(access_key, secret, tenant_id(tenant), display_name or tenant, now_ms)
    await keys.put_key(replace(rec, secret=seal(secret, access_key, master_key)))
    return rec


async def revoke_key(keys: KeyStore, access_key: str) -> AccessKeyRecord | None:
    rec = await keys.get_key(access_key)
    if rec is None:
        return None
    await keys.put_key(replace(rec, status="revoked"))
    return rec


async def rotate_key(
    keys: KeyStore, access_key: str, master_key: str, now_ms: int
) -> AccessKeyRecord | None:
    """A new key for the same tenant and display name; the old one is revoked."""
    old = await keys.get_key(access_key)
    if old is None:
        return None
    new = await create_key(keys, tenant_id(old.tenant), old.display_name, master_key, now_ms)
    await keys.put_key(replace(old, status="revoked"))
    return new


async def ensure_root_key(
    keys: KeyStore, access_key: str, secret_key: str, now_ms: int, master_key: str = ""
) -> AccessKeyRecord | None:
    """Make sure a root key exists. Returns the record only if this call generated it.

    With keys from the environment, those are (re)written, so changing the environment rotates
    the root key. Without, a key pair is generated once, on the first start. Raises
    MasterKeyError when stored secrets are sealed and the master key cannot unseal them.
    """
    await check_master_key(keys, master_key)
    if access_key and secret_key:
        existing = await keys.get_key(access_key)
        if (
            existing is None
            or unseal(existing.secret, access_key, master_key) != secret_key
            or existing.status != "active"
            or existing.tenant != ROOT_TENANT_ID
            or is_sealed(existing.secret) != bool(master_key)
        ):
            await create_key(
                keys,
                ROOT_TENANT,
                ROOT_TENANT,
                master_key,
                now_ms,
                access_key=access_key,
                secret=secret_key,
            )
        return None
    if any(
        tenant_id(k.tenant) == ROOT_TENANT_ID and k.status == "active"
        for k in await keys.list_keys()
    ):
        return None
    return await create_key(keys, ROOT_TENANT, ROOT_TENANT, master_key, now_ms)
