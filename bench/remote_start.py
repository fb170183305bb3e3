"""Remote start end to end: many app users starting charging on many simulated chargers at once.

Measures throughput and p50/p99 latency of `POST /api/start_charging` (bearer token in, the charger's
RemoteStartTransaction answer out) for csms and, on the same load and the same pinned core, for two
references in bench/references/: (a) the tutorial design (Flask + flask-jwt-extended, a `websockets`
OCPP server on a second thread, run_coroutine_threadsafe) and (b) a transport floor (uvicorn and the
`ocpp` package, no auth, no database).

Each server is pinned to core 0; `wrk` and the lean answering chargers share core 1. Per target: start
the server, sign up the users, connect the chargers, warm up, then measure for `--duration` seconds.
The chargers boot and report their connector; with `--no-status` they only boot (csms then knows no
connector of theirs). With `--ocpp 2.0.1` csms's chargers are 2.0.1 stations (RequestStartTransaction);
the references speak only 1.6 and keep 1.6 chargers. Prints a table and one JSON line. Needs `wrk`
(apt-get install wrk) and `pip install -e '.[bench]'`.

    .venv/bin/python bench/remote_start.py --duration 15 --connections 64 --users 200 --chargers 500
    .venv/bin/python bench/remote_start.py --no-status --ocpp 2.0.1
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from answering_chargers import GREETINGS, spawn_answering_chargers, stop_answering_chargers
from machine import busy_fraction, core_times, describe
from remote_start_targets import (
    CHARGER_PASSWORD,
    TARGET_LABELS,
    Server,
    sign_up_users,
    start_target,
    use_csms_source,
    wait_until_ready,
)
from wrk_load import WrkResult, run_wrk, write_lua_script

CHARGER_PREFIX = "CP"
TARGETS = ("tutorial", "floor", "csms")
MAX_DURATION, MAX_USERS, MAX_CHARGERS, MAX_CONNECTIONS = 300, 5000, 5000, 1024
TARGETS_TO_MEET = {
    "throughput_vs_tutorial": 3.0,
    "tutorial_p99_over_csms_p99": 3.0,
    "throughput_vs_floor": 0.75,
}


@dataclass(frozen=True)
class Options:
    duration: int
    warmup: int
    connections: int
    wrk_threads: int
    users: int
    chargers: int
    targets: tuple[str, ...]
    server_core: int
    load_core: int
    csms_src: Path | None
    ocpp: str
    with_status: bool

    def charger_version(self, target: str) -> str:
        """The references speak only OCPP 1.6; `--ocpp` picks csms's."""
        return self.ocpp if target == "csms" else "1.6"


@dataclass(frozen=True)
class Measurement:
    target: str
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    server_core_busy: float
    load_core_busy: float
    charger_calls_answered: int
    chargers_lost: int


def main() -> None:
    options = _parse_options()
    csms_environment = use_csms_source(options.csms_src)
    with tempfile.TemporaryDirectory(prefix="remote-start-") as workdir:
        measurements = [measure_target(name, options, Path(workdir), csms_environment) for name in options.targets]
    report = _report(options, measurements)
    greeting = "boot and StatusNotification" if options.with_status else "boot only, no StatusNotification"
    print(f"chargers: csms's OCPP {options.ocpp}, the references' 1.6; {greeting}")
    print(_format_table(measurements, report["ratios"]))
    print(json.dumps(report))


def measure_target(name: str, options: Options, workdir: Path, csms_environment: dict[str, str]) -> Measurement:
    evse_ids = [f"{CHARGER_PREFIX}{number:05d}" for number in range(1, options.chargers + 1)]
    server = start_target(
        name,
        workdir=workdir,
        core=options.server_core,
        charge_point_ids=evse_ids,
        csms_environment=csms_environment,
    )
    try:
        wait_until_ready(server)
        tokens = sign_up_users(server, options.users)
        script = write_lua_script(workdir / f"{name}.lua", tokens=tokens, evse_ids=evse_ids)
        chargers = spawn_answering_chargers(
            urls=[server.ocpp_url],
            count=options.chargers,
            prefix=CHARGER_PREFIX,
            password=CHARGER_PASSWORD,
            core=options.load_core,
            ocpp=options.charger_version(name),
            with_status=options.with_status,
        )
        try:
            if options.warmup:
                _run_wrk(server, script, options, options.warmup)
            before = (server.cpu_seconds(), core_times(options.load_core), time.monotonic())
            result = _run_wrk(server, script, options, options.duration)
            after = (server.cpu_seconds(), core_times(options.load_core), time.monotonic())
        finally:
            answered, lost = stop_answering_chargers(chargers)
    finally:
        server.stop()
    wall = after[2] - before[2]
    return _measurement(
        name,
        result,
        server_core_busy=(after[0] - before[0]) / wall,
        load_core_busy=busy_fraction(before[1], after[1]),
        answered=answered,
        lost=lost,
    )


def _run_wrk(server: Server, script: Path, options: Options, duration: int) -> WrkResult:
    return run_wrk(
        url=f"{server.http_url}/api/start_charging",
        script=script,
        duration=duration,
        connections=options.connections,
        threads=options.wrk_threads,
        core=options.load_core,
    )


