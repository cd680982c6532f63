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


class _Lister:
    """What every listing shares: counting items against max-keys, noticing truncation (an
    item arrives past a full page), and listing each common prefix once."""

    def __init__(self, prefix: str, delimiter: str, max_keys: int, marker: str) -> None:
        self.prefix = prefix
        self.delimiter = delimiter
        self._marker = marker  # items at or before this position were on earlier pages
        self._max = clamp_max_keys(max_keys)
        self._count = 0
        self._truncated = False
        self._prefixes: list[str] = []
        # The last item listed, as (key or common prefix, version / upload id or None).
        self._last: tuple[str, str | None] = ("", None)

    @property
    def done(self) -> bool:
        return self._truncated or self._max == 0

    def _admit(self, position: str, sub: str | None = None) -> bool:
        if self._count >= self._max:
            self._truncated = True
            return False
        self._count += 1
        self._last = (position, sub)
        return True

    def _roll_up(self, key: str) -> tuple[bool, str | None]:
        """(rolled up, where the scan may jump) for a key that is otherwise listable."""
        cp = common_prefix(key, self.prefix, self.delimiter)
        if cp is None:
            return False, None
        # cp <= marker means it sorts before the marker: an earlier page listed it.
        is_new = cp > self._marker and (not self._prefixes or self._prefixes[-1] != cp)
        if is_new and not self._admit(cp):
            return True, None
        if is_new:
            self._prefixes.append(cp)
        return True, prefix_end(cp)


class ObjectLister(_Lister):
    """ListObjects (V1 and V2): the newest version of each key, unless it is a delete marker."""

    def __init__(
        self,
        *,
        prefix: str = "",
        delimiter: str = "",
        max_keys: int = MAX_KEYS,
        start_after: str = "",
    ) -> None:
        super().__init__(prefix, delimiter, max_keys, start_after)
        self._contents: list[ObjectRecord] = []
        self._last_key: str | None = None

    def feed(self, rec: ObjectRecord) -> str | None:
        if self.done or rec.key == self._last_key:
            return None  # full, or an older version of a key already decided
        key = self._last_key = rec.key
        if key <= self._marker or not key.startswith(self.prefix) or rec.delete_marker:
            return None
        rolled, jump = self._roll_up(key)
        if not rolled and self._admit(key):
            self._contents.append(rec)
        return jump

    def page(self) -> ListPage:
        return ListPage(
            contents=self._contents,
            common_prefixes=self._prefixes,
            is_truncated=self._truncated,
            next_marker=self._last[0] if self._truncated else None,
        )


class VersionLister(_Lister):
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
        super().__init__(prefix, delimiter, max_keys, key_marker)
        # S3 ignores a version-id-marker that comes without a key-marker.
        self._version_marker = version_id_marker if key_marker else ""
        self._past_version_marker = False
        self._versions: list[ObjectRecord] = []
        self._latest: set[tuple[str, str]] = set()
        self._last_key: str | None = None

    def feed(self, rec: ObjectRecord) -> str | None:
        if self.done:
            return None
        key = rec.key
        newest = key != self._last_key
        self._last_key = key
        if not key.startswith(self.prefix) or key < self._marker:
            return None
        if key == self._marker:
            if not self._version_marker:
                return None  # a bare key-marker starts after all versions of that key
            if not self._past_version_marker:
                self._past_version_marker = rec.version_id == self._version_marker
                return None
            newest = False  # the newest version of the marker key was on an earlier page
        rolled, jump = self._roll_up(key)
        if not rolled and self._admit(key, rec.version_id):
            self._versions.append(rec)
            if newest:
                self._latest.add((key, rec.version_id))
        return jump

    def page(self) -> VersionPage:
        key, version = self._last if self._truncated else (None, None)
        return VersionPage(
            versions=self._versions,
            latest=self._latest,
            common_prefixes=self._prefixes,
            is_truncated=self._truncated,
            next_key_marker=key,
            next_version_id_marker=version,
        )


class UploadLister(_Lister):
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
        super().__init__(prefix, delimiter, max_uploads, key_marker)
        # S3 ignores an upload-id-marker that comes without a key-marker.
        self._upload_marker = upload_id_marker if key_marker else ""
        self._uploads: list[UploadRecord] = []

    def feed(self, rec: UploadRecord) -> str | None:
        if self.done:
            return None
        key = rec.key
        if not key.startswith(self.prefix) or key < self._marker:
            return None
        if key == self._marker and (
            not self._upload_marker or rec.upload_id <= self._upload_marker
        ):
            return None
        rolled, jump = self._roll_up(key)
        if not rolled and self._admit(key, rec.upload_id):
            self._uploads.append(rec)
        return jump

    def page(self) -> UploadPage:
        key, upload = self._last if self._truncated else (None, None)
        return UploadPage(
            uploads=self._uploads,
            common_prefixes=self._prefixes,
            is_truncated=self._truncated,
            next_key_marker=key,
            next_upload_id_marker=upload,
        )
