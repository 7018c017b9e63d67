"""Workers cache bucket rows (storage/meta/generation.py): a bucket change made through one worker
must be in force on every worker for the very next request. Each probe below uses a fresh
connection, so the two workers' SO_REUSEPORT sockets both take some of them."""

from __future__ import annotations

import http.client
import json
from typing import Any

from tests.support import Server

PROBES = 24  # fresh connections per check; both workers answer some (the odds of missing one: 2^-23)


def _anonymous_get(server: Server, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _statuses(server: Server, path: str) -> set[int]:
    return {_anonymous_get(server, path) for _ in range(PROBES)}


def _public_read(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})


def test_policy_change_is_seen_by_every_worker_at_once(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="doc", Body=b"hello")
    path = f"/{bucket}/doc"
    assert _statuses(server, path) == {403}  # cached now on both workers: no policy
    for _ in range(3):
        s3.put_bucket_policy(Bucket=bucket, Policy=_public_read(bucket))
        assert _statuses(server, path) == {200}
        s3.delete_bucket_policy(Bucket=bucket)
        assert _statuses(server, path) == {403}


def test_versioning_change_is_seen_by_every_worker_at_once(server: Server, bucket: str) -> None:
    s3 = server.client()
    s3.put_object(Bucket=bucket, Key="v", Body=b"0")  # the bucket row is cached on this path now
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ids = set()
    for n in range(PROBES // 2):
        fresh = server.client()  # a new connection pool: lands on either worker
        version = fresh.put_object(Bucket=bucket, Key="v", Body=str(n).encode()).get("VersionId")
        assert version and version != "null"
        ids.add(version)
    assert len(ids) == PROBES // 2


def _head_statuses(server: Server, bucket: str) -> set[int]:
    statuses = set()
    for _ in range(PROBES):
        fresh = server.client()  # a new connection pool: lands on either worker
        try:
            statuses.add(fresh.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"])
        except fresh.exceptions.ClientError as exc:
            statuses.add(exc.response["ResponseMetadata"]["HTTPStatusCode"])
    return statuses


def test_deleted_and_recreated_bucket_is_seen_by_every_worker(server: Server, s3: Any) -> None:
    s3.create_bucket(Bucket="cache-gone")
    assert _head_statuses(server, "cache-gone") == {200}
    s3.delete_bucket(Bucket="cache-gone")
    assert _head_statuses(server, "cache-gone") == {404}
    s3.create_bucket(Bucket="cache-gone")
    assert _head_statuses(server, "cache-gone") == {200}
    s3.put_bucket_policy(Bucket="cache-gone", Policy=_public_read("cache-gone"))
    s3.put_object(Bucket="cache-gone", Key="k", Body=b"x")
    assert _statuses(server, "/cache-gone/k") == {200}
    s3.delete_object(Bucket="cache-gone", Key="k")
    s3.delete_bucket(Bucket="cache-gone")
    assert _head_statuses(server, "cache-gone") == {404}
