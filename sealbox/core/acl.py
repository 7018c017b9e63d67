"""Access control lists, Object Ownership and Block Public Access: the domain values (no HTTP, no SQL).

An ``Acl`` is an owner and a tuple of ``Grant``; a grant gives one ``Permission`` to one grantee:
a canonical user (``kind="user"``, its 64-hex canonical id), or a predefined group (``kind="group"``,
its URI). E-mail grantees are resolved to canonical users before an ACL is stored. What each
permission allows is ``service.acl``'s table; how canned ACLs expand is ``canned_acl`` here.

Stored form (``acl_to_json``/``acl_from_json``): ``{"v": 1, "owner": id, "grants": [[kind, id,
permission], ...]}`` — versioned, so a later format can be told apart.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY})
PUBLIC_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS})
# The canonical user Amazon EC2 reads AMI bundles as (the aws-exec-read canned ACL).
EC2_CANONICAL_ID = "6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c"
MAX_GRANTS = 100  # AWS: an ACL has at most 100 grants

CANNED_ACLS = ("private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
               "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write")


class Permission(enum.Enum):
    READ = "READ"
    WRITE = "WRITE"
    READ_ACP = "READ_ACP"
    WRITE_ACP = "WRITE_ACP"
    FULL_CONTROL = "FULL_CONTROL"


# x-amz-grant-* header -> the permission it grants
GRANT_HEADERS = {
    "x-amz-grant-read": Permission.READ,
    "x-amz-grant-write": Permission.WRITE,
    "x-amz-grant-read-acp": Permission.READ_ACP,
    "x-amz-grant-write-acp": Permission.WRITE_ACP,
    "x-amz-grant-full-control": Permission.FULL_CONTROL,
}


@dataclass(frozen=True, slots=True)
class Grant:
    kind: str  # "user" (canonical id) or "group" (URI)
    grantee: str
    permission: Permission

    @property
    def is_public(self) -> bool:
        return self.kind == "group" and self.grantee in PUBLIC_GROUPS


@dataclass(frozen=True, slots=True)
class Acl:
    owner: str  # canonical id of the resource's owner
    grants: tuple[Grant, ...]

    @property
    def is_public(self) -> bool:
        """AWS: an ACL is public if it grants anything to the AllUsers or AuthenticatedUsers group."""
        return any(g.is_public for g in self.grants)

    def only_owner(self, bucket_owner: str) -> bool:
        """Grants nobody but the resource's owner and the bucket owner (what BucketOwnerEnforced allows)."""
        return all(g.kind == "user" and g.grantee in (self.owner, bucket_owner) for g in self.grants)


def private_acl(owner: str) -> Acl:
    return Acl(owner, (Grant("user", owner, Permission.FULL_CONTROL),))


def canned_acl(name: str, owner: str, bucket_owner: str, *, for_bucket: bool) -> Acl:
    """A canned ACL expanded as AWS documents it ("Canned ACL" in the ACL overview). ``owner`` is the
    resource's owner; ``bucket_owner`` matters for the bucket-owner-* ACLs of objects (on a bucket
    they mean private)."""
    full = Grant("user", owner, Permission.FULL_CONTROL)
    grants: list[Grant] = [full]
    if name == "public-read":
        grants.append(Grant("group", ALL_USERS, Permission.READ))
    elif name == "public-read-write":
        grants += [Grant("group", ALL_USERS, Permission.READ), Grant("group", ALL_USERS, Permission.WRITE)]
    elif name == "authenticated-read":
        grants.append(Grant("group", AUTHENTICATED_USERS, Permission.READ))
    elif name == "aws-exec-read":
        grants.append(Grant("user", EC2_CANONICAL_ID, Permission.READ))
    elif name == "bucket-owner-read" and not for_bucket and bucket_owner != owner:
        grants.append(Grant("user", bucket_owner, Permission.READ))
    elif name == "bucket-owner-full-control" and not for_bucket and bucket_owner != owner:
        grants.append(Grant("user", bucket_owner, Permission.FULL_CONTROL))
    elif name == "log-delivery-write":
        grants += [Grant("group", LOG_DELIVERY, Permission.WRITE), Grant("group", LOG_DELIVERY, Permission.READ_ACP)]
    return Acl(owner, tuple(grants))


def with_owner(acl: Acl, owner: str) -> Acl:
    return acl if acl.owner == owner else Acl(owner, acl.grants)


def acl_to_json(acl: Acl) -> str:
    return json.dumps({"v": 1, "owner": acl.owner,
                       "grants": [[g.kind, g.grantee, g.permission.value] for g in acl.grants]},
                      separators=(",", ":"))


def acl_from_json(text: str) -> Acl:
    raw = json.loads(text)
    if raw.get("v") != 1:
        raise ValueError(f"unknown ACL format {raw.get('v')!r}")
    return Acl(raw["owner"], tuple(Grant(k, g, Permission(p)) for k, g, p in raw["grants"]))


# -- Object Ownership ------------------------------------------------------------------------------------


class Ownership(enum.Enum):
    """A bucket's Object Ownership setting. A bucket without OwnershipControls behaves as OBJECT_WRITER
    (AWS's behaviour before 2023, and of buckets made before sealbox knew the setting)."""

    BUCKET_OWNER_ENFORCED = "BucketOwnerEnforced"
    BUCKET_OWNER_PREFERRED = "BucketOwnerPreferred"
    OBJECT_WRITER = "ObjectWriter"


# -- Block Public Access --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    def to_json(self) -> str:
        return json.dumps({"v": 1, "flags": [self.block_public_acls, self.ignore_public_acls,
                                             self.block_public_policy, self.restrict_public_buckets]})

    @classmethod
    def from_json(cls, text: str) -> PublicAccessBlock:
        raw = json.loads(text)
        if raw.get("v") != 1:
            raise ValueError(f"unknown public access block format {raw.get('v')!r}")
        a, b, c, d = (bool(x) for x in raw["flags"])
        return cls(a, b, c, d)


NO_PUBLIC_ACCESS_BLOCK = PublicAccessBlock()
