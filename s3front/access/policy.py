"""Bucket policies: the JSON subset s3front understands, parsed strictly, evaluated purely.

Supported: Version, Id, Statement (a list or one object) with Sid, Effect (Allow/Deny),
Principal, Action (string or list, `s3:*`, `*`, wildcards like `s3:Get*`; case-insensitive),
Resource (`arn:aws:s3:::bucket` and `arn:aws:s3:::bucket/prefix*`, `*` and `?` wildcards) and
Condition (`s3front.access.conditions`: the operators and keys s3front evaluates).

Principals: "*", or {"AWS": ...} / {"CanonicalUser": ...} naming tenants. A tenant is what AWS
calls an account: a bare id (tenant name or canonical id) or `arn:aws:iam::<tenant>:root`
denotes every key of the tenant. `arn:aws:iam::<tenant>:user/<name>` denotes the tenant's keys
whose display name is <name> (`s3front keys create --display-name`); PutBucketPolicy refuses it
unless such a key exists, as AWS refuses a principal that does not exist. Any other ARN (roles,
groups, STS sessions) cannot be matched to a caller and is refused.

Policy variables (`${aws:username}`, `${*}`, ...) in a Resource or a condition value are not
supported: in a "2012-10-17" policy AWS substitutes them, so taking them literally would match
something else than written; such a policy is refused. (In a "2008-10-17" policy, or one without
a Version, AWS takes them literally, and so does s3front.)

Anything else (NotPrincipal, NotAction, NotResource, conditions that cannot be evaluated) is
refused as MalformedPolicy rather than ignored: silently dropping part of a Deny would grant
access. Wildcards are matched by `s3front.access.wildcard` (linear time: no regex over user
input).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from s3front import errors
from s3front.access.conditions import EXISTING_TAG, Condition, Facts, holds, parse_block
from s3front.access.wildcard import Glob, compile_glob
from s3front.keys import tenant_id

__all__ = ["Facts", "Policy", "Statement", "evaluate", "parse", "parse_cached"]

MAX_POLICY_BYTES = 20 * 1024
_STATEMENT_KEYS = {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}
# IAM user names: 1-64 of [A-Za-z0-9+=,.@_-], after an optional path ("user/division/name").
_USER_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
_INVALID_PRINCIPAL = "Invalid principal in policy"


@dataclass(frozen=True, slots=True)
class Statement:
    sid: str
    allow: bool
    principals: frozenset[str]  # canonical ids, or "*"
    actions: tuple[Glob, ...]
    resources: tuple[Glob, ...]
    conditions: tuple[Condition, ...]
    users: frozenset[tuple[str, str]] = frozenset()  # (tenant canonical id, user name)


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[Statement, ...]

    @property
    def tests_object_tags(self) -> bool:
        """Whether a condition tests s3:ExistingObjectTag (the object must be read to decide)."""
        return any(c.key.startswith(EXISTING_TAG) for st in self.statements for c in st.conditions)

    @property
    def users(self) -> frozenset[tuple[str, str]]:
        """Every IAM user the policy names (PutBucketPolicy checks that they exist)."""
        return frozenset(u for st in self.statements for u in st.users)


def _bad(message: str) -> errors.MalformedPolicy:
    return errors.MalformedPolicy(message)


def _strings(value: Any, what: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise _bad(f"{what} must be a non-empty string or list of strings")
    return list(items)


def _iam_arn(ident: str) -> tuple[str, str | None] | None:
    """(account, None) for `arn:aws:iam::<account>:root`, (account, user name) for
    `arn:aws:iam::<account>:user/[path/]<name>`; None for anything else."""
    parts = ident.split(":", 5)
    if len(parts) != 6 or parts[:4] != ["arn", "aws", "iam", ""]:
        return None
    account, resource = parts[4], parts[5]
    if not account or any(c in account for c in "/*?"):
        return None
    if resource == "root":
        return account, None
    kind, _, rest = resource.partition("/")
    name = rest.rsplit("/", 1)[-1]
    if kind != "user" or "*" in rest or not _USER_NAME.fullmatch(name):
        return None
    return account, name


def _principals(value: Any) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    if value == "*":
        return frozenset({"*"}), frozenset()
    if not isinstance(value, dict) or not value:
        raise _bad(_INVALID_PRINCIPAL)
    out: set[str] = set()
    users: set[tuple[str, str]] = set()
    for kind, ids in value.items():
        if kind not in ("AWS", "CanonicalUser"):
            raise _bad(f"Unsupported principal type {kind}")
        for ident in _strings(ids, "Principal"):
            if ident == "*":
                out.add("*")
            elif kind == "AWS" and (arn := _iam_arn(ident)):
                account, name = arn
                if name is None:
                    out.add(tenant_id(account))
                else:
                    users.add((tenant_id(account), name))
            elif ident.lower().startswith("arn:") or "*" in ident or "?" in ident:
                # A role, group, session or wildcard ARN names nobody s3front can match;
                # storing it would make a Deny silently apply to no one.
                raise _bad(_INVALID_PRINCIPAL)
            else:
                out.add(tenant_id(ident))
    return frozenset(out), frozenset(users)


def _actions(value: Any) -> tuple[Glob, ...]:
    out = []
    for action in _strings(value, "Action"):
        if action != "*" and not action.lower().startswith("s3:"):
            raise _bad(f"Policy has an invalid action: {action}")
        out.append(compile_glob(action, ignore_case=True))
    return tuple(out)


def _resources(value: Any, bucket: str) -> tuple[Glob, ...]:
    out = []
    for res in _strings(value, "Resource"):
        if not res.startswith("arn:aws:s3:::"):
            raise _bad("Policy has invalid resource")
        rest = res[len("arn:aws:s3:::") :]
        name = rest.split("/", 1)[0]
        if not compile_glob(name).matches(bucket):
            raise _bad("Policy has invalid resource")
        out.append(compile_glob(rest))
    return tuple(out)


def _has_variable(value: Any) -> bool:
    """Whether a Resource or Condition element holds a `${...}` policy variable."""
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, list):
        return any(_has_variable(v) for v in value)
    if isinstance(value, dict):
        return any(_has_variable(v) for v in value.values())
    return False


def parse(text: str, bucket: str) -> Policy:
    """Parse and validate a policy document for `bucket`; MalformedPolicy if it is not one."""
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise _bad("Policy exceeds the maximum allowed document size.")
    if not text.lstrip().startswith("{"):
        raise errors.MalformedPolicy()
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # deep nesting ("[[[[...") exhausts the C stack guard
        raise errors.MalformedPolicy("This policy contains invalid Json") from None
    if not isinstance(doc, dict):
        raise errors.MalformedPolicy()
    unknown = set(doc) - {"Version", "Id", "Statement"}
    if unknown:
        raise _bad(f"Unknown field {sorted(unknown)[0]}")
    if doc.get("Version", "2012-10-17") not in ("2012-10-17", "2008-10-17"):
        raise _bad("The policy must contain a valid version string")
    raw = doc.get("Statement")
    items = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else None
    if not items:
        raise _bad("Missing required field Statement")
    statements = []
    for st in items:
        if not isinstance(st, dict):
            raise _bad("Statement must be an object")
        unknown = set(st) - _STATEMENT_KEYS
        if unknown:
            raise _bad(f"Unsupported field {sorted(unknown)[0]}")
        for need in ("Effect", "Principal", "Action", "Resource"):
            if need not in st:
                raise _bad(f"Missing required field {need}")
        if st["Effect"] not in ("Allow", "Deny"):
            raise _bad("Invalid effect: " + str(st["Effect"]))
        if doc.get("Version") == "2012-10-17" and (
            _has_variable(st["Resource"]) or _has_variable(st.get("Condition"))
        ):
            raise _bad("Policy variables (${...}) are not supported")
        principals, users = _principals(st["Principal"])
        statements.append(
            Statement(
                sid=str(st.get("Sid", "")),
                allow=st["Effect"] == "Allow",
                principals=principals,
                actions=_actions(st["Action"]),
                resources=_resources(st["Resource"], bucket),
                conditions=parse_block(st.get("Condition", {})),
                users=users,
            )
        )
    return Policy(tuple(statements))


@lru_cache(maxsize=256)
def parse_cached(text: str, bucket: str) -> Policy:
    return parse(text, bucket)


def _names(st: Statement, who: str | None, facts: Facts) -> bool:
    if "*" in st.principals:
        return True
    return who is not None and (who in st.principals or (who, facts.username) in st.users)


def _matches(st: Statement, who: str | None, action: str, resource: str, facts: Facts) -> bool:
    if not _names(st, who, facts):
        return False
    if not any(a.matches(action) for a in st.actions):
        return False
    if not any(r.matches(resource) for r in st.resources):
        return False
    return all(holds(c, facts) for c in st.conditions)


def evaluate(
    policy: Policy, who: str | None, action: str, resource: str, facts: Facts
) -> bool | None:
    """False: an explicit Deny matches; True: an Allow matches; None: the policy is silent.

    `resource` is the ARN without its prefix: "bucket" or "bucket/key".
    """
    decision: bool | None = None
    for st in policy.statements:
        if _matches(st, who, action, resource, facts):
            if not st.allow:
                return False
            decision = True
    return decision
