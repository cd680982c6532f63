"""Access control lists: canned ACLs, explicit grants, and what a grant allows.

An ACL is stored in the record's `attrs["acl"]` as JSON (`{"owner": id, "grants": [[type,
grantee, permission], ...]}`); a record without one has the canned ACL "private" (its owner has
FULL_CONTROL). Grantees are canonical ids (CanonicalUser) or the two global groups; e-mail
grantees are refused (S3 only resolves them in a few regions). A grant `id=` that is not a
64-hex canonical id is taken as a tenant name and mapped to its canonical id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from s3front import errors
from s3front.keys import tenant_id
from s3front.request import S3Request
from s3front.xml import Grant

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY})
PERMISSIONS = ("READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL")
CANNED = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
)
# x-amz-grant-<suffix> header -> permission.
GRANT_HEADERS = {
    "x-amz-grant-read": "READ",
    "x-amz-grant-write": "WRITE",
    "x-amz-grant-read-acp": "READ_ACP",
    "x-amz-grant-write-acp": "WRITE_ACP",
    "x-amz-grant-full-control": "FULL_CONTROL",
}
MAX_GRANTS = 100


class MalformedACLError(errors.S3Error):
    status, message = 400, "The XML you provided was not well-formed or did not validate."


class UnresolvableGrantByEmailAddress(errors.S3Error):
    status, message = 400, "The e-mail address you provided does not match any account on record."


@dataclass(frozen=True, slots=True)
class Acl:
    owner: str
    grants: tuple[Grant, ...]


def private(owner: str) -> Acl:
    return Acl(owner, (Grant("CanonicalUser", owner, "FULL_CONTROL"),))


def canned(name: str, owner: str, bucket_owner: str) -> Acl:
    """The grants of a canned ACL (x-amz-acl), in the order S3 lists them: the group grants,
    then the owner's FULL_CONTROL, then the bucket owner's grant on another tenant's object.

    The AWS documentation gives no order (the canned ACL table in the S3 User Guide,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#canned-acl, lists
    who gets what); ceph/s3-tests, written against AWS, compares GetBucketAcl's grants in order
    (test_bucket_acl_canned*: AllUsers READ, AllUsers WRITE, then the owner; and
    test_object_acl_canned_bucketownerread reads the owner as grant [2] of a public-read-write
    bucket), and that is the order AWS answers with."""
    own = Grant("CanonicalUser", owner, "FULL_CONTROL")
    groups: tuple[Grant, ...] = ()
    others: tuple[Grant, ...] = ()
    if name == "private":
        pass
    elif name == "public-read":
        groups = (Grant("Group", ALL_USERS, "READ"),)
    elif name == "public-read-write":
        groups = (Grant("Group", ALL_USERS, "READ"), Grant("Group", ALL_USERS, "WRITE"))
    elif name == "authenticated-read":
        groups = (Grant("Group", AUTHENTICATED_USERS, "READ"),)
    elif name in ("bucket-owner-read", "bucket-owner-full-control"):
        # On a bucket these are "private"; on an object they give the bucket's owner access.
        perm = "READ" if name == "bucket-owner-read" else "FULL_CONTROL"
        others = () if bucket_owner == owner else (Grant("CanonicalUser", bucket_owner, perm),)
    elif name == "log-delivery-write":
        groups = (Grant("Group", LOG_DELIVERY, "WRITE"), Grant("Group", LOG_DELIVERY, "READ_ACP"))
    else:
        raise errors.InvalidArgument(f"Invalid canned ACL: {name}", ArgumentName="x-amz-acl")
    return Acl(owner, (*groups, own, *others))


# Possessive quantifiers: the value's run and the spaces around it overlap, and backtracking
# between them made a long x-amz-grant-* header cost quadratic time on the event loop.
_GRANTEE = re.compile(r'\s*+(id|uri|emailAddress)\s*+=\s*+"?([^",]*+)"?\s*+(?:,|$)', re.IGNORECASE)


def parse_grantees(value: str, header: str) -> list[tuple[str, str]]:
    """`id="...", uri="..."` -> [(grantee type, grantee)]."""
    out: list[tuple[str, str]] = []
    pos = 0
    text = value.strip()
    while pos < len(text):
        m = _GRANTEE.match(text, pos)
        if m is None or not m.group(2).strip():
            raise errors.InvalidArgument(
                f"Invalid grantee in {header}.", ArgumentName=header, ArgumentValue=value
            )
        out.append(_grantee(m.group(1).lower(), m.group(2).strip()))
        pos = m.end()
    return out


def _grantee(kind: str, value: str) -> tuple[str, str]:
    if kind == "id":
        return "CanonicalUser", tenant_id(value)
    if kind == "uri":
        if value not in GROUPS:
            raise errors.InvalidArgument("Invalid group uri", ArgumentName="uri")
        return "Group", value
    raise UnresolvableGrantByEmailAddress()


def from_headers(req: S3Request, owner: str, bucket_owner: str) -> Acl | None:
    """The ACL a request's x-amz-acl or x-amz-grant-* headers ask for, or None."""
    name = req.header("x-amz-acl").strip()
    grant_headers = [h for h in GRANT_HEADERS if h in req.headers]
    if name and grant_headers:
        raise errors.InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
    if name:
        return canned(name, owner, bucket_owner)
    if not grant_headers:
        return None
    grants: list[Grant] = []
    for header in grant_headers:
        for kind, who in parse_grantees(req.headers[header], header):
            grants.append(Grant(kind, who, GRANT_HEADERS[header]))
    return Acl(owner, tuple(grants))


