"""``sealbox kms …`` against the data directory of a running server (changes reach its workers at once)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.kms_support import error_of, kms_cli, kms_client
from tests.support import Server, running_server, unique_bucket


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("kmscli") / "data", workers=2) as server:
        yield server


def _json(srv: Server, *args: str) -> Any:
    return json.loads(kms_cli(srv.data_dir, *args, "--json").stdout)


def test_create_list_describe_alias(srv: Server) -> None:
    made = _json(srv, "create-key", "--description", "from the cli", "--alias", "alias/cli-made")
    assert made["KeyState"] == "Enabled" and made["Aliases"] == ["alias/cli-made"]
    # the server sees it at once, with the same ARN
    assert kms_client(srv).describe_key(KeyId="alias/cli-made")["KeyMetadata"]["Arn"] == made["Arn"]
    listed = {k["KeyId"]: k for k in _json(srv, "list")}
    assert listed[made["KeyId"]]["Description"] == "from the cli"
    assert _json(srv, "describe", made["Arn"])["KeyId"] == made["KeyId"]
    _json(srv, "alias", "create", "alias/cli-second", made["KeyId"])
    other = _json(srv, "create-key")
    _json(srv, "alias", "update", "alias/cli-second", other["KeyId"])
    assert _json(srv, "describe", "alias/cli-second")["KeyId"] == other["KeyId"]
    _json(srv, "alias", "delete", "alias/cli-second")
    assert "alias/cli-second" not in [a["AliasName"] for a in _json(srv, "alias", "list")]
    text = kms_cli(srv.data_dir, "list").stdout
    assert made["KeyId"] in text and "alias/cli-made" in text and "Enabled" in text


def test_disable_while_serving_refuses_reads_at_once(srv: Server) -> None:
    s3 = srv.client()
    bucket = unique_bucket("cli")
    s3.create_bucket(Bucket=bucket)
    made = _json(srv, "create-key")
    s3.put_object(Bucket=bucket, Key="k", Body=b"data", ServerSideEncryption="aws:kms", SSEKMSKeyId=made["KeyId"])
    assert _json(srv, "disable", made["KeyId"])["KeyState"] == "Disabled"
    for _ in range(6):  # whichever worker answers
        assert error_of(s3.get_object, Bucket=bucket, Key="k") == (400, "KMS.DisabledException")
    _json(srv, "enable", made["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
    scheduled = _json(srv, "schedule-deletion", made["KeyId"], "--days", "7")
    assert scheduled["KeyState"] == "PendingDeletion" and scheduled["PendingDeletionWindowInDays"] == 7
    assert error_of(s3.get_object, Bucket=bucket, Key="k") == (400, "KMS.KMSInvalidStateException")
    assert _json(srv, "cancel-deletion", made["KeyId"])["KeyState"] == "Disabled"
    _json(srv, "enable", made["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"


def test_rotate_on_demand_and_automatic(srv: Server) -> None:
    s3 = srv.client()
    bucket = unique_bucket("rot")
    s3.create_bucket(Bucket=bucket)
    made = _json(srv, "create-key")
    s3.put_object(Bucket=bucket, Key="old", Body=b"before", ServerSideEncryption="aws:kms", SSEKMSKeyId=made["KeyId"])
    assert _json(srv, "rotate", made["KeyId"])["MaterialVersions"] == 2
    s3.put_object(Bucket=bucket, Key="new", Body=b"after", ServerSideEncryption="aws:kms", SSEKMSKeyId=made["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="old")["Body"].read() == b"before"
    assert s3.get_object(Bucket=bucket, Key="new")["Body"].read() == b"after"
    auto = _json(srv, "rotate", made["KeyId"], "--automatic", "on", "--period", "90")
    assert auto["KeyRotationEnabled"] is True and auto["RotationPeriodInDays"] == 90
    assert _json(srv, "rotate", made["KeyId"], "--automatic", "off")["KeyRotationEnabled"] is False


def test_refusals_exit_1(srv: Server) -> None:
    done = kms_cli(srv.data_dir, "describe", "alias/none-such", check=False)
    assert done.returncode == 1 and "NotFoundException" in done.stderr
    made = _json(srv, "create-key")
    done = kms_cli(srv.data_dir, "schedule-deletion", made["KeyId"], "--days", "3", check=False)
    assert done.returncode == 1 and "ValidationException" in done.stderr


def test_unusable_data_dir_exits_2(tmp_path: Any) -> None:
    done = kms_cli(tmp_path / "nothing", "list", check=False)
    assert done.returncode == 2
