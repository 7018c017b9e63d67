"""The wire forms of ACLs: ``x-amz-acl`` / ``x-amz-grant-*`` headers, the AccessControlPolicy XML
document (parsed and rendered), and the OwnershipControls / PublicAccessBlock / PolicyStatus
documents."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from xml.etree.ElementTree import Element

from sealbox.core.acl import GRANT_HEADERS, Acl, Ownership, Permission, PublicAccessBlock
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.xml import child_text, doc, el, parse
from sealbox.service.acl import AclRequest, GranteeSpec, check_canned

XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSI_TYPE = f"{{{XSI}}}type"
# one grantee in an x-amz-grant-* header: id="…", uri="…" or emailAddress="…" (quotes optional)
_GRANTEE_RE = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*(?:"([^"]*)"|([^,\s]*))\s*(?:,|$)', re.IGNORECASE)
_KINDS = {"id": "id", "uri": "uri", "emailaddress": "email"}


def malformed_acl() -> SealboxError:
    return SealboxError(ErrorCode.MALFORMED_ACL_ERROR, "The XML you provided was not well-formed or did not"
                        " validate against our published schema")


def acl_request(headers: Mapping[str, str], canned_name: str = "x-amz-acl") -> AclRequest | None:
    """The ACL a request's headers ask for (None: none asked). Canned and explicit grants together are
    InvalidRequest, as on AWS."""
    canned = headers.get(canned_name)
    grants: list[tuple[Permission, GranteeSpec]] = []
    for header, permission in GRANT_HEADERS.items():
        value = headers.get(header)
        if value is not None:
            grants += [(permission, spec) for spec in _grantees(header, value)]
    if canned is not None and grants:
        raise SealboxError(ErrorCode.INVALID_REQUEST, "Specifying both Canned ACLs and Header Grants is not"
                           " allowed")
    if canned is not None:
        return AclRequest(canned=check_canned(canned.strip()))
    return AclRequest(grants=tuple(grants)) if grants else None


def _grantees(header: str, value: str) -> list[GranteeSpec]:
    specs: list[GranteeSpec] = []
    pos = 0
    text = value.strip()
    while pos < len(text):
        m = _GRANTEE_RE.match(text, pos)
        if m is None or m.end() == pos:
            raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Invalid grantee", ArgumentName=header,
                               ArgumentValue=value)
        specs.append(GranteeSpec(_KINDS[m.group(1).lower()], m.group(2) if m.group(2) is not None else m.group(3)))
        pos = m.end()
    if not specs:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Invalid grantee", ArgumentName=header, ArgumentValue=value)
    return specs


def parse_access_control_policy(body: bytes) -> AclRequest:
    """PutBucketAcl / PutObjectAcl's document; anything off-schema is MalformedACLError."""
    try:
        root = parse(body)
    except SealboxError:
        raise malformed_acl() from None
    if root.tag != "AccessControlPolicy":
        raise malformed_acl()
    owner = root.find("Owner")
    owner_id = child_text(owner, "ID") if owner is not None else None
    acl = root.find("AccessControlList")
    if acl is None:
        raise malformed_acl()
    grants: list[tuple[Permission, GranteeSpec]] = []
    for grant in acl:
        if grant.tag != "Grant":
            raise malformed_acl()
        grantee = grant.find("Grantee")
        permission = child_text(grant, "Permission")
        if grantee is None or permission not in Permission.__members__:
            raise malformed_acl()
        grants.append((Permission(permission), _grantee(grantee)))
    return AclRequest(grants=tuple(grants), owner_id=owner_id)


def _grantee(node: Element) -> GranteeSpec:
    kind = node.get(_XSI_TYPE)
    if kind == "CanonicalUser" and (value := child_text(node, "ID")):
        return GranteeSpec("id", value.strip())
    if kind == "Group" and (value := child_text(node, "URI")):
        return GranteeSpec("uri", value.strip())
    if kind == "AmazonCustomerByEmail" and (value := child_text(node, "EmailAddress")):
        return GranteeSpec("email", value.strip())
    raise malformed_acl()


def render_acl(acl: Acl, display_name: Callable[[str], str | None]) -> bytes:
    """AccessControlPolicy as AWS renders it (Owner, then one Grant per grantee and permission)."""
    def user(canonical: str) -> str:
        name = display_name(canonical)
        return el("ID", canonical) + (el("DisplayName", name) if name else "")

    grants = []
    for g in acl.grants:
        if g.kind == "user":
            grantee = f'<Grantee xmlns:xsi="{XSI}" xsi:type="CanonicalUser">{user(g.grantee)}</Grantee>'
        else:
            grantee = f'<Grantee xmlns:xsi="{XSI}" xsi:type="Group">{el("URI", g.grantee)}</Grantee>'
        grants.append(f"<Grant>{grantee}{el('Permission', g.permission.value)}</Grant>")
    return doc("AccessControlPolicy", [f"<Owner>{user(acl.owner)}</Owner>",
                                       f"<AccessControlList>{''.join(grants)}</AccessControlList>"])


# -- OwnershipControls, PublicAccessBlock, PolicyStatus --------------------------------------------------------


def parse_ownership(body: bytes) -> Ownership:
    root = parse(body)
    rules = root.findall("Rule")
    if root.tag != "OwnershipControls" or len(rules) != 1:
        raise SealboxError(ErrorCode.MALFORMED_XML)
    value = child_text(rules[0], "ObjectOwnership")
    try:
        return Ownership(value)
    except ValueError:
        raise SealboxError(ErrorCode.MALFORMED_XML) from None


def check_ownership_header(value: str | None) -> Ownership | None:
    if value is None:
        return None
    try:
        return Ownership(value)
    except ValueError:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Invalid x-amz-object-ownership header",
                           ArgumentName="x-amz-object-ownership", ArgumentValue=value) from None


def render_ownership(ownership: Ownership) -> bytes:
    return doc("OwnershipControls", [f"<Rule>{el('ObjectOwnership', ownership.value)}</Rule>"])


_PAB_FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def parse_public_access_block(body: bytes) -> PublicAccessBlock:
    root = parse(body)
    if root.tag != "PublicAccessBlockConfiguration":
        raise SealboxError(ErrorCode.MALFORMED_XML)
    flags = []
    for name in _PAB_FIELDS:
        text = (child_text(root, name) or "false").strip().lower()
        if text not in ("true", "false"):
            raise SealboxError(ErrorCode.MALFORMED_XML)
        flags.append(text == "true")
    return PublicAccessBlock(*flags)


def render_public_access_block(block: PublicAccessBlock) -> bytes:
    values = (block.block_public_acls, block.ignore_public_acls, block.block_public_policy,
              block.restrict_public_buckets)
    return doc("PublicAccessBlockConfiguration", [el(n, v) for n, v in zip(_PAB_FIELDS, values, strict=True)])


def render_policy_status(is_public: bool) -> bytes:
    return doc("PolicyStatus", [el("IsPublic", is_public)])
