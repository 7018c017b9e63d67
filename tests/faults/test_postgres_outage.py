"""PostgreSQL restarting or unreachable under a running gateway (issue 19, Faults): requests get 503
ServiceUnavailable with nothing written half, and once the server is back the pool reconnects by
itself and every acknowledged write is intact. A PostgreSQL server of its own (tests/pg_support.py),
stopped and started by PID while sealbox runs."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.pg_support import PgServer
from tests.support import Server, running_server

_BACK_WITHIN = 60.0  # seconds for the gateway to answer again after PostgreSQL is back (pool reconnect)


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    server = PgServer()
    yield server
    server.close()


@pytest.fixture
def gateway(pg: PgServer, tmp_path: Path) -> Iterator[Server]:
    if pg.proc is None or pg.proc.poll() is not None:
        pg.start()
    url = pg.database(f"outage_{os.urandom(4).hex()}", migrated=False)  # the gateway migrates it
    with running_server(tmp_path / "data", "--meta-url", url, workers=2) as srv:
        yield srv
    assert "Traceback" not in srv.log(), srv.log()


def _status(call: Any, **kwargs: Any) -> tuple[int, str]:
    try:
        call(**kwargs)
    except ClientError as exc:
        return int(exc.response["ResponseMetadata"]["HTTPStatusCode"]), str(exc.response["Error"]["Code"])
    return 200, ""


def _wait_until_served(s3: Any, bucket: str) -> None:
    deadline = time.monotonic() + _BACK_WITHIN
    while time.monotonic() < deadline:
        if _status(s3.head_bucket, Bucket=bucket)[0] == 200:
            return
        time.sleep(0.2)
    raise AssertionError(f"the gateway did not serve again within {_BACK_WITHIN:.0f} s of PostgreSQL's restart")


def test_requests_get_503_while_postgres_is_down_and_succeed_after(pg: PgServer, gateway: Server) -> None:
    s3: Any = gateway.client()
    s3.create_bucket(Bucket="bkt")
    bodies = {f"k{i}": os.urandom(50 + 3000 * i) for i in range(8)}  # inline and file-backed objects
    for key, body in bodies.items():
        s3.put_object(Bucket="bkt", Key=key, Body=body)

    pg.stop("immediate")  # as a crash: no checkpoint (recovery replays the WAL at the next start)
    for call, kwargs in ((s3.put_object, {"Bucket": "bkt", "Key": "during", "Body": b"x" * 5000}),
                         (s3.get_object, {"Bucket": "bkt", "Key": "k1"}),
                         (s3.list_objects_v2, {"Bucket": "bkt"}),
                         (s3.delete_object, {"Bucket": "bkt", "Key": "k2"})):
        assert _status(call, **kwargs) == (503, "ServiceUnavailable"), call

    pg.start()
    _wait_until_served(s3, "bkt")
    for key, body in bodies.items():  # every acknowledged write intact, the refused delete did nothing
        assert s3.get_object(Bucket="bkt", Key=key)["Body"].read() == body
    assert _status(s3.head_object, Bucket="bkt", Key="during")[0] == 404  # the refused PUT left nothing
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]]
    assert listed == sorted(bodies)
    s3.put_object(Bucket="bkt", Key="after", Body=b"back")
    assert s3.get_object(Bucket="bkt", Key="after")["Body"].read() == b"back"


def test_writes_racing_a_postgres_restart_are_whole_or_absent(pg: PgServer, gateway: Server) -> None:
    """Writers keep going while PostgreSQL stops and starts: each PUT is acknowledged (and then readable
    whole) or refused with 503 (and then absent, or whole if its COMMIT landed before the answer was lost)."""
    s3: Any = gateway.client()
    s3.create_bucket(Bucket="race")
    acked: dict[str, bytes] = {}
    refused: dict[str, bytes] = {}
    other: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(n: int) -> None:
        client: Any = gateway.client()
        for i in range(400):  # bounded: the outage below ends long before
            if stop.is_set():
                return
            key, body = f"w{n}-{i}", os.urandom(100 + (i % 4) * 20_000)
            status, code = _status(client.put_object, Bucket="race", Key=key, Body=body)
            with lock:
                if status == 200:
                    acked[key] = body
                elif (status, code) == (503, "ServiceUnavailable"):
                    refused[key] = body
                else:
                    other.append(f"{key}: {status} {code}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    pg.stop("immediate")
    time.sleep(6.0)  # longer than pgconn.POOL_WAIT: a shorter outage is absorbed by requests waiting for it
    pg.start()
    time.sleep(1.0)
    _wait_until_served(s3, "race")
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert not other, other
    assert acked, (len(acked), len(refused))
    for key, body in acked.items():
        assert s3.get_object(Bucket="race", Key=key)["Body"].read() == body
    for key, body in refused.items():
        status, _ = _status(s3.head_object, Bucket="race", Key=key)
        if status == 200:  # committed, answer lost with the connection: whole, never torn
            assert s3.get_object(Bucket="race", Key=key)["Body"].read() == body
        else:
            assert status == 404
