"""Timing: clients interleaved in rounds, per-call latencies, process CPU and server CPU."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from server import cpu_ns


@dataclass
class Tally:
    """Everything measured for one client in one scenario, summed over rounds."""

    latencies_ns: list[int] = field(default_factory=list)
    calls: int = 0
    items: int = 0  # chunks, for streams
    wall_ns: int = 0
    cpu_ns: int = 0
    server_ns: int = 0

    def add(self, other: Tally) -> None:
        self.latencies_ns += other.latencies_ns
        self.calls += other.calls
        self.items += other.items
        self.wall_ns += other.wall_ns
        self.cpu_ns += other.cpu_ns
        self.server_ns += other.server_ns

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ns)
        out: dict[str, Any] = {"calls": self.calls}
        if lat:
            out["p50_us"] = percentile(lat, 50) / 1e3
            out["p99_us"] = percentile(lat, 99) / 1e3
            out["mean_us"] = statistics.fmean(lat) / 1e3
        wall = self.wall_ns / 1e9
        if wall > 0:
            out["calls_per_s"] = self.calls / wall
            out["cpu_us_per_call"] = self.cpu_ns / 1e3 / max(self.calls, 1)
            out["client_cpu_pct"] = 100 * self.cpu_ns / self.wall_ns
            out["server_cpu_pct"] = 100 * self.server_ns / self.wall_ns
            out["server_cpu_us_per_call"] = self.server_ns / 1e3 / max(self.calls, 1)
            if self.items:
                out["items"] = self.items
                out["items_per_s"] = self.items / wall
                out["cpu_ns_per_item"] = self.cpu_ns / self.items
        return out


def percentile(sorted_values: list[int], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


class Meter:
    """Wall, process CPU (all threads, the SDK's runtime threads included) and server CPU
    between ``start()`` and ``stop()``."""

    def __init__(self, server_pids: list[int]) -> None:
        self.server_pids = server_pids

    def start(self) -> None:
        gc.collect()
        self.s0 = cpu_ns(self.server_pids)
        self.c0 = time.process_time_ns()
        self.w0 = time.perf_counter_ns()

    def stop(self, tally: Tally) -> None:
        w1 = time.perf_counter_ns()
        c1 = time.process_time_ns()
        s1 = cpu_ns(self.server_pids)
        tally.wall_ns += w1 - self.w0
        tally.cpu_ns += c1 - self.c0
        tally.server_ns += s1 - self.s0


def sequential(op: Callable[[], Any], n: int, meter: Meter) -> Tally:
    """`n` calls one after another, each timed."""
    t = Tally()
    lat = t.latencies_ns
    clock = time.perf_counter_ns
    meter.start()
    for _ in range(n):
        t0 = clock()
        op()
        lat.append(clock() - t0)
    meter.stop(t)
    t.calls = n
    return t


def interleaved(
    ops: dict[str, Callable[[Meter], Tally]],
    rounds: int,
    meter: Meter,
    warmup: Callable[[str], None] | None = None,
) -> dict[str, Tally]:
    """Runs every client's batch once per round, rotating the order each round so no client
    always follows the same neighbour."""
    names = list(ops)
    if warmup is not None:
        for name in names:
            warmup(name)
    totals = {name: Tally() for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            totals[name].add(ops[name](meter))
    return totals
