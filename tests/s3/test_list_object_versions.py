"""ListObjectVersions (GET /bucket?versions): order, markers, pagination, prefixes, owners.

AWS behaviour (ListObjectVersions API reference): entries are sorted by key, and within a key
newest first, Version and DeleteMarker entries interleaved in that order; exactly one entry per
key is ``IsLatest``; ``key-marker`` starts after that key's versions, ``key-marker`` plus
``version-id-marker`` after that version; a truncated page names ``NextKeyMarker`` and
``NextVersionIdMarker``; ``version-id-marker`` without ``key-marker`` is 400 InvalidArgument;
every entry carries its Owner; an object of a never-versioned bucket is listed as version ``null``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

from tests.support import Server, signed_request, unique_bucket, xml_code

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _list(server: Server, bucket: str, **params: str) -> ET.Element:
    resp = signed_request(server, "GET", f"/{bucket}", params={"versions": "", **params})
    assert resp.status_code == 200, resp.text
    root = ET.fromstring(resp.content)
    assert root.tag == f"{NS}ListVersionsResult"
    return root


def _text(node: ET.Element, name: str) -> str | None:
    return node.findtext(f"{NS}{name}")


def _entries(root: ET.Element) -> list[tuple[str, str, bool, bool]]:
    """(key, version id, is delete marker, is latest) in document order."""
    out = []
    for node in root:
        tag = node.tag.removeprefix(NS)
        if tag in ("Version", "DeleteMarker"):
            out.append((_text(node, "Key") or "", _text(node, "VersionId") or "", tag == "DeleteMarker",
                        _text(node, "IsLatest") == "true"))
    return out


def _prefixes(root: ET.Element) -> list[str]:
    return [p.findtext(f"{NS}Prefix") or "" for p in root.findall(f"{NS}CommonPrefixes")]


def _all_pages(server: Server, bucket: str, max_keys: int, **params: str) -> tuple[list[Any], list[str], int]:
    """Every entry and common prefix, following NextKeyMarker/NextVersionIdMarker; and the page count."""
    entries: list[Any] = []
    prefixes: list[str] = []
    markers: dict[str, str] = {}
    for pages in range(1, 200):
        root = _list(server, bucket, **{"max-keys": str(max_keys), **params, **markers})
        page = _entries(root) + [("prefix", p) for p in _prefixes(root)]
        assert len(page) <= max_keys
        entries += _entries(root)
        prefixes += _prefixes(root)
        if _text(root, "IsTruncated") != "true":
            assert _text(root, "NextKeyMarker") is None
            return entries, prefixes, pages
        markers = {"key-marker": _text(root, "NextKeyMarker") or ""}
        if _text(root, "NextVersionIdMarker"):
            markers["version-id-marker"] = _text(root, "NextVersionIdMarker") or ""
    raise AssertionError("pagination did not end")


@pytest.fixture
def history(s3: Any, bucket: str) -> dict[str, list[tuple[str, bool]]]:
    """A versioned bucket with several versions and markers per key: key -> [(version id, marker)] newest first."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    made: dict[str, list[tuple[str, bool]]] = {}

    def put(key: str, body: bytes = b"x", **kw: Any) -> None:
        made.setdefault(key, []).insert(0, (s3.put_object(Bucket=bucket, Key=key, Body=body, **kw)["VersionId"], False))

    def delete(key: str) -> None:
        made.setdefault(key, []).insert(0, (s3.delete_object(Bucket=bucket, Key=key)["VersionId"], True))

    put("a", b"a1")
    put("a", b"a2", ServerSideEncryption="AES256")
    delete("a")
    put("a", b"a4")
    put("b")
    delete("b")
    put("dir/x", b"x1")
    put("dir/x", b"x2")
    put("dir/y")
    put("dir/sub/z")
    put("e", b"e1")
    put("e", b"e2")
    put("e", b"e3")
    return made


def _expected(history: dict[str, list[tuple[str, bool]]], keys: list[str] | None = None) -> list[Any]:
    return [(k, vid, marker, i == 0) for k in sorted(keys or history) for i, (vid, marker) in enumerate(history[k])]


