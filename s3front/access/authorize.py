"""The one access decision: may this principal perform this action on this bucket / object?

Order, as in S3:
1. An explicit Deny in the bucket policy wins, for everyone including the bucket owner. The
   one exception is the policy itself: the owner may always get, put and delete it, so a
   policy can never lock its owner out (S3 makes the same exception for the account root).
2. An Allow in the bucket policy.
3. Ownership: the bucket owner may do anything to the bucket and its objects (as S3's default
   "bucket owner enforced" object ownership); an object's owner (its writer) may do anything
   to that object.
4. An ACL grant: bucket ACL for listing (READ), writing and deleting objects (WRITE) and the
   bucket ACL (READ_ACP / WRITE_ACP); object ACL for reading the object (READ) and its ACL.

Anything else is denied. A stored policy that no longer parses (accepted by an older
version) denies everything but the policy actions. Anonymous callers (principal None) are allowed only by a policy
statement for "*" or an AllUsers grant. Only owners may touch the policy, whatever it says.

The bucket's controls (`s3front.access.controls`) change steps 2-4: with RestrictPublicBuckets
and a public policy, the policy's Allows count for the bucket owner only (Denies still apply);
with IgnorePublicAcls, AllUsers and AuthenticatedUsers grants count for nothing; with
BucketOwnerEnforced, ACLs count for nothing and the bucket owner owns every object.
"""

from __future__ import annotations

from collections.abc import Mapping

from s3front import errors
from s3front.access import acl as acls
from s3front.access import controls
from s3front.access import policy as policies
from s3front.store.records import BucketRecord, ObjectRecord

# IAM action -> (whose ACL decides, the ACL permission needed).
ACL_PERMISSION: Mapping[str, tuple[str, str]] = {
    "s3:ListBucket": ("bucket", "READ"),
    "s3:ListBucketVersions": ("bucket", "READ"),
    "s3:ListBucketMultipartUploads": ("bucket", "READ"),
    "s3:GetBucketAcl": ("bucket", "READ_ACP"),
    "s3:PutBucketAcl": ("bucket", "WRITE_ACP"),
    "s3:PutObject": ("bucket", "WRITE"),
    "s3:DeleteObject": ("bucket", "WRITE"),
    "s3:DeleteObjectVersion": ("bucket", "WRITE"),
    "s3:AbortMultipartUpload": ("bucket", "WRITE"),
    "s3:ListMultipartUploadParts": ("bucket", "WRITE"),
    "s3:GetObject": ("object", "READ"),
    "s3:GetObjectVersion": ("object", "READ"),
    "s3:GetObjectAcl": ("object", "READ_ACP"),
    "s3:GetObjectVersionAcl": ("object", "READ_ACP"),
    "s3:PutObjectAcl": ("object", "WRITE_ACP"),
    "s3:PutObjectVersionAcl": ("object", "WRITE_ACP"),
}
POLICY_ACTIONS = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"})


def needs_object(action: str) -> bool:
    """Whether the object's own ACL can grant this action (so the object must be read)."""
    return ACL_PERMISSION.get(action, ("", ""))[0] == "object"


def is_allowed(
    who: str | None,
    action: str,
    bucket: BucketRecord,
    key: str | None,
    obj: ObjectRecord | None,
    facts: policies.Facts,
) -> bool:
    """The decision. `who` is the caller's canonical id (None: anonymous); `key` is the object
    the request names (None for bucket-level requests); `obj` its record when already read."""
    owner = who is not None and who == bucket.owner
    if action in POLICY_ACTIONS:
        return owner
    raw_policy = bucket.attrs.get("policy")
    if raw_policy:
        resource = bucket.name if key is None else f"{bucket.name}/{key}"
        try:
            policy = policies.parse_cached(raw_policy, bucket.name)
        except errors.MalformedPolicy:
            # Stored before s3front refused what it cannot evaluate (an unsupported condition
            # key, say): fail closed until the owner replaces it (policy actions still work).
            return False
        decision = policies.evaluate(policy, who, action, resource, facts)
        if decision is False:
            return False
        if decision and (
            owner
            or not controls.pab_of(bucket.attrs).restrict_public_buckets
            or not controls.is_public_policy(policy)
        ):
            return True
    if owner:
        return True
    if controls.acls_disabled(bucket.attrs):
        return False  # the bucket owner owns every object; no ACL grants anything
    if obj is not None and who is not None and obj.owner == who:
        return True
    level, permission = ACL_PERMISSION.get(action, ("", ""))
    acl: acls.Acl | None = None
    if level == "bucket":
        acl = acls.acl_of(bucket.attrs, bucket.owner)
    elif level == "object" and obj is not None:
        acl = acls.acl_of(obj.attrs, obj.owner)
    if acl is None:
        return False
    if controls.pab_of(bucket.attrs).ignore_public_acls:
        acl = controls.without_public_grants(acl)
    return acls.grants_permission(acl, who, permission)
