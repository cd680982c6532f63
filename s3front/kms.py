"""The key ring behind SSE-KMS (`aws:kms`): keys s3front keeps itself, sealed by the master key.

A key has an id (a UUID, as AWS KMS key ids are), an optional alias (`alias/<name>` in
requests; `aws/s3` is the key used when a request names none) and one or more 256-bit
**versions**: `s3front kms rotate` adds a version, new data keys are wrapped by the newest one
and every older version stays, so data keys wrapped before a rotation still unwrap.

Storage: one pseudo-record per key in the access-key table (`KeyStore`), as the root-key marker
is: access key `kms:<id>`, status `kms-key` (auth accepts only "active" records, and the
`keys list` command hides these), display name = alias, secret = the versions as JSON sealed by
the master key exactly as access-key secrets are (`keys.seal`: AES-256-GCM, the record name as
associated data). So the key ring needs no schema change, is shared by every server, and is
re-sealed with everything else when the master key rotates. Without a master key there is no
key ring: `kms create-key` refuses, and `aws:kms` requests get 400.

Lookups are cached for `CACHE_SECONDS`; a rotation reaches other servers within that time
(they keep wrapping with the previous version meanwhile, which stays valid).
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from dataclasses import dataclass

from s3front import clock
from s3front import keys as access_keys
from s3front.store.protocols import KeyStore
from s3front.store.records import AccessKeyRecord

PREFIX = "kms:"
STATUS = "kms-key"
TENANT = "s3front:kms"
DEFAULT_ALIAS = "aws/s3"
CACHE_SECONDS = 5.0
_ALIAS = re.compile(r"[A-Za-z0-9/_-]{1,250}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class KmsError(ValueError):
    """A key ring operation cannot be done (no master key, unknown key, bad alias)."""


@dataclass(frozen=True, slots=True)
class KmsKey:
    key_id: str
    alias: str
    created_ms: int
    versions: tuple[bytes, ...]  # oldest first; the last wraps new data keys

    @property
    def current(self) -> int:
        return len(self.versions) - 1

    def arn(self, region: str) -> str:
        # No AWS account: the account field is zeros (clients echo the ARN, none parses it).
        return f"arn:aws:kms:{region}:000000000000:key/{self.key_id}"


def is_kms_record(rec: AccessKeyRecord) -> bool:
    return rec.access_key.startswith(PREFIX)


def _record(key: KmsKey, master: str) -> AccessKeyRecord:
    name = PREFIX + key.key_id
    body = json.dumps({"v": [base64.b64encode(v).decode("ascii") for v in key.versions]})
    sealed = access_keys.seal(body, name, master)
    return AccessKeyRecord(name, sealed, TENANT, key.alias, key.created_ms, STATUS)


def _key(rec: AccessKeyRecord, master: str) -> KmsKey:
    if not master:
        raise KmsError("the KMS key ring needs S3FRONT_MASTER_KEY")
    body = json.loads(access_keys.unseal(rec.secret, rec.access_key, master))
    versions = tuple(base64.b64decode(v) for v in body["v"])
    return KmsKey(rec.access_key[len(PREFIX) :], rec.display_name, rec.created_ms, versions)


def _check_master(master: str) -> None:
    if not master:
        raise KmsError("the KMS key ring needs S3FRONT_MASTER_KEY (keys are sealed by it)")


async def list_keys(store: KeyStore, master: str) -> list[KmsKey]:
    _check_master(master)
    return [_key(r, master) for r in await store.list_keys() if is_kms_record(r)]


async def create_key(store: KeyStore, master: str, alias: str = "") -> KmsKey:
    _check_master(master)
    alias = alias.removeprefix("alias/")
    if alias:
        if not _ALIAS.fullmatch(alias):
            raise KmsError(f"invalid alias: {alias!r}")
        if any(k.alias == alias for k in await list_keys(store, master)):
            raise KmsError(f"alias already in use: alias/{alias}")
    key = KmsKey(str(uuid.uuid4()), alias, clock.now_ms(), (os.urandom(32),))
    await store.put_key(_record(key, master))
    return key


async def rotate_key(store: KeyStore, master: str, name: str) -> KmsKey:
    """Add a new version to a key; older versions stay for the data keys they wrapped."""
    key = await find_key(store, master, name)
    if key is None:
        raise KmsError(f"no such KMS key: {name}")
    new = KmsKey(key.key_id, key.alias, key.created_ms, (*key.versions, os.urandom(32)))
    await store.put_key(_record(new, master))
    _cache.clear()
    return new


def parse_key_name(name: str) -> tuple[str, str]:
    """("id", uuid) or ("alias", name) for what a request or the CLI names: a key id, a key
    ARN, `alias/<name>` or an alias ARN."""
    name = name.strip()
    if name.startswith("arn:"):
        name = name.split(":", 5)[-1] if name.count(":") >= 5 else ""
        if name.startswith("key/"):
            name = name[len("key/") :]
    if name.startswith("alias/"):
        return "alias", name[len("alias/") :]
    return "id", name.lower()


async def find_key(store: KeyStore, master: str, name: str) -> KmsKey | None:
    kind, value = parse_key_name(name)
    if kind == "id":
        if not _UUID.fullmatch(value):
            return None
        rec = await store.get_key(PREFIX + value)
        if rec is None or not is_kms_record(rec) or rec.status != STATUS:
            return None
        return _key(rec, master)
    for key in await list_keys(store, master):
        if key.alias == value:
            return key
    return None


_cache: dict[tuple[int, str], tuple[float, KmsKey | None]] = {}


async def cached_key(store: KeyStore, master: str, name: str) -> KmsKey | None:
    """`find_key` behind a short cache (a request with aws:kms costs no store read)."""
    now = time.monotonic()
    slot = (id(store), name)
    hit = _cache.get(slot)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    key = await find_key(store, master, name)
    if len(_cache) > 1000:
        _cache.clear()
    _cache[slot] = (now, key)
    return key