def test_order_interleaving_and_is_latest(server: Server, bucket: str, history: dict[str, Any]) -> None:
    root = _list(server, bucket)
    assert _entries(root) == _expected(history)
    assert _text(root, "IsTruncated") == "false" and _text(root, "Name") == bucket
    assert _text(root, "MaxKeys") == "1000" and _text(root, "KeyMarker") == ""


def test_version_entries_carry_etag_size_storage_class_owner(server: Server, s3: Any, bucket: str,
                                                              history: dict[str, Any]) -> None:
    root = _list(server, bucket, prefix="e")
    versions = root.findall(f"{NS}Version")
    assert len(versions) == 3
    newest = versions[0]
    head = s3.head_object(Bucket=bucket, Key="e")
    assert _text(newest, "ETag") == head["ETag"]
    assert _text(newest, "Size") == "2" and _text(newest, "StorageClass") == "STANDARD"
    assert (_text(newest, "LastModified") or "").endswith("Z")
    owner = newest.find(f"{NS}Owner")
    assert owner is not None and len(_text(owner, "ID") or "") == 64 and _text(owner, "DisplayName") == "root"
    marker = _list(server, bucket, prefix="b").find(f"{NS}DeleteMarker")
    assert marker is not None and marker.find(f"{NS}Owner") is not None
    assert marker.find(f"{NS}Size") is None and marker.find(f"{NS}ETag") is None


def test_boto3_splits_versions_and_markers(s3: Any, bucket: str, history: dict[str, Any]) -> None:
    out = s3.list_object_versions(Bucket=bucket)
    versions = [(v["Key"], v["VersionId"], v["IsLatest"]) for v in out["Versions"]]
    markers = [(m["Key"], m["VersionId"], m["IsLatest"]) for m in out["DeleteMarkers"]]
    expected = _expected(history)
    assert versions == [(k, v, latest) for k, v, marker, latest in expected if not marker]
    assert markers == [(k, v, latest) for k, v, marker, latest in expected if marker]
    assert all(m["Owner"]["DisplayName"] == "root" for m in out["DeleteMarkers"])


def test_prefix(server: Server, bucket: str, history: dict[str, Any]) -> None:
    root = _list(server, bucket, prefix="dir/")
    assert _entries(root) == _expected(history, ["dir/sub/z", "dir/x", "dir/y"])
    assert _text(root, "Prefix") == "dir/"
    assert _entries(_list(server, bucket, prefix="nothing-here")) == []


def test_delimiter_rolls_up_common_prefixes(server: Server, bucket: str, history: dict[str, Any]) -> None:
    root = _list(server, bucket, delimiter="/")
    assert _entries(root) == _expected(history, ["a", "b", "e"])
    assert _prefixes(root) == ["dir/"]
    assert _text(root, "Delimiter") == "/"
    nested = _list(server, bucket, delimiter="/", prefix="dir/")
    assert _entries(nested) == _expected(history, ["dir/x", "dir/y"])
    assert _prefixes(nested) == ["dir/sub/"]


def test_key_marker_starts_after_all_versions_of_that_key(server: Server, bucket: str,
                                                          history: dict[str, Any]) -> None:
    root = _list(server, bucket, **{"key-marker": "a"})
    assert _entries(root) == _expected(history, [k for k in history if k > "a"])
    assert _text(root, "KeyMarker") == "a"
    # A marker between keys works too.
    assert _entries(_list(server, bucket, **{"key-marker": "c"}))[0][0] == "dir/sub/z"


def test_version_id_marker_starts_after_that_version(server: Server, bucket: str,
                                                     history: dict[str, Any]) -> None:
    a_versions = history["a"]
    root = _list(server, bucket, **{"key-marker": "a", "version-id-marker": a_versions[1][0]})
    assert _text(root, "VersionIdMarker") == a_versions[1][0]
    expected = _expected(history)
    start = next(i for i, e in enumerate(expected) if e[1] == a_versions[1][0]) + 1
    assert _entries(root) == expected[start:]


def test_version_id_marker_without_key_marker(server: Server, bucket: str) -> None:
    resp = signed_request(server, "GET", f"/{bucket}", params={"versions": "", "version-id-marker": "A" * 32})
    assert resp.status_code == 400 and xml_code(resp) == "InvalidArgument"


