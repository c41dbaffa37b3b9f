"""The decision trace of one scheduling cycle: why each node passed or failed, and how it scored.

Not a Kubernetes feature.  kube-scheduler only logs per-plugin scores at high verbosity; here every
``schedule_one`` returns its trace so ``describe`` can show why a node won or why none fit.

Recording is cheap because it reuses what the cycle computes anyway: the failing status of each rejected
node (Filter plugins run in order and stop at the first failure, so the plugins before it passed and the
ones after it did not run), and the raw and normalized score lists of each Score plugin.  ``to_dict()``
expands that into a JSON-serializable document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minikube_py.control.scheduler.framework import Code, Status

NOT_EVALUATED = "NotEvaluated"


def _status_entry(plugin: str, status: Status | None) -> dict[str, Any]:
    if status is None:
        return {"plugin": plugin, "code": Code.SUCCESS.value}
    entry: dict[str, Any] = {"plugin": plugin, "code": status.code.value}
    if status.reasons:
        entry["reasons"] = list(status.reasons)
    return entry


@dataclass(slots=True)
class ScoreRecord:
    plugin: str
    weight: int
    raw: list[int]
    normalized: list[int]


@dataclass(slots=True)
class DecisionTrace:
    pod: str
    profile: str
    num_all_nodes: int = 0
    # (plugin, result) per PreFilter / PreScore plugin that ran; None = success.
    pre_filter: list[tuple[str, Status | None]] = field(default_factory=list)
    pre_score: list[tuple[str, Status | None]] = field(default_factory=list)
    # The Filter plugins that ran for this pod, in order (those skipped at PreFilter excluded).
    filter_plugins: list[str] = field(default_factory=list)
    # Node names in the order they were filtered.
    evaluated: list[str] = field(default_factory=list)
    # node name -> the status of the Filter plugin that rejected it (or the PreFilter rejection).
    rejections: dict[str, Status] = field(default_factory=dict)
    # Node names that passed every filter, in evaluation order (the score lists follow this order).
    feasible: list[str] = field(default_factory=list)
    scores: list[ScoreRecord] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)
    # Why scoring did not run, if it did not ("only one feasible node").
    scoring_skipped: str = ""
    # (plugin, nominated node, status) per PostFilter plugin that ran.
    post_filter: list[tuple[str, str | None, Status]] = field(default_factory=list)
    selected: str | None = None
    tied_nodes: int = 0
    message: str = ""
    # The PreFilter plugin whose rejection applies to every node, if any.
    rejected_at_pre_filter: str = ""

    def node_entry(self, name: str, feasible_index: dict[str, int] | None = None) -> dict[str, Any]:
        """The trace of one node: its filter verdicts, then its scores if it was feasible."""
        if feasible_index is None:
            feasible_index = self._feasible_index()
        entry: dict[str, Any] = {"name": name}
        rejection = self.rejections.get(name)
        if self.rejected_at_pre_filter:
            entry["feasible"] = False
            entry["filters"] = [_status_entry(self.rejected_at_pre_filter, rejection)]
            return entry
        filters: list[dict[str, Any]] = []
        for plugin in self.filter_plugins:
            if rejection is not None and rejection.plugin == plugin:
                filters.append(_status_entry(plugin, rejection))
                break
            filters.append(_status_entry(plugin, None))
        entry["feasible"] = rejection is None
        entry["filters"] = filters
        i = feasible_index.get(name)
        if rejection is None and i is not None and not self.scoring_skipped:
            entry["scores"] = [
                {
                    "plugin": s.plugin,
                    "raw": s.raw[i],
                    "normalized": s.normalized[i],
                    "weight": s.weight,
                    "weighted": s.normalized[i] * s.weight,
                }
                for s in self.scores
            ]
            if self.totals:
                entry["total"] = self.totals[i]
        return entry

    def _feasible_index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.feasible)}

    def to_dict(self) -> dict[str, Any]:
        index = self._feasible_index()
        nodes = [self.node_entry(name, index) for name in self.evaluated]
        out: dict[str, Any] = {
            "pod": self.pod,
            "profile": self.profile,
            "numAllNodes": self.num_all_nodes,
            "evaluatedNodes": len(self.evaluated),
            "feasibleNodes": len(self.feasible),
            "preFilter": [_status_entry(p, s) for p, s in self.pre_filter],
            "filterPlugins": list(self.filter_plugins),
            "preScore": [_status_entry(p, s) for p, s in self.pre_score],
            "scorePlugins": [{"plugin": s.plugin, "weight": s.weight} for s in self.scores],
            "nodes": nodes,
            "selected": self.selected,
            "tiedNodes": self.tied_nodes,
        }
        if self.scoring_skipped:
            out["scoringSkipped"] = self.scoring_skipped
        if self.post_filter:
            out["postFilter"] = [
                {**_status_entry(p, s), "nominatedNode": nominated} for p, nominated, s in self.post_filter
            ]
        if self.message:
            out["message"] = self.message
        return out

    def ranking(self) -> list[tuple[str, int]]:
        """Feasible nodes by total score, best first (ties in evaluation order)."""
        order = sorted(range(len(self.feasible)), key=lambda i: -self.totals[i] if self.totals else 0)
        return [(self.feasible[i], self.totals[i] if self.totals else 0) for i in order]
