"""How a header value outside US-ASCII is read when a signature is checked.

The HTTP layer hands header values over as ISO-8859-1 text (one character per byte), which is
how they are stored and echoed back byte for byte. Signers disagree on what they signed for such
a value:

- AWS computes the canonical request over the bytes received. A client that sends UTF-8 bytes
  (curl, the Go and JS SDKs for x-amz-meta-* values, botocore for Content-Disposition and other
  non-metadata headers it does not check) signs exactly those bytes: the UTF-8 reading of the
  value is what it signed.
- Python's http.client sends a str header as ISO-8859-1 while botocore signs the same str as
  UTF-8: for a character up to U+00FF the wire byte and the signed bytes differ, and the
  ISO-8859-1 reading is what it signed.

The verifier tries both readings, only when a signed value is outside ASCII (rare, so the usual
request computes one signature). Either reading covers the same bytes on the wire, so neither
lets a signature cover a different request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def readings(headers: Mapping[str, str], names: Iterable[str]) -> list[Mapping[str, str]]:
    """`headers` as received, preceded by its UTF-8 reading when any of `names` has a value
    that is valid UTF-8 outside ASCII."""
    utf8: dict[str, str] = {}
    for name in names:
        value = headers.get(name)
        if value is None or value.isascii():
            continue
        try:
            utf8[name] = value.encode("latin-1").decode("utf-8")
        except UnicodeError:  # not UTF-8 bytes (or not from the wire): one reading only
            continue
    if not utf8:
        return [headers]
    return [{**headers, **utf8}, headers]
