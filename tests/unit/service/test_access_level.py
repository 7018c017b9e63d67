"""The Buckets list's Access column (``service.permissions.access_level``) against authorization
itself: for random bucket policies, bucket ACL grants, Object Ownership and Block Public Access flags,
a bucket anonymous requests may use is "Public", and a bucket said to be not public (or open to
authorized users only) refuses every anonymous request; "Objects can be public" exactly while an
ACL or a policy could still be made public (AWS, "Viewing access level of buckets")."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sealbox.core.acl import Ownership, Permission, PublicAccessBlock
from sealbox.core.types import Bucket
from sealbox.service.access import allowed
from sealbox.service.identity import Principal
from sealbox.service.permissions import AccessLevel, access_level
from sealbox.service.policy_conditions import RequestContext
from tests.unit.service.test_access_model import ACTIONS, BUCKET, _acl, _policy_text, grant, statement


@settings(max_examples=300, deadline=None)
@given(statements=st.lists(statement, max_size=3), bucket_grants=st.lists(grant, max_size=3),
       ownership=st.sampled_from(list(Ownership)),
       flags=st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()))
def test_the_access_column_agrees_with_authorization(statements: list[dict[str, object]],
                                                     bucket_grants: list[tuple[tuple[str, str], Permission]],
                                                     ownership: Ownership,
                                                     flags: tuple[bool, bool, bool, bool]) -> None:
    bucket = Bucket(name=BUCKET, owner="owner", created=0.0, region="us-east-1", policy=_policy_text(statements),
                    acl=_acl("owner", bucket_grants), ownership=ownership, public_access_block=PublicAccessBlock(*flags))
    level = access_level(bucket)
    anonymous = Principal.anonymous(RequestContext(bucket=BUCKET, key="k"))
    anyone_may = [a for a in ACTIONS if allowed(anonymous, a, bucket, None if a.endswith("Bucket") else "k")]
    if anyone_may:
        assert level is AccessLevel.PUBLIC, (anyone_may, level)
    if level in (AccessLevel.NOT_PUBLIC, AccessLevel.AUTHORIZED_ONLY):
        assert not anyone_may
    _, ignore_acls, block_policy, restrict = flags
    could = (ownership is not Ownership.BUCKET_OWNER_ENFORCED and not ignore_acls) or not (block_policy or restrict)
    if level is not AccessLevel.PUBLIC and level is not AccessLevel.AUTHORIZED_ONLY:
        assert (level is AccessLevel.OBJECTS_CAN_BE_PUBLIC) == could


def test_the_four_values() -> None:
    def bucket(**kw: object) -> Bucket:
        return Bucket(name=BUCKET, owner="owner", created=0.0, region="us-east-1", **kw)  # type: ignore[arg-type]

    public = _policy_text([{"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"]}])
    everything = PublicAccessBlock(True, True, True, True)
    assert access_level(bucket(policy=public)) is AccessLevel.PUBLIC
    assert access_level(bucket(policy=public, public_access_block=PublicAccessBlock(restrict_public_buckets=True))) \
        is AccessLevel.AUTHORIZED_ONLY
    assert access_level(bucket(ownership=Ownership.BUCKET_OWNER_ENFORCED)) is AccessLevel.OBJECTS_CAN_BE_PUBLIC
    assert access_level(bucket(ownership=Ownership.BUCKET_OWNER_ENFORCED,
                               public_access_block=PublicAccessBlock(block_public_policy=True))) \
        is AccessLevel.NOT_PUBLIC  # ACLs disabled and no public policy can be set
    assert access_level(bucket(public_access_block=everything)) is AccessLevel.NOT_PUBLIC
