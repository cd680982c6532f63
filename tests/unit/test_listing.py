"""The listing accumulators, fed plain lists of rows in store order."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from s3front.objects.keys import prefix_end, shard_of
from s3front.objects.listers import ObjectLister, UploadLister, VersionLister, common_prefix
from s3front.objects.pages import ListPage
from s3front.store.records import NULL_VERSION, ObjectRecord, UploadRecord


def obj(key: str, seq: int = 0, vid: str = NULL_VERSION, dm: bool = False) -> ObjectRecord:
    return ObjectRecord(
        key=key,
        seq=seq,
        version_id=vid,
        size=1,
        etag="e",
        last_modified_ms=0,
        owner="o",
        delete_marker=dm,
    )


def rows_of(keys: Sequence[str]) -> list[ObjectRecord]:
    return [obj(k) for k in sorted(keys)]


def drive(lister: ObjectLister | VersionLister, rows: Sequence[ObjectRecord]) -> None:
    """What the scanning driver does: feed in order, jumping where the lister says."""
    skip_below = ""
    for rec in rows:
        if lister.done:
            return
        if rec.key < skip_below:
            continue
        jump = lister.feed(rec)
        if jump is not None:
            assert jump > rec.key
            skip_below = jump


def list_page(rows: Sequence[ObjectRecord], **kw: object) -> ListPage:
    jumped = ObjectLister(**kw)  # type: ignore[arg-type]
    drive(jumped, rows)
    # Jumps are only an optimisation: feeding every row gives the same page.
    plain = ObjectLister(**kw)  # type: ignore[arg-type]
    for rec in rows:
        plain.feed(rec)
    page = jumped.page()
    assert page == plain.page()
    return page


KEYS = [
    "a", "a/b", "a/c/d", "a/c/e", "b/", "b/x", "c", "c/", "z/", "\u65e5\u672c/\u8a9e",
    "\u65e5\u672c/x/y", "sp ace/+%", "\U0001f600/x",
]  # fmt: skip


@pytest.mark.parametrize(
    ("kw", "contents", "prefixes"),
    [
        ({}, sorted(KEYS), []),
        (
            {"delimiter": "/"},
            ["a", "c"],
            ["a/", "b/", "c/", "sp ace/", "z/", "\u65e5\u672c/", "\U0001f600/"],
        ),
        ({"prefix": "a/", "delimiter": "/"}, ["a/b"], ["a/c/"]),
        ({"prefix": "a/c/"}, ["a/c/d", "a/c/e"], []),
        ({"prefix": "a/c/", "delimiter": "/"}, ["a/c/d", "a/c/e"], []),
        (
            {"prefix": "\u65e5\u672c/", "delimiter": "/"},
            ["\u65e5\u672c/\u8a9e"],
            ["\u65e5\u672c/x/"],
        ),
        ({"prefix": "nothing"}, [], []),
        ({"prefix": "b", "delimiter": "/"}, [], ["b/"]),
        ({"prefix": "b/", "delimiter": "/"}, ["b/", "b/x"], []),
        ({"delimiter": "/c/"}, [k for k in sorted(KEYS) if "/c/" not in k], ["a/c/"]),
        (
            {"delimiter": "x"},
            [k for k in sorted(KEYS) if "x" not in k],
            ["b/x", "\u65e5\u672c/x", "\U0001f600/x"],
        ),
        ({"delimiter": ""}, sorted(KEYS), []),  # empty delimiter: none
        ({"start_after": "c"}, [k for k in sorted(KEYS) if k > "c"], []),
        (
            {"start_after": "a/", "delimiter": "/"},
            ["c"],
            ["b/", "c/", "sp ace/", "z/", "\u65e5\u672c/", "\U0001f600/"],
        ),
        # A marker inside a common prefix excludes that prefix (it sorts before the marker).
        (
            {"start_after": "a/b", "delimiter": "/"},
            ["c"],
            ["b/", "c/", "sp ace/", "z/", "\u65e5\u672c/", "\U0001f600/"],
        ),
        ({"prefix": "a/", "start_after": "a/b", "delimiter": "/"}, [], ["a/c/"]),
        (
            {"prefix": "a/", "start_after": "0"},
            ["a/b", "a/c/d", "a/c/e"],
            [],
        ),  # marker before prefix
        ({"prefix": "a/", "start_after": "b"}, [], []),  # marker after prefix
        ({"start_after": "\U0010ffff"}, [], []),
    ],
)
def test_list_objects(kw: dict[str, str], contents: list[str], prefixes: list[str]) -> None:
    page = list_page(rows_of(KEYS), **kw)
    assert [r.key for r in page.contents] == contents
    assert page.common_prefixes == prefixes
    assert not page.is_truncated
    assert page.next_marker is None


@pytest.mark.parametrize(
    ("kw", "contents", "prefixes", "next_marker"),
    [
        ({"max_keys": 2, "delimiter": "/"}, ["a"], ["a/"], "a/"),
        ({"max_keys": 3, "delimiter": "/"}, ["a"], ["a/", "b/"], "b/"),
        ({"max_keys": 1}, ["a"], [], "a"),
        ({"max_keys": 2, "prefix": "a/", "delimiter": "/"}, ["a/b"], ["a/c/"], None),  # exact fit
        ({"max_keys": 1, "prefix": "a/", "delimiter": "/"}, ["a/b"], [], "a/b"),
        ({"max_keys": 0}, [], [], None),  # max-keys 0: nothing, not truncated
        ({"max_keys": 5000}, sorted(KEYS), [], None),  # clamped to 1000, still all
        ({"max_keys": -1}, [], [], None),
    ],
)
def test_truncation(
    kw: dict[str, object], contents: list[str], prefixes: list[str], next_marker: str | None
) -> None:
    page = list_page(rows_of(KEYS), **kw)
    assert [r.key for r in page.contents] == contents
    assert page.common_prefixes == prefixes
    assert page.is_truncated == (next_marker is not None)
    assert page.next_marker == next_marker


def _items(page: ListPage) -> list[str]:
    return sorted([r.key for r in page.contents] + page.common_prefixes)


@pytest.mark.parametrize("delimiter", ["", "/", "c"])
@pytest.mark.parametrize("prefix", ["", "a", "a/c/"])
def test_paging_returns_every_item_once(prefix: str, delimiter: str) -> None:
    rows = rows_of(KEYS)
    everything = _items(list_page(rows, prefix=prefix, delimiter=delimiter))
    for max_keys in range(1, len(KEYS) + 2):
        seen: list[str] = []
        marker = ""
        for _ in range(len(KEYS) + 2):
            page = list_page(
                rows, prefix=prefix, delimiter=delimiter, max_keys=max_keys, start_after=marker
            )
            assert len(page.contents) + len(page.common_prefixes) <= max_keys
            seen += _items(page)
            if not page.is_truncated:
                break
            assert page.next_marker is not None
            marker = page.next_marker
        assert seen == everything


VERSIONED = [
    obj("a", 3, "v3"),
    obj("a", 2, "v2", dm=True),
    obj("a", 1, "v1"),
    obj("b/1", 5, "w5", dm=True),
    obj("b/1", 4, "w4"),
    obj("b/2", 0, NULL_VERSION),
    obj("c", 9, "x9", dm=True),
    obj("d", 0, NULL_VERSION),
]


@pytest.mark.parametrize(
    ("kw", "contents", "prefixes"),
    [
        ({}, ["a", "b/2", "d"], []),  # b/1 and c are deleted; old versions hidden
        ({"delimiter": "/"}, ["a", "d"], ["b/"]),
        ({"prefix": "b/1"}, [], []),
        ({"prefix": "c"}, [], []),
    ],
)
def test_list_objects_hides_deleted_and_old_versions(
    kw: dict[str, str], contents: list[str], prefixes: list[str]
) -> None:
    page = list_page(VERSIONED, **kw)
    assert [r.key for r in page.contents] == contents
    assert [r.seq for r in page.contents if r.key == "a"] == ([3] if "a" in contents else [])
    assert page.common_prefixes == prefixes


def test_common_prefix_only_from_live_keys() -> None:
    rows = [obj("x/1", 2, "b", dm=True), obj("x/1", 1, "a"), obj("y", 0)]
    page = list_page(rows, delimiter="/")
    assert page.common_prefixes == []
    assert [r.key for r in page.contents] == ["y"]


def version_page(rows: Sequence[ObjectRecord], **kw: object) -> VersionLister:
    lister = VersionLister(**kw)  # type: ignore[arg-type]
    drive(lister, rows)
    return lister


@pytest.mark.parametrize(
    ("kw", "versions", "prefixes", "latest"),
    [
        (
            {},
            [
                ("a", "v3"),
                ("a", "v2"),
                ("a", "v1"),
                ("b/1", "w5"),
                ("b/1", "w4"),
                ("b/2", "null"),
                ("c", "x9"),
                ("d", "null"),
            ],
            [],
            {("a", "v3"), ("b/1", "w5"), ("b/2", "null"), ("c", "x9"), ("d", "null")},
        ),
        (
            {"delimiter": "/"},
            [("a", "v3"), ("a", "v2"), ("a", "v1"), ("c", "x9"), ("d", "null")],
            ["b/"],
            {("a", "v3"), ("c", "x9"), ("d", "null")},
        ),
        (
            {"key_marker": "a"},
            [("b/1", "w5"), ("b/1", "w4"), ("b/2", "null"), ("c", "x9"), ("d", "null")],
            [],
            {("b/1", "w5"), ("b/2", "null"), ("c", "x9"), ("d", "null")},
        ),
        # After version v3 of "a": the older ones, none of them latest.
        (
            {"key_marker": "a", "version_id_marker": "v3", "prefix": "a"},
            [("a", "v2"), ("a", "v1")],
            [],
            set(),
        ),
        ({"key_marker": "a", "version_id_marker": "v1", "prefix": "a"}, [], [], set()),
        # A version-id-marker without a key-marker is ignored.
        (
            {"version_id_marker": "v3", "prefix": "a"},
            [("a", "v3"), ("a", "v2"), ("a", "v1")],
            [],
            {("a", "v3")},
        ),
        (
            {"key_marker": "b/", "delimiter": "/"},
            [("c", "x9"), ("d", "null")],
            [],
            {("c", "x9"), ("d", "null")},
        ),
        ({"max_keys": 0}, [], [], set()),
    ],
)
def test_list_versions(
    kw: dict[str, object],
    versions: list[tuple[str, str]],
    prefixes: list[str],
    latest: set[tuple[str, str]],
) -> None:
    page = version_page(VERSIONED, **kw).page()
    assert [(r.key, r.version_id) for r in page.versions] == versions
    assert page.common_prefixes == prefixes
    assert page.latest == latest
    assert not page.is_truncated


@pytest.mark.parametrize("delimiter", ["", "/"])
def test_version_paging(delimiter: str) -> None:
    full = version_page(VERSIONED, delimiter=delimiter).page()
    expected = [(r.key, r.version_id) for r in full.versions] + [
        (p, "") for p in full.common_prefixes
    ]
    for max_keys in range(1, len(VERSIONED) + 2):
        seen: list[tuple[str, str]] = []
        latest: set[tuple[str, str]] = set()
        key_marker, vid_marker = "", ""
        while True:
            lister = version_page(
                VERSIONED,
                delimiter=delimiter,
                max_keys=max_keys,
                key_marker=key_marker,
                version_id_marker=vid_marker,
            )
            page = lister.page()
            assert len(page.versions) + len(page.common_prefixes) <= max_keys
            seen += [(r.key, r.version_id) for r in page.versions]
            seen += [(p, "") for p in page.common_prefixes]
            latest |= page.latest
            if not page.is_truncated:
                break
            assert page.next_key_marker is not None
            key_marker, vid_marker = page.next_key_marker, page.next_version_id_marker or ""
        assert sorted(seen) == sorted(expected)
        assert len(seen) == len(expected)
        assert latest == full.latest


UPLOADS = [
    UploadRecord(key=k, upload_id=u, initiated_ms=0, owner="o")
    for k, u in [("a", "u1"), ("a", "u2"), ("b/x", "u3"), ("b/y", "u4"), ("c", "u5")]
]


@pytest.mark.parametrize(
    ("kw", "uploads", "prefixes", "next_markers"),
    [
        ({}, [("a", "u1"), ("a", "u2"), ("b/x", "u3"), ("b/y", "u4"), ("c", "u5")], [], None),
        ({"delimiter": "/"}, [("a", "u1"), ("a", "u2"), ("c", "u5")], ["b/"], None),
        ({"key_marker": "a"}, [("b/x", "u3"), ("b/y", "u4"), ("c", "u5")], [], None),
        (
            {"key_marker": "a", "upload_id_marker": "u1"},
            [("a", "u2"), ("b/x", "u3"), ("b/y", "u4"), ("c", "u5")],
            [],
            None,
        ),
        (
            {"upload_id_marker": "u1"},
            [("a", "u1"), ("a", "u2"), ("b/x", "u3"), ("b/y", "u4"), ("c", "u5")],
            [],
            None,
        ),
        ({"max_uploads": 2}, [("a", "u1"), ("a", "u2")], [], ("a", "u2")),
        ({"max_uploads": 2, "delimiter": "/"}, [("a", "u1"), ("a", "u2")], [], ("a", "u2")),
        ({"max_uploads": 3, "delimiter": "/"}, [("a", "u1"), ("a", "u2")], ["b/"], ("b/", None)),
        ({"prefix": "b/", "key_marker": "b/x"}, [("b/y", "u4")], [], None),
    ],
)
def test_list_uploads(
    kw: dict[str, object],
    uploads: list[tuple[str, str]],
    prefixes: list[str],
    next_markers: tuple[str, str | None] | None,
) -> None:
    lister = UploadLister(**kw)  # type: ignore[arg-type]
    for rec in UPLOADS:
        lister.feed(rec)
    page = lister.page()
    assert [(u.key, u.upload_id) for u in page.uploads] == uploads
    assert page.common_prefixes == prefixes
    assert page.is_truncated == (next_markers is not None)
    if next_markers is not None:
        assert (page.next_key_marker, page.next_upload_id_marker) == next_markers


@pytest.mark.parametrize(
    ("key", "prefix", "delimiter", "expected"),
    [
        ("a/b/c", "", "/", "a/"),
        ("a/b/c", "a/", "/", "a/b/"),
        ("a/b/c", "a/b/", "/", None),
        ("a//b", "a/", "/", "a//"),
        ("abc", "", "", None),
        ("a--b--c", "", "--", "a--"),
    ],
)
def test_common_prefix(key: str, prefix: str, delimiter: str, expected: str | None) -> None:
    assert common_prefix(key, prefix, delimiter) == expected


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("a/", "a0"),
        ("abc", "abd"),
        ("", None),
        ("a\U0010ffff", "b"),
        ("\U0010ffff", None),
        ("\ud7ff", "\ue000"),  # skips the surrogates, which UTF-8 cannot encode
    ],
)
def test_prefix_end(prefix: str, expected: str | None) -> None:
    assert prefix_end(prefix) == expected
    if expected is not None:
        assert prefix + "\U0010ffff" * 3 < expected
        assert expected.encode("utf-8")


@pytest.mark.parametrize(
    ("key", "shards", "expected"),
    # Persistent: these values must never change (rows are stored under them).
    [("", 8, 0), ("a", 8, 3), ("photos/2024/01.jpg", 8, 5), ("\u65e5\u672c", 16, 12), ("a", 1, 0)],
)
def test_shard_of_is_stable(key: str, shards: int, expected: int) -> None:
    assert shard_of(key, shards) == expected
