"""S3FRONT_MASTER_KEY: what is accepted, what is refused, and that a refusal never shows it."""

from __future__ import annotations

import base64
import secrets

import pytest

from s3front import config

RAW = bytes.fromhex("12066eb327070c9d6a8366f25a662b51ccc5347a90f913c58ac29d63fcea514c")


@pytest.mark.parametrize(
    "text",
    [
        RAW.hex(),
        RAW.hex().upper(),
        base64.b64encode(RAW).decode(),
        base64.b64encode(RAW).decode().rstrip("="),
        base64.urlsafe_b64encode(RAW).decode(),
        f"  {RAW.hex()}\n",  # from a file or a Secret with a trailing newline
    ],
    ids=["hex", "HEX", "b64", "b64-unpadded", "urlsafe", "whitespace"],
)
def test_32_bytes_as_hex_or_base64_are_accepted(text: str) -> None:
    assert config.decode_master_key(text) == RAW
    assert config.load(env={"S3FRONT_MASTER_KEY": text}).master_key == text


@pytest.mark.parametrize(
    "text",
    [
        "correct horse battery staple",
        "master-1",
        "0" * 64,
        "ab" * 32,
        RAW.hex()[:-2],
        RAW.hex() + "00",
        RAW.hex()[:-1] + "g",
        base64.b64encode(RAW[:31]).decode(),
        base64.b64encode(RAW + b"\x01").decode(),
        base64.b64encode(RAW).decode()[:-2] + "*=",
        base64.b64encode(b"A" * 32).decode(),
    ],
)
def test_anything_else_is_refused_without_echoing_it(text: str) -> None:
    with pytest.raises(ValueError) as info:
        config.load(env={"S3FRONT_MASTER_KEY": text})
    message = str(info.value)
    assert message.startswith("S3FRONT_MASTER_KEY must be 32 random bytes")
    assert text.strip() not in message


def test_no_master_key_is_allowed() -> None:
    assert config.load(env={}).master_key == ""


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "-inf"])
def test_gc_settings_must_be_finite(value: str) -> None:
    for name in ("S3FRONT_GC_GRACE", "S3FRONT_GC_INTERVAL"):
        with pytest.raises(ValueError, match="finite, non-negative"):
            config.load(env={name: value})


def test_describe_masks_the_master_key() -> None:
    key = secrets.token_hex(32)
    described = config.load(env={"S3FRONT_MASTER_KEY": key}).describe()
    assert described["master_key"] == "****" and key not in repr(described)
