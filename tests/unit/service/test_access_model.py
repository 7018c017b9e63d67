"""Property: sealbox's authorization decision equals a small reference evaluator written from AWS's
documented algorithm, for random bucket policies, ACL grants, Object Ownership and Block Public
Access flags (issue 15).

The reference (AWS: "How Amazon S3 authorizes a request", "Access control list (ACL) overview",
"Blocking public access", "Controlling ownership of objects"):
  1. an explicit Deny in the bucket policy refuses;
  2. the bucket owner is allowed (same account);
  3. an Allow of the policy permits — unless RestrictPublicBuckets is on and the policy is public
     (an Allow to "*" of a Get/List/Put/Delete action without fixing condition);
  4. with ACLs enabled (not BucketOwnerEnforced), a grant of the bucket's ACL (bucket actions and
     PutObject) or the object's ACL (object reads and ACL operations; the object owner always) whose
     permission covers the action, to the principal, to AllUsers, or to AuthenticatedUsers for a
     signed request — public grants skipped under IgnorePublicAcls — permits;
  5. otherwise denied.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sealbox.core.acl import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    Acl,
    Grant,
    Ownership,
    Permission,
    PublicAccessBlock,
)
from sealbox.core.errors import SealboxError
from sealbox.core.types import Bucket
from sealbox.service.access import authorize
from sealbox.service.identity import Principal, canonical_id
from sealbox.service.policy_conditions import RequestContext

BUCKET = "bkt"
USERS = ("owner", "alice", "bob")
WHO = (*USERS, None)  # None: anonymous
ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketAcl", "s3:GetObjectAcl",
           "s3:PutObjectAcl", "s3:DeleteObject")
OBJECT_ACTIONS = {"s3:GetObject", "s3:PutObject", "s3:GetObjectAcl", "s3:PutObjectAcl", "s3:DeleteObject"}
# the permission the documented mapping asks for, and which ACL
NEEDS = {"s3:GetObject": ("object", "READ"), "s3:GetObjectAcl": ("object", "READ_ACP"),
         "s3:PutObjectAcl": ("object", "WRITE_ACP"), "s3:PutObject": ("bucket", "WRITE"),
         "s3:DeleteObject": ("bucket", "WRITE"), "s3:ListBucket": ("bucket", "READ"),
         "s3:GetBucketAcl": ("bucket", "READ_ACP")}

statement = st.fixed_dictionaries({
    "Effect": st.sampled_from(["Allow", "Deny"]),
    "Principal": st.sampled_from(["*", "alice", "bob"]),
    "Action": st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3, unique=True),
})
grantee = st.sampled_from([("user", "alice"), ("user", "bob"), ("user", "owner"),
                           ("group", ALL_USERS), ("group", AUTHENTICATED_USERS)])
grant = st.tuples(grantee, st.sampled_from(list(Permission)))


def _policy_text(statements: list[dict[str, object]]) -> str | None:
    if not statements:
        return None
    out = []
    for s in statements:
        actions = s["Action"]
        assert isinstance(actions, list)
        resources = [f"arn:aws:s3:::{BUCKET}" if a in ("s3:ListBucket", "s3:GetBucketAcl")
                     else f"arn:aws:s3:::{BUCKET}/*" for a in actions]
        principal = s["Principal"] if s["Principal"] == "*" else {"AWS": s["Principal"]}
        out.append({"Effect": s["Effect"], "Principal": principal, "Action": actions, "Resource": resources})
    return json.dumps({"Version": "2012-10-17", "Statement": out})


def _acl(owner: str, grants: list[tuple[tuple[str, str], Permission]]) -> Acl:
    return Acl(canonical_id(owner), tuple(
        Grant(kind, canonical_id(g) if kind == "user" else g, p) for (kind, g), p in grants))


def reference(who: str | None, action: str, statements: list[dict[str, object]],
              bucket_grants: list[tuple[tuple[str, str], Permission]],
              object_grants: list[tuple[tuple[str, str], Permission]], object_owner: str,
              ownership: Ownership, flags: tuple[bool, bool, bool, bool]) -> bool:
    _, ignore_public, _, restrict = flags

    def matches(s: dict[str, object]) -> bool:
        actions = s["Action"]
        assert isinstance(actions, list)
        return action in actions and (s["Principal"] == "*" or s["Principal"] == who)

    if any(s["Effect"] == "Deny" and matches(s) for s in statements):
        return False
    if who == "owner":
        return True
    public_policy = any(s["Effect"] == "Allow" and s["Principal"] == "*" for s in statements)
    if any(s["Effect"] == "Allow" and matches(s) for s in statements) and not (restrict and public_policy):
        return True
    if ownership is Ownership.BUCKET_OWNER_ENFORCED:
        return False
    which, needed = NEEDS[action]
    if which == "object" and who is not None and who == object_owner:
        return True
    for (kind, g), perm in bucket_grants if which == "bucket" else object_grants:
        if perm.value not in (needed, "FULL_CONTROL"):
            continue
        if kind == "user" and g == who:
            return True
        if kind == "group" and not ignore_public and (g == ALL_USERS or (g == AUTHENTICATED_USERS and who)):
            return True
    return False


@settings(max_examples=400, deadline=None)
@given(who=st.sampled_from(WHO), action=st.sampled_from(ACTIONS),
       statements=st.lists(statement, max_size=3), bucket_grants=st.lists(grant, max_size=3),
       object_grants=st.lists(grant, max_size=3), object_owner=st.sampled_from(["owner", "alice"]),
       ownership=st.sampled_from(list(Ownership)), flags=st.tuples(st.booleans(), st.booleans(),
                                                                   st.booleans(), st.booleans()))
def test_authorization_matches_the_reference(who: str | None, action: str, statements: list[dict[str, object]],
                                             bucket_grants: list[tuple[tuple[str, str], Permission]],
                                             object_grants: list[tuple[tuple[str, str], Permission]],
                                             object_owner: str, ownership: Ownership,
                                             flags: tuple[bool, bool, bool, bool]) -> None:
    bucket = Bucket(name=BUCKET, owner="owner", created=0.0, region="us-east-1", policy=_policy_text(statements),
                    acl=_acl("owner", bucket_grants), ownership=ownership, public_access_block=PublicAccessBlock(*flags))
    context = RequestContext(bucket=BUCKET, key="k")
    principal = Principal.anonymous(context) if who is None else Principal(who, "AK" + who, context)
    stored = _acl(object_owner, object_grants)
    expected = reference(who, action, statements, bucket_grants, object_grants, object_owner, ownership, flags)
    try:
        authorize(principal, action, bucket, "k" if action in OBJECT_ACTIONS else None,
                  load_object=lambda: (object_owner, stored))
        decided = True
    except SealboxError:
        decided = False
    assert decided == expected
