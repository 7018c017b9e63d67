"""The wire forms of a tag set: the ``Tagging`` XML document and the ``x-amz-tagging`` header.

The XML document (PutObjectTagging, PutBucketTagging, POST Object's ``tagging`` field)::

    <Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>...</TagSet></Tagging>

A Tag without its Key or Value, or anything but Tag elements in the TagSet, is MalformedXML; no TagSet
at all is an empty tag set (what SDKs send for ``TagSet: None``).

The header (PutObject, CreateMultipartUpload, CopyObject with REPLACE) is a URL-encoded query string of
UTF-8 text, ``k1=v1&k2=v2`` (a name without ``=`` is a tag with an empty value); a duplicate name, text
that is not UTF-8 or a character no tag may hold is 400 InvalidArgument, as on AWS. Tags from the
header are kept in key order (S3 does not keep their order). Both forms are then held to the rules of
``sealbox.core.tags``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.tags import TagKind, allowed_text, validate_tags
from sealbox.http.xml import child_text, doc, el, parse

TAGGING_HEADER = "x-amz-tagging"
MAX_TAGGING_XML = 64 * 1024  # 50 tags of 128 + 256 characters, 4 bytes each, with the markup
_HEADER_RULE = ("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters"
                " without tag name duplicates.")


def parse_tagging_header(value: str) -> dict[str, str]:
    """The tag set of an ``x-amz-tagging`` header value (as received: latin-1 decoded bytes)."""
    def refused() -> SealboxError:
        return SealboxError(ErrorCode.INVALID_ARGUMENT, _HEADER_RULE, ArgumentName=TAGGING_HEADER,
                            ArgumentValue=value)

    try:
        text = value.encode("latin-1").decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except (UnicodeError, ValueError):
        raise refused() from None
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names) or not all(allowed_text(k) and allowed_text(v) for k, v in pairs):
        raise refused()
    return validate_tags(sorted(pairs), "object")


def parse_tagging_xml(body: bytes, kind: TagKind) -> dict[str, str]:
    root = parse(body, MAX_TAGGING_XML)
    if root.tag != "Tagging":
        raise SealboxError(ErrorCode.MALFORMED_XML)
    pairs: list[tuple[str, str]] = []
    tag_set = root.find("TagSet")
    for tag in tag_set if tag_set is not None else ():
        key, value = child_text(tag, "Key"), child_text(tag, "Value")
        if tag.tag != "Tag" or key is None or value is None:
            raise SealboxError(ErrorCode.MALFORMED_XML)
        pairs.append((key, value))
    return validate_tags(pairs, kind)


def tagging_xml(tags: dict[str, str]) -> bytes:
    items = "".join(f"<Tag>{el('Key', k)}{el('Value', v)}</Tag>" for k, v in tags.items())
    return doc("Tagging", [f"<TagSet>{items}</TagSet>"])
