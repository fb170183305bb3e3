"""Scale-out: chargers held per node, OCPP messages/s per node, start_charging under load, 1 to 3 nodes.

Each target (csms, and the transport floor: a bare `websockets` server answering every Call, see
bench/references/echo_websockets.py) is measured in runs:

- **hold**: one node, `--chargers` lean chargers connect and boot (BootNotification, two
  StatusNotifications) and stay connected; server RSS per connection. The phases below then run on this
  node with all of them still held.
- **scale**: for each count in `--nodes`, fresh nodes holding only the `--active` chargers, dealt round
  robin; the same phases, figures per node and in total.

Phases (`--active` chargers, one call outstanding each, back to back, `--warmup` s then `--duration` s
measured): Heartbeat; MeterValues inside a transaction (csms persists them on PostgreSQL); for csms also
MeterValues with `wrk` driving `POST /api/start_charging` on every node at once (app users, answering
chargers spread over the nodes, so most starts cross nodes over NATS).

csms nodes run `csms serve` on a fresh PostgreSQL database with NATS and one JWT secret, as in
production. Node i is pinned to `--server-cores`[i % len]; this process, the answering chargers and wrk
share `--load-core`. Loopback only. Prints a table per run, a summary against the targets and a JSON line.

    .venv/bin/python bench/scale_out.py --chargers 20000 --active 1000 --nodes 1,3 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import uvloop

from answering_chargers import charge_point_ids, spawn_answering_chargers, stop_answering_chargers
from csms_process import use_csms_source
from load_stats import ALL_ACTIONS, LatencyBook
from machine import busy_fraction, core_times, describe, freeze_heap, wait_until_quiet
from remote_start_targets import sign_up_users_at
from scale_out_nodes import (
    TARGETS,
    Cluster,
    ClusterSpec,
    fresh_database,
    postgres_cpu_seconds,
    start_csms_nodes,
    start_echo_servers,
    stop_cluster,
)
from scale_out_phases import PHASE_STEPS, Fleet, PhaseResult, connect_fleet, run_phase, start_transactions
from wrk_load import WrkResult, run_wrk, write_lua_script

CHARGER_PASSWORD = "scale-out-bench-0123456"  # a throwaway database; 16-40 characters
MAX_CHARGERS, MAX_NODES, MAX_DURATION = 30_000, 4, 120.0
OPEN_FILES = 65_536
TARGETS_TO_MEET = {
    "chargers_held_per_node": 20_000,
    "kib_per_connection_at_most": 40.0,
    "heartbeats_per_s_per_node": 10_000,
    "meter_values_per_s_per_node": 3_000,
}


@dataclass(frozen=True)
class Options:
    targets: tuple[str, ...]
    chargers: int
    active: int
    nodes: tuple[int, ...]
    duration: float
    warmup: float
    batch: int
    remote_chargers: int
    users: int
    wrk_connections: int
    server_cores: tuple[int, ...]
    load_core: int
    bus_url: str
    csms_src: Path | None
    quiet_timeout: float


@dataclass(frozen=True)
class Run:
    """One measurement: `nodes` fresh servers of `target` holding `held` chargers."""

    kind: str  # "hold" or "scale"
    target: str
    nodes: int
    held: int


def plan(options: Options) -> list[Run]:
    runs = []
    for target in options.targets:
        if options.chargers > options.active or 1 not in options.nodes:
            runs.append(Run("hold", target, 1, options.chargers))
        runs += [Run("scale", target, count, options.active) for count in options.nodes]
    return runs


# -- gauges ---------------------------------------------------------------------------------------


class Gauges:
    """CPU of every node, of the PostgreSQL backends and of each core, between `start` and `stop`."""

    def __init__(self, cluster: Cluster, options: Options) -> None:
        self._cluster = cluster
        self._cores = sorted({*options.server_cores, options.load_core})
        self._load_core = options.load_core

    async def _read(self) -> tuple[float, list[float], float, dict[int, tuple[int, int]]]:
        postgres = await postgres_cpu_seconds(self._cluster.database)
        cores = {core: core_times(core) for core in self._cores}
        return time.perf_counter(), self._cluster.cpu_seconds(), postgres, cores

    async def start(self) -> None:
        self._before = await self._read()

    async def stop(self) -> dict[str, Any]:
        after = await self._read()
        wall = after[0] - self._before[0]
        return {
            "node_cpu_percent": [
                round(100 * (b - a) / wall, 1) for a, b in zip(self._before[1], after[1], strict=True)
            ],
            "postgres_cpu_percent": round(100 * (after[2] - self._before[2]) / wall, 1),
            "core_busy_percent": {
                core: round(100 * busy_fraction(self._before[3][core], after[3][core]), 1) for core in self._cores
            },
        }


# -- one run --------------------------------------------------------------------------------------


@dataclass
class StartChargingLoad:
    """wrk on every node's POST /api/start_charging, for chargers that answer every call."""

    script: Path
    ports: list[int]
    connections: int
    core: int

    async def run(self, duration: float) -> list[WrkResult]:
        per_node = max(1, self.connections // len(self.ports))
        return list(
            await asyncio.gather(
                *(
                    asyncio.to_thread(
                        run_wrk,
                        url=f"http://127.0.0.1:{port}/api/start_charging",
                        script=self.script,
                        duration=duration,
                        connections=per_node,
                        threads=1,
                        core=self.core,
                    )
                    for port in self.ports
                )
            )
        )


def _phase_report(result: PhaseResult, gauges: dict[str, Any], fleet: Fleet) -> dict[str, Any]:
    merged = result.merged()
    rates = result.per_node_rates()
    return {
        "seconds": round(result.seconds, 2),
        "messages_per_s": round(merged.answered / result.seconds, 1),
        "messages_per_s_per_node": rates,
        # what a node would answer with a whole core to itself: answers per second of its own CPU time
        "messages_per_node_cpu_second": [
            round(100 * rate / cpu) if cpu else None
            for rate, cpu in zip(rates, gauges["node_cpu_percent"], strict=True)
        ],
        "errors": merged.error_count,
        "errors_in_warmup": result.warmup_errors,
        "error_kinds": dict(merged.errors.most_common(5)),
        "connections_open_after": fleet.open_count(),
        "latency": merged.summary(),
        **gauges,
    }


def _wrk_report(results: list[WrkResult]) -> dict[str, Any]:
    requests = sum(result.requests for result in results)
    return {
        "requests_per_s": round(sum(result.requests_per_second for result in results), 1),
        "requests": requests,
        "failed": sum(result.non_2xx + result.socket_errors for result in results),
        # one wrk per node: its median and p99; the worst node's p99 is the figure to quote
        "p50_ms_per_node": [result.p50_us / 1000 for result in results],
        "p99_ms_per_node": [result.p99_us / 1000 for result in results],
        "p99_ms_worst_node": max(result.p99_us for result in results) / 1000,
    }


async def _measure_phase(
    name: str, fleet: Fleet, cluster: Cluster, options: Options, load: StartChargingLoad | None = None
) -> dict[str, Any]:
    gauges = Gauges(cluster, options)
    step = PHASE_STEPS["meter_values" if name == "start_charging" else name]
    during = (lambda: load.run(options.duration)) if load is not None else None
    result, wrk_results = await run_phase(
        fleet,
        active=options.active,
        step=step,
        warmup=options.warmup,
        duration=options.duration,
        during=during,
        on_measure=gauges.start,
    )
    report = _phase_report(result, await gauges.stop(), fleet)
    if wrk_results:
        report["start_charging"] = _wrk_report(wrk_results)
    _print_phase(name, report)
    return report


async def _hold(run: Run, cluster: Cluster, options: Options, ids: list[str]) -> tuple[Fleet, dict[str, Any]]:
    book = LatencyBook()
    rss_before = cluster.rss_bytes()
    started = time.perf_counter()
    fleet = await connect_fleet(ports=cluster.ports, ids=ids, password=CHARGER_PASSWORD, batch=options.batch, book=book)
    freeze_heap()
    seconds = time.perf_counter() - started
    await asyncio.sleep(3)  # let the servers settle (message log flushed, group commits done)
    rss_after, held = cluster.rss_bytes(), fleet.open_count()
    growth = sum(after - before for before, after in zip(rss_before, rss_after, strict=True))
    report = {
        "connections_held": held,
        "seconds": round(seconds, 1),
        "connections_per_s": round(len(fleet.chargers) / seconds, 1),
        "rss_mib_before": [round(value / 2**20, 1) for value in rss_before],
        "rss_mib_held": [round(value / 2**20, 1) for value in rss_after],
        "kib_per_connection": round(growth / max(held, 1) / 1024, 1),
        "errors": book.error_count,
        "error_kinds": dict(book.errors.most_common(5)),
        "boot_latency": book.summary()[ALL_ACTIONS],
    }
    _print_hold(run, report)
    return fleet, report


async def _load(run: Run, cluster: Cluster, options: Options, ids: list[str], load: StartChargingLoad | None) -> dict:
    fleet, hold = await _hold(run, cluster, options, ids)
    # the nodes also hold the answering chargers, connected before the RSS baseline was read
    report: dict[str, Any] = {"hold": hold, "answering_chargers": options.remote_chargers if load else 0}
    try:
        report["heartbeat"] = await _measure_phase("heartbeat", fleet, cluster, options)
        report["transactions_refused"] = await start_transactions(fleet, options.active)
        report["meter_values"] = await _measure_phase("meter_values", fleet, cluster, options)
        if load is not None:
            report["start_charging"] = await _measure_phase("start_charging", fleet, cluster, options, load)
    finally:
        fleet.close()
        await asyncio.sleep(0.5)
    return report


def measure(
    run: Run, options: Options, workdir: Path, csms_environment: dict[str, str], open_files: int
) -> dict[str, Any]:
    quiet = wait_until_quiet(timeout=options.quiet_timeout) if options.quiet_timeout else {}
    print(f"\n== {run.kind}: {run.target}, {run.nodes} node(s), {run.held} chargers held; load {quiet}")
    prefix = f"SO{os.getpid() % 10_000:04d}{run.target[0].upper()}{run.nodes}-"
    ids = [f"{prefix}{index:05d}" for index in range(run.held)]
    remote_ids = charge_point_ids(f"{prefix}R", options.remote_chargers)
    spec = ClusterSpec(run.target, run.nodes, options.server_cores, open_files, options.bus_url, workdir)
    if run.target == "echo":
        return {
            "run": asdict(run),
            "machine_load": quiet,
            **_measure_cluster(run, start_echo_servers(spec), options, ids),
        }
    with fresh_database(ids + remote_ids, CHARGER_PASSWORD) as database:
        cluster = start_csms_nodes(spec, database, csms_environment)
        try:
            tokens = sign_up_users_at(cluster.ports[0], options.users)
        except BaseException:
            stop_cluster(cluster)
            raise
        script = write_lua_script(workdir / "start_charging.lua", tokens=tokens, evse_ids=remote_ids)
        load = StartChargingLoad(script, cluster.ports, options.wrk_connections, options.load_core)
        return {"run": asdict(run), "machine_load": quiet, **_measure_cluster(run, cluster, options, ids, load, prefix)}


def _measure_cluster(
    run: Run,
    cluster: Cluster,
    options: Options,
    ids: list[str],
    load: StartChargingLoad | None = None,
    prefix: str = "",
) -> dict[str, Any]:
    answering = None
    try:
        if load is not None:
            answering = spawn_answering_chargers(
                urls=cluster.ocpp_urls(),
                count=options.remote_chargers,
                prefix=f"{prefix}R",
                password=CHARGER_PASSWORD,
                core=options.load_core,
            )
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(_load(run, cluster, options, ids, load))
    finally:
        if answering is not None:
            stop_answering_chargers(answering)
        stop_cluster(cluster)


# -- output ---------------------------------------------------------------------------------------


def _print_hold(run: Run, hold: dict[str, Any]) -> None:
    print(f"  held {hold['connections_held']}/{run.held} in {hold['seconds']} s ({hold['connections_per_s']}/s)")
    print(f"  RSS {hold['rss_mib_before']} -> {hold['rss_mib_held']} MiB: {hold['kib_per_connection']} KiB/connection")
    print(f"  errors {hold['errors']} {hold['error_kinds'] or ''}")


def _print_phase(name: str, phase: dict[str, Any]) -> None:
    overall = phase["latency"][ALL_ACTIONS]
    print(f"  {name}: {phase['messages_per_s']} msg/s (per node {phase['messages_per_s_per_node']}),")
    print(
        f"    p50 {overall['p50_ms']} ms, p99 {overall['p99_ms']} ms, errors {phase['errors']} {phase['error_kinds']}"
    )
    cpu = f"nodes {phase['node_cpu_percent']} %, postgres {phase['postgres_cpu_percent']} %"
    print(f"    answers per node CPU-second {phase['messages_per_node_cpu_second']}")
    print(f"    CPU: {cpu}, cores busy {phase['core_busy_percent']}")
    if "start_charging" in phase:
        wrk = phase["start_charging"]
        print(f"    start_charging: {wrk['requests_per_s']} req/s, p50 {wrk['p50_ms_per_node']} ms,")
        print(f"      p99 {wrk['p99_ms_per_node']} ms, failed {wrk['failed']}")


def summary(results: list[dict[str, Any]]) -> list[str]:
    lines = ["", "Summary (msg/s in total; per node in brackets)"]
    header = (
        f"  {'target':<6} {'run':<6} {'nodes':>5} {'held':>6} {'KiB/conn':>9} {'Heartbeat/s':>22} {'MeterValues/s':>22}"
    )
    lines.append(header + "  start_charging p50/p99 ms")
    for result in results:
        run, hold = result["run"], result["hold"]
        beats, meters = result["heartbeat"], result["meter_values"]
        start = result.get("start_charging", {}).get("start_charging")
        start_text = f"{max(start['p50_ms_per_node']):.1f} / {start['p99_ms_worst_node']:.1f}" if start else "-"
        lines.append(
            f"  {run['target']:<6} {run['kind']:<6} {run['nodes']:>5} {hold['connections_held']:>6}"
            f" {hold['kib_per_connection']:>9.1f} {_rates(beats):>22} {_rates(meters):>22}  {start_text}"
        )
    lines.append(f"  targets: {TARGETS_TO_MEET}")
    return lines


def _rates(phase: dict[str, Any]) -> str:
    per_node = phase["messages_per_s_per_node"]
    detail = f" [{', '.join(f'{rate:.0f}' for rate in per_node)}]" if len(per_node) > 1 else ""
    return f"{phase['messages_per_s']:.0f}{detail}"


# -- command line ---------------------------------------------------------------------------------


def _cores(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="echo,csms", help="comma-separated subset of " + ", ".join(TARGETS))
    parser.add_argument("--chargers", type=int, default=19_800, help="chargers held by one node (hold run)")
    parser.add_argument("--active", type=int, default=1000, help="chargers sending in the phases")
    parser.add_argument("--nodes", default="1,3", help="node counts of the scale runs (default 1,3)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each phase")
    parser.add_argument("--batch", type=int, default=500, help="chargers connecting at once")
    parser.add_argument("--remote-chargers", type=int, default=100, help="chargers answering start_charging")
    parser.add_argument("--users", type=int, default=100, help="app users calling start_charging")
    parser.add_argument("--wrk-connections", type=int, default=12, help="wrk connections, split over the nodes")
    parser.add_argument("--server-cores", default="0", help="cores for the nodes, dealt round robin (default 0)")
    parser.add_argument("--load-core", type=int, default=1, help="core for the load generators (default 1)")
    parser.add_argument("--bus-url", default="nats://127.0.0.1:4222")
    parser.add_argument("--csms-src", type=Path, help="run csms from this src directory (e.g. a HEAD snapshot)")
    parser.add_argument("--quiet-timeout", type=float, default=600, help="max s to wait for other suites per run")
    args = parser.parse_args(argv)
    options = Options(
        targets=tuple(name.strip() for name in args.targets.split(",") if name.strip()),
        chargers=args.chargers,
        active=min(args.active, args.chargers),
        nodes=_cores(args.nodes),
        duration=args.duration,
        warmup=args.warmup,
        batch=max(args.batch, 1),
        remote_chargers=args.remote_chargers,
        users=args.users,
        wrk_connections=args.wrk_connections,
        server_cores=_cores(args.server_cores),
        load_core=args.load_core,
        bus_url=args.bus_url,
        csms_src=args.csms_src.resolve() if args.csms_src else None,
        quiet_timeout=max(args.quiet_timeout, 0.0),
    )
    _check(parser, options)
    return options


def _check(parser: argparse.ArgumentParser, options: Options) -> None:
    if not options.targets or set(options.targets) - set(TARGETS):
        parser.error(f"--targets: choose from {', '.join(TARGETS)}")
    if not 1 <= options.chargers <= MAX_CHARGERS or options.active < 1:
        parser.error(f"--chargers must be 1 to {MAX_CHARGERS} and --active at least 1")
    if not options.nodes or not all(1 <= count <= MAX_NODES for count in options.nodes):
        parser.error(f"--nodes: counts from 1 to {MAX_NODES}")
    if not 1 <= options.duration <= MAX_DURATION or not 0 <= options.warmup <= MAX_DURATION:
        parser.error(f"--duration and --warmup must be at most {MAX_DURATION:.0f} s")
    cores = os.cpu_count() or 1
    if options.load_core in options.server_cores or max(*options.server_cores, options.load_core) >= cores:
        parser.error("--server-cores and --load-core must be different cores of this machine")


def raise_open_file_limit() -> int:
    """Raise this process's open-file limit as far as allowed; the limit the servers get too.

    Raising the hard limit needs CAP_SYS_RESOURCE; without it (a container) the hard limit is the ceiling
    for every process, and a node holds at most that many sockets minus its own few files.
    """
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(hard, OPEN_FILES) if hard != resource.RLIM_INFINITY else OPEN_FILES
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
        return wanted
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return int(hard)


def main(argv: list[str] | None = None) -> int:
    options = _parse(argv)
    csms_environment = use_csms_source(options.csms_src)
    open_files = raise_open_file_limit()
    os.sched_setaffinity(0, {options.load_core})
    results = []
    with tempfile.TemporaryDirectory(prefix="scale-out-") as workdir:
        for run in plan(options):
            results.append(measure(run, options, Path(workdir), csms_environment, open_files))
    print("\n".join(summary(results)))
    machine = {**describe(), "open_files_limit": open_files}
    report = {"benchmark": "scale_out", "options": asdict(options), "machine": machine, "runs": results}
    print("\n" + json.dumps(report, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
