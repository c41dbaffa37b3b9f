"""The shape every benchmark returns: sections of side-by-side rows (ours vs the peer of the same run)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.stats import ratio, summarize


@dataclass
class Row:
    metric: str
    unit: str
    ours_label: str
    ours: dict[str, Any] | None
    peer_label: str = ""
    peer: dict[str, Any] | None = None
    # "ratio": ours/peer of the medians; "delta": ours - peer (signed latencies: a ratio means nothing)
    compare: str = "ratio"

    @property
    def comparison(self) -> float | None:
        if not self.ours or not self.peer or "median" not in self.ours or "median" not in self.peer:
            return None
        if self.compare == "delta":
            return float(self.ours["median"] - self.peer["median"])
        return ratio(self.ours["median"], self.peer["median"])

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "comparison": self.comparison}


def row(
    metric: str,
    unit: str,
    ours_label: str,
    ours: Sequence[float] | None,
    peer_label: str = "",
    peer: Sequence[float] | None = None,
    compare: str = "ratio",
) -> Row:
    return Row(
        metric=metric,
        unit=unit,
        ours_label=ours_label,
        ours=summarize(ours) if ours is not None else None,
        peer_label=peer_label,
        peer=summarize(peer) if peer is not None else None,
        compare=compare,
    )


@dataclass
class Section:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    target: str = ""
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)  # samples and facts, for latest.json only

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "target": self.target,
            "notes": self.notes,
            "rows": [r.to_dict() for r in self.rows],
            "raw": self.raw,
        }
