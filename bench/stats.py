"""Order statistics for small, noisy samples (nearest-rank percentiles; no interpolation)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

P99_MIN_N = 100  # below this, the "p99" column is the maximum and is labelled so


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """n, median, p95, p99 (or max when n < 100), min, max, IQR and mean of a sample."""
    if not values:
        return {"n": 0}
    n = len(values)
    return {
        "n": n,
        "median": statistics.median(values),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99) if n >= P99_MIN_N else max(values),
        "p99_is_max": n < P99_MIN_N,
        "min": min(values),
        "max": max(values),
        "iqr": percentile(values, 75) - percentile(values, 25),
        "mean": statistics.fmean(values),
        "stdev": statistics.stdev(values) if n > 1 else 0.0,
    }


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b
