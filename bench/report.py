"""Turn case results into rows (with reference, ratio and target verdict), a text table, JSON and Markdown."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workload import CaseResult, KiB, MiB, size_label, sse_label


@dataclass(frozen=True)
class Target:
    op: str
    size: int
    text: str
    check: Callable[[float, float | None], bool]  # (ops_per_s, ratio) -> met?


TARGETS = (
    Target("GET", 64 * MiB, ">=0.7x nginx", lambda _ops, ratio: ratio is not None and ratio >= 0.7),
    Target("GET", 4 * KiB, ">=0.5x nginx", lambda _ops, ratio: ratio is not None and ratio >= 0.5),
    Target("PUT", 64 * MiB, ">=0.7x disk", lambda _ops, ratio: ratio is not None and ratio >= 0.7),
    Target("PUT", 4 * KiB, ">=1000 op/s", lambda ops, _ratio: ops >= 1000),
)
TARGETED = ("sealbox",)
REFERENCE_NAMES = {"nginx": "nginx", "disk": "disk+fsync"}
COLUMNS = (
    ("case", 14),
    ("size", 6),
    ("conc", 4),
    ("sse", 3),
    ("ops/s", 9),
    ("MB/s", 8),
    ("reference", 24),
    ("ratio", 6),
    ("p50ms", 8),
    ("p99ms", 8),
    ("errors", 6),
    ("cli%", 4),
    ("srv%", 4),
    ("oth%", 4),
    ("target", 24),
)


def _rate_text(name: str, result: CaseResult) -> str:
    if result.spec.size < MiB:
        unit = "files/s" if name == "disk+fsync" else "op/s"
        return f"{name} {result.ops_per_s:.0f} {unit}"
    return f"{name} {result.mb_per_s:.0f} MB/s"


def _reference(result: CaseResult, all_results: list[CaseResult]) -> CaseResult | None:
    """nginx for a GET; for a PUT the disk case measured last before it (the disk's rate drifts)."""
    spec = result.spec
    if spec.target in REFERENCE_NAMES:
        return None
    wanted = "nginx" if spec.op == "GET" else "disk"
    position = next(i for i, r in enumerate(all_results) if r is result)
    candidates = [(i, o) for i, o in enumerate(all_results)
                  if o.spec.target == wanted and o.spec.size == spec.size and o.spec.conc == spec.conc]
    if wanted == "disk":
        candidates = [c for c in candidates if c[0] < position][-1:] or candidates
    return candidates[0][1] if candidates else None


def _verdict(result: CaseResult, ref: CaseResult | None, ratio: float | None) -> str:
    spec = result.spec
    if spec.target not in TARGETED:
        return ""
    for target in TARGETS:
        if target.op == spec.op and target.size == spec.size:
            if result.errors:
                return f"{target.text}: INVALID (errors)"
            if ref is not None and ref.errors:
                return f"{target.text}: INVALID (ref errors)"
            return f"{target.text}: {'PASS' if target.check(result.ops_per_s, ratio) else 'MISS'}"
    return ""


def make_row(result: CaseResult, all_results: list[CaseResult]) -> dict[str, Any]:
    spec = result.spec
    ref = _reference(result, all_results)
    ratio = result.ops_per_s / ref.ops_per_s if ref is not None and ref.ops_per_s > 0 else None
    elapsed = result.elapsed or 1.0
    return {
        "case": spec.name,
        "target": spec.target,
        "op": spec.op,
        "size": spec.size,
        "size_label": size_label(spec.size),
        "conc": spec.conc,
        "sse": spec.sse,
        "ops": result.ok,
        "errors": result.errors,
        "elapsed_s": round(result.elapsed, 3),
        "ops_per_s": round(result.ops_per_s, 1),
        "mb_per_s": round(result.mb_per_s, 1),
        "reference": _rate_text(REFERENCE_NAMES[ref.spec.target], ref) if ref is not None else "",
        "reference_ops_per_s": round(ref.ops_per_s, 1) if ref is not None else None,
        "ratio": round(ratio, 3) if ratio is not None else None,
        "p50_ms": round(result.percentile_ms(0.50), 3),
        "p99_ms": round(result.percentile_ms(0.99), 3),
        "verified": result.verified,
        "verify_failed": result.verify_failed,
        "client_cpu_pct": round(100 * result.client_cpu / elapsed),
        "server_cpu_pct": round(100 * result.server_cpu / elapsed),
        "other_cpu_pct": round(100 * result.other_cpu / elapsed),
        "target_verdict": _verdict(result, ref, ratio),
        "error_kinds": result.error_kinds,
        "error_samples": result.error_samples,
        "notes": result.notes,
    }


def _cells(row: dict[str, Any]) -> list[str]:
    flag = "!" if row["errors"] else ""
    sse = "-" if row["target"].startswith(("nginx", "disk")) else sse_label(row["sse"])
    return [
        row["case"],
        row["size_label"],
        str(row["conc"]),
        sse,
        f"{row['ops_per_s']:.1f}{flag}",
        f"{row['mb_per_s']:.1f}{flag}",
        row["reference"],
        f"{row['ratio']:.2f}" if row["ratio"] is not None else "",
        f"{row['p50_ms']:.2f}",
        f"{row['p99_ms']:.2f}",
        str(row["errors"]),
        str(row["client_cpu_pct"]),
        str(row["server_cpu_pct"]),
        str(row["other_cpu_pct"]),
        row["target_verdict"],
    ]


def text_table(rows: list[dict[str, Any]]) -> str:
    header = "  ".join(name.ljust(width) for name, width in COLUMNS)
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = _cells(row)
        lines.append("  ".join(cell.ljust(width) for cell, (_, width) in zip(cells, COLUMNS, strict=True)))
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(name for name, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def put_ceiling_lines(rows: list[dict[str, Any]], md5_mb_per_cpu_s: float, cores: int) -> list[str]:
    """What the 64 MiB PUT target asks, set against what the machine can do at all.

    A server has to write the body as the disk reference does (page cache, fsync) *and* compute its
    MD5 (the ETag). The reference's own CPU per MB and MD5's CPU per MB, both measured in this run,
    bound any implementation on these cores, before it receives a byte from the socket or encrypts.
    """
    lines = []
    for row in rows:
        if row["target"] != "disk" or row["size"] < 64 * MiB or row["conc"] < cores or not row["mb_per_s"]:
            continue
        disk_cpu_per_mb = row["client_cpu_pct"] / 100 / row["mb_per_s"]
        ceiling = cores / (disk_cpu_per_mb + 1 / md5_mb_per_cpu_s)
        lines.append(
            f"ceiling PUT {row['size_label']} c{row['conc']}: the disk reference used {1000 * disk_cpu_per_mb:.2f} ms"
            f" of CPU per MB and MD5 takes {1000 / md5_mb_per_cpu_s:.2f} ms per MB here, so {cores} cores write"
            f" and hash at most {ceiling:.0f} MB/s = {ceiling / row['mb_per_s']:.2f}x the reference"
            f" (before receiving, encrypting or any server work)"
        )
    return lines


def problems(rows: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for row in rows:
        label = f"{row['case']} {row['size_label']} c{row['conc']} sse={sse_label(row['sse'])}"
        if row["errors"]:
            kinds = ", ".join(f"{kind} x{count}" for kind, count in row["error_kinds"].items())
            out.append(f"{label}: {row['errors']} errors (throughput not trustworthy): {kinds}")
            out += [f"    {sample}" for sample in row["error_samples"]]
        out += [f"{label}: note: {note}" for note in row["notes"]]
    return out


def write_outputs(
    directory: Path, meta: dict[str, Any], rows: list[dict[str, Any]], summary: list[str]
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "latest.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    md = ["# sealbox benchmark (latest run)", ""]
    md += [f"- **{k}**: {v}" for k, v in meta.items()]
    md += ["", markdown_table(rows), ""]
    md += [f"- {line}" if not line.startswith("    ") else line for line in summary]
    (directory / "latest.md").write_text("\n".join(md) + "\n")
