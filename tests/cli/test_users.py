"""``sealbox users add|list|remove|keys`` against the data directory of a running server.

A running worker trusts a cached secret for up to 5 seconds, so removals are checked by polling
(bounded) until the server refuses the key — never by sleeping a fixed time.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support import REGION, SEALBOX, Server, running_server, unique_bucket

POLL = 0.1
POLLS = 300  # 30 s bound; the cache lasts 5 s


def users(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SEALBOX_MASTER_KEYS"}
    done = subprocess.run([str(SEALBOX), "users", *args, "--data-dir", str(data_dir)], capture_output=True,
                          check=False, text=True, timeout=60, env=env)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def client_of(server: Server, access_key: str, secret: str) -> Any:
    return boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=access_key,
                        aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def code_of(call: Any, **kwargs: Any) -> str | None:
    try:
        call(**kwargs)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None


def until_refused(client: Any) -> str | None:
    """Poll until the server refuses the client's key; the error code, or None if it never did."""
    for _ in range(POLLS):
        code = code_of(client.list_buckets)
        if code is not None:
            return code
        time.sleep(POLL)
    return None


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("users") / "data", workers=2) as server:
        yield server


def test_add_user_shows_the_secret_once_and_it_works(srv: Server) -> None:
    out = users("add", "alice", data_dir=srv.data_dir)
    lines = dict(line.split(":", 1) for line in out.stdout.splitlines() if ":" in line)
    access_key, secret = lines["access key"].strip(), lines["secret key"].strip()
    assert "shown only now" in out.stdout
    alice = client_of(srv, access_key, secret)
    bucket = unique_bucket("alice")
    alice.create_bucket(Bucket=bucket)
    assert [b["Name"] for b in alice.list_buckets()["Buckets"]] == [bucket]
    listed = users("list", data_dir=srv.data_dir).stdout
    assert "alice" in listed and "root" in listed
    keys = users("keys", "alice", data_dir=srv.data_dir).stdout
    assert access_key in keys and secret not in keys  # never shown again
    stored = b"".join(p.read_bytes() for p in srv.data_dir.glob("meta.sqlite3*"))
    assert secret.encode() not in stored and access_key.encode() in stored  # stored sealed


def test_keys_create_and_delete(srv: Server) -> None:
    made = json.loads(users("add", "dave", "--json", data_dir=srv.data_dir).stdout)
    second = json.loads(users("keys", "dave", "--create", "--json", data_dir=srv.data_dir).stdout)
    assert second["access_key"] != made["access_key"]
    listed = json.loads(users("keys", "dave", "--json", data_dir=srv.data_dir).stdout)
    assert {k["access_key"] for k in listed} == {made["access_key"], second["access_key"]}
    first_client = client_of(srv, made["access_key"], made["secret_key"])
    second_client = client_of(srv, second["access_key"], second["secret_key"])
    assert code_of(second_client.list_buckets) is None
    users("keys", "dave", "--delete", made["access_key"], data_dir=srv.data_dir)
    assert until_refused(first_client) == "InvalidAccessKeyId"
    assert code_of(second_client.list_buckets) is None  # the other key still works
    wrong = users("keys", "dave", "--delete", "SBNOSUCHKEY", data_dir=srv.data_dir, check=False)
    assert wrong.returncode == 1 and "no access key" in wrong.stderr


def test_remove_user(srv: Server) -> None:
    made = json.loads(users("add", "erin", "--json", data_dir=srv.data_dir).stdout)
    erin = client_of(srv, made["access_key"], made["secret_key"])
    bucket = unique_bucket("erin")
    erin.create_bucket(Bucket=bucket)
    refused = users("remove", "erin", data_dir=srv.data_dir, check=False)
    assert refused.returncode == 1 and bucket in refused.stderr  # owns a bucket: refused
    erin.delete_bucket(Bucket=bucket)
    out = users("remove", "erin", data_dir=srv.data_dir)
    assert "1 access key" in out.stdout
    assert until_refused(erin) == "InvalidAccessKeyId"
    assert "erin" not in users("list", data_dir=srv.data_dir).stdout
    again = users("keys", "erin", "--create", data_dir=srv.data_dir, check=False)
    assert again.returncode == 1 and "no such user" in again.stderr


def test_refusals(srv: Server) -> None:
    users("add", "frank", "--no-key", data_dir=srv.data_dir)
    assert json.loads(users("keys", "frank", "--json", data_dir=srv.data_dir).stdout) == []
    duplicate = users("add", "frank", data_dir=srv.data_dir, check=False)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    for bad in ["root", "anonymous", "Root", "has space", "x" * 65, "slash/name", ""]:
        done = users("add", bad, data_dir=srv.data_dir, check=False)
        assert done.returncode != 0, bad
        assert "invalid user name" in done.stderr, bad
    root = users("remove", "root", data_dir=srv.data_dir, check=False)
    assert root.returncode == 1 and "cannot be removed" in root.stderr
    missing = users("remove", "nobody", data_dir=srv.data_dir, check=False)
    assert missing.returncode == 1 and "no such user" in missing.stderr


def test_root_can_have_more_keys(srv: Server) -> None:
    made = json.loads(users("keys", "root", "--create", "--json", data_dir=srv.data_dir).stdout)
    extra_root = client_of(srv, made["access_key"], made["secret_key"])
    everyone = {b["Name"] for b in extra_root.list_buckets()["Buckets"]}
    assert everyone == {b["Name"] for b in srv.client().list_buckets()["Buckets"]}  # root sees all


def test_no_data_directory(tmp_path: Path) -> None:
    done = users("list", data_dir=tmp_path / "nothing-here", check=False)
    assert done.returncode == 2 and "not a sealbox data directory" in done.stderr
    assert not (tmp_path / "nothing-here").exists()