def from_policy(owner_id: str | None, grants: Sequence[Grant], owner: str) -> Acl:
    """An AccessControlPolicy body; its Owner, if given, must be the resource's owner."""
    if owner_id is not None and tenant_id(owner_id) != owner:
        raise errors.AccessDenied()
    out: list[Grant] = []
    for g in grants:
        if g.grantee_type == "CanonicalUser":
            out.append(Grant("CanonicalUser", tenant_id(g.grantee), g.permission))
        elif g.grantee_type == "Group":
            if g.grantee not in GROUPS:
                raise MalformedACLError("Invalid group uri")
            out.append(g)
        else:
            raise UnresolvableGrantByEmailAddress()
    if len(out) > MAX_GRANTS:
        raise MalformedACLError(f"An ACL may have at most {MAX_GRANTS} grants.")
    return Acl(owner, tuple(out))


def dumps(acl: Acl) -> str:
    return json.dumps({"owner": acl.owner, "grants": [list(g) for g in acl.grants]})


def acl_of(attrs: Mapping[str, str], owner: str) -> Acl:
    raw = attrs.get("acl")
    if not raw:
        return private(owner)
    doc = json.loads(raw)
    return Acl(str(doc["owner"]), tuple(Grant(*g) for g in doc["grants"]))


def with_acl(attrs: Mapping[str, str], acl: Acl) -> dict[str, str]:
    out = dict(attrs)
    out["acl"] = dumps(acl)
    return out


def grants_permission(acl: Acl, who: str | None, permission: str) -> bool:
    """Whether any grant gives `who` (canonical id, None: anonymous) the permission."""
    for g in acl.grants:
        if g.permission not in (permission, "FULL_CONTROL"):
            continue
        if g.grantee_type == "Group":
            if g.grantee == ALL_USERS or (g.grantee == AUTHENTICATED_USERS and who is not None):
                return True
        elif g.grantee_type == "CanonicalUser" and who is not None and g.grantee == who:
            return True
    return False


def attrs_with_request_acl(
    req: S3Request, attrs: Mapping[str, str], owner: str, bucket_owner: str
) -> dict[str, str]:
    """`attrs` with the ACL the request's x-amz-acl / x-amz-grant-* headers ask for, for the
    requests that create an object (PutObject, CopyObject, CreateMultipartUpload, whose upload
    carries it to the completed object). Without such headers the object is private: an ACL
    found in `attrs` (a copy's source) is not inherited, as in S3."""
    out = dict(attrs)
    requested = from_headers(req, owner, bucket_owner)
    if requested is None:
        out.pop("acl", None)
    else:
        out["acl"] = dumps(requested)
    return out
