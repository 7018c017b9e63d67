"""In-process: who may read the metrics, the access-log line format, the Grafana dashboard's queries."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sealbox.config import Settings
from sealbox.ops.accesslog import AccessLog
from sealbox.ops.health import OpsEndpoints

ROOT = Path(__file__).resolve().parents[2]


def _endpoints(**settings: object) -> OpsEndpoints:
    return OpsEndpoints(Settings(**settings), lambda: None)  # type: ignore[arg-type]


def test_metrics_are_open_to_loopback_and_elsewhere_only_with_the_token_or_when_opened() -> None:
    closed = _endpoints()
    assert closed.metrics_allowed({}, "127.0.0.1") and closed.metrics_allowed({}, "::1")
    assert closed.metrics_allowed({}, "::ffff:127.0.0.1")
    assert not closed.metrics_allowed({}, "10.0.0.5")
    assert not closed.metrics_allowed({"authorization": "Bearer "}, "10.0.0.5")
    token = _endpoints(metrics_token="s3cret-token")
    assert token.metrics_allowed({"authorization": "Bearer s3cret-token"}, "10.0.0.5")
    assert not token.metrics_allowed({"authorization": "Bearer wrong"}, "10.0.0.5")
    assert _endpoints(metrics_public=True).metrics_allowed({}, "203.0.113.9")


def test_access_log_line_is_one_valid_json_object_with_escapes(tmp_path: Path) -> None:
    log = AccessLog(str(tmp_path / "a.log"))
    log.write(started=1700000000.5, duration=0.0012, request_id="ABC", principal="alice", access_key=None,
              remote="127.0.0.1", tls=True, method="PUT", operation="PutObject", bucket="b",
              key='we"ird\nkey\udcff', version_id=None, status=200, error=None, bytes_in=5, bytes_out=0,
              user_agent="ua/1")
    log.close()
    lines = (tmp_path / "a.log").read_bytes().decode("utf-8").splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["time"] == "2023-11-14T22:13:20.500Z" and record["tls"] is True
    assert record["key"].startswith('we"ird\nkey') and record["duration_ms"] == 1.2


def test_grafana_dashboard_queries_only_metrics_sealbox_exposes() -> None:
    source = (ROOT / "sealbox" / "ops" / "metrics.py").read_text()
    exposed = set(re.findall(r'"(sealbox_[a-z0-9_]+)"', source))
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name in re.findall(r"sealbox_[a-z0-9_]+", target["expr"]):
                base = re.sub(r"_(total|bucket|count|sum)$", "", name)
                assert base in exposed, (panel["title"], name)
