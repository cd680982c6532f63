"""Tenants and access keys: canonical ids, generation, sealing, the root key, the auth lookup.

A **tenant** is a name ("root", "alice", ...). Its **canonical id** is derived from the name
(SHA-256, 64 hex digits), so it is stable without a tenants table and the same on every server.
Records store the canonical id: `AccessKeyRecord.tenant`, `BucketRecord.owner`,
`ObjectRecord.owner` and `UploadRecord.owner` are canonical ids, which is what S3 shows as
Owner/ID everywhere; the display name travels with each key (`AccessKeyRecord.display_name`,
the tenant name unless `--display-name` says otherwise). A tenant has any number of keys.

**Secrets at rest.** With a master key configured (`S3FRONT_MASTER_KEY`, 32 random bytes as hex
or base64, checked by `config.decode_master_key`), secrets are sealed with AES-256-GCM under
those 32 bytes (`sealed:v2:<base64 nonce|ciphertext>`; the access key is the associated data, so
a sealed secret cannot be moved to another key) and unsealed in the lookup auth uses. Secrets
sealed by earlier versions (`sealed:v1:`, AES key = SHA-256 of the master key's text) still
unseal. The server seals every secret it finds in the clear or as v1 when it starts with a
master key (`ensure_root_key` -> `reseal_secrets`), so giving an existing store a master key
seals it on the next start. Sealed secrets without the master key, or with a wrong one, stop
the server at start with a clear message; `create_key` refuses to write a plaintext secret into
a store that holds sealed ones (the CLI run without `S3FRONT_MASTER_KEY` against a sealed store),
and refuses a master key that does not unseal what is there.

Without a master key secrets are stored in the clear. That is the zero-setup SQLite case: the
store's directory is created 0700 and its files 0600 (s3front.store.sqlite), so only the
server's user can read them -- the same user that could read a generated key file beside them,
which is why s3front does not invent a master key of its own. Anyone who stores the data
directory or the Cassandra keyspace where others can read it (backups) sets a master key.

**The root key.** Without `S3FRONT_ROOT_ACCESS_KEY`/`S3FRONT_ROOT_SECRET_KEY` the first start
generates a root key; with them, that key is (re)written. The key the server manages as *the*
root key is remembered in a pseudo-record (`ROOT_MARKER`, never a usable key, hidden from
listings), so that setting a new root key revokes the previous one (generated or from an older
environment) with a warning in the log, while root keys made with `s3front keys create --tenant
root` are left alone. A revoked key stays revoked: if the environment names one, the server
refuses to start (RootKeyError) rather than bring it back. Revocation keeps the record, marked
"revoked", on both stores.

The lookup is cached briefly so that a request does not cost a store read for its key. A key
revoked through this process's `KeyCache.invalidate` stops at once; a key revoked by the CLI (a
separate process) stops working within `CACHE_SECONDS`.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import string
import sys
import time
from dataclasses import replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from s3front.config import Settings, decode_master_key
from s3front.store.protocols import KeyStore
from s3front.store.records import AccessKeyRecord

log = logging.getLogger("s3front.keys")

ROOT_TENANT = "root"
CACHE_SECONDS = 5.0
_ALNUM = string.ascii_uppercase + string.digits
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SEALED_V1 = "sealed:v1:"
_SEALED = "sealed:v2:"
_SEALED_ANY = "sealed:"
# The pseudo-record naming the root key the server manages (in its display_name). Its status is
# not "active", so auth never accepts it; listings and the CLI hide it.
ROOT_MARKER = "s3front:root-key"
_MARKER_STATUS = "root-marker"


class MasterKeyError(ValueError):
    """Sealed secrets cannot be read: the master key is missing or wrong."""


class RootKeyError(ValueError):
    """The root key from the environment cannot be installed (revoked, or another tenant's)."""


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


def _aead(master_key: str, version: str = _SEALED) -> AESGCM:
    if version == _SEALED_V1:
        return AESGCM(hashlib.sha256(master_key.encode("utf-8")).digest())
    return AESGCM(decode_master_key(master_key))


def is_sealed(secret: str) -> bool:
    return secret.startswith(_SEALED_ANY)


def needs_sealing(secret: str) -> bool:
    """Stored in the clear, or sealed the old way (v1)."""
    return not secret.startswith(_SEALED)


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
    version = _SEALED_V1 if stored.startswith(_SEALED_V1) else _SEALED
    try:
        aead = _aead(master_key, version)
        raw = base64.b64decode(stored[len(version) :])
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


async def check_can_write(keys: KeyStore, master_key: str) -> None:
    """Refuse (MasterKeyError) to add a secret that the store's sealed secrets say must be
    sealed with a key we do not have: no master key, or one that does not unseal them."""
    recs = await keys.list_keys()
    if not master_key and any(is_sealed(r.secret) for r in recs):
        raise MasterKeyError(
            "the store's access key secrets are sealed and S3FRONT_MASTER_KEY is not set: "
            "refusing to store a new secret in the clear; set S3FRONT_MASTER_KEY"
        )
    for rec in recs:
        if is_sealed(rec.secret):
            unseal(rec.secret, rec.access_key, master_key)


async def reseal_secrets(keys: KeyStore, master_key: str) -> int:
    """Seal (v2) every secret stored in the clear or sealed as v1; returns how many.

    Each record is read again just before it is rewritten, so a revocation made meanwhile by
    another process is kept unless it lands in the moment between that read and the write.
    """
    if not master_key:
        return 0
    count = 0
    for listed in await keys.list_keys():
        if listed.access_key == ROOT_MARKER or not needs_sealing(listed.secret):
            continue
        rec = await keys.get_key(listed.access_key)
        if rec is None or not needs_sealing(rec.secret):
            continue
        plain = unseal(rec.secret, rec.access_key, master_key)
        await keys.put_key(replace(rec, secret=seal(plain, rec.access_key, master_key)))
        count += 1
    if count:
        log.info("sealed %d access key secret(s) that were stored unsealed", count)
    return count


def listed_keys(recs: list[AccessKeyRecord]) -> list[AccessKeyRecord]:
    """The records that are access keys (not the root-key pseudo-record, nor the SSE-KMS key
    ring's records `kms:<id>`, s3front.kms)."""
    return [r for r in recs if is_access_key(r.access_key)]


def is_access_key(access_key: str) -> bool:
    """Whether a record of the key table is an access key. The others share the table: revoking
    or rotating a KMS key's record would make every object sealed under it unreadable."""
    return access_key != ROOT_MARKER and not access_key.startswith("kms:")


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
    """Create a key for a tenant (by name or canonical id); returns it with its plain secret.

    Raises MasterKeyError rather than write a secret in the clear into a store whose secrets
    are sealed, or sealed with a master key that does not match theirs."""
    await check_can_write(keys, master_key)
    access_key = access_key or new_access_key()
    secret = secret or new_secret_key()
    rec = AccessKeyRecord(access_key, secret, tenant_id(tenant), display_name or tenant, now_ms)
    await keys.put_key(replace(rec, secret=seal(secret, access_key, master_key)))
    return rec


async def revoke_key(keys: KeyStore, access_key: str) -> AccessKeyRecord | None:
    """Mark the key revoked. The record stays (status "revoked"): that is what keeps a revoked
    root key from being brought back by the environment on the next start."""
    rec = await keys.get_key(access_key)
    if rec is None or not is_access_key(access_key):
        return None
    await keys.put_key(replace(rec, status="revoked"))
    return rec


async def rotate_key(
    keys: KeyStore, access_key: str, master_key: str, now_ms: int
) -> AccessKeyRecord | None:
    """A new key for the same tenant and display name; the old one is revoked."""
    old = await keys.get_key(access_key)
    if old is None or not is_access_key(access_key):
        return None
    new = await create_key(keys, tenant_id(old.tenant), old.display_name, master_key, now_ms)
    await keys.put_key(replace(old, status="revoked"))
    return new


async def ensure_root_key(
    keys: KeyStore, access_key: str, secret_key: str, now_ms: int, master_key: str = ""
) -> AccessKeyRecord | None:
    """Make sure a root key exists. Returns the record only if this call generated it.

    With keys from the environment, those are (re)written, and the root key the server managed
    before (generated, or from an earlier environment) is revoked. Without, a key pair is
    generated once, on the first start. With a master key, secrets stored in the clear are
    sealed. Raises MasterKeyError when stored secrets are sealed and the master key cannot
    unseal them, RootKeyError when the environment names a revoked key or another tenant's.
    """
    await check_master_key(keys, master_key)
    await reseal_secrets(keys, master_key)
    everything = await keys.list_keys()
    marker = next((k for k in everything if k.access_key == ROOT_MARKER), None)
    roots = [
        k
        for k in listed_keys(everything)
        if tenant_id(k.tenant) == ROOT_TENANT_ID and k.status == "active"
    ]
    if access_key and secret_key:
        await _install_root_key(keys, access_key, secret_key, now_ms, master_key)
        # The key managed so far; a store from before the marker existed: its oldest root key
        # (the one generated on the first start, or the first environment's).
        previous = marker.display_name if marker is not None else None
        if previous is None and roots:
            previous = min(roots, key=lambda k: (k.created_ms, k.access_key)).access_key
        if previous and previous != access_key:
            old = await keys.get_key(previous)
            if old is not None and old.status == "active":
                await keys.put_key(replace(old, status="revoked"))
                log.warning(
                    "root access key %s revoked: S3FRONT_ROOT_ACCESS_KEY now names %s",
                    previous,
                    access_key,
                )
        if marker is None or marker.display_name != access_key:
            await _mark_root(keys, access_key, now_ms)
        return None
    if roots:
        return None
    rec = await create_key(keys, ROOT_TENANT, ROOT_TENANT, master_key, now_ms)
    await _mark_root(keys, rec.access_key, now_ms)
    return rec


async def _install_root_key(
    keys: KeyStore, access_key: str, secret_key: str, now_ms: int, master_key: str
) -> None:
    if access_key == ROOT_MARKER:
        raise RootKeyError(f"S3FRONT_ROOT_ACCESS_KEY cannot be {ROOT_MARKER!r} (reserved)")
    existing = await keys.get_key(access_key)
    if existing is not None:
        # The messages name the access key id, never a secret.
        if existing.status != "active":
            raise RootKeyError(
                f"S3FRONT_ROOT_ACCESS_KEY names access key {access_key}, which was revoked; "
                "a revoked key stays revoked: set a new root key"
            )
        if tenant_id(existing.tenant) != ROOT_TENANT_ID:
            raise RootKeyError(
                f"S3FRONT_ROOT_ACCESS_KEY names access key {access_key}, which belongs to "
                "another tenant: choose another access key id"
            )
    if (
        existing is None
        or unseal(existing.secret, access_key, master_key) != secret_key
        or (bool(master_key) and needs_sealing(existing.secret))
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


async def _mark_root(keys: KeyStore, access_key: str, now_ms: int) -> None:
    # The status keeps auth from accepting the record; the secret is random and never shown as
    # well, so that a lookup that forgot to check the status would still not let anyone in.
    unusable = secrets.token_urlsafe(30)
    await keys.put_key(
        AccessKeyRecord(ROOT_MARKER, unusable, ROOT_TENANT_ID, access_key, now_ms, _MARKER_STATUS)
    )


def print_credentials(access_key: str, secret_key: str, settings: Settings) -> None:
    scheme = "https" if settings.tls_cert else "http"
    endpoint = f"{scheme}://{settings.host}:{settings.port}"
    print(
        f"""
s3front generated a root access key (printed once; keep it safe):
  access key: {access_key}
  secret key: {secret_key}

  s3cmd:   s3cmd --access_key={access_key} --secret_key={secret_key} \\
             --host={settings.host}:{settings.port} --host-bucket={settings.host}:{settings.port} \\
             {"" if settings.tls_cert else "--no-ssl "}ls
  aws:     AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret_key} \\
             aws --endpoint-url {endpoint} s3 ls
  boto3:   boto3.client("s3", endpoint_url="{endpoint}",
             aws_access_key_id="{access_key}", aws_secret_access_key="{secret_key}")
""",
        file=sys.stdout,
        flush=True,
    )
