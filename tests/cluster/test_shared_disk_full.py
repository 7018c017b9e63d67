"""Two gateways on one PostgreSQL, their shared data directory on a 16 MiB tmpfs that fills up: a
write that runs out of space is 503 ServiceUnavailable on either gateway, nothing acknowledged is
lost or half-visible on either, and once space is freed (delete, then the freed-blob sweep: on a
shared store deletes give space back after the grace, sealbox.service.freed) both accept writes again.
The metadata lives in PostgreSQL, on another disk: only blob files run out of room here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cluster.support import running_gateways, spread_client
from tests.faults.storage import fill_with_uploads, gc, scrub, small_tmpfs, storage_full, temp_files
from tests.support import unique_bucket


def test_a_full_shared_disk_is_503_on_both_gateways_and_loses_nothing(fresh_pg_url: str, tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "tmpfs", "16m") as disk:
        data_dir = disk / "data"
        with running_gateways(data_dir, fresh_pg_url, 2) as (a, b):
            on_a, on_b = a.client(), b.client()
            both: Any = spread_client([a, b])  # each request to the next gateway
            bucket = unique_bucket("full")
            on_a.create_bucket(Bucket=bucket)
            bodies = {f"early{i}": os.urandom(100_000) for i in range(4)}
            for i, (key, body) in enumerate(bodies.items()):
                both.put_object(Bucket=bucket, Key=key, Body=body, **({"ServerSideEncryption": "AES256"} if i % 2 else {}))
            stored, failure = fill_with_uploads(both, bucket, "big", sse=True)
            assert stored >= 5  # the disk really held some before filling up
            storage_full(failure)
            for gateway in (on_a, on_b):  # full for every gateway, not just the one that hit it
                with pytest.raises(ClientError) as exc:
                    gateway.put_object(Bucket=bucket, Key="more", Body=os.urandom(1024 * 1024))
                storage_full(exc.value)
            assert temp_files(data_dir) == []  # the cut uploads' temp files are gone
            expected = set(bodies) | {f"big{n}" for n in range(stored)}
            for gateway in (on_a, on_b):  # the same, whole objects on both: nothing lost or half-visible
                listed = {o["Key"]: o["Size"] for o in gateway.list_objects_v2(Bucket=bucket).get("Contents", [])}
                assert set(listed) == expected
                assert all(listed[f"big{n}"] == 1024 * 1024 for n in range(stored))
                for key, body in bodies.items():
                    assert gateway.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
            # Free space: deletes on B, the sweep unlinks their files; both gateways write again.
            for n in range(stored):
                on_b.delete_object(Bucket=bucket, Key=f"big{n}")
            status, report = gc(data_dir, "--grace", "0", "--freed-grace", "0")
            assert status == 0 and len(report["removed_blobs"]) >= stored, report
            on_a.put_object(Bucket=bucket, Key="after-a", Body=b"room again", ServerSideEncryption="AES256")
            on_b.put_object(Bucket=bucket, Key="after-b", Body=os.urandom(1024 * 1024))
            assert on_b.get_object(Bucket=bucket, Key="after-a")["Body"].read() == b"room again"
            for key, body in bodies.items():
                assert on_b.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
            for server in (a, b):
                assert "Traceback" not in server.log(), server.log()
        status, scrubbed = scrub(data_dir, "--grace", "0")  # every stored object verifies, no orphan
        assert status == 0, scrubbed
