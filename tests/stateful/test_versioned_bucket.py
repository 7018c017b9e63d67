"""A Hypothesis state machine: random writes, deletes, copies and versioning changes on one bucket of the
real server, compared after every step with a plain Python model of S3 versioning.

The model (per key, a list of versions newest first; each a version id, a delete-marker flag, the bytes
and the encryption) follows the AWS rules: Enabled writes add a version with a new id; writes while
unversioned or Suspended replace the ``null`` version and become the newest; a DELETE adds a delete
marker (``null`` while Suspended, replacing the null version) or, unversioned, removes the object;
deleting a version by id removes just it; a copy is encrypted only if it asks (no default here); a
copy of the current version onto itself must change something (asking for SSE counts).

After each step the server must agree on: ListObjectVersions (keys, version ids in order, IsLatest,
delete markers), ListObjectsV2 (the keys whose current version is not a marker), a plain GET of each
key (body, SSE, version id or the 404 of a delete marker) and a GET of every version by id (body, SSE).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.support import Server, signed_request, unique_bucket

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
KEYS = ("a", "b", "dir/c")
NULL = "null"

keys = st.sampled_from(KEYS)
bodies = st.binary(max_size=48)


@dataclass
class Version:
    version_id: str
    marker: bool
    body: bytes = b""
    sse: str | None = None


@dataclass
class Model:
    versioning: str = ""  # "" (never versioned), "Enabled" or "Suspended"
    keys: dict[str, list[Version]] = field(default_factory=dict)  # newest first

    def history(self, key: str) -> list[Version]:
        return self.keys.setdefault(key, [])

    def write(self, key: str, version: Version) -> None:
        """A new current version: a null one replaces the previous null version."""
        history = self.history(key)
        if version.version_id == NULL:
            history[:] = [v for v in history if v.version_id != NULL]
        history.insert(0, version)

    def latest(self, key: str) -> Version | None:
        history = self.keys.get(key) or []
        return history[0] if history else None

    def all_versions(self) -> list[tuple[str, Version]]:
        return [(k, v) for k in sorted(self.keys) for v in self.keys[k]]


class VersionedBucket(RuleBasedStateMachine):
    server: Server  # set by the test below

    def __init__(self) -> None:
        super().__init__()
        self.s3: Any = self.server.client()
        self.bucket = unique_bucket("sm")
        self.model = Model()

    @initialize()
    def create_bucket(self) -> None:
        self.s3.create_bucket(Bucket=self.bucket)

    # -- the version id a write gets ------------------------------------------------------------------
    def _new_id(self, response: dict[str, Any]) -> str:
        if self.model.versioning == "Enabled":
            vid = response["VersionId"]
            assert vid != NULL and all(vid != v.version_id for _, v in self.model.all_versions())
            return str(vid)
        assert "VersionId" not in response, response  # unversioned or Suspended: no header (AWS samples)
        return NULL

    # -- rules -------------------------------------------------------------------------------------------
    @rule(key=keys, body=bodies, sse=st.booleans())
    def put(self, key: str, body: bytes, sse: bool) -> None:
        extra = {"ServerSideEncryption": "AES256"} if sse else {}
        out = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)
        assert out.get("ServerSideEncryption") == ("AES256" if sse else None)
        self.model.write(key, Version(self._new_id(out), False, body, "AES256" if sse else None))

    @rule(status=st.sampled_from(["Enabled", "Suspended"]))
    def set_versioning(self, status: str) -> None:
        self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": status})
        self.model.versioning = status

    @rule(key=keys)
    def delete(self, key: str) -> None:
        out = self.s3.delete_object(Bucket=self.bucket, Key=key)
        if self.model.versioning == "":
            assert "DeleteMarker" not in out and "VersionId" not in out
            self.model.keys[key] = [v for v in self.model.history(key) if v.version_id != NULL]
            return
        assert out["DeleteMarker"] is True
        vid = out["VersionId"] if self.model.versioning == "Enabled" else NULL
        assert out["VersionId"] == vid
        self.model.write(key, Version(vid, True))

    @precondition(lambda self: bool(self.model.all_versions()))
    @rule(data=st.data())
    def delete_version(self, data: st.DataObject) -> None:
        key, version = data.draw(st.sampled_from(self.model.all_versions()), label="version")
        out = self.s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version.version_id)
        assert out["VersionId"] == version.version_id
        assert out.get("DeleteMarker", False) is version.marker
        self.model.keys[key].remove(version)

    @rule(key=keys, sse=st.booleans())
    def copy_in_place(self, key: str, sse: bool) -> None:
        """Change the encryption of the current version by copying it onto itself."""
        source = self.model.latest(key)
        extra = {"ServerSideEncryption": "AES256"} if sse else {}
        try:
            out = self.s3.copy_object(Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key},
                                      **extra)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if source is None or source.marker:
                assert code == "NoSuchKey"
            else:
                # Nothing would change (unencrypted, stays unencrypted): the illegal self-copy.
                assert (code, sse, source.sse) == ("InvalidRequest", False, None)
            return
        assert source is not None and not source.marker
        assert sse or source.sse is not None
        self._after_copy(key, source, out, sse)

    @precondition(lambda self: bool(self.model.all_versions()))
    @rule(data=st.data(), dest=keys, sse=st.booleans())
    def copy_version(self, data: st.DataObject, dest: str, sse: bool) -> None:
        """Copy a specific version (any version, marker or not) to a key, possibly its own."""
        key, source = data.draw(st.sampled_from(self.model.all_versions()), label="source")
        extra = {"ServerSideEncryption": "AES256"} if sse else {}
        noop_self_copy = dest == key and source is self.model.latest(key) and not sse and source.sse is None
        try:
            out = self.s3.copy_object(Bucket=self.bucket, Key=dest, **extra, CopySource={
                "Bucket": self.bucket, "Key": key, "VersionId": source.version_id})
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidRequest"
            assert source.marker or noop_self_copy
            return
        assert not source.marker and not noop_self_copy
        self._after_copy(dest, source, out, sse)

    def _after_copy(self, dest: str, source: Version, out: dict[str, Any], sse: bool) -> None:
        assert out.get("ServerSideEncryption") == ("AES256" if sse else None)  # the request decides, not the source
        if source.version_id != NULL:
            assert out["CopySourceVersionId"] == source.version_id
        self.model.write(dest, Version(self._new_id(out), False, source.body, "AES256" if sse else None))

    # -- what the server must agree on -------------------------------------------------------------
    @invariant()
    def listings_match(self) -> None:
        resp = signed_request(self.server, "GET", f"/{self.bucket}", params={"versions": ""})
        assert resp.status_code == 200, resp.text
        listed = []
        for node in ET.fromstring(resp.content):
            tag = node.tag.removeprefix(NS)
            if tag in ("Version", "DeleteMarker"):
                listed.append((node.findtext(f"{NS}Key"), node.findtext(f"{NS}VersionId"), tag == "DeleteMarker",
                               node.findtext(f"{NS}IsLatest") == "true"))
        expected = [(k, v.version_id, v.marker, i == 0) for k in sorted(self.model.keys)
                    for i, v in enumerate(self.model.keys[k])]
        assert listed == expected
        current = self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        live = sorted(k for k in self.model.keys if (v := self.model.latest(k)) is not None and not v.marker)
        assert [o["Key"] for o in current] == live
        for obj in current:
            latest = self.model.latest(obj["Key"])
            assert latest is not None and obj["Size"] == len(latest.body)

    @invariant()
    def reads_match(self) -> None:
        for key in KEYS:
            latest = self.model.latest(key)
            resp = signed_request(self.server, "GET", f"/{self.bucket}/{key}")
            if latest is None:
                assert resp.status_code == 404 and "x-amz-delete-marker" not in resp.headers
            elif latest.marker:
                assert resp.status_code == 404 and resp.headers["x-amz-delete-marker"] == "true"
                assert resp.headers["x-amz-version-id"] == latest.version_id
            else:
                assert resp.status_code == 200 and resp.content == latest.body
                assert resp.headers.get("x-amz-server-side-encryption") == latest.sse
                named = latest.version_id != NULL or self.model.versioning != ""
                assert resp.headers.get("x-amz-version-id") == (latest.version_id if named else None)
        for key, version in self.model.all_versions():
            resp = signed_request(self.server, "GET", f"/{self.bucket}/{key}",
                                  params={"versionId": version.version_id})
            if version.marker:
                assert resp.status_code == 405 and resp.headers["x-amz-delete-marker"] == "true"
            else:
                assert resp.status_code == 200 and resp.content == version.body
                assert resp.headers.get("x-amz-server-side-encryption") == version.sse


def test_versioned_bucket_matches_the_model(server: Server) -> None:
    machine = type("VersionedBucketOnServer", (VersionedBucket,), {"server": server})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=25, stateful_step_count=30, deadline=None, derandomize=False, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
