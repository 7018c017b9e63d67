"""Hypothesis: conditional operations from several clients at once never let two conflicting writes both succeed.

Each round, every client looks at the same state of one key (its ETag, or no object) and then, all at
once, sends one conditional operation that asks for exactly that state — PutObject, CopyObject or
CompleteMultipartUpload with ``If-None-Match: *`` (no object) or ``If-Match: <that ETag>``, DeleteObject
with ``If-Match: <that ETag>`` — or, as a stale client would, for a state that is gone (an old ETag). Each
success changes the state (new bytes, hence a new ETag; or no object), so the operations that asked for
the state they saw conflict pairwise: the real server (two worker processes) must let exactly one of them
succeed (none, if none could), refuse every other with 412, 409 or 404, and end in the state the winner made.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings

from tests.support import Server, unique_bucket

KEY = "contended"
KINDS = ("put", "copy", "complete", "delete")
MAX_CLIENTS = 4


STALE = '"00000000000000000000000000000000"'


@dataclass(frozen=True)
class Op:
    kind: str  # one of KINDS
    fresh: bool  # asks for the state observed (If-None-Match: * or If-Match: its ETag); else a stale If-Match


ops = st.builds(Op, st.sampled_from(KINDS), st.booleans())
rounds = st.lists(st.lists(ops, min_size=2, max_size=MAX_CLIENTS), min_size=1, max_size=3)


def _etag(s3: Any, bucket: str) -> str | None:
    try:
        return str(s3.head_object(Bucket=bucket, Key=KEY)["ETag"])
    except ClientError as exc:
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        return None


def _prepare(s3: Any, bucket: str, op: Op, observed: str | None, body: bytes) -> Callable[[Any], str | None]:
    """What the client will send (set up before the round: a copy source, an open multipart upload), as a
    call returning the ETag the key has if it succeeds (None: the key is gone)."""
    # No delete asks for "no object": a fresh one over no object is as stale as any.
    if not _holds(op, observed):
        condition = {"IfMatch": STALE}
    else:
        condition = {"IfNoneMatch": "*"} if observed is None else {"IfMatch": observed}
    if op.kind == "put":
        return lambda c: str(c.put_object(Bucket=bucket, Key=KEY, Body=body, **condition)["ETag"])
    if op.kind == "copy":
        source = f"src-{uuid.uuid4().hex}"
        s3.put_object(Bucket=bucket, Key=source, Body=body)
        return lambda c: str(c.copy_object(Bucket=bucket, Key=KEY, CopySource=f"{bucket}/{source}",
                                           **condition)["CopyObjectResult"]["ETag"])
    if op.kind == "complete":
        # Begun now, from the state every client observed (a Complete's conditions concern that state).
        upload = s3.create_multipart_upload(Bucket=bucket, Key=KEY)["UploadId"]
        part = s3.upload_part(Bucket=bucket, Key=KEY, UploadId=upload, PartNumber=1, Body=body)["ETag"]
        return lambda c: str(c.complete_multipart_upload(
            Bucket=bucket, Key=KEY, UploadId=upload, MultipartUpload={"Parts": [{"ETag": part, "PartNumber": 1}]},
            **condition)["ETag"])

    def delete(c: Any) -> None:
        c.delete_object(Bucket=bucket, Key=KEY, **condition)
        return None
    return delete


def _holds(op: Op, observed: str | None) -> bool:
    """Whether ``op``'s condition held when the round began (then it may win)."""
    return op.fresh and not (op.kind == "delete" and observed is None)


def _at_once(calls: list[Callable[[Any], str | None]], clients: list[Any]) -> list[tuple[int, str | None]]:
    """Each call on its own client, released together: (status, the ETag it left) for each."""
    outcomes: list[tuple[int, str | None]] = [(0, None)] * len(calls)
    barrier = threading.Barrier(len(calls))

    def client(i: int) -> None:
        barrier.wait(30)
        try:
            outcomes[i] = (200, calls[i](clients[i]))
        except ClientError as exc:
            outcomes[i] = (exc.response["ResponseMetadata"]["HTTPStatusCode"], None)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_conditional_operations_never_let_two_conflicting_writes_succeed(server: Server) -> None:
    s3 = server.client()
    clients = [server.client() for _ in range(MAX_CLIENTS)]

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(plan=rounds, versioned=st.booleans())
    def run(plan: list[list[Op]], versioned: bool) -> None:
        bucket = unique_bucket("cond")
        s3.create_bucket(Bucket=bucket)
        if versioned:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for turn, round_ops in enumerate(plan):
            observed = _etag(s3, bucket)
            calls = [_prepare(s3, bucket, op, observed, f"round {turn} client {i} {uuid.uuid4()}".encode())
                     for i, op in enumerate(round_ops)]
            outcomes = _at_once(calls, clients)
            statuses = [status for status, _ in outcomes]
            winners = [i for i, (status, _) in enumerate(outcomes) if status == 200]
            assert set(statuses) <= {200, 404, 409, 412}, (round_ops, observed, statuses)
            eligible = any(_holds(op, observed) for op in round_ops)
            assert len(winners) == (1 if eligible else 0), (round_ops, observed, statuses)
            now = _etag(s3, bucket)
            assert now == (outcomes[winners[0]][1] if winners else observed), (round_ops, observed, statuses)

    run()
