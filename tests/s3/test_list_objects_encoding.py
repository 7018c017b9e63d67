"""ListObjects, ListObjectsV2, ListObjectVersions with EncodingType=url: exactly the elements AWS encodes.

AWS (and botocore, which decodes what it asked to have encoded): ListObjects encodes Delimiter,
Marker, NextMarker, Key and CommonPrefixes/Prefix but not the top-level Prefix; ListObjectsV2 encodes
Delimiter, Prefix, StartAfter, Key and CommonPrefixes/Prefix; ListObjectVersions KeyMarker,
NextKeyMarker, Prefix, Delimiter and the keys. Raw responses show it; boto3 (which adds
encoding-type=url itself and decodes) must give back exactly what was sent.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support import Server, signed_request

ODD = "line\nbreak/ü+1 %/"


@pytest.fixture
def odd(s3: Any, bucket: str) -> str:
    s3.put_object(Bucket=bucket, Key=ODD + "k y", Body=b"x")
    s3.put_object(Bucket=bucket, Key="\n", Body=b"x")
    return bucket


def _all(text: str, name: str) -> list[str]:
    return re.findall(rf"<{name}>([^<]*)</{name}>", text)


def test_list_objects_v1_keeps_the_prefix_element_unencoded(server: Server, odd: str) -> None:
    r = signed_request(server, "GET", f"/{odd}", params={"prefix": "line\n", "delimiter": "/", "marker": "line\n",
                                                          "encoding-type": "url"})
    assert r.status_code == 200, r.text
    assert _all(r.text, "Prefix")[0] == "line&#10;"  # the request's prefix, as sent (XML-escaped only)
    assert _all(r.text, "Marker") == ["line%0A"] and _all(r.text, "Delimiter") == ["/"]
    assert _all(r.text, "Prefix")[1:] == ["line%0Abreak/"]  # CommonPrefixes are encoded


def test_list_objects_v2_and_versions_encode_the_prefix(server: Server, odd: str) -> None:
    r = signed_request(server, "GET", f"/{odd}", params={"list-type": "2", "prefix": "line\n",
                                                          "start-after": "line\n", "encoding-type": "url"})
    assert _all(r.text, "Prefix") == ["line%0A"] and _all(r.text, "StartAfter") == ["line%0A"]
    assert _all(r.text, "Key") == ["line%0Abreak/%C3%BC%2B1%20%25/k%20y"]
    r = signed_request(server, "GET", f"/{odd}", params={"versions": "", "prefix": "line\n", "key-marker": "\n",
                                                          "encoding-type": "url"})
    assert _all(r.text, "Prefix") == ["line%0A"] and _all(r.text, "KeyMarker") == ["%0A"]


@pytest.mark.parametrize("prefix", ["\n", "line\n", "%", "line\nbreak/ü+1 %/"])
def test_boto3_gets_back_the_prefix_it_sent(s3: Any, odd: str, prefix: str) -> None:
    v1 = s3.list_objects(Bucket=odd, Prefix=prefix, Delimiter="/")
    v2 = s3.list_objects_v2(Bucket=odd, Prefix=prefix, Delimiter="/")
    versions = s3.list_object_versions(Bucket=odd, Prefix=prefix, Delimiter="/")
    assert v1["Prefix"] == v2["Prefix"] == versions["Prefix"] == prefix
    keys = sorted(k for k in ("\n", ODD + "k y") if k.startswith(prefix) and "/" not in k[len(prefix):])
    assert [o["Key"] for o in v1.get("Contents", [])] == [o["Key"] for o in v2.get("Contents", [])] == keys
