"""The lifecycle pass when its run-once lock is lost midway (its lock connection cut, as when its
gateway's host drops off the network): it stops before saving another cursor, and the pass taken
up by another gateway resumes from the saved cursor and finishes the work."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg

from sealbox.core.types import Bucket, Extent, ObjectVersion
from sealbox.service.lifecycle import Rule, dumps
from sealbox.service.lifecycle_worker import STATE_PASS, LifecyclePass
from sealbox.storage.data.local import LocalBlobStore
from sealbox.storage.locks import PgRunOnce
from sealbox.storage.meta.postgres import PostgresMetaStore

KEYS = 20


def test_a_pass_that_lost_its_lock_stops_and_another_gateway_finishes_it(fresh_pg_url: str, tmp_path: Path) -> None:
    meta = PostgresMetaStore(fresh_pg_url)
    try:
        meta.create_bucket(Bucket("life", "alice", 0.0, "us-east-1"))
        meta.set_bucket_lifecycle("life", dumps([Rule("r", "Enabled", prefix="old/", expiration_days=1,
                                                      has_expiration=True)]))
        for i in range(KEYS):
            meta.put_version(ObjectVersion(bucket="life", key=f"old/{i:02d}", version_id="null",
                                           object_uid=bytes(16), size=1, etag="e", last_modified=0.0, owner="alice",
                                           extents=(Extent(f"{i:032x}", 1),)))
        blobs = LocalBlobStore(tmp_path / "data")
        first = LifecyclePass(meta, blobs, PgRunOnce(fresh_pg_url), day_seconds=1.0, pause=0.1, batch=2)
        result: list[object] = []
        runner = threading.Thread(target=lambda: result.append(first.run()))
        runner.start()
        deadline = time.monotonic() + 30
        while meta.get_state(STATE_PASS) is None and time.monotonic() < deadline:
            time.sleep(0.01)  # until the first step saved its cursor
        with psycopg.connect(fresh_pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE application_name = 'sealbox lock lifecycle'")
        runner.join(timeout=60)
        assert result == [None]  # it noticed, and stopped
        saved = meta.get_state(STATE_PASS)
        assert saved is not None  # an unfinished pass, with its cursor
        left = [v.key for v in meta.list_versions("life", "", "", "", "", 100).entries]
        assert 0 < len(left) < KEYS  # stopped midway
        second = LifecyclePass(meta, blobs, PgRunOnce(fresh_pg_url), day_seconds=1.0, pause=0.0, batch=2)
        done = second.run()
        assert done is not None
        assert meta.list_versions("life", "", "", "", "", 100).entries == []
        assert meta.get_state(STATE_PASS) is None
        # The counts carried over, but for the step the first pass did not save (its batch: 2 versions).
        assert KEYS - 2 <= done["expired"] <= KEYS  # type: ignore[operator]
    finally:
        meta.close()