@pytest.mark.parametrize("max_keys", [1, 2, 3, 5])
def test_pagination_visits_every_version_once(server: Server, bucket: str, history: dict[str, Any],
                                              max_keys: int) -> None:
    entries, prefixes, pages = _all_pages(server, bucket, max_keys)
    assert entries == _expected(history) and prefixes == []
    assert pages == -(-len(entries) // max_keys)  # no empty last page


def test_truncated_page_names_next_markers(server: Server, bucket: str, history: dict[str, Any]) -> None:
    root = _list(server, bucket, **{"max-keys": "2"})
    assert _text(root, "IsTruncated") == "true"
    first_two = _expected(history)[:2]
    assert _entries(root) == first_two
    assert _text(root, "NextKeyMarker") == first_two[-1][0]
    assert _text(root, "NextVersionIdMarker") == first_two[-1][1]


def test_pagination_with_delimiter(server: Server, bucket: str, history: dict[str, Any]) -> None:
    entries, prefixes, _ = _all_pages(server, bucket, 2, delimiter="/")
    assert entries == _expected(history, ["a", "b", "e"]) and prefixes == ["dir/"]
    # A page that ends on a common prefix names it as NextKeyMarker, with no version id marker.
    root = _list(server, bucket, delimiter="/", **{"max-keys": "1", "key-marker": "b"})
    assert _prefixes(root) == ["dir/"] and _text(root, "NextKeyMarker") == "dir/"
    assert _text(root, "NextVersionIdMarker") is None


def test_boto3_paginator(s3: Any, bucket: str, history: dict[str, Any]) -> None:
    seen: list[tuple[str, str]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, PaginationConfig={"PageSize": 3}):
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        seen += [(m["Key"], m["VersionId"]) for m in page.get("DeleteMarkers", [])]
    assert sorted(seen) == sorted((k, v) for k, v, _, _ in _expected(history))


def test_encoding_type_url(server: Server, s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key = "sp ace/ü&<x>"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_object(Bucket=bucket, Key=key, Body=b"y")
    root = _list(server, bucket, **{"encoding-type": "url", "max-keys": "1"})
    assert _text(root, "EncodingType") == "url"
    listed = _entries(root)[0][0]
    assert listed != key and unquote(listed) == key
    assert unquote(_text(root, "NextKeyMarker") or "") == key
    # boto3 decodes url-encoded keys itself.
    assert s3.list_object_versions(Bucket=bucket)["Versions"][0]["Key"] == key


def test_never_versioned_bucket_lists_null_versions(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k1", Body=b"1")
    s3.put_object(Bucket=bucket, Key="k2", Body=b"2")
    s3.put_object(Bucket=bucket, Key="k2", Body=b"22")  # overwrites: still one null version
    assert _entries(_list(server, bucket)) == [("k1", "null", False, True), ("k2", "null", False, True)]


def test_suspended_history(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"null-1")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v = s3.put_object(Bucket=bucket, Key="k", Body=b"v")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"null-2")
    # The null version moved to the top: it is the newest write, the old null version is gone.
    assert _entries(_list(server, bucket)) == [("k", "null", False, True), ("k", v, False, False)]
    s3.delete_object(Bucket=bucket, Key="k")
    assert _entries(_list(server, bucket)) == [("k", "null", True, True), ("k", v, False, False)]


def test_list_versions_of_missing_bucket(s3: Any) -> None:
    with pytest.raises(ClientError) as exc:
        s3.list_object_versions(Bucket=unique_bucket())
    assert exc.value.response["Error"]["Code"] == "NoSuchBucket"


@pytest.mark.parametrize("value", ["-1", "abc"])
def test_invalid_max_keys(server: Server, bucket: str, value: str) -> None:
    resp = signed_request(server, "GET", f"/{bucket}", params={"versions": "", "max-keys": value})
    assert resp.status_code == 400 and xml_code(resp) == "InvalidArgument"


def test_many_versions_of_one_key_page_in_order(server: Server, s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ids = [s3.put_object(Bucket=bucket, Key="k", Body=str(i).encode())["VersionId"] for i in range(25)]
    entries, _, pages = _all_pages(server, bucket, 7)
    assert [vid for _, vid, _, _ in entries] == list(reversed(ids))
    assert [latest for _, _, _, latest in entries] == [True] + [False] * 24
    assert pages == 4
