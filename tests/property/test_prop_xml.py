"""Properties of the request-document parsers in `s3front.xml` and `s3front.access.cors`.

Whatever bytes arrive, a parser returns a value or raises an S3 error (MalformedXML,
InvalidArgument, InvalidTag, ...): never another exception, which the server would turn into a
500. Well-formed documents built from random values parse back to those values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from s3front import xml
from s3front.access import cors
from s3front.errors import S3Error

PARSERS: list[Callable[[bytes], Any]] = [
    xml.parse_create_bucket,
    xml.parse_complete_multipart,
    xml.parse_delete,
    xml.parse_tagging,
    xml.parse_versioning,
    xml.parse_acl,
    cors.parse_configuration,
]
ROOTS = [
    "CreateBucketConfiguration",
    "CompleteMultipartUpload",
    "Delete",
    "Tagging",
    "VersioningConfiguration",
    "AccessControlPolicy",
    "CORSConfiguration",
]
ELEMENTS = [
    "Part", "PartNumber", "ETag", "ChecksumCRC32", "Object", "Key", "VersionId", "Quiet",
    "TagSet", "Tag", "Value", "Status", "Owner", "ID", "AccessControlList", "Grant", "Grantee",
    "Permission", "URI", "EmailAddress", "LocationConstraint", "CORSRule", "AllowedOrigin",
    "AllowedMethod", "AllowedHeader", "MaxAgeSeconds", "ExposeHeader",
]  # fmt: skip
TEXTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "1",
            "0",
            "10001",
            "-1",
            "²",
            "\u0661",
            "1" * 5000,
            "true",
            "Enabled",
            "FULL_CONTROL",
            "GET",
            "*",
            " ",
            "&amp;",
            "CanonicalUser",
            '"etag"',
            "\x00",
        ]
    ),
)


def _only_s3_errors(parser: Callable[[bytes], Any], body: bytes) -> None:
    with contextlib.suppress(S3Error):
        parser(body)


@st.composite
def documents(draw: st.DrawFn, depth: int = 3) -> str:
    """Random element trees over the names S3 documents use, with random text."""

    def tree(level: int) -> str:
        name = draw(st.sampled_from(ELEMENTS))
        if level == 0 or draw(st.booleans()):
            return f"<{name}>{escape(draw(TEXTS))}</{name}>"
        inner = "".join(tree(level - 1) for _ in range(draw(st.integers(0, 3))))
        return f"<{name}>{inner}</{name}>"

    root = draw(st.sampled_from(ROOTS))
    ns = draw(st.sampled_from(["", ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"']))
    if draw(st.booleans()):
        ns += ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    body = "".join(tree(depth) for _ in range(draw(st.integers(0, 4))))
    return f"<{root}{ns}>{body}</{root}>"


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
@given(body=st.binary(max_size=300))
@example(body=b"")
@example(body=b"\xff\xfe<\x00")
@example(body=b'<?xml version="1.0" encoding="UTF-16"?><a/>')
@example(body=b'<?xml version="1.0" encoding="bogus"?><a/>')
@example(body=b"<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>")
def test_random_bytes_only_s3_errors(parser: Callable[[bytes], Any], body: bytes) -> None:
    _only_s3_errors(parser, body)


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
@settings(max_examples=80)
@given(doc=documents(), cut=st.integers(0, 400), junk=st.binary(max_size=8))
def test_structured_and_mutated_documents(
    parser: Callable[[bytes], Any], doc: str, cut: int, junk: bytes
) -> None:
    body = doc.encode()
    _only_s3_errors(parser, body)
    # Truncated, and with junk spliced in at the cut.
    _only_s3_errors(parser, body[:cut])
    _only_s3_errors(parser, body[:cut] + junk + body[cut:])


KEYS = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1, max_size=40
)


def _xml_text(s: str) -> str:
    # XML 1.0 cannot carry most control characters even as references; keep the rest.
    return escape(s)


def _xml_ok(s: str) -> bool:
    return (
        all(c in "\t\n\r" or ord(c) >= 0x20 for c in s) and "\ufffe" not in s and "\uffff" not in s
    )


@given(keys=st.lists(KEYS.filter(_xml_ok), min_size=1, max_size=20), quiet=st.booleans())
def test_delete_round_trip(keys: list[str], quiet: bool) -> None:
    objects = "".join(f"<Object><Key>{_xml_text(k)}</Key></Object>" for k in keys)
    doc = f"<Delete><Quiet>{str(quiet).lower()}</Quiet>{objects}</Delete>"
    parsed = xml.parse_delete(doc.encode())
    # XML normalises CR and CRLF to LF in text: that is the document's meaning.
    expected = [k.replace("\r\n", "\n").replace("\r", "\n") for k in keys]
    assert [k for k, _ in parsed.objects] == expected
    assert parsed.quiet is quiet


@given(
    parts=st.lists(
        st.tuples(st.integers(1, 10000), st.text("0123456789abcdef", min_size=1, max_size=34)),
        min_size=1,
        max_size=30,
    ),
    quoted=st.booleans(),
)
def test_complete_multipart_round_trip(parts: list[tuple[int, str]], quoted: bool) -> None:
    q = "&quot;" if quoted else ""
    body = "".join(
        f"<Part><ETag>{q}{etag}{q}</ETag><PartNumber> {n} </PartNumber>"
        f"<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>"
        for n, etag in parts
    )
    parsed = xml.parse_complete_multipart(
        f"<CompleteMultipartUpload>{body}</CompleteMultipartUpload>".encode()
    )
    assert [(p.part_number, p.etag) for p in parsed] == parts
    assert all(p.checksums == {"CRC32": "AAAAAA=="} for p in parsed)


@given(number=st.one_of(st.integers(-(10**30), 0), st.integers(10001, 10**30)))
def test_part_number_out_of_range_is_invalid_argument(number: int) -> None:
    doc = f"<CompleteMultipartUpload><Part><PartNumber>{number}</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>"
    with pytest.raises(S3Error) as info:
        xml.parse_complete_multipart(doc.encode())
    assert info.value.code == "InvalidArgument"


@given(
    tags=st.dictionaries(
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=128),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=256),
        max_size=10,
    )
)
def test_tagging_round_trip(tags: dict[str, str]) -> None:
    body = "".join(
        f"<Tag><Key>{escape(k)}</Key><Value>{escape(v)}</Value></Tag>" for k, v in tags.items()
    )
    assert xml.parse_tagging(f"<Tagging><TagSet>{body}</TagSet></Tagging>".encode()) == tags


@given(depth=st.integers(200, 3000))
def test_deep_nesting_is_refused_or_parsed(depth: int) -> None:
    body = b"<Delete>" + b"<a>" * depth + b"</a>" * depth + b"</Delete>"
    _only_s3_errors(xml.parse_delete, body)


def test_entity_expansion_is_malformed() -> None:
    lol = (
        b'<?xml version="1.0"?><!DOCTYPE Delete [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b"<Delete><Object><Key>&c;</Key></Object></Delete>"
    )
    with pytest.raises(S3Error) as info:
        xml.parse_delete(lol)
    assert info.value.code == "MalformedXML"


# -- response documents written as text ---------------------------------------------------------

# Every character class the two writers treat differently: markup characters, "\r", characters
# XML cannot carry (replaced), lone surrogates, non-ASCII.
ELEMENT_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(st.sampled_from("a&<>\"'\r\n\t\x00\x1f\x7fé\ud800\ufffe\uffff]]> 😀"), max_size=12),
    st.integers(-(2**63), 2**63),
    st.booleans(),
)


@given(texts=st.lists(ELEMENT_TEXT, min_size=1, max_size=6))
@example(texts=['"etag"', "a\rb", "x & y <z>", "\x00", True, 0])
def test_text_document_writes_what_the_tree_writer_writes(texts: list[Any]) -> None:
    """TextDocument (listings) and element/sub + to_bytes (everything else) agree byte for byte."""
    root = xml.element("ListBucketResult")
    doc = xml.TextDocument("ListBucketResult")
    for i, text in enumerate(texts):
        if i % 2:
            xml.sub(root, "Leaf", text)
            doc.leaf("Leaf", text)
        else:
            xml.sub(xml.sub(root, "Group"), "Leaf", text)
            doc.open("Group")
            doc.markup(f"<Leaf>{xml.escape_text(text)}</Leaf>")
            doc.close("Group")
    assert doc.to_bytes() == xml.to_bytes(root)
