"""Public access block and object ownership: the bucket settings that override ACLs and policy.

Both live in the bucket record's attrs (no schema change): `attrs["public_access_block"]` holds
the four flags as JSON, `attrs["ownership"]` the ObjectOwnership setting. A bucket without them
behaves as before (all flags off, ObjectWriter), which is S3's behaviour before April 2023; S3
now turns both on for new buckets, s3front leaves that to the owner (a changed default would
break every client that sets ACLs today).

What "public" means follows AWS ("The meaning of public"):
- an ACL is public if it grants anything to AllUsers or AuthenticatedUsers;
- a policy is public if an Allow statement names the principal "*" without an `IpAddress`
  condition on `aws:SourceIp` that limits it to fixed CIDRs (the other fixed-value keys AWS
  accepts, aws:SourceArn, aws:SourceVpc and friends, do not exist here). A CIDR shorter than /8
  (IPv4) or /32 (IPv6) is as good as everyone and does not count as a limit.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from s3front import errors
from s3front.access import acl as acls
from s3front.access import policy as policies
from s3front.xml import Grant

PAB_ATTR = "public_access_block"
OWNERSHIP_ATTR = "ownership"
PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")

BUCKET_OWNER_ENFORCED = "BucketOwnerEnforced"
BUCKET_OWNER_PREFERRED = "BucketOwnerPreferred"
OBJECT_WRITER = "ObjectWriter"
OWNERSHIPS = (BUCKET_OWNER_ENFORCED, BUCKET_OWNER_PREFERRED, OBJECT_WRITER)

_PUBLIC_GROUPS = frozenset({acls.ALL_USERS, acls.AUTHENTICATED_USERS})
_MIN_PREFIX = {4: 8, 6: 32}


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    def flags(self) -> dict[str, bool]:
        return dict(
            zip(
                PAB_FLAGS,
                (
                    self.block_public_acls,
                    self.ignore_public_acls,
                    self.block_public_policy,
                    self.restrict_public_buckets,
                ),
                strict=True,
            )
        )


NO_BLOCK = PublicAccessBlock()


def pab_from_flags(flags: Mapping[str, bool]) -> PublicAccessBlock:
    return PublicAccessBlock(*(bool(flags.get(name, False)) for name in PAB_FLAGS))


def pab_of(attrs: Mapping[str, str]) -> PublicAccessBlock:
    raw = attrs.get(PAB_ATTR)
    if not raw:
        return NO_BLOCK
    return pab_from_flags(json.loads(raw))


def pab_json(pab: PublicAccessBlock) -> str:
    return json.dumps(pab.flags(), sort_keys=True)


def ownership_of(attrs: Mapping[str, str]) -> str:
    """The bucket's ObjectOwnership; ObjectWriter when none is set (the pre-2023 S3 default)."""
    return attrs.get(OWNERSHIP_ATTR) or OBJECT_WRITER


def acls_disabled(attrs: Mapping[str, str]) -> bool:
    return ownership_of(attrs) == BUCKET_OWNER_ENFORCED


def is_public_grant(grant: Grant) -> bool:
    return grant.grantee_type == "Group" and grant.grantee in _PUBLIC_GROUPS


def is_public_acl(acl: acls.Acl) -> bool:
    return any(is_public_grant(g) for g in acl.grants)


def without_public_grants(acl: acls.Acl) -> acls.Acl:
    return acls.Acl(acl.owner, tuple(g for g in acl.grants if not is_public_grant(g)))


class _Condition(Protocol):
    """What is read of a parsed policy condition (any version of `s3front.access.policy`)."""

    @property
    def operator(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]: ...


def _limits_source(cond: _Condition) -> bool:
    """An IpAddress condition on aws:SourceIp whose every range is narrow enough to count."""
    if cond.operator != "IpAddress" or cond.key != "aws:sourceip" or not cond.networks:
        return False
    return all(net.prefixlen >= _MIN_PREFIX[net.version] for net in cond.networks)


def is_public_statement(st: policies.Statement) -> bool:
    return st.allow and "*" in st.principals and not any(_limits_source(c) for c in st.conditions)


def is_public_policy(policy: policies.Policy) -> bool:
    return any(is_public_statement(st) for st in policy.statements)


def is_owner_only_acl(acl: acls.Acl, bucket_owner: str) -> bool:
    """Grants nothing beyond FULL_CONTROL to the bucket owner (what BucketOwnerEnforced allows:
    "private" on a bucket, "bucket-owner-full-control" on an object it owns)."""
    return all(g.grantee_type == "CanonicalUser" and g.grantee == bucket_owner for g in acl.grants)


def check_acl_write(attrs: Mapping[str, str], acl: acls.Acl, bucket_owner: str) -> None:
    """Refuse an ACL a request asks to set on a bucket (or on an object in it) with `attrs`:
    400 AccessControlListNotSupported when ACLs are disabled (BucketOwnerEnforced), except
    one that only gives the bucket owner full control; 403 AccessDenied for a public ACL under
    BlockPublicAcls, as S3 answers."""
    if acls_disabled(attrs) and not is_owner_only_acl(acl, bucket_owner):
        raise errors.AccessControlListNotSupported()
    if pab_of(attrs).block_public_acls and is_public_acl(acl):
        raise errors.AccessDenied()


def object_owner(attrs: Mapping[str, str], writer: str, bucket_owner: str, canned: str) -> str:
    """Who owns an object `writer` writes into a bucket with `attrs`: the bucket owner when ACLs
    are disabled, or under BucketOwnerPreferred when the write carries the
    bucket-owner-full-control canned ACL; the writer otherwise (ObjectWriter)."""
    ownership = ownership_of(attrs)
    if ownership == BUCKET_OWNER_ENFORCED:
        return bucket_owner
    if ownership == BUCKET_OWNER_PREFERRED and canned.strip() == "bucket-owner-full-control":
        return bucket_owner
    return writer
