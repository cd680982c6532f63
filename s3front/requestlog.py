"""The access log: one JSON object per line (JSON Lines) per S3 request, on stderr.

    {"time": "2026-11-22T08:10:00.123Z", "request_id": "...", "client": "192.0.2.7",
     "access_key": "AKEXAMPLE", "tenant": "...", "op": "GetObject", "method": "GET",
     "bucket": "photos", "key": "cat.jpg", "status": 200, "error": "", "bytes_in": 0,
     "bytes_out": 51234, "duration_ms": 3.412}

A line has no text prefix, so `jq` or a log shipper reads it as it is; the server's other log
lines (start-up, warnings) are plain text and never start with `{`. `access_key` is the id of the
key that signed the request ("" for anonymous or failed authentication), never a secret or a
signature. `error` is the S3 error code of a failed request ("" on success). `bytes_out` counts
response body bytes (0 for HEAD).

Why not `logging`: per request, `LogRecord` creation, caller lookup, formatting and the handler
lock cost ~60 us, a sixth of a small GET. Here a line is assembled from strings (the timestamp
text is cached per second) and written with one `os.write`; lines are short (a key is at most
1 KiB), so the write is atomic between the workers that share stderr.

The line is enabled when the `s3front.access` logger is enabled for INFO at start-up (so
`log_level = "warning"` silences it) and `access_log` is on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time

_encode = json.encoder.encode_basestring  # C: a str as a JSON string literal
_LOGGER = "s3front.access"


class RequestLog:
    def __init__(self, enabled: bool, fd: int = 2) -> None:
        self.enabled = enabled and logging.getLogger(_LOGGER).isEnabledFor(logging.INFO)
        self._fd = fd
        self._second = -1
        self._utc_prefix = ""

    def _stamp(self, now: float) -> str:
        second = int(now)
        if second != self._second:
            self._second = second
            self._utc_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return self._utc_prefix

    def write(
        self,
        *,
        request_id: str,
        client: str,
        access_key: str,
        tenant: str,
        op: str,
        method: str,
        bucket: str,
        key: str,
        status: int,
        error: str,
        bytes_in: int,
        bytes_out: int,
        seconds: float,
    ) -> None:
        if not self.enabled:
            return
        now = time.time()
        ms = int((now % 1) * 1000)
        # Every text that a client chose (method, bucket, key, access key id) is JSON-escaped;
        # the request id and op are the server's own ASCII.
        line = (
            f'{{"time": "{self._stamp(now)}.{ms:03d}Z", "request_id": "{request_id}", '
            f'"client": {_encode(client)}, "access_key": {_encode(access_key)}, '
            f'"tenant": {_encode(tenant)}, "op": "{op}", "method": {_encode(method)}, '
            f'"bucket": {_encode(bucket)}, "key": {_encode(key)}, "status": {status}, '
            f'"error": {_encode(error)}, "bytes_in": {bytes_in}, "bytes_out": {bytes_out}, '
            f'"duration_ms": {round(seconds * 1000, 3)}}}\n'
        )
        data = line.encode("utf-8", "backslashreplace")
        # A full or closed stderr must not fail the request: the line is dropped.
        with contextlib.suppress(OSError):
            while data:
                data = data[os.write(self._fd, data) :]
