"""Several ``sealbox serve`` gateways on one PostgreSQL database and one shared data directory.

``start_gateways`` starts them one after the other (the first creates the key file and the root
credentials; the others find them), each a real server process on its own loopback port.
``spread_client`` is a boto3 client whose requests go to the gateways in turn: a ``before-sign``
hook sends each request to the next gateway while its Host header (which the signature covers)
stays the first one's — what a load balancer in front does: any request on any gateway, under
one name.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from tests.support import Server, start_server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def start_gateways(data_dir: Path, meta_url: str, n: int = 2, *args: str, workers: int = 1,
                   env: dict[str, str] | None = None, tls_first: bool = False) -> list[Server]:
    """``tls_first``: the first gateway has an HTTPS listener too (the suite's TLS tests use it)."""
    servers: list[Server] = []
    try:
        for i in range(n):
            servers.append(start_server(data_dir, "--meta-url", meta_url, *args, workers=workers, env=env,
                                        tls=tls_first and i == 0))
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


@contextmanager
def running_gateways(data_dir: Path, meta_url: str, n: int = 2, *args: str, **kwargs: Any) -> Iterator[list[Server]]:
    servers = start_gateways(data_dir, meta_url, n, *args, **kwargs)
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def spread_client(servers: list[Server], **config: object) -> S3Client:
    """A client of the first gateway whose requests are spread over all of them, one each in turn."""
    return spread(servers[0].client(False, **config), servers)


def spread(client: S3Client, servers: list[Server]) -> S3Client:
    netlocs = itertools.cycle([urlsplit(s.endpoint).netloc for s in servers])
    lock = threading.Lock()

    def to_next_gateway(request: Any, **_: Any) -> None:
        with lock:
            netloc = next(netlocs)
        parts = urlsplit(request.url)
        if "Host" not in request.headers:  # what a balancer passes on: the name the client used
            request.headers["Host"] = parts.netloc
        request.url = urlunsplit(parts._replace(netloc=netloc))

    client.meta.events.register("before-sign.s3", to_next_gateway)
    return client
