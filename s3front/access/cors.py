"""Bucket CORS rules: the CORSConfiguration document, its storage, and rule matching.

Stored in the bucket's `attrs["cors"]` as JSON (a list of rules). A rule matches a request when
the Origin matches one of its AllowedOrigin patterns (at most one `*` wildcard each, matched
case-sensitively as S3 does), the method (the preflight's Access-Control-Request-Method, or the
actual method) is one of its AllowedMethod, and, for a preflight, every requested header
matches one of its AllowedHeader patterns (case-insensitive, `*` wildcards). The first
matching rule wins.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from s3front import errors, xml
from s3front.access import wildcard

METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "HEAD"})
MAX_RULES = 100


@dataclass(frozen=True, slots=True)
class Rule:
    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()
    max_age: int | None = None
    id: str = ""


def parse_configuration(body: bytes) -> list[Rule]:
    root = xml.parse(body)
    if xml.local_name(root) != "CORSConfiguration":
        raise errors.MalformedXML()
    rules: list[Rule] = []
    for el in xml.children(root, "CORSRule"):
        origins = tuple((o.text or "").strip() for o in xml.children(el, "AllowedOrigin"))
        methods = tuple((m.text or "").strip() for m in xml.children(el, "AllowedMethod"))
        if not origins or not methods:
            raise errors.MalformedXML()
        for m in methods:
            if m not in METHODS:
                raise errors.InvalidRequest(
                    f"Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                )
        for o in origins:
            if o.count("*") > 1:
                raise errors.InvalidRequest(
                    f'AllowedOrigin "{o}" can not have more than one wildcard.'
                )
        headers = tuple((h.text or "").strip() for h in xml.children(el, "AllowedHeader"))
        expose = tuple((h.text or "").strip() for h in xml.children(el, "ExposeHeader"))
        raw_age = xml.child_text(el, "MaxAgeSeconds")
        max_age: int | None = None
        if raw_age is not None:
            # A non-negative int32 (S3's type for it); "--5" or 5,000 digits is malformed.
            text = raw_age.strip()
            if not (text.isascii() and text.isdigit() and len(text) <= 10):
                raise errors.MalformedXML()
            max_age = int(text)
            if max_age > 2**31 - 1:
                raise errors.MalformedXML()
        rules.append(
            Rule(origins, methods, headers, expose, max_age, (xml.child_text(el, "ID") or ""))
        )
    if not rules or len(rules) > MAX_RULES:
        raise errors.MalformedXML()
    return rules


def to_document(rules: Sequence[Rule]) -> bytes:
    root = xml.element("CORSConfiguration")
    for rule in rules:
        el = xml.sub(root, "CORSRule")
        if rule.id:
            xml.sub(el, "ID", rule.id)
        for h in rule.headers:
            xml.sub(el, "AllowedHeader", h)
        for m in rule.methods:
            xml.sub(el, "AllowedMethod", m)
        for o in rule.origins:
            xml.sub(el, "AllowedOrigin", o)
        for h in rule.expose:
            xml.sub(el, "ExposeHeader", h)
        if rule.max_age is not None:
            xml.sub(el, "MaxAgeSeconds", rule.max_age)
    return xml.to_bytes(root)


def dumps(rules: Sequence[Rule]) -> str:
    return json.dumps([asdict(r) for r in rules])


def rules_of(attrs: Mapping[str, str]) -> list[Rule]:
    raw = attrs.get("cors")
    if not raw:
        return []
    return [
        Rule(
            tuple(r["origins"]),
            tuple(r["methods"]),
            tuple(r["headers"]),
            tuple(r["expose"]),
            r["max_age"],
            r["id"],
        )
        for r in json.loads(raw)
    ]


def _any(patterns: Sequence[str], value: str, *, ignore_case: bool) -> bool:
    # Linear-time matching (`wildcard`): a rule with many `*` against a long requested header
    # name used to backtrack for seconds. CORS patterns know only `*`; `?` is a literal.
    return any(wildcard.match(p, value, ignore_case=ignore_case, question=False) for p in patterns)


def match(
    rules: Sequence[Rule], origin: str, method: str, request_headers: Sequence[str] = ()
) -> Rule | None:
    for rule in rules:
        if not _any(rule.origins, origin, ignore_case=False):
            continue
        if method not in rule.methods:
            continue
        if all(_any(rule.headers, h, ignore_case=True) for h in request_headers):
            return rule
    return None


def split_header_list(value: str) -> list[str]:
    return [h.strip().lower() for h in value.split(",") if h.strip()]


def allow_origin(rule: Rule, origin: str) -> str:
    """S3 answers "*" for a rule that allows any origin, the origin itself otherwise."""
    return "*" if "*" in rule.origins else origin
