"""Small pure helpers shared by plugins: score normalization, toleration and node selector matching.

Sources: kube-scheduler ``framework/plugins/helper/normalize_score.go``, ``k8s.io/api/core/v1``
``toleration.go`` (``ToleratesTaint``), ``component-helpers/scheduling/corev1/nodeaffinity``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from minikube_py.api import types
from minikube_py.control.scheduler.framework import MAX_NODE_SCORE

# The only field a matchFields requirement may name (metav1.ObjectNameField).
OBJECT_NAME_FIELD = "metadata.name"


def trunc_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero); Python's ``//`` floors."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def default_normalize_score(scores: list[int], *, reverse: bool, max_priority: int = MAX_NODE_SCORE) -> None:
    """``helper.DefaultNormalizeScore``: scale to ``[0, max_priority]`` by the highest score, in place.

    With ``reverse`` the result is ``max_priority - scaled``; when every score is 0 a reversed list becomes all
    ``max_priority`` and a plain one stays 0.
    """
    highest = max(scores, default=0)
    if highest == 0:
        if reverse:
            scores[:] = [max_priority] * len(scores)
        return
    for i, score in enumerate(scores):
        scaled = max_priority * score // highest
        scores[i] = max_priority - scaled if reverse else scaled


def tolerates(toleration: types.Toleration, taint: types.Taint) -> bool:
    """``Toleration.ToleratesTaint``.

    An empty effect matches every effect, an empty key every key (validation only allows that with Exists);
    the operator ``Exists`` ignores the value, ``Equal`` (or empty) compares it; any other operator matches
    nothing.
    """
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    if toleration.operator in ("", "Equal"):
        return toleration.value == taint.value
    return toleration.operator == "Exists"


def tolerations_tolerate(tolerations: Iterable[types.Toleration], taint: types.Taint) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def find_untolerated_taint(
    taints: Iterable[types.Taint], tolerations: Sequence[types.Toleration]
) -> types.Taint | None:
    """``FindMatchingUntoleratedTaint``: the first taint (in node order) no toleration tolerates."""
    for taint in taints:
        if not tolerations_tolerate(tolerations, taint):
            return taint
    return None


# ----------------------------------------------------------------------------------------------------
# Node selectors


def _parse_int64(text: str) -> int | None:
    """``strconv.ParseInt(s, 10, 64)``: optional sign and decimal digits only."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    value = int(text)
    if not -(1 << 63) <= value < (1 << 63):
        return None
    return value


def requirement_valid(req: types.NodeSelectorRequirement) -> bool:
    """Whether ``labels.NewRequirement`` would accept the requirement (bad ones never match)."""
    op = req.operator
    if op in ("In", "NotIn"):
        return len(req.values) > 0
    if op in ("Exists", "DoesNotExist"):
        return len(req.values) == 0
    if op in ("Gt", "Lt"):
        return len(req.values) == 1 and _parse_int64(req.values[0]) is not None
    return False


def label_requirement_matches(req: types.NodeSelectorRequirement, labels: Mapping[str, str]) -> bool:
    """One matchExpressions entry against node labels (``labels.Requirement.Matches``)."""
    op = req.operator
    if op == "In":
        return req.key in labels and labels[req.key] in req.values
    if op == "NotIn":
        # A missing label is "not in" the set.
        return req.key not in labels or labels[req.key] not in req.values
    if op == "Exists":
        return req.key in labels
    if op == "DoesNotExist":
        return req.key not in labels
    if op in ("Gt", "Lt"):
        if req.key not in labels or len(req.values) != 1:
            return False
        have = _parse_int64(labels[req.key])
        want = _parse_int64(req.values[0])
        if have is None or want is None:
            return False
        return have > want if op == "Gt" else have < want
    return False


def field_requirement_matches(req: types.NodeSelectorRequirement, node_name: str) -> bool:
    """One matchFields entry: only ``metadata.name`` with In/NotIn and exactly one value is valid."""
    if req.key != OBJECT_NAME_FIELD or len(req.values) != 1:
        return False
    if req.operator == "In":
        return node_name == req.values[0]
    if req.operator == "NotIn":
        return node_name != req.values[0]
    return False


def _field_requirement_valid(req: types.NodeSelectorRequirement) -> bool:
    return req.key == OBJECT_NAME_FIELD and req.operator in ("In", "NotIn") and len(req.values) == 1


@dataclass(frozen=True, slots=True)
class CompiledTerm:
    """A NodeSelectorTerm checked once for validity.  An empty or invalid term matches no node."""

    expressions: tuple[types.NodeSelectorRequirement, ...]
    fields: tuple[types.NodeSelectorRequirement, ...]
    valid: bool

    @classmethod
    def of(cls, term: types.NodeSelectorTerm) -> CompiledTerm:
        expressions = tuple(term.match_expressions)
        fields = tuple(term.match_fields)
        valid = (
            bool(expressions or fields)
            and all(requirement_valid(r) for r in expressions)
            and all(_field_requirement_valid(r) for r in fields)
        )
        return cls(expressions, fields, valid)

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        if not self.valid:
            return False
        for req in self.expressions:
            if not label_requirement_matches(req, labels):
                return False
        return all(field_requirement_matches(req, node_name) for req in self.fields)


def compile_terms(terms: Iterable[types.NodeSelectorTerm]) -> tuple[CompiledTerm, ...]:
    return tuple(CompiledTerm.of(t) for t in terms)


def terms_match(terms: Sequence[CompiledTerm], labels: Mapping[str, str], node_name: str) -> bool:
    """NodeSelector semantics: the terms are ORed (and an empty list matches nothing)."""
    return any(term.matches(labels, node_name) for term in terms)


@dataclass(frozen=True, slots=True)
class CompiledPreferred:
    weight: int
    term: CompiledTerm


def compile_preferred(terms: Iterable[types.PreferredSchedulingTerm]) -> tuple[CompiledPreferred, ...]:
    """``nodeaffinity.NewPreferredSchedulingTerms``: terms with weight 0 are dropped."""
    return tuple(CompiledPreferred(t.weight, CompiledTerm.of(t.preference)) for t in terms if t.weight != 0)


def preferred_score(terms: Sequence[CompiledPreferred], labels: Mapping[str, str], node_name: str) -> int:
    """Sum of the weights of the matching preferred terms."""
    return sum(t.weight for t in terms if t.term.matches(labels, node_name))
