"""Render sections as a plain-text table (stdout) and Markdown; write bench/results/latest.{json,md}."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from bench.report_model import Row, Section

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
HEADER = [
    "metric",
    "unit",
    "ours",
    "n",
    "median",
    "p95",
    "p99~",
    "IQR",
    "peer (same run)",
    "median",
    "p95",
    "p99~",
    "IQR",
    "ours vs peer",
]


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "KiB":
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"
    return f"{value:.2f}"


def _stats_cells(summary: dict[str, Any] | None, unit: str) -> list[str]:
    if not summary or not summary.get("n"):
        return ["–"] * 4
    return [_num(summary[k], unit) for k in ("median", "p95", "p99", "iqr")]


def _comparison(r: Row) -> str:
    value = r.comparison
    if value is None:
        return ""
    return f"{value:+.2f} ms" if r.compare == "delta" else f"{value:.2f}×"


def row_cells(r: Row) -> list[str]:
    n_ours = r.ours.get("n") if r.ours else None
    n_peer = r.peer.get("n") if r.peer else None
    n = str(n_ours if n_ours is not None else n_peer)
    if n_ours is not None and n_peer is not None and n_peer != n_ours:
        n += f"/{n_peer}"
    return [
        r.metric,
        r.unit,
        r.ours_label,
        n,
        *_stats_cells(r.ours, r.unit),
        r.peer_label,
        *(_stats_cells(r.peer, r.unit) if r.peer_label else [""] * 4),
        _comparison(r),
    ]


def _text_table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_table(rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("---" for _ in rows[0]) + "|")
    return "\n".join(lines)


def _footer(section: Section) -> list[str]:
    lines = [f"target: {section.target}"] if section.target else []
    return lines + [f"- {note}" for note in section.notes]


def render_text(sections: Sequence[Section], errors: dict[str, str]) -> str:
    out: list[str] = []
    for s in sections:
        out += [f"== {s.title}", _text_table([HEADER, *(row_cells(r) for r in s.rows)]), *_footer(s), ""]
    out += [f"!! {name} failed: {err}" for name, err in errors.items()]
    out.append(
        "p99~ = nearest-rank p99 when n ≥ 100, else the maximum.  ×: ratio of medians ours/peer; "
        "ms: difference of medians ours − peer."
    )
    return "\n".join(out)


def render_markdown(sections: Sequence[Section], errors: dict[str, str], meta: dict[str, Any]) -> str:
    out = [
        "# minikube_py runtime benchmarks",
        "",
        f"`{meta.get('command', '')}` — {meta.get('finished', '')}",
        "",
    ]
    for s in sections:
        out += [f"## {s.title}", "", _md_table([HEADER, *(row_cells(r) for r in s.rows)]), ""]
        out += [*_footer(s), ""]
    out += [f"**{name} failed:** {err}" for name, err in errors.items()]
    out.append("p99~ = nearest-rank p99 when n ≥ 100, else the maximum.")
    return "\n".join(out) + "\n"


def write(sections: Sequence[Section], errors: dict[str, str], meta: dict[str, Any]) -> tuple[str, str]:
    os.makedirs(RESULTS_DIR, exist_ok=True)
    json_path = os.path.join(RESULTS_DIR, "latest.json")
    md_path = os.path.join(RESULTS_DIR, "latest.md")
    with open(json_path, "w") as f:
        json.dump({"meta": meta, "errors": errors, "sections": [s.to_dict() for s in sections]}, f, indent=1)
    with open(md_path, "w") as f:
        f.write(render_markdown(sections, errors, meta))
    return json_path, md_path
