"""Listing accumulators: pure S3 listing semantics over rows fed in key order.

A listing is a sorted sequence of *items*: keys (or versions, or uploads) and common prefixes,
each positioned at its own string. An item is on a page when its position is after the marker
(start-after, continuation position, key-marker); a common prefix counts as one item towards
max-keys and is listed once, however many keys it rolls up, across pages too -- a marker equal
to (or inside) a common prefix excludes it. A page holds at most max-keys items; it is
truncated only when a further item exists, and its next marker is its last item.

The accumulators are fed store rows in clustering order (key ascending, versions newest first)
and know nothing about the store, so they are tested with plain lists (Garage `list.rs`).
`feed` may return a key: every row before it is irrelevant (they roll up into a common prefix
already listed), so the scanning driver (`s3front.objects.listing`) may jump there instead of
reading every key beneath the prefix. Rows fed anyway are ignored correctly.
"""

from __future__ import annotations

from s3front.objects.keys import prefix_end
from s3front.objects.pages import ListPage, UploadPage, VersionPage
from s3front.store.records import ObjectRecord, UploadRecord

MAX_KEYS = 1000


def clamp_max_keys(max_keys: int) -> int:
    """S3 returns at most 1000 items per page whatever the client asks."""
    return max(0, min(max_keys, MAX_KEYS))


def common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix `key` rolls up into, or None if it is listed as itself."""
    if not delimiter:
        return None
    i = key.find(delimiter, len(prefix))
    return None if i < 0 else key[: i + len(delimiter)]


class _Count:
    """Counts items against max-keys and notices truncation (one item past a full page)."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = clamp_max_keys(max_keys)
        self.count = 0
        self.truncated = False

    @property
    def done(self) -> bool:
        return self.truncated or self.max_keys == 0

    def admit(self) -> bool:
        if self.count >= self.max_keys:
            self.truncated = True
            return False
        self.count += 1
        return True


class ObjectLister:
    """ListObjects (V1 and V2): the newest version of each key, unless it is a delete marker."""

    def __init__(
        self,
        *,
        prefix: str = "",
        delimiter: str = "",
        max_keys: int = MAX_KEYS,
        start_after: str = "",
    ) -> None:
        self.prefix = prefix
        self.delimiter = delimiter
        self.start_after = start_after
        self._count = _Count(max_keys)
        self._page = ListPage()
        self._last_key: str | None = None
        self._last_item = ""

    @property
    def done(self) -> bool:
        return self._count.done

    def feed(self, rec: ObjectRecord) -> str | None:
        if self.done or rec.key == self._last_key:
            return None  # full, or an older version of a key already decided
        key = self._last_key = rec.key
        if key <= self.start_after or not key.startswith(self.prefix) or rec.delete_marker:
            return None
        cp = common_prefix(key, self.prefix, self.delimiter)
        if cp is None:
            if self._count.admit():
                self._page.contents.append(rec)
                self._last_item = key
            return None
        if cp > self.start_after and (
            not self._page.common_prefixes or self._page.common_prefixes[-1] != cp
        ):
            if not self._count.admit():
                return None
            self._page.common_prefixes.append(cp)
            self._last_item = cp
        return prefix_end(cp)

    def page(self) -> ListPage:
        self._page.is_truncated = self._count.truncated
        self._page.next_marker = self._last_item if self._count.truncated else None
        return self._page


class VersionLister:
    """ListObjectVersions: every version and delete marker, keys ascending, newest first."""

    def __init__(
        self,
        *,
        prefix: str = "",
        delimiter: str = "",
        max_keys: int = MAX_KEYS,
        key_marker: str = "",
        version_id_marker: str = "",
    ) -> None:
        self.prefix = prefix
        self.delimiter = delimiter
        self.key_marker = key_marker
        # S3 ignores a version-id-marker that comes without a key-marker.
        self.version_id_marker = version_id_marker if key_marker else ""
        self._past_version_marker = False
        self._count = _Count(max_keys)
        self._page = VersionPage()
        self._last_key: str | None = None
        self._last_item: tuple[str, str | None] = ("", None)

    @property
    def done(self) -> bool:
        return self._count.done

    def feed(self, rec: ObjectRecord) -> str | None:
        if self.done:
            return None
        key = rec.key
        newest = key != self._last_key
        self._last_key = key
        if not key.startswith(self.prefix) or key < self.key_marker:
            return None
        if key == self.key_marker:
            if not self.version_id_marker:
                return None  # a bare key-marker starts after all versions of that key
            if not self._past_version_marker:
                self._past_version_marker = rec.version_id == self.version_id_marker
                return None
            newest = False  # the newest version of the marker key was on an earlier page
        cp = common_prefix(key, self.prefix, self.delimiter)
        if cp is None:
            if self._count.admit():
                self._page.versions.append(rec)
                if newest:
                    self._page.latest.add((key, rec.version_id))
                self._last_item = (key, rec.version_id)
            return None
        if cp > self.key_marker and (
            not self._page.common_prefixes or self._page.common_prefixes[-1] != cp
        ):
            if not self._count.admit():
                return None
            self._page.common_prefixes.append(cp)
            self._last_item = (cp, None)
        return prefix_end(cp)

    def page(self) -> VersionPage:
        self._page.is_truncated = self._count.truncated
        if self._count.truncated:
            self._page.next_key_marker, self._page.next_version_id_marker = self._last_item
        return self._page


class UploadLister:
    """ListMultipartUploads: uploads ordered by (key, upload id)."""

    def __init__(
        self,
        *,
        prefix: str = "",
        delimiter: str = "",
        max_uploads: int = MAX_KEYS,
        key_marker: str = "",
        upload_id_marker: str = "",
    ) -> None:
        self.prefix = prefix
        self.delimiter = delimiter
        self.key_marker = key_marker
        # S3 ignores an upload-id-marker that comes without a key-marker.
        self.upload_id_marker = upload_id_marker if key_marker else ""
        self._count = _Count(max_uploads)
        self._page = UploadPage()
        self._last_item: tuple[str, str | None] = ("", None)

    @property
    def done(self) -> bool:
        return self._count.done

    def feed(self, rec: UploadRecord) -> str | None:
        if self.done:
            return None
        key = rec.key
        if not key.startswith(self.prefix) or key < self.key_marker:
            return None
        if key == self.key_marker and (
            not self.upload_id_marker or rec.upload_id <= self.upload_id_marker
        ):
            return None
        cp = common_prefix(key, self.prefix, self.delimiter)
        if cp is None:
            if self._count.admit():
                self._page.uploads.append(rec)
                self._last_item = (key, rec.upload_id)
            return None
        if cp > self.key_marker and (
            not self._page.common_prefixes or self._page.common_prefixes[-1] != cp
        ):
            if not self._count.admit():
                return None
            self._page.common_prefixes.append(cp)
            self._last_item = (cp, None)
        return prefix_end(cp)

    def page(self) -> UploadPage:
        self._page.is_truncated = self._count.truncated
        if self._count.truncated:
            self._page.next_key_marker, self._page.next_upload_id_marker = self._last_item
        return self._page
