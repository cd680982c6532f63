"""Server configuration: defaults, then an optional TOML file, then environment, then flags.

Every setting has an environment variable `S3FRONT_<NAME>` (upper case) and a TOML key of the
same name in lower case; command-line flags win. Secrets are masked by `describe()`, which is
what the server logs at start.

The master key (`S3FRONT_MASTER_KEY`, which seals access-key secrets at rest) must be 32 random
bytes written as 64 hex digits or as base64 (standard or URL-safe alphabet, padding optional):
`python3 -c 'import secrets; print(secrets.token_hex(32))'`. Anything else -- a passphrase, a
short or truncated key -- is refused at load, with a message that names the setting and never
echoes the value.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from s3front.objects.limits import DEFAULT_GC_GRACE_SECONDS

MiB = 1024 * 1024
_SECRET_FIELDS = {"root_secret_key", "master_key"}


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 9000
    store: str = "sqlite://./data"
    # Virtual-hosted addressing: a Host of "<bucket>.<domain>" names a bucket.
    domains: tuple[str, ...] = ("localhost",)
    region: str = "us-east-1"
    tls_cert: str = ""
    tls_key: str = ""
    root_access_key: str = ""
    root_secret_key: str = ""
    master_key: str = ""
    block_size: int = MiB
    inline_limit: int = 32 * 1024
    bucket_shards: int = 8
    # Object requests reuse a bucket's record read this many seconds ago at most (0: read it
    # every time); bucket changes made by other processes apply after that long.
    bucket_cache_seconds: float = 1.0
    max_xml_body: int = 2 * MiB
    # Seconds a completed multipart upload's result is kept, so that a retried
    # CompleteMultipartUpload (after a lost response) gets the same answer (0: not kept).
    completion_retention: float = 900.0
    # Periodic GC inside the server: seconds between passes (0: off; run `s3front gc` instead)
    # and the grace period (how long garbage lingers; writes in progress are safe at any value).
    gc_interval: float = 3600.0
    gc_grace: float = DEFAULT_GC_GRACE_SECONDS
    # The lifecycle worker inside the server (s3front.lifecycle_worker): seconds between passes
    # (0: off; run `s3front lifecycle run` instead), and the length of a lifecycle "day" (tests
    # shorten it so that a rule of 1 day acts in seconds).
    lifecycle_interval: float = 3600.0
    lifecycle_day_seconds: float = 86400.0
    log_level: str = "info"
    access_log: bool = True
    # Bucket logging (s3front.access_log_delivery): each process delivers the records it holds
    # for a source bucket as one object every `access_log_flush_seconds`, and holds at most
    # `access_log_buffer_bytes` of records (more are dropped and counted, never buffered).
    access_log_flush_seconds: float = 60.0
    access_log_buffer_bytes: int = 16 * MiB
    # Server processes sharing the listening socket (`serve --workers`).
    workers: int = 1
    # Connection limits (s3front.limits): the request line and headers of one request at most
    # `max_header_bytes`, arriving within `header_timeout` seconds; a request body that stalls
    # for `body_idle_timeout` seconds between chunks ends with 400 RequestTimeout; at most
    # `limit_concurrency` connections and requests per worker before new requests get 503
    # (0: no limit). Timeouts of 0 turn the timeout off.
    max_header_bytes: int = 32 * 1024
    header_timeout: float = 15.0
    body_idle_timeout: float = 30.0
    # A body must average `body_min_rate` bytes/s (0: no minimum), measured as a token bucket of
    # `body_rate_window` seconds of waiting (so it may start slowly or pause that long), and end
    # within `body_timeout` seconds of the request's start (0: no deadline); else 400
    # RequestTimeout. 500 B/s is Apache mod_reqtimeout's MinRate: far below any real link, yet
    # a byte every few seconds fails within the window. One hour lets a 5 GiB PUT (S3's single
    # PUT maximum) through at 1.5 MB/s; slower links upload big objects in multipart parts, as
    # every SDK does above 8-100 MiB, each part a request with its own hour.
    body_min_rate: float = 500.0
    body_rate_window: float = 30.0
    body_timeout: float = 3600.0
    limit_concurrency: int = 1024
    # Requests without credentials (no Authorization header or presigned query; browser POST
    # uploads included) may hold at most this share of `limit_concurrency`; the rest is kept
    # for signed requests, so slow anonymous clients cannot starve them (1: no reserve). And at
    # most `anonymous_per_client` anonymous requests per client address (0: no cap; behind a
    # proxy every client has the proxy's address).
    anonymous_share: float = 0.5
    anonymous_per_client: int = 0

    def describe(self) -> dict[str, Any]:
        """The settings as a dict for the start-up log, secrets masked."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS and value:
                value = "****"
            if f.name == "store":
                value = mask_url(value)
            out[f.name] = value
        return out


