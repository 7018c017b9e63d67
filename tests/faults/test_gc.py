"""``sealbox gc``: removes what nothing references once it is older than the grace period, nothing else."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.faults.storage import HOUR, age, blob_path, gc, scrub, sealbox, stored
from tests.support import running_server, sse_args

BUCKET = "collected"


def _store(data_dir: Path) -> dict[str, bytes]:
    # Small bodies are stored inline in the metadata, larger ones as blob files: gc must keep both.
    bodies = {f"k{i}": secrets.token_bytes(size) for i, size in enumerate([0, 1000, 50_000, 60_000])}
    with running_server(data_dir) as server:
        s3 = server.client()
        s3.create_bucket(Bucket=BUCKET)
        for i, (key, body) in enumerate(bodies.items()):
            s3.put_object(Bucket=BUCKET, Key=key, Body=body, **sse_args(i % 2 == 1))
    return bodies


def _litter(data_dir: Path) -> tuple[Path, Path]:
    orphan = blob_path(data_dir, secrets.token_hex(16))
    orphan.write_bytes(stored(data_dir, BUCKET, "k1").read())
    temp = data_dir / "tmp" / secrets.token_hex(16)
    temp.write_bytes(b"x" * 4096)
    return orphan, temp


def test_gc_removes_orphans_and_temp_files_then_scrub_is_clean(data_dir: Path) -> None:
    bodies = _store(data_dir)
    assert [stored(data_dir, BUCKET, key).extent.inline for key in bodies] == [True, True, False, False]
    orphan, temp = _litter(data_dir)
    litter_size = orphan.stat().st_size + temp.stat().st_size
    status, report = gc(data_dir, "--grace", "0")
    assert status == 0
    assert report["removed_blobs"] == [str(orphan)] and report["removed_temp"] == [str(temp)]
    assert report["bytes_freed"] == litter_size
    assert not orphan.exists() and not temp.exists()
    status, scrubbed = scrub(data_dir, "--grace", "0")
    assert status == 0, scrubbed
    with running_server(data_dir) as server:  # everything referenced is still there and intact
        s3 = server.client()
        for key, body in bodies.items():
            assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body


def test_gc_keeps_young_files_by_default(data_dir: Path) -> None:
    _store(data_dir)
    orphan, temp = _litter(data_dir)
    status, report = gc(data_dir)
    assert status == 0
    assert report["removed_blobs"] == [] and report["removed_temp"] == [] and report["kept_young"] == 2
    assert orphan.exists() and temp.exists()
    age(orphan, 2 * HOUR)
    age(temp, 2 * HOUR)
    status, report = gc(data_dir)
    assert report["removed_blobs"] == [str(orphan)] and report["removed_temp"] == [str(temp)]


def test_gc_dry_run_removes_nothing(data_dir: Path) -> None:
    _store(data_dir)
    orphan, temp = _litter(data_dir)
    done = sealbox("gc", "--data-dir", str(data_dir), "--grace", "0", "--dry-run")
    assert done.returncode == 0
    assert f"would remove {orphan}" in done.stdout and f"would remove {temp}" in done.stdout
    assert orphan.exists() and temp.exists()


def test_gc_text_output_lists_removed_files(data_dir: Path) -> None:
    _store(data_dir)
    orphan, temp = _litter(data_dir)
    done = sealbox("gc", "--data-dir", str(data_dir), "--grace", "0")
    assert done.returncode == 0
    assert f"removed {orphan}" in done.stdout and f"removed {temp}" in done.stdout and "removed 1 orphan blobs and 1 stale temp files" in done.stdout


def test_gc_without_data_dir_exits_2(tmp_path: Path) -> None:
    done = sealbox("gc", "--data-dir", str(tmp_path / "nothing"))
    assert done.returncode == 2 and not (tmp_path / "nothing").exists()


def test_gc_leaves_files_it_did_not_write_alone(data_dir: Path) -> None:
    _store(data_dir)
    stranger = data_dir / "blobs" / "ab" / ("z" * 32)  # 32 characters, not a blob id
    stranger.write_bytes(b"not ours")
    age(stranger, 2 * HOUR)
    status, report = gc(data_dir, "--grace", "0")
    assert status == 0 and report["removed_blobs"] == []
    assert stranger.exists()
