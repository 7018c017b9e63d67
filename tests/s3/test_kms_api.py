"""The AWS KMS API on the S3 endpoint (JSON 1.1, TrentService, SigV4 service kms): boto3's kms client and
the AWS CLI (``aws kms … --endpoint-url``) against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.kms_support import add_user, error_of, kms_client
from tests.support import REGION, Server, running_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("kmsapi") / "data", workers=2) as server:
        yield server
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def kms(srv: Server) -> Any:
    return kms_client(srv)


def test_create_describe_list_key(kms: Any) -> None:
    made = kms.create_key(Description="orders", Tags=[{"TagKey": "team", "TagValue": "ops"}])["KeyMetadata"]
    assert made["KeyState"] == "Enabled" and made["Enabled"] is True
    assert made["KeyManager"] == "CUSTOMER" and made["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert made["Arn"] == f"arn:aws:kms:{REGION}:{made['AWSAccountId']}:key/{made['KeyId']}"
    assert len(made["AWSAccountId"]) == 12 and made["AWSAccountId"].isdigit()
    assert kms.describe_key(KeyId=made["Arn"])["KeyMetadata"]["Description"] == "orders"
    assert made["KeyId"] in [k["KeyId"] for k in kms.list_keys()["Keys"]]
    assert kms.list_resource_tags(KeyId=made["KeyId"])["Tags"] == [{"TagKey": "team", "TagValue": "ops"}]
    policy = json.loads(kms.get_key_policy(KeyId=made["KeyId"], PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{made['AWSAccountId']}:root"}


def test_list_keys_pages(kms: Any) -> None:
    for _ in range(3):
        kms.create_key()
    first = kms.list_keys(Limit=2)
    assert len(first["Keys"]) == 2 and first["Truncated"] is True
    second = kms.list_keys(Limit=2, Marker=first["NextMarker"])
    assert {k["KeyId"] for k in first["Keys"]}.isdisjoint(k["KeyId"] for k in second["Keys"])
    everything = [k for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2})
                  for k in page["Keys"]]
    assert len(everything) == len({k["KeyId"] for k in everything}) >= 3


def test_enable_disable_schedule_cancel(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
    assert error_of(kms.encrypt, KeyId=key, Plaintext=b"x") == (400, "DisabledException")
    kms.enable_key(KeyId=key)
    for days in (6, 31):
        assert error_of(kms.schedule_key_deletion, KeyId=key, PendingWindowInDays=days) == (400, "ValidationException")
    scheduled = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion" and scheduled["PendingWindowInDays"] == 7
    meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and "DeletionDate" in meta
    assert error_of(kms.encrypt, KeyId=key, Plaintext=b"x") == (400, "KMSInvalidStateException")
    assert error_of(kms.enable_key, KeyId=key) == (400, "KMSInvalidStateException")
    kms.cancel_key_deletion(KeyId=key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
    assert error_of(kms.cancel_key_deletion, KeyId=key) == (400, "KMSInvalidStateException")


def test_aliases(kms: Any) -> None:
    key, other = kms.create_key()["KeyMetadata"], kms.create_key()["KeyMetadata"]
    name = f"alias/app-{os.urandom(3).hex()}"
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    assert error_of(kms.create_alias, AliasName=name, TargetKeyId=key["KeyId"]) == (400, "AlreadyExistsException")
    assert error_of(kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=key["KeyId"]) == \
        (400, "InvalidAliasNameException")
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key["KeyId"]
    listed = kms.list_aliases(KeyId=key["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in listed] == [name]
    assert listed[0]["AliasArn"] == key["Arn"].split(":key/")[0] + ":" + name
    kms.update_alias(AliasName=name, TargetKeyId=other["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == other["KeyId"]
    kms.delete_alias(AliasName=name)
    assert error_of(kms.describe_key, KeyId=name) == (400, "NotFoundException")
    assert error_of(kms.delete_alias, AliasName=name) == (400, "NotFoundException")


def test_encrypt_decrypt_generate_data_key(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"attack at dawn", EncryptionContext={"app": "x"})
    assert blob["KeyId"] == key["Arn"]
    out = kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"app": "x"})
    assert (out["Plaintext"], out["KeyId"]) == (b"attack at dawn", key["Arn"])
    assert error_of(kms.decrypt, CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"app": "y"}) == \
        (400, "InvalidCiphertextException")
    assert error_of(kms.decrypt, CiphertextBlob=b"garbage" * 10) == (400, "InvalidCiphertextException")
    other = kms.create_key()["KeyMetadata"]
    assert error_of(kms.decrypt, CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"app": "x"},
                    KeyId=other["KeyId"]) == (400, "IncorrectKeyException")
    made = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    assert len(made["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=made["CiphertextBlob"])["Plaintext"] == made["Plaintext"]
    assert len(kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=64)["Plaintext"]) == 64
    bare = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_128")
    assert "Plaintext" not in bare and len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 16
    assert error_of(kms.encrypt, KeyId="alias/none", Plaintext=b"x") == (400, "NotFoundException")


def test_rotation_keeps_old_ciphertexts_readable(srv: Server, kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 90 and "NextRotationDate" in status
    too_short = _signed(srv, "EnableKeyRotation", {"KeyId": key, "RotationPeriodInDays": 10})  # boto3 checks it too
    assert (too_short.status_code, too_short.json()["__type"]) == (400, "ValidationException")
    old = kms.encrypt(KeyId=key, Plaintext=b"before")["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=key)
    rotations = kms.list_key_rotations(KeyId=key)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]
    new = kms.encrypt(KeyId=key, Plaintext=b"after")["CiphertextBlob"]
    assert old[21:25] != new[21:25]  # a different material version
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after"
    kms.disable_key_rotation(KeyId=key)
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False


def test_aws_managed_key_cannot_be_deleted_or_aliased(srv: Server, kms: Any) -> None:
    srv.client().create_bucket(Bucket="kms-managed-probe")
    srv.client().put_object(Bucket="kms-managed-probe", Key="k", Body=b"x", ServerSideEncryption="aws:kms")
    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert managed["KeyManager"] == "AWS"
    assert error_of(kms.schedule_key_deletion, KeyId=managed["KeyId"]) == (400, "UnsupportedOperationException")
    assert error_of(kms.create_alias, AliasName="alias/mine-too", TargetKeyId=managed["KeyId"]) == \
        (400, "UnsupportedOperationException")
    assert kms.get_key_rotation_status(KeyId=managed["KeyId"])["KeyRotationEnabled"] is True


def test_users_manage_only_their_keys(srv: Server, kms: Any) -> None:
    root_key = kms.create_key()["KeyMetadata"]["KeyId"]
    access, secret = add_user(srv.data_dir, f"k{os.urandom(3).hex()}")
    user = kms_client(srv, access, secret)
    own = user.create_key(Description="mine")["KeyMetadata"]["KeyId"]
    user.disable_key(KeyId=own)
    user.enable_key(KeyId=own)
    assert user.decrypt(CiphertextBlob=user.encrypt(KeyId=own, Plaintext=b"p")["CiphertextBlob"])["Plaintext"] == b"p"
    listed = [k["KeyId"] for k in user.list_keys()["Keys"]]
    assert own in listed and root_key not in listed  # (aws/s3, once made, is listed to everyone)
    for call, kwargs in ((user.describe_key, {}), (user.disable_key, {}), (user.encrypt, {"Plaintext": b"x"}),
                         (user.schedule_key_deletion, {})):
        assert error_of(call, KeyId=root_key, **kwargs) == (400, "AccessDeniedException")
    # root always
    kms.disable_key(KeyId=own)
    assert kms.describe_key(KeyId=own)["KeyMetadata"]["KeyState"] == "Disabled"


def _signed(srv: Server, target: str, body: dict[str, Any], secret: str | None = None,
            service: str = "kms") -> requests.Response:
    req = AWSRequest(method="POST", url=srv.endpoint + "/", data=json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{target}"})
    SigV4Auth(Credentials(srv.access_key, secret or srv.secret_key), service, REGION).add_auth(req)
    prepared = req.prepare()
    return requests.post(prepared.url, data=prepared.body, headers=dict(prepared.headers), timeout=30)


def test_signature_is_checked_for_service_kms(srv: Server) -> None:
    assert _signed(srv, "ListKeys", {}).status_code == 200
    bad = _signed(srv, "ListKeys", {}, secret="wrong")
    assert bad.status_code == 400 and bad.json()["__type"] == "InvalidSignatureException"
    assert _signed(srv, "ListKeys", {}, service="s3").json()["__type"] == "InvalidSignatureException"
    unsigned = requests.post(srv.endpoint + "/", data=b"{}", timeout=30, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"})
    assert unsigned.status_code == 400 and unsigned.json()["__type"] == "UnrecognizedClientException"
    unknown = _signed(srv, "CreateGrant", {})
    assert unknown.status_code == 400 and unknown.json()["__type"] == "UnknownOperationException"


def _aws(srv: Server, *args: str) -> Any:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": srv.access_key, "AWS_SECRET_ACCESS_KEY": srv.secret_key,
           "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    done = subprocess.run([str(Path(sys.executable).parent / "aws"), *args, "--endpoint-url", srv.endpoint,
                           "--output", "json"], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip().startswith("{") else done.stdout


def test_aws_cli_kms_and_s3_sse_kms(srv: Server, tmp_path: Path) -> None:
    made = _aws(srv, "kms", "create-key", "--description", "cli")["KeyMetadata"]
    _aws(srv, "kms", "create-alias", "--alias-name", "alias/cli-key", "--target-key-id", made["KeyId"])
    assert _aws(srv, "kms", "describe-key", "--key-id", "alias/cli-key")["KeyMetadata"]["Arn"] == made["Arn"]
    assert made["KeyId"] in [k["KeyId"] for k in _aws(srv, "kms", "list-keys")["Keys"]]
    _aws(srv, "kms", "enable-key-rotation", "--key-id", made["KeyId"])
    assert _aws(srv, "kms", "get-key-rotation-status", "--key-id", made["KeyId"])["KeyRotationEnabled"] is True
    src = tmp_path / "doc.txt"
    src.write_bytes(b"sent with aws s3 cp --sse aws:kms" * 1000)
    _aws(srv, "s3api", "create-bucket", "--bucket", "kms-cli-bucket")
    _aws(srv, "s3", "cp", str(src), "s3://kms-cli-bucket/doc.txt", "--sse", "aws:kms", "--sse-kms-key-id",
         "alias/cli-key")
    head = _aws(srv, "s3api", "head-object", "--bucket", "kms-cli-bucket", "--key", "doc.txt")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", made["Arn"])
    back = tmp_path / "back.txt"
    _aws(srv, "s3", "cp", "s3://kms-cli-bucket/doc.txt", str(back))
    assert back.read_bytes() == src.read_bytes()
    _aws(srv, "kms", "disable-key", "--key-id", made["KeyId"])
    assert _aws(srv, "kms", "describe-key", "--key-id", made["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    _aws(srv, "kms", "schedule-key-deletion", "--key-id", made["KeyId"], "--pending-window-in-days", "7")
    _aws(srv, "kms", "cancel-key-deletion", "--key-id", made["KeyId"])
