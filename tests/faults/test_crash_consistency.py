"""Crash consistency: SIGKILL the whole server at random moments under concurrent writes, restart, check.

Every round: client threads run PUTs (plain and SSE, 0 B to 3 MiB), DELETEs, CopyObjects and multipart
uploads against keys each thread owns (so the expected state of a key is exact), plus versioned PUTs;
every fourth round ``sealbox keys rotate`` re-seals the data keys (and the SSE-C server share) meanwhile.
Writes use no encryption, SSE-S3, SSE-C (one customer key; reads send it when the object asks for it),
SSE-KMS (with and without a bucket key) and DSSE-KMS under one KMS key, on which other rounds
run key operations during the load: ``sealbox kms rotate`` (a new material version), and ``sealbox kms
disable`` then ``enable`` (a write or read refused meanwhile with KMS.DisabledException must have
changed nothing). The server's process group (and the key operation) is killed at a random moment; then, with the server down, ``scrub`` may find
only orphans (a blob renamed into place before its metadata commit, temp files of cut uploads), ``gc``
removes them and a second scrub is clean; the server restarts on the same data directory and

- every acknowledged write reads back byte for byte, or a later acknowledged / in-doubt write of the
  same key does (an in-doubt write is one whose request was cut by the kill: it may or may not have
  happened, but only as a whole);
- every acknowledged version of a versioned key still reads back by its version id;
- listings show exactly the keys that exist, with the sizes of the bodies they hold.

The data directory lives on across rounds, so damage from one crash would surface in later ones. At
the end an interrupted rotation is resumed to completion under load-free serving, and all is read again.
``SEALBOX_CRASH_ROUNDS`` sets the number of rounds (default 40, about 70 seconds on 2 cores).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import random
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sealbox.app import build_key_service, load_master_keys
from sealbox.config import Settings
from sealbox.service.gc import Collector
from sealbox.service.scrub import Scrubber, ScrubReport
from sealbox.service import sse_c
from sealbox.service.sealing import Sealer
from sealbox.storage.data.local import LocalBlobStore
from sealbox.storage.meta.sqlite import SqliteMetaStore
from tests.kms_support import kms_client
from tests.support import SEALBOX, Server, start_server

ROUNDS = int(os.environ.get("SEALBOX_CRASH_ROUNDS", "40"))
THREADS = 5
KEYS_PER_THREAD = 4
BUCKET = "crash"
VERSIONED = "crash-versioned"
SIZES = [0, 1, 100, 5_000, 64 * 1024, 64 * 1024 + 1, 300_000, 1_100_000, 3 * 1024 * 1024]
PART = 5 * 1024 * 1024  # the minimum size of a multipart part that is not the last
ABSENT = "absent"
SOURCES = {"source-plain": False, "source-sealed": True}
CLIENT_CONFIG: dict[str, Any] = {"connect_timeout": 5, "read_timeout": 60}
KMS_REFUSED = "KMS.DisabledException"  # a write under the key while it was disabled: refused, nothing written
CUSTOMER_KEY = bytes(range(100, 132))
SSE_C: dict[str, Any] = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": CUSTOMER_KEY}
SERVER_ARGS = ("--allow-sse-c-over-http",)  # SSE-C over loopback HTTP


@dataclass(frozen=True)
class Body:
    data: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Model:
    """What each key may hold: the set of body digests (or ABSENT) consistent with what was acknowledged."""

    possible: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=lambda: {ABSENT: -1})
    versions: dict[tuple[str, str], str] = field(default_factory=dict)  # (key, version id) -> digest
    new_versions: list[tuple[str, str]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # failures before the kill: bugs, not crashes
    acked: int = 0
    in_doubt: int = 0
    kms_refused: int = 0
    kms_key: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def learn(self, data: bytes) -> str:
        digest = sha(data)
        with self.lock:
            self.sizes[digest] = len(data)
        return digest


@dataclass
class Features:
    copy: bool
    multipart: bool


class Worker:
    """One client thread: a sequential stream of operations on the keys it alone writes."""

    def __init__(self, server: Server, model: Model, features: Features, index: int, seed: int,
                 killed: threading.Event) -> None:
        self.s3: Any = server.client(**CLIENT_CONFIG)
        self.model = model
        self.features = features
        self.rng = random.Random(seed)
        self.killed = killed
        self.keys = [f"w{index}/k{i}" for i in range(KEYS_PER_THREAD)]
        self.vkey = f"w{index}/versioned"

    def run(self) -> None:
        while not self.killed.is_set():
            self.step()

    def step(self) -> None:
        key = self.rng.choice(self.keys)
        roll = self.rng.random()
        if roll < 0.40:
            self.put(key)
        elif roll < 0.52:
            self.apply(BUCKET, key, ABSENT, lambda: self.s3.delete_object(Bucket=BUCKET, Key=key))
        elif roll < 0.64 and self.features.copy:
            source = self.rng.choice(list(SOURCES))
            sse = self.sse()
            self.apply(BUCKET, key, self.model_source(source),
                       lambda: self.s3.copy_object(Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": source},
                                                   **sse))
        elif roll < 0.69 and self.features.multipart:
            self.multipart(key)
        elif roll < 0.84:
            self.put_versioned()
        else:
            self.get(key)

    def model_source(self, source: str) -> str:
        return next(iter(self.model.possible[(BUCKET, source)]))

    def body(self) -> bytes:
        return os.urandom(self.rng.choice(SIZES))

    def sse(self) -> dict[str, Any]:
        kms = {"SSEKMSKeyId": self.model.kms_key}
        return self.rng.choice([{}, {}, {"ServerSideEncryption": "AES256"}, {"ServerSideEncryption": "AES256"},
                                {"ServerSideEncryption": "aws:kms", **kms},
                                {"ServerSideEncryption": "aws:kms", "BucketKeyEnabled": True, **kms},
                                {"ServerSideEncryption": "aws:kms:dsse", **kms}, SSE_C])

    def put(self, key: str) -> None:
        data, sse = self.body(), self.sse()
        self.apply(BUCKET, key, self.model.learn(data), lambda: self.s3.put_object(Bucket=BUCKET, Key=key, Body=data, **sse))

    def multipart(self, key: str) -> None:
        first, last, sse = os.urandom(PART), os.urandom(self.rng.choice(SIZES[1:6])), self.sse()
        digest = self.model.learn(first + last)

        def upload() -> None:
            upload_id = self.s3.create_multipart_upload(Bucket=BUCKET, Key=key, **sse)["UploadId"]
            parts = []
            for number, data in ((1, first), (2, last)):
                part_sse = SSE_C if "SSECustomerKey" in sse else {}  # every SSE-C part with the upload's key
                etag = self.s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=data,
                                           **part_sse)["ETag"]
                parts.append({"PartNumber": number, "ETag": etag})
            self.s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id,
                                              MultipartUpload={"Parts": parts})

        self.apply(BUCKET, key, digest, upload)

    def put_versioned(self) -> None:
        data, sse = os.urandom(self.rng.choice(SIZES[:6])), self.sse()
        digest = self.model.learn(data)
        box: dict[str, str] = {}

        def put() -> None:
            box["vid"] = self.s3.put_object(Bucket=VERSIONED, Key=self.vkey, Body=data, **sse)["VersionId"]

        if self.apply(VERSIONED, self.vkey, digest, put):
            with self.model.lock:
                self.model.versions[(self.vkey, box["vid"])] = digest
                self.model.new_versions.append((self.vkey, box["vid"]))

    def get(self, key: str) -> None:
        try:
            observed = read_state(self.s3, BUCKET, key)
        except Exception as exc:  # noqa: BLE001 - after the kill every request fails
            if _code(exc) == KMS_REFUSED:
                return  # the key is disabled just now
            if not self.killed.is_set():
                self.model.unexpected.append(f"GET {key}: {exc!r}")
            return
        if observed not in self.model.possible[(BUCKET, key)]:
            self.model.unexpected.append(f"live GET {key} returned {observed[:12]}, expected one of"
                                         f" {sorted(d[:12] for d in self.model.possible[(BUCKET, key)])}")

    def apply(self, bucket: str, key: str, outcome: str, request: Callable[[], None]) -> bool:
        """Run a write; acknowledged → the key holds ``outcome``; cut off → it may, or may not."""
        possible = self.model.possible[(bucket, key)]
        try:
            request()
        except Exception as exc:  # noqa: BLE001 - after the kill every request fails
            if _code(exc) == KMS_REFUSED:  # refused whole: the key holds what it held
                self.model.kms_refused += 1
                return False
            if not self.killed.is_set():
                self.model.unexpected.append(f"{bucket}/{key}: {exc!r}")
            possible.add(outcome)
            self.model.in_doubt += 1
            return False
        possible.clear()
        possible.add(outcome)
        self.model.acked += 1
        return True


def _code(exc: BaseException) -> str | None:
    return str(exc.response["Error"]["Code"]) if isinstance(exc, ClientError) else None


def read_state(s3: Any, bucket: str, key: str, version_id: str | None = None) -> str:
    """The digest of what the key holds now, or ABSENT."""
    extra: dict[str, Any] = {"VersionId": version_id} if version_id else {}
    try:
        got = s3.get_object(Bucket=bucket, Key=key, **extra)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchKey":
            return ABSENT
        if exc.response["Error"]["Code"] != "InvalidRequest":
            raise
        got = s3.get_object(Bucket=bucket, Key=key, **extra, **SSE_C)  # an SSE-C object: its key is needed
    data = got["Body"].read()
    assert len(data) == got["ContentLength"], (bucket, key)
    return sha(data)


def probe_features(s3: Any) -> Features:
    def implemented(call: Callable[[], Any]) -> bool:
        try:
            call()
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NotImplemented":
                return False
            raise
        return True

    copy = implemented(lambda: s3.copy_object(Bucket=BUCKET, Key="probe", CopySource={"Bucket": BUCKET,
                                                                                       "Key": "source-plain"}))
    multipart = implemented(lambda: s3.abort_multipart_upload(
        Bucket=BUCKET, Key="probe", UploadId=s3.create_multipart_upload(Bucket=BUCKET, Key="probe")["UploadId"]))
    s3.delete_object(Bucket=BUCKET, Key="probe")
    return Features(copy, multipart)


def setup_store(server: Server, model: Model) -> Features:
    s3: Any = server.client()
    model.kms_key = kms_client(server).create_key(Description="crash test")["KeyMetadata"]["KeyId"]
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket=VERSIONED)
    s3.put_bucket_versioning(Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"})
    for source, sealed in SOURCES.items():
        data = os.urandom(200_000)
        s3.put_object(Bucket=BUCKET, Key=source, Body=data, **({"ServerSideEncryption": "AES256"} if sealed else {}))
        model.possible[(BUCKET, source)] = {model.learn(data)}
    for w in range(THREADS):
        for i in range(KEYS_PER_THREAD):
            model.possible[(BUCKET, f"w{w}/k{i}")] = {ABSENT}
        model.possible[(VERSIONED, f"w{w}/versioned")] = {ABSENT}
    return probe_features(s3)


def maintain_offline(data_dir: Path) -> tuple[ScrubReport, ScrubReport]:
    """With the server down: scrub (orphans allowed), gc, scrub again (must be clean)."""
    settings = Settings(data_dir=data_dir)
    meta = SqliteMetaStore(settings.db_path)
    blobs = LocalBlobStore(data_dir)
    try:
        sealer = Sealer(load_master_keys(settings))
        sealer.attach_kms(build_key_service(settings, sealer)[0])
        sse_c.attach(meta, sealer)
        first = Scrubber(meta, blobs, sealer, grace=0).run()
        Collector(meta, blobs, grace=0).run()
        second = Scrubber(meta, blobs, sealer, grace=0).run()
    finally:
        meta.close()
    return first, second


def verify(server: Server, model: Model, rng: random.Random) -> int:
    """Everything acknowledged reads back; returns the number of reads checked."""
    s3: Any = server.client(**CLIENT_CONFIG)
    checked = 0
    for (bucket, key), possible in sorted(model.possible.items()):
        observed = read_state(s3, bucket, key)
        assert observed in possible, (f"{bucket}/{key} holds {observed[:12]}, but only"
                                      f" {sorted(p[:12] for p in possible)} were acknowledged or in doubt")
        possible.clear()
        possible.add(observed)  # what survived the crash is now the known state
        checked += 1
    older = [v for v in model.versions if v not in model.new_versions]
    for key, vid in model.new_versions + rng.sample(older, min(len(older), 10)):
        assert read_state(s3, VERSIONED, key, vid) == model.versions[(key, vid)], (key, vid)
        checked += 1
    model.new_versions.clear()
    listed = {o["Key"]: o["Size"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
              for o in page.get("Contents", [])}
    expected = {key: model.sizes[next(iter(p))] for (bucket, key), p in model.possible.items()
                if bucket == BUCKET and ABSENT not in p}
    assert listed == expected
    return checked


@pytest.mark.timeout(600)
def test_sigkill_during_concurrent_writes_loses_nothing_acknowledged(data_dir: Path) -> None:
    rng = random.Random(int(os.environ.get("SEALBOX_CRASH_SEED", secrets.randbits(32))))
    model = Model()
    server = start_server(data_dir, *SERVER_ARGS, workers=2)
    features = setup_store(server, model)
    orphans_seen = reads_checked = rotations = kms_ops_cut = 0
    try:
        for round_no in range(ROUNDS):
            killed = threading.Event()
            workers = [Worker(server, model, features, w, rng.randrange(2**32), killed) for w in range(THREADS)]
            threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
            for t in threads:
                t.start()
            rotator = start_rotation(data_dir) if round_no % 4 == 1 else None  # online master-key rotation
            key_op = start_kms_operation(data_dir, model.kms_key, round_no)
            time.sleep(rng.uniform(0.05, 1.5))  # the crash lands at a random point of the load
            killed.set()
            server.stop(signal.SIGKILL)
            if rotator is not None:
                if rotator.poll() is None:  # still re-sealing when the crash came
                    rotations += 1
                    os.killpg(rotator.pid, signal.SIGKILL)
                rotator.wait(timeout=30)
            if key_op is not None:
                if key_op.poll() is None:
                    kms_ops_cut += 1
                    os.killpg(key_op.pid, signal.SIGKILL)
                key_op.wait(timeout=30)
            # A crash between disable and enable leaves the key disabled: enable it, as an operator would.
            subprocess.run([str(SEALBOX), "kms", "enable", model.kms_key, "--data-dir", str(data_dir)],
                           capture_output=True, timeout=60, check=True)
            for t in threads:
                t.join(timeout=120)
            assert not any(t.is_alive() for t in threads)
            assert not model.unexpected, (round_no, model.unexpected[:5], server.log()[-3000:])

            first, second = maintain_offline(data_dir)
            assert {p.kind for p in first.problems} <= {"orphan-blob", "stale-temp"}, \
                (round_no, [p.describe() for p in first.problems])
            assert second.ok, (round_no, [p.describe() for p in second.problems])
            orphans_seen += len(first.problems)

            server = start_server(data_dir, *SERVER_ARGS, workers=2)
            reads_checked += verify(server, model, rng)
        # An interrupted rotation resumes and finishes while the server serves; everything still reads.
        done = subprocess.run([str(SEALBOX), "keys", "rotate", "--data-dir", str(data_dir)], capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        reads_checked += verify(server, model, rng)
    finally:
        server.stop()
    first, second = maintain_offline(data_dir)
    assert first.ok, [p.describe() for p in first.problems]
    assert model.acked > ROUNDS  # the load really ran
    print(f"crash rounds={ROUNDS} acked={model.acked} in_doubt={model.in_doubt} orphans_collected={orphans_seen}"
          f" reads_checked={reads_checked} rotations_cut={rotations} kms_refused={model.kms_refused}"
          f" kms_ops_cut={kms_ops_cut} copy={features.copy}"
          f" multipart={features.multipart}")


def start_rotation(data_dir: Path) -> subprocess.Popen[bytes]:
    """``sealbox keys rotate`` in small batches, so that the crash can cut it half way."""
    return subprocess.Popen([str(SEALBOX), "keys", "rotate", "--data-dir", str(data_dir), "--batch", "1",
                             "--pause", "0.02"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def start_kms_operation(data_dir: Path, key: str, round_no: int) -> subprocess.Popen[bytes] | None:
    """A KMS key operation during the load: a rotation (at most 9: AWS allows 10 on demand), or a
    disable followed by an enable, each a ``sealbox kms`` process the crash may cut."""
    kms = f"{SEALBOX} kms {{}} {key} --data-dir {data_dir}"
    if round_no % 4 == 2 and round_no < 36:
        script = kms.format("rotate")
    elif round_no % 4 == 3:
        script = f"sleep 0.1; {kms.format('disable')}; sleep 0.15; {kms.format('enable')}"
    else:
        return None
    return subprocess.Popen(["sh", "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


# -- lifecycle passes cut by SIGKILL (issue 17) ------------------------------------------------------

LIFE_BUCKET = "crash-lifecycle"
LIFE_DAY = 1.0  # seconds: --lifecycle-day-seconds


def _life_body(i: int, generation: int) -> bytes:
    size = 70_000 if i % 5 == 0 else 100  # a blob file, or inline in the metadata
    return hashlib.sha256(f"{i}/{generation}".encode()).digest() * (size // 32 + 1)


def _pass_state(data_dir: Path) -> str | None:
    import sqlite3

    db = sqlite3.connect(f"file:{Settings(data_dir=data_dir).db_path}?mode=ro", uri=True, timeout=5)
    try:
        row = db.execute("SELECT v FROM lifecycle_state WHERE k='lifecycle.pass'").fetchone()
    finally:
        db.close()
    return str(row[0]) if row else None


def _start_pass(data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([str(SEALBOX), "lifecycle", "run", "--data-dir", str(data_dir), "--lifecycle-day-seconds",
                             str(LIFE_DAY), "--batch", "20", "--pause", "0.02"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_during_lifecycle_passes_keeps_locked_versions(data_dir: Path) -> None:
    """A bucket with Object Lock, expiring current versions, noncurrent versions and delete markers, some
    versions under COMPLIANCE or a legal hold. A lifecycle pass (small pages) is SIGKILLed mid-way,
    together with the server, several times; after each crash scrub finds nothing but orphans, every
    locked version reads back, and the next pass resumes where the last one stopped (its ``started``
    is the first one's). At the end every unlocked version is expired and every locked one is intact."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(int(os.environ.get("SEALBOX_CRASH_SEED", secrets.randbits(32))))
    server = start_server(data_dir, *SERVER_ARGS, workers=2)
    s3: Any = server.client()
    s3.create_bucket(Bucket=LIFE_BUCKET, ObjectLockEnabledForBucket=True)
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
    locked: dict[tuple[str, str], str] = {}  # (key, version id) -> digest: must survive everything
    unlocked: dict[tuple[str, str], str] = {}  # must be gone at the end (noncurrent ones) or behind a marker
    keys = 120

    def write(i: int) -> None:
        c: Any = server.client()
        for prefix in ("exp", "nc"):  # exp/: current versions expire; nc/: the current is a delete marker
            key = f"{prefix}/{i:04d}"
            for generation in (0, 1):
                body = _life_body(i, generation)
                lock: dict[str, Any] = {}
                if generation == 0 and i % 4 == 0:
                    lock = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until}
                elif generation == 1 and i % 6 == 0:
                    lock = {"ObjectLockLegalHoldStatus": "ON"}
                vid = c.put_object(Bucket=LIFE_BUCKET, Key=key, Body=body, ChecksumAlgorithm="CRC32",
                                   **lock)["VersionId"]
                (locked if lock else unlocked)[(key, vid)] = sha(body)
            if prefix == "nc":
                c.delete_object(Bucket=LIFE_BUCKET, Key=key)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(write, range(keys)))
    rules = [{"ID": "all", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 1},
              "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]
    s3.put_bucket_lifecycle_configuration(Bucket=LIFE_BUCKET, LifecycleConfiguration={"Rules": rules})
    time.sleep(2 * LIFE_DAY + 0.5)  # past the next day boundary after one day of age

    def check_locked(srv: Server) -> None:
        c: Any = srv.client(**CLIENT_CONFIG)
        for (key, vid), digest in locked.items():
            assert sha(c.get_object(Bucket=LIFE_BUCKET, Key=key, VersionId=vid)["Body"].read()) == digest, (key, vid)

    cuts = 0
    started: object = None
    try:
        for _ in range(3):
            runner = _start_pass(data_dir)
            deadline = time.monotonic() + 60
            state = _pass_state(data_dir)
            before = state
            while runner.poll() is None and time.monotonic() < deadline and (state is None or state == before):
                time.sleep(0.005)
                state = _pass_state(data_dir)
            time.sleep(rng.uniform(0, 0.3))  # somewhere inside the pass, maybe inside a page
            if runner.poll() is not None:
                break  # the pass finished before the cut: the final pass below has nothing to resume
            os.killpg(runner.pid, signal.SIGKILL)
            server.stop(signal.SIGKILL)
            runner.wait(timeout=30)
            cuts += 1
            assert state is not None
            saved = json.loads(state)
            assert started is None or saved["started"] == started, "a resumed pass keeps its start"
            started = saved["started"]
            first, second = maintain_offline(data_dir)
            assert {p.kind for p in first.problems} <= {"orphan-blob", "stale-temp"}, \
                [p.describe() for p in first.problems]
            assert second.ok, [p.describe() for p in second.problems]
            server = start_server(data_dir, *SERVER_ARGS, workers=2)
            check_locked(server)
        assert cuts >= 1, "no lifecycle pass was cut: the test proved nothing"
        # passes until nothing is left to expire: the cut one resumes, later ones finish the markers
        results = []
        for _ in range(4):
            runner = _start_pass(data_dir)
            out, err = runner.communicate(timeout=120)
            assert runner.returncode == 0, err
            results.append(json.loads(out))
            time.sleep(LIFE_DAY * 2 + 0.2)  # the markers the pass added come due
        assert results[0]["started"] == started, "the pass after the crash resumed the cut one"
        check_locked(server)
        c: Any = server.client(**CLIENT_CONFIG)
        left = {(v["Key"], v["VersionId"]) for page in c.get_paginator("list_object_versions").paginate(
            Bucket=LIFE_BUCKET) for v in page.get("Versions", [])}
        assert left == set(locked), (sorted(left - set(locked))[:5], sorted(set(locked) - left)[:5])
        markers = [m for page in c.get_paginator("list_object_versions").paginate(Bucket=LIFE_BUCKET)
                   for m in page.get("DeleteMarkers", [])]
        assert {m["Key"] for m in markers} <= {k for k, _ in locked}, "a marker with nothing under it was kept"
        assert not c.list_objects_v2(Bucket=LIFE_BUCKET).get("Contents"), "every current version expired"
    finally:
        server.stop()
    first, _ = maintain_offline(data_dir)
    assert first.ok, [p.describe() for p in first.problems]
    print(f"lifecycle crash: cuts={cuts} locked={len(locked)} expired={len(unlocked)} passes={results}")
