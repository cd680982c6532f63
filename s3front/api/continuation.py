"""Opaque continuation tokens of ListObjectsV2 and ListBuckets: the last name returned."""

from __future__ import annotations

import base64
import binascii

from s3front import errors


def encode_token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode("utf-8")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        # validate: the decoder would otherwise drop characters outside the alphabet, and
        # read "!!!" as an empty token.
        raw = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise errors.InvalidArgument(
            "The continuation token provided is incorrect", ArgumentName="continuation-token"
        ) from None
