"""All XML in and out of s3front goes through this module.

Parsing uses one hardened lxml parser: no entity resolution, no DTD loading, no network, no huge
trees, and any document with a DOCTYPE is refused, so XXE and entity-expansion attacks fail as
MalformedXML without touching a file or a socket. Request documents are read by local element
name: clients differ on whether they put the S3 namespace on them, and they add elements we do
not know (ChecksumCRC32 on every part, for instance), which are ignored.

Serialisation writes the S3 namespace, a double-quoted XML declaration as the very first bytes
(some clients choke on anything before it), and times with milliseconds. The response documents
themselves are in `s3front.xmldocs`; the primitives and the request-document parsers live here.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Iterator
from typing import NamedTuple

from lxml import etree

from s3front.errors import InvalidArgument, InvalidTag, MalformedXML, S3Error
from s3front.errors import NotImplemented as S3NotImplemented
from s3front.objects.limits import MAX_PART_NUMBER

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

MAX_DELETE_OBJECTS = 1000
CHECKSUM_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")

# --- parsing ---------------------------------------------------------------------------------

# lxml parsers must not be used by two threads at once; handlers may parse in worker threads.
_local = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        _local.parser = parser
    return parser


def parse(body: bytes) -> etree._Element:
    """The root element of a request document, or MalformedXML for anything else."""
    try:
        root = etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise MalformedXML() from exc
    if root is None:
        raise MalformedXML()
    # A DOCTYPE is the only way in for entity tricks; no S3 document has one.
    # (lxml sets internalDTD for every DOCTYPE, with or without an internal subset.)
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise MalformedXML()
    return root


def local_name(el: etree._Element) -> str:
    """The element name without its namespace (S3 namespace or none: clients differ)."""
    tag = el.tag
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def children(el: etree._Element, name: str) -> Iterator[etree._Element]:
    for child in el:
        if local_name(child) == name:
            yield child


def child(el: etree._Element, name: str) -> etree._Element | None:
    return next(children(el, name), None)


def child_text(el: etree._Element, name: str) -> str | None:
    """The text of the first child named `name` ("" when empty), None when there is none."""
    found = child(el, name)
    return None if found is None else (found.text or "")


def _root(body: bytes, name: str) -> etree._Element:
    root = parse(body)
    if local_name(root) != name:
        raise MalformedXML(f"Expected a {name} document.")
    return root


# --- serialisation primitives ----------------------------------------------------------------


def element(tag: str, namespace: str | None = NS) -> etree._Element:
    """A root element, in the S3 namespace unless told otherwise."""
    if namespace is None:
        return etree.Element(tag)
    # lxml-stubs types nsmap keys as str; lxml takes None for the default namespace.
    return etree.Element(f"{{{namespace}}}{tag}", nsmap={None: namespace})  # type: ignore[dict-item]


def sub(parent: etree._Element, tag: str, text: str | int | bool | None = None) -> etree._Element:
    """A child element in its parent's namespace, with text (bools as S3 spells them)."""
    # The parent's "{namespace}" prefix, sliced from its tag: etree.QName costs ~5 us, and
    # a 1000-key listing makes 5000 elements.
    parent_tag = parent.tag
    assert isinstance(parent_tag, str)
    ns_end = parent_tag.find("}") + 1 if parent_tag.startswith("{") else 0
    el = etree.SubElement(parent, parent_tag[:ns_end] + tag)
    if isinstance(text, bool):
        el.text = "true" if text else "false"
    elif text is not None:
        el.text = xml_safe(str(text))
    return el


# Characters XML 1.0 cannot carry at all, not even as character references.
_NOT_XML_CHARS = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"
_NOT_XML = re.compile(f"[{_NOT_XML_CHARS}]")


def xml_safe(text: str) -> str:
    """`text` with characters XML 1.0 cannot carry replaced by U+FFFD.

    Keys may contain them (S3 allows any UTF-8); lxml refuses them, and a refusal while writing
    an error document or a listing would be a 500. Clients that need such keys exactly ask for
    `encoding-type=url`, whose percent-encoded keys never reach this.
    """
    return _NOT_XML.sub("\ufffd", text)


# Text between two tags; lxml escapes "<" and ">" everywhere, so this never spans markup.
_TEXT_WITH_QUOTE = re.compile(rb'>[^<]*"[^<]*<')


def to_bytes(root: etree._Element) -> bytes:
    """The document as S3 writes it: declaration first, `"` in text as &quot;.

    lxml's own declaration uses single quotes, so we write the one S3 sends. lxml also leaves
    quotes in text unescaped, which is valid, but S3 writes ETags as &quot;...&quot; and
    matching it byte for byte keeps naive client-side parsers and our golden tests honest.
    """
    body = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    body = _TEXT_WITH_QUOTE.sub(lambda m: m.group().replace(b'"', b"&quot;"), body)
    return DECLARATION + body


