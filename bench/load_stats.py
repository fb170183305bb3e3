"""Answer latencies and errors of a load run, per OCPP action."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

ALL_ACTIONS = "all"


@dataclass
class LatencyBook:
    """Seconds from sending a call to receiving its answer, kept per action; errors by kind."""

    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)

    def record(self, action: str, seconds: float) -> None:
        self.latencies[action].append(seconds)

    def record_error(self, kind: str) -> None:
        self.errors[kind] += 1

    @property
    def answered(self) -> int:
        return sum(len(samples) for samples in self.latencies.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> dict[str, dict[str, float]]:
        """p50/p99/max in milliseconds and the count, per action and for all actions together."""
        table = {action: _percentiles(samples) for action, samples in sorted(self.latencies.items())}
        every = [seconds for samples in self.latencies.values() for seconds in samples]
        table[ALL_ACTIONS] = _percentiles(every)
        return table


def merge_books(books: list[LatencyBook]) -> LatencyBook:
    """One book with every latency and error of `books` (say, one book per node)."""
    merged = LatencyBook()
    for book in books:
        for action, samples in book.latencies.items():
            merged.latencies[action].extend(samples)
        merged.errors.update(book.errors)
    return merged


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"count": 0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(samples)
    return {
        "count": len(ordered),
        "p50_ms": round(_nearest_rank(ordered, 0.50) * 1000, 2),
        "p99_ms": round(_nearest_rank(ordered, 0.99) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def _nearest_rank(ordered: list[float], quantile: float) -> float:
    index = max(0, min(len(ordered) - 1, math.ceil(quantile * len(ordered)) - 1))
    return ordered[index]


def format_latency_table(summary: dict[str, dict[str, Any]]) -> str:
    lines = [f"  {'action':<20} {'count':>9} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}"]
    for action, row in summary.items():
        figures = f"{row['p50_ms']:>9.2f} {row['p99_ms']:>9.2f} {row['max_ms']:>9.2f}"
        lines.append(f"  {action:<20} {row['count']:>9} {figures}")
    return "\n".join(lines)
