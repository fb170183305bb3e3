"""Answer latencies and errors of a load run, per OCPP action."""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

ALL_ACTIONS = "all"


@dataclass
class LatencyBook:
    """Seconds from sending a call to receiving its answer, kept per action; errors by kind."""

    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    # (time.perf_counter() at the answer, seconds waited) of every answer: pauses show up per second.
    answers: list[tuple[float, float]] = field(default_factory=list)

    def record(self, action: str, seconds: float) -> None:
        self.latencies[action].append(seconds)
        self.answers.append((time.perf_counter(), seconds))

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

    def per_second(self) -> list[dict[str, float]]:
        """Answers, p99 and max answer latency (ms) per second of the run, in order."""
        if not self.answers:
            return []
        first = min(at for at, _seconds in self.answers)
        seconds: defaultdict[int, list[float]] = defaultdict(list)
        for at, waited in self.answers:
            seconds[int(at - first)].append(waited)
        return [{"second": second, **_percentiles(seconds[second])} for second in sorted(seconds)]


def merge_books(books: list[LatencyBook]) -> LatencyBook:
    """One book with every latency and error of `books` (say, one book per node)."""
    merged = LatencyBook()
    for book in books:
        for action, samples in book.latencies.items():
            merged.latencies[action].extend(samples)
        merged.errors.update(book.errors)
        merged.answers.extend(book.answers)
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


def format_timeline(rows: list[dict[str, Any]]) -> str:
    lines = [f"  {'second':>6} {'answers':>8} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}"]
    for row in rows:
        figures = f"{row['p50_ms']:>9.2f} {row['p99_ms']:>9.2f} {row['max_ms']:>9.2f}"
        lines.append(f"  {row['second']:>6} {row['count']:>8} {figures}")
    return "\n".join(lines)
