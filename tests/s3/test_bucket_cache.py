"""Workers cache bucket rows (storage/meta/generation.py): a bucket change made through one worker
must be in force on every worker for the very next request. Each check sends its request on many
connections held at once, which the workers take turns accepting (sealbox.accept), so both
workers answer it (checked)."""

from __future__ import annotations

import json
from typing import Any

from tests.support import Server, connections_per_worker, held_requests, signed_headers

PROBES = 24  # connections held at once per check: the workers take turns accepting them


def _statuses(server: Server, path: str) -> set[int]:
    """Statuses of an anonymous GET of ``path`` sent on PROBES connections held together, which
    every worker takes some of (checked)."""
    socks, statuses = held_requests(server, PROBES, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    try:
        assert min(connections_per_worker(server)) >= PROBES // 4  # both workers answered
    finally:
        for s in socks:
            s.close()
    return set(statuses)


def _head_statuses(server: Server, bucket: str) -> set[int]:
    """Statuses of a signed HeadBucket sent the same way."""
    headers = signed_headers(server, "HEAD", f"/{bucket}")
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "host")
    request = f"HEAD /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{lines}\r\n".encode()
    socks, statuses = held_requests(server, PROBES, request)
    try:
        assert min(connections_per_worker(server)) >= PROBES // 4
    finally:
        for s in socks:
            s.close()
    return set(statuses)


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