_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
_B64_KEY = re.compile(r"[A-Za-z0-9+/_-]{43}=?")
MASTER_KEY_HELP = (
    "S3FRONT_MASTER_KEY must be 32 random bytes written as 64 hex digits or base64 "
    "(make one with: python3 -c 'import secrets; print(secrets.token_hex(32))')"
)


def decode_master_key(text: str) -> bytes:
    """The 32 bytes of a master key given as hex or base64; ValueError (naming the setting,
    never the value) for anything else."""
    text = text.strip()
    raw = b""
    if _HEX_KEY.fullmatch(text):
        raw = bytes.fromhex(text)
    elif _B64_KEY.fullmatch(text):
        padded = text.rstrip("=") + "="
        try:
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
    # 32 random bytes have ~30 distinct values; fewer than 16 means a pattern ("000...0", a
    # repeated word), not a random key. (The odds of a random key failing this are < 1e-20.)
    if len(raw) != 32 or len(set(raw)) < 16:
        raise ValueError(MASTER_KEY_HELP)
    return raw


def mask_url(url: str) -> str:
    """Hide a password given in a store URL's query (`password=...`) or userinfo."""
    import re

    url = re.sub(r"(password=)[^&]*", r"\1****", url)
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1****@", url)


def _coerce(name: str, raw: Any) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
    if kind == "tuple[str, ...]":
        items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        return tuple(str(i).strip().lower() for i in items if str(i).strip())
    return str(raw)


def load(
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> Settings:
    env = os.environ if env is None else env
    names = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    path = config_file or env.get("S3FRONT_CONFIG", "")
    if path:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
        for k, v in doc.items():
            if k not in names:
                raise ValueError(f"unknown setting {k!r} in {path}")
            values[k] = _coerce(k, v)
    for name in names:
        raw = env.get(f"S3FRONT_{name.upper()}")
        if raw is not None and raw != "":
            values[name] = _coerce(name, raw)
    for k, v in (overrides or {}).items():
        if v is not None:
            values[k] = _coerce(k, v)
    settings = replace(Settings(), **values)
    if settings.block_size < 64 * 1024 or settings.block_size > MiB:
        # A block is one Cassandra cell; 1 MiB is the practical ceiling for blob cells.
        raise ValueError("block_size must be between 64 KiB and 1 MiB")
    if settings.inline_limit > settings.block_size:
        raise ValueError("inline_limit must not exceed block_size")
    if not 1 <= settings.port <= 65535:
        raise ValueError("port must be between 1 and 65535")
    if not 1 <= settings.workers <= 64:
        raise ValueError("workers must be between 1 and 64")
    if not 1024 <= settings.max_header_bytes <= 1024 * 1024:
        raise ValueError("max_header_bytes must be between 1 KiB and 1 MiB")
    if settings.limit_concurrency < 0:
        raise ValueError("limit_concurrency must be 0 (no limit) or positive")
    if not 0 < settings.anonymous_share <= 1:
        raise ValueError("anonymous_share must be above 0 and at most 1")
    if settings.anonymous_per_client < 0:
        raise ValueError("anonymous_per_client must be 0 (no cap) or positive")
    if settings.body_min_rate < 0 or settings.body_timeout < 0:
        raise ValueError("body_min_rate and body_timeout must be 0 (off) or positive")
    if settings.body_min_rate > 0 and settings.body_rate_window <= 0:
        raise ValueError("body_rate_window must be positive when body_min_rate is set")
    if not 0 <= settings.bucket_cache_seconds <= 60:
        raise ValueError("bucket_cache_seconds must be between 0 and 60")
    if settings.lifecycle_interval < 0 or settings.lifecycle_day_seconds <= 0:
        raise ValueError("lifecycle_interval must be >= 0 and lifecycle_day_seconds > 0")
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    for name in ("gc_interval", "gc_grace", "completion_retention"):
        value = getattr(settings, name)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite, non-negative number of seconds")
    if settings.master_key:
        decode_master_key(settings.master_key)
    return settings
