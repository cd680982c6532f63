"""Tags as stored in a record's attrs (JSON under "tags"), and the x-amz-tagging header."""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import parse_qsl

from s3front import errors

OBJECT_MAX_TAGS = 10
BUCKET_MAX_TAGS = 50


def tags_of(attrs: Mapping[str, str]) -> dict[str, str]:
    raw = attrs.get("tags")
    return dict(json.loads(raw)) if raw else {}


def with_tags(attrs: Mapping[str, str], tags: Mapping[str, str]) -> dict[str, str]:
    out = dict(attrs)
    if tags:
        out["tags"] = json.dumps(dict(tags), ensure_ascii=False)
    else:
        out.pop("tags", None)
    return out


def parse_tagging_header(value: str) -> dict[str, str]:
    """`x-amz-tagging: k1=v1&k2=v2` (URL-encoded, as on PutObject and CreateMultipartUpload)."""
    tags: dict[str, str] = {}
    for k, v in parse_qsl(value, keep_blank_values=True):
        if k in tags:
            raise errors.InvalidTag("Cannot provide multiple Tags with the same key", TagKey=k)
        if not k or len(k) > 128:
            raise errors.InvalidTag("The TagKey you have provided is invalid", TagKey=k)
        if len(v) > 256:
            raise errors.InvalidTag("The TagValue you have provided is invalid", TagKey=k)
        tags[k] = v
    if len(tags) > OBJECT_MAX_TAGS:
        raise errors.InvalidTag(f"Object tags cannot be greater than {OBJECT_MAX_TAGS}")
    return tags