def _measurement(
    name: str, result: WrkResult, *, server_core_busy: float, load_core_busy: float, answered: int, lost: int
) -> Measurement:
    return Measurement(
        target=name,
        requests_per_second=round(result.requests_per_second, 1),
        p50_ms=result.p50_us / 1000,
        p90_ms=result.p90_us / 1000,
        p99_ms=result.p99_us / 1000,
        max_ms=result.max_us / 1000,
        requests=result.requests,
        non_2xx=result.non_2xx,
        socket_errors=result.socket_errors,
        server_core_busy=round(server_core_busy, 3),
        load_core_busy=round(load_core_busy, 3),
        charger_calls_answered=answered,
        chargers_lost=lost,
    )


# -- report ---------------------------------------------------------------------------------------


def _report(options: Options, measurements: list[Measurement]) -> dict[str, object]:
    return {
        "benchmark": "remote_start",
        "options": {**asdict(options), "csms_src": str(options.csms_src) if options.csms_src else None},
        "machine": describe(),
        "results": {m.target: asdict(m) for m in measurements},
        "ratios": _ratios({m.target: m for m in measurements}),
        "targets": TARGETS_TO_MEET,
    }


def _ratios(by_target: dict[str, Measurement]) -> dict[str, float]:
    csms, tutorial, floor = (by_target.get(name) for name in ("csms", "tutorial", "floor"))
    ratios = {}
    if csms and tutorial:
        ratios["throughput_vs_tutorial"] = round(csms.requests_per_second / tutorial.requests_per_second, 2)
        ratios["tutorial_p99_over_csms_p99"] = round(tutorial.p99_ms / csms.p99_ms, 2)
    if csms and floor:
        ratios["throughput_vs_floor"] = round(csms.requests_per_second / floor.requests_per_second, 2)
    return ratios


def _format_table(measurements: list[Measurement], ratios: dict[str, float]) -> str:
    columns = ("req/s", "p50 ms", "p99 ms", "failed", "srv cpu", "load cpu")
    lines = [f"{'target':<52}" + "".join(f" {column:>8}" for column in columns)]
    for m in measurements:
        lines.append(
            f"{TARGET_LABELS[m.target]:<52} {m.requests_per_second:>8.0f} {m.p50_ms:>8.2f} {m.p99_ms:>8.2f}"
            f" {m.non_2xx + m.socket_errors:>8} {m.server_core_busy:>8.0%} {m.load_core_busy:>8.0%}"
        )
    for name, value in ratios.items():
        verdict = "meets" if value >= TARGETS_TO_MEET[name] else "misses"
        lines.append(f"  {name:<30} {value:>6.2f}  ({verdict} target {TARGETS_TO_MEET[name]})")
    return "\n".join(lines)


def _parse_options() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="measured seconds per target")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured seconds of load before")
    parser.add_argument("--connections", type=int, default=64, help="wrk's concurrent HTTP connections")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--users", type=int, default=200, help="app users, each with its own token")
    parser.add_argument("--chargers", type=int, default=500, help="connected simulated chargers")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset of " + ", ".join(TARGETS))
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--load-core", type=int, default=1)
    parser.add_argument("--csms-src", type=Path, help="run csms from this src directory (e.g. a HEAD snapshot)")
    parser.add_argument("--ocpp", choices=sorted(GREETINGS), default="1.6", help="OCPP version of csms's chargers")
    parser.add_argument("--no-status", action="store_true", help="chargers boot but never send StatusNotification")
    args = parser.parse_args()
    targets = tuple(name.strip() for name in args.targets.split(",") if name.strip())
    _check(parser, args, targets)
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        wrk_threads=args.wrk_threads,
        users=args.users,
        chargers=args.chargers,
        targets=targets,
        server_core=args.server_core,
        load_core=args.load_core,
        csms_src=args.csms_src.resolve() if args.csms_src else None,
        ocpp=args.ocpp,
        with_status=not args.no_status,
    )


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace, targets: tuple[str, ...]) -> None:
    unknown = set(targets) - set(TARGETS)
    if unknown or not targets:
        parser.error(f"--targets: choose from {', '.join(TARGETS)}")
    if not 1 <= args.duration <= MAX_DURATION or not 0 <= args.warmup <= MAX_DURATION:
        parser.error(f"--duration and --warmup must be at most {MAX_DURATION} s")
    if not 1 <= args.users <= MAX_USERS or not 1 <= args.chargers <= MAX_CHARGERS:
        parser.error(f"--users and --chargers must be between 1 and {MAX_USERS}")
    if not args.wrk_threads <= args.connections <= MAX_CONNECTIONS or args.wrk_threads < 1:
        parser.error(f"--connections must be at least --wrk-threads and at most {MAX_CONNECTIONS}")
    if args.server_core == args.load_core or max(args.server_core, args.load_core) >= (os.cpu_count() or 1):
        parser.error("--server-core and --load-core must be two different cores of this machine")


if __name__ == "__main__":
    main()
