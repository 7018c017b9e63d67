"""Helpers of the SSE-KMS tests: a boto3 KMS client for a server, users, raw KMS rows."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.meta_support import bump_tokens as bump_tokens  # re-exported: the KMS tests import it from here
from tests.meta_support import meta_sql
from tests.support import REGION, SEALBOX, Server


def kms_client(server: Server, access_key: str | None = None, secret: str | None = None) -> Any:
    return boto3.client("kms", endpoint_url=server.endpoint, region_name=REGION,
                        aws_access_key_id=access_key or server.access_key,
                        aws_secret_access_key=secret or server.secret_key, config=Config(retries={"max_attempts": 1}))


def s3_client(server: Server, access_key: str, secret: str) -> Any:
    return boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=access_key,
                        aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def error_of(call: Any, **kwargs: Any) -> tuple[int, str]:
    """(HTTP status, error code) of a call that must fail."""
    try:
        call(**kwargs)
    except ClientError as exc:
        return int(exc.response["ResponseMetadata"]["HTTPStatusCode"]), str(exc.response["Error"]["Code"])
    raise AssertionError(f"{call} succeeded")


def add_user(data_dir: Path, name: str) -> tuple[str, str]:
    """``sealbox users add NAME --json``: (access key, secret)."""
    env = {k: v for k, v in os.environ.items() if k != "SEALBOX_MASTER_KEYS"}
    done = subprocess.run([str(SEALBOX), "users", "add", name, "--json", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=60, env=env, check=True)
    made = json.loads(done.stdout)
    return str(made["access_key"]), str(made["secret_key"])


def kms_cli(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(SEALBOX), "kms", *args, "--data-dir", str(data_dir)], capture_output=True, text=True,
                          timeout=60, check=False)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def sql(data_dir: Path, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    return meta_sql(data_dir, statement, params)