# What lxml escapes in text ("\r" too, which a parser would otherwise read back as "\n"), plus
# the quote that `to_bytes` escapes after it.
_TEXT_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"}
)


# Anything `escape_text` has to change: a character to escape or one XML cannot carry.
_SPECIAL = re.compile(f'[&<>"\r{_NOT_XML_CHARS}]')


def escape_text(value: str | int | bool) -> str:
    """`value` as element text in a TextDocument: what `sub` would store, escaped as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if _SPECIAL.search(text) is None:  # most keys and every number: nothing to change
        return text
    return xml_safe(text).translate(_TEXT_ESCAPES)


class TextDocument:
    """A document in the S3 namespace written straight to text, for the large ones (listings).

    Building an lxml tree costs ~3 us per element, 2 ms for a 100-key listing page, more than
    the rest of the request; this writes the same bytes as `element`/`sub` and `to_bytes`
    would (a property test holds the two equal) at a fraction of the cost. Elements are
    written in order: `leaf` for an element with text, `open`/`close` around children,
    `markup` for a run of elements formatted in one string (a listing entry).
    """

    def __init__(self, root: str) -> None:
        self._root = root
        self._parts: list[str] = [f'<{root} xmlns="{NS}">']

    def leaf(self, tag: str, text: str | int | bool) -> None:
        self._parts.append(f"<{tag}>{escape_text(text)}</{tag}>")

    def markup(self, text: str) -> None:
        """Elements already written out, their text passed through `escape_text`."""
        self._parts.append(text)

    def open(self, tag: str) -> None:
        self._parts.append(f"<{tag}>")

    def close(self, tag: str) -> None:
        self._parts.append(f"</{tag}>")

    def to_bytes(self) -> bytes:
        self._parts.append(f"</{self._root}>")
        return DECLARATION + "".join(self._parts).encode("utf-8")


def timestamp(ms: int) -> str:
    """ISO-8601 UTC with milliseconds, as S3 writes times in XML: 2009-10-12T17:50:30.000Z."""
    seconds, millis = divmod(ms, 1000)
    return f"{_second(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    # A listing page's objects were mostly written in the same few seconds: strftime once each
    # (it was a sixth of a 100-key ListObjectsV2's handler time in profiles).
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def quoted_etag(etag: str) -> str:
    """ETags are quoted in S3 XML (the stored value has no quotes)."""
    return f'"{etag}"'


def error_document(err: S3Error, resource: str, request_id: str) -> bytes:
    """The <Error> body. S3 sends it without a namespace, and clients expect exactly that."""
    root = element("Error", namespace=None)
    sub(root, "Code", err.code)
    sub(root, "Message", err.message)
    for name, value in err.extra.items():
        sub(root, name, value)
    sub(root, "Resource", resource)
    sub(root, "RequestId", request_id)
    return to_bytes(root)


# --- request documents -----------------------------------------------------------------------


class CompletedPart(NamedTuple):
    part_number: int
    etag: str  # without quotes
    checksums: dict[str, str]  # algorithm ("CRC32", ...) -> base64 value


class DeleteRequest(NamedTuple):
    quiet: bool
    objects: list[tuple[str, str | None]]  # (key, version id)


class Grant(NamedTuple):
    grantee_type: str  # "CanonicalUser", "Group" or "AmazonCustomerByEmail"
    grantee: str  # canonical id, group URI or e-mail address
    permission: str  # FULL_CONTROL, WRITE, WRITE_ACP, READ, READ_ACP


class AccessControlPolicy(NamedTuple):
    owner_id: str | None
    grants: list[Grant]


def parse_create_bucket(body: bytes) -> str | None:
    """CreateBucketConfiguration -> location constraint; an empty body means none."""
    if not body.strip():
        return None
    root = _root(body, "CreateBucketConfiguration")
    # Unknown elements (Bucket, Location for directory buckets) are ignored.
    return child_text(root, "LocationConstraint") or None


def _checksums(el: etree._Element) -> dict[str, str]:
    found: dict[str, str] = {}
    for algorithm in CHECKSUM_ALGORITHMS:
        value = child_text(el, f"Checksum{algorithm}")
        if value:
            found[algorithm] = value.strip()
    return found


def parse_complete_multipart(body: bytes) -> list[CompletedPart]:
    """CompleteMultipartUpload -> parts in document order (order is checked by the handler)."""
    root = _root(body, "CompleteMultipartUpload")
    parts: list[CompletedPart] = []
    for part in children(root, "Part"):
        number_text = child_text(part, "PartNumber")
        etag = child_text(part, "ETag")
        if number_text is None or etag is None:
            raise MalformedXML("Each Part needs a PartNumber and an ETag.")
        try:
            number = int(number_text.strip())
        except ValueError:
            raise MalformedXML("PartNumber must be an integer.") from None
        if not 1 <= number <= MAX_PART_NUMBER:
            raise InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive",
                ArgumentName="partNumber",
                ArgumentValue=str(number),
            )
        # Clients send the ETag quoted, unquoted, or (rarely) with &quot; entities: all the same.
        parts.append(CompletedPart(number, etag.strip().strip('"'), _checksums(part)))
    if not parts:
        raise MalformedXML("The list of parts is empty.")
    return parts


def parse_delete(body: bytes) -> DeleteRequest:
    """Delete (DeleteObjects) -> quiet flag and (key, version id) pairs, at most 1000."""
    root = _root(body, "Delete")
    quiet = (child_text(root, "Quiet") or "false").strip().lower() == "true"
    objects: list[tuple[str, str | None]] = []
    for obj in children(root, "Object"):
        key = child_text(obj, "Key")
        if key is None:
            raise MalformedXML("Each Object needs a Key.")
        # Keys are taken exactly (leading and trailing spaces are part of a key).
        objects.append((key, child_text(obj, "VersionId") or None))
        if len(objects) > MAX_DELETE_OBJECTS:
            raise MalformedXML("A Delete request may name at most 1000 objects.")
    if not objects:
        raise MalformedXML("A Delete request must name at least one object.")
    return DeleteRequest(quiet, objects)


def parse_tagging(
    body: bytes, max_tags: int = 50, max_key: int = 128, max_value: int = 256
) -> dict[str, str]:
    """Tagging -> tags. Objects allow 10 tags and buckets 50: the handler passes its limit."""
    root = _root(body, "Tagging")
    tag_set = child(root, "TagSet")
    if tag_set is None:
        raise MalformedXML("Tagging needs a TagSet.")
    tags: dict[str, str] = {}
    for tag in children(tag_set, "Tag"):
        key = child_text(tag, "Key")
        if key is None:
            raise MalformedXML("Each Tag needs a Key.")
        value = child_text(tag, "Value") or ""
        if key in tags:
            raise InvalidTag("Cannot provide multiple Tags with the same key", TagKey=key)
        if not key or len(key) > max_key:
            raise InvalidTag("The TagKey you have provided is invalid", TagKey=key)
        if len(value) > max_value:
            raise InvalidTag("The TagValue you have provided is invalid", TagKey=key)
        tags[key] = value
    if len(tags) > max_tags:
        raise InvalidTag(f"Object tags cannot be greater than {max_tags}")
    return tags


def parse_versioning(body: bytes) -> str:
    """VersioningConfiguration -> "Enabled" or "Suspended". MfaDelete "Disabled" is what
    there is; "Enabled" asks for MFA delete, which s3front does not do: 501 NotImplemented
    (refused, not ignored: see s3front.support)."""
    root = _root(body, "VersioningConfiguration")
    if (child_text(root, "MfaDelete") or "").strip() == "Enabled":
        raise S3NotImplemented("MFA delete is not implemented.")
    status = (child_text(root, "Status") or "").strip()
    if status not in ("Enabled", "Suspended"):
        raise MalformedXML("Status must be Enabled or Suspended.")
    return status


_PERMISSIONS = frozenset({"FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP"})
# Grantee child element by xsi:type.
GRANTEE_FIELD = {"CanonicalUser": "ID", "Group": "URI", "AmazonCustomerByEmail": "EmailAddress"}


def parse_acl(body: bytes) -> AccessControlPolicy:
    """AccessControlPolicy -> owner id and grants."""
    root = _root(body, "AccessControlPolicy")
    owner = child(root, "Owner")
    owner_id = None if owner is None else (child_text(owner, "ID") or "").strip() or None
    grants: list[Grant] = []
    acl = child(root, "AccessControlList")
    for grant in [] if acl is None else children(acl, "Grant"):
        grantee = child(grant, "Grantee")
        permission = (child_text(grant, "Permission") or "").strip()
        if grantee is None or permission not in _PERMISSIONS:
            raise MalformedXML("Each Grant needs a Grantee and a valid Permission.")
        kind = grantee.get(f"{{{XSI}}}type")
        if kind is None:
            # Some tools leave out xsi:type; the child element says what the grantee is.
            kind = next((k for k, f in GRANTEE_FIELD.items() if child(grantee, f) is not None), "")
        field = GRANTEE_FIELD.get(kind)
        value = None if field is None else child_text(grantee, field)
        if field is None or not value or not value.strip():
            raise MalformedXML("A Grantee needs a valid xsi:type and its identifier.")
        grants.append(Grant(kind, value.strip(), permission))
    return AccessControlPolicy(owner_id, grants)
