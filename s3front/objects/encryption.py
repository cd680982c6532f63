"""Server-side encryption at the block layer: data keys, sealed blocks, wrapped keys.

An encrypted object (or multipart upload) gets a fresh random 256-bit **data key** (DEK). Each of
its blocks -- and its inline value, for a small object -- is sealed with AES-256-GCM under the DEK
as `nonce (12 bytes) | ciphertext | tag (16 bytes)`. The nonce is random per block: a DEK seals at
most a few thousand blocks (an object of 5 TiB at 1 MiB blocks is 5 Mi blocks, far below the 2^32
random nonces NIST allows one key), and a re-uploaded part or a retried block write never reuses
a nonce, which a counter derived from (part number, block index) could not promise when a client
uploads the same part number twice.

Sealed blocks are addressed by the SHA-256 of the **sealed** bytes (`writer`), so equal plaintexts
in different objects (or in one) are different blocks: nothing dedups across encrypted objects and
the store reveals no plaintext equality. Unencrypted objects keep plaintext addressing.

The DEK is never stored in the clear. It is kept **wrapped** (AES-256-GCM again) by:
- the master key (`S3FRONT_MASTER_KEY`) for SSE-S3 (`AES256`);
- a version of a key of s3front's key ring (`s3front.kms`) for SSE-KMS (`aws:kms`);
- the customer's key for SSE-C: the customer key itself is never stored. Unwrapping with a wrong
  key fails the GCM tag, which is how a wrong key is recognised (403); nothing else derived from
  the key (not even its MD5) is kept, so the row offers no way to test guesses offline beyond
  the AES key space itself.
The wrapping's associated data names the mode, so a wrapped key cannot be moved from one mode to
another. What a row keeps is `Sealing`, serialised as JSON in the object's (or upload's) `attrs`
under "sse" -- no schema change.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ATTR = "sse"  # the attrs key of an object or upload row
SSE_S3 = "AES256"
SSE_C = "SSE-C"
SSE_KMS = "aws:kms"
NONCE = 12
TAG = 16
OVERHEAD = NONCE + TAG  # sealed length - plaintext length
_BLOCK_AAD = b"s3front:block:v1"


class UnwrapError(ValueError):
    """The key given cannot unwrap this data key (wrong customer key, wrong master key)."""


class SealedDataError(ValueError):
    """A sealed block or inline value fails authentication (corruption or tampering)."""


def master_key_id(master: bytes) -> str:
    """A short public name for a master key (which one wrapped a DEK; rotation needs it).
    A truncated HMAC, not a hash of the key, so it is no verifier for the key's bytes."""
    return hmac.new(master, b"s3front:master-key-id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Sealing:
    """How one object's (or upload's) blocks are sealed: enough to get the DEK back with the
    right key, never the DEK itself."""

    mode: str  # SSE_S3, SSE_KMS or SSE_C
    wrapped: bytes  # nonce | AES-GCM(kek, dek, aad=mode) | tag
    # SSE-S3: master_key_id of the wrapping key; SSE-KMS: "<key id>:<version>"
    kek_id: str = ""
    bucket_key: bool = False  # BucketKeyEnabled as requested (echoed; no effect on keys)

    def to_attr(self) -> str:
        return json.dumps(
            {
                "v": 1,
                "mode": self.mode,
                "wrapped": base64.b64encode(self.wrapped).decode("ascii"),
                "kek": self.kek_id,
                "bk": self.bucket_key,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_attr(cls, text: str) -> Sealing:
        d = json.loads(text)
        return cls(
            mode=str(d["mode"]),
            wrapped=base64.b64decode(d["wrapped"]),
            kek_id=str(d.get("kek", "")),
            bucket_key=bool(d.get("bk", False)),
        )


def sealing_of(attrs: Mapping[str, str]) -> Sealing | None:
    text = attrs.get(ATTR)
    return Sealing.from_attr(text) if text else None


def with_sealing(attrs: Mapping[str, str], sealing: Sealing | None) -> dict[str, str]:
    out = {k: v for k, v in attrs.items() if k != ATTR}
    if sealing is not None:
        out[ATTR] = sealing.to_attr()
    return out


def _wrap_aad(mode: str) -> bytes:
    return b"s3front:dek:v1:" + mode.encode("ascii")


def wrap(kek: bytes, dek: bytes, mode: str) -> bytes:
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(kek).encrypt(nonce, dek, _wrap_aad(mode))


def unwrap(kek: bytes, wrapped: bytes, mode: str) -> bytes:
    try:
        return AESGCM(kek).decrypt(wrapped[:NONCE], wrapped[NONCE:], _wrap_aad(mode))
    except (InvalidTag, ValueError) as err:
        raise UnwrapError("the key does not unwrap this data key") from err


def new_sealing(
    kek: bytes, mode: str, *, kek_id: str = "", bucket_key: bool = False
) -> tuple[Sealing, BlockCipher]:
    """A fresh DEK wrapped by `kek`, and the cipher that seals blocks under it."""
    dek = os.urandom(32)
    sealing = Sealing(mode=mode, wrapped=wrap(kek, dek, mode), kek_id=kek_id, bucket_key=bucket_key)
    return sealing, BlockCipher(dek)


def rewrapped(sealing: Sealing, old_kek: bytes, new_kek: bytes, *, kek_id: str = "") -> Sealing:
    """The same DEK wrapped by another key (master-key rotation; no data is rewritten)."""
    dek = unwrap(old_kek, sealing.wrapped, sealing.mode)
    return Sealing(sealing.mode, wrap(new_kek, dek, sealing.mode), kek_id, sealing.bucket_key)


class BlockCipher:
    """Seals and opens the blocks of one object under its DEK."""

    __slots__ = ("_aead", "_mac_key")

    def __init__(self, dek: bytes) -> None:
        self._aead = AESGCM(dek)
        # Keyed digests (ETags of SSE-C objects) use a key derived from the DEK, never the DEK.
        self._mac_key = hmac.new(dek, b"s3front:etag", hashlib.sha256).digest()

    def seal(self, data: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, data, _BLOCK_AAD)

    def open(self, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], _BLOCK_AAD)
        except (InvalidTag, ValueError) as err:
            raise SealedDataError("sealed data fails authentication") from err

    def keyed_etag(self, md5_hex: str) -> str:
        """An ETag that is not the plaintext's MD5 (AWS: SSE-C and SSE-KMS ETags are not MD5
        digests): 32 hex digits, stable for the object, equal plaintexts under different DEKs
        give different values."""
        return hmac.new(self._mac_key, bytes.fromhex(md5_hex), hashlib.sha256).hexdigest()[:32]
