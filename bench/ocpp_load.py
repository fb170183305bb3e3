"""OCPP load on one csms node: N chargers connected and held, then a timed burst of charging sessions.

The server runs as `csms serve` on a fresh SQLite file, pinned to core 0; this load generator pins
itself to core 1. Phase 1 connects the chargers in batches (each boots and reports its connectors) and
measures the server's memory per connection. Phase 2 lets `--concurrency` of them run transactions
back to back (or at `--rate` messages/s in total) for `--duration` seconds and measures throughput and
answer latency. The chargers speak OCPP 1.6J, or 2.0.1 with `--ocpp 2.0.1` (TransactionEvent
sessions), or 2.1 with `--ocpp 2.1` (the same messages on `ocpp2.1`). Prints a table and one JSON line.

    .venv/bin/python bench/ocpp_load.py --chargers 10000 --duration 20 --concurrency 200
    .venv/bin/python bench/ocpp_load.py --ocpp 2.0.1 --chargers 10000 --duration 20 --concurrency 200
    .venv/bin/python bench/ocpp_load.py --ocpp 2.1 --chargers 10000 --duration 20 --concurrency 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop
from websockets.exceptions import WebSocketException
from websockets.protocol import State

from csms_process import (
    ServerProcess,
    database_url,
    free_port,
    run_seed,
    start_server,
    use_csms_source,
    wait_until_ready,
)
from lean_charger import VERSIONS, CallFailed, LeanCharger, Messages, connect_charger, send_step, transaction_cycle
from load_stats import ALL_ACTIONS, LatencyBook, format_latency_table, format_timeline
from machine import describe, freeze_heap, raise_open_file_limit

SERVER_CORE, CLIENT_CORE = 0, 1
CHARGER_PASSWORD = "bench-password-0123456789"  # a throwaway database
MAX_CHARGERS = 30_000
MAX_DURATION = 600.0
_FAILURES = (CallFailed, TimeoutError, OSError, WebSocketException)


@dataclass
class Options:
    ocpp: str
    chargers: int
    duration: float
    warmup: float
    concurrency: int
    rate: float
    port: int
    batch: int
    keep_db: bool
    timeline: bool
    compression: str | None
    server_log_level: str
    csms_src: Path | None

    @property
    def messages(self) -> Messages:
        return VERSIONS[self.ocpp]


@dataclass
class Report:
    options: Options
    machine: dict[str, Any]
    phases: dict[str, Any] = field(default_factory=dict)


# -- phase 1: connect and hold ----------------------------------------------------------------


async def _connect_and_boot(options: Options, charge_point_id: str, book: LatencyBook) -> LeanCharger | None:
    try:
        charger = await connect_charger(
            port=options.port,
            charge_point_id=charge_point_id,
            password=CHARGER_PASSWORD,
            book=book,
            compression=options.compression,
            messages=options.messages,
        )
    except _FAILURES as error:
        book.record_error(f"connect: {type(error).__name__}")
        return None
    try:
        for step in options.messages.boot_sequence():
            await send_step(charger, step)
    except _FAILURES as error:
        book.record_error(f"boot: {type(error).__name__}")
    return charger


async def connect_phase(
    options: Options, server: ServerProcess, ids: list[str]
) -> tuple[list[LeanCharger], dict[str, Any]]:
    book = LatencyBook()
    rss_before = server.rss_bytes()
    started = time.perf_counter()
    chargers: list[LeanCharger] = []
    for first in range(0, len(ids), options.batch):
        batch = ids[first : first + options.batch]
        connected = await asyncio.gather(*(_connect_and_boot(options, cp_id, book) for cp_id in batch))
        chargers.extend(charger for charger in connected if charger is not None)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(2)  # let the message log flush and the server settle before reading its memory
    rss_connected = server.rss_bytes()
    held = _count_open(chargers)
    return chargers, {
        "seconds": round(elapsed, 2),
        "connections_per_s": round(len(chargers) / elapsed, 1),
        "connections_held": held,
        "server_rss_mib_before": round(rss_before / 2**20, 1),
        "server_rss_mib_connected": round(rss_connected / 2**20, 1),
        "server_kib_per_connection": round((rss_connected - rss_before) / max(held, 1) / 1024, 1),
        "errors": book.error_count,
        "error_kinds": dict(book.errors.most_common(5)),
        "latency": book.summary(),
    }


def _count_open(chargers: list[LeanCharger]) -> int:
    return sum(1 for charger in chargers if charger.connection.state is State.OPEN)


# -- phase 2: charging sessions back to back --------------------------------------------------


async def _run_sessions(charger: LeanCharger, *, deadline: float, interval: float, offset: float) -> None:
    next_send = time.perf_counter() + offset
    cycle = transaction_cycle(charger.messages)
    try:
        while True:
            for step in cycle:
                if interval:
                    await asyncio.sleep(max(0.0, next_send - time.perf_counter()))
                    next_send += interval
                if time.perf_counter() >= deadline:
                    return
                await send_step(charger, step)
    except _FAILURES as error:
        # A charger whose call failed may get a late answer; it stops rather than mismatch ids.
        charger.book.record_error(f"session: {type(error).__name__}")


async def _drive(active: list[LeanCharger], book: LatencyBook, *, seconds: float, rate: float) -> None:
    for charger in active:
        charger.book = book
    interval = len(active) / rate if rate else 0.0
    deadline = time.perf_counter() + seconds
    await asyncio.gather(
        *(
            _run_sessions(charger, deadline=deadline, interval=interval, offset=interval * index / len(active))
            for index, charger in enumerate(active)
        )
    )


async def throughput_phase(options: Options, server: ServerProcess, chargers: list[LeanCharger]) -> dict[str, Any]:
    active = chargers[: options.concurrency]
    if options.warmup > 0:  # the same load, not measured: the server settles after the connection storm
        await _drive(active, LatencyBook(), seconds=options.warmup, rate=options.rate)
    book = LatencyBook()
    server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
    started_at = time.time()  # wall clock: lines up the timeline with the server's log
    started = time.perf_counter()
    await _drive(active, book, seconds=options.duration, rate=options.rate)
    elapsed = time.perf_counter() - started
    return {
        "started_at": round(started_at, 3),
        "seconds": round(elapsed, 2),
        "active_chargers": len(active),
        "target_rate": options.rate or None,
        "messages": book.answered,
        "messages_per_s": round(book.answered / elapsed, 1),
        "errors": book.error_count,
        "error_kinds": dict(book.errors.most_common(5)),
        "server_cpu_percent": round(100 * (server.cpu_seconds() - server_cpu) / elapsed, 1),
        "client_cpu_percent": round(100 * (time.process_time() - client_cpu) / elapsed, 1),
        "connections_held_after": _count_open(chargers),
        "latency": book.summary(),
        "per_second": book.per_second(),
    }


async def close_all(chargers: list[LeanCharger]) -> None:
    for charger in chargers:
        charger.connection.transport.abort()
    await asyncio.sleep(0)


# -- orchestration ----------------------------------------------------------------------------


async def run_load(options: Options, server: ServerProcess, ids: list[str], report: Report) -> None:
    chargers, report.phases["connect"] = await connect_phase(options, server, ids)
    _print_connect(report.phases["connect"], options)
    freeze_heap()
    try:
        if options.duration > 0 and chargers:
            report.phases["throughput"] = await throughput_phase(options, server, chargers)
            _print_throughput(report.phases["throughput"], options)
    finally:
        await close_all(chargers)


def run(options: Options) -> Report:
    report = Report(options=options, machine=_machine())
    workdir = Path(tempfile.mkdtemp(prefix="csms-bench-"))
    try:
        _run_against_fresh_node(options, workdir, report)
    finally:
        if options.keep_db:
            print(f"kept {workdir} (csms.db, server.log)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def _run_against_fresh_node(options: Options, workdir: Path, report: Report) -> None:
    url = database_url(workdir / "csms.db")
    ids = [f"BENCH-{index:05d}" for index in range(options.chargers)]
    server_environment = use_csms_source(options.csms_src)
    run_seed(url, ids, CHARGER_PASSWORD)
    server = start_server(
        url=url,
        port=options.port,
        core=SERVER_CORE,
        max_open_files=raise_open_file_limit(),
        log_path=workdir / "server.log",
        log_level=options.server_log_level,
        environment=server_environment,
    )
    print(
        f"csms pid {server.pid} on 127.0.0.1:{options.port}, core {SERVER_CORE};"
        f" {options.chargers} OCPP {options.ocpp} chargers"
    )
    try:
        wait_until_ready(server)
        os.sched_setaffinity(0, {CLIENT_CORE})
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run_load(options, server, ids, report))
    finally:
        server.stop()


def _machine() -> dict[str, Any]:
    return {**describe(), "load_average_at_start": os.getloadavg()}


# -- output -----------------------------------------------------------------------------------


def _print_connect(phase: dict[str, Any], options: Options) -> None:
    print(f"\nPhase 1: connect {options.chargers} chargers in batches of {options.batch}, each boots")
    print(f"  connections held           {phase['connections_held']} in {phase['seconds']} s")
    print(f"  connection rate            {phase['connections_per_s']} /s")
    rss = f"{phase['server_rss_mib_before']} MiB -> {phase['server_rss_mib_connected']} MiB"
    print(f"  server RSS                 {rss}")
    print(f"  server memory / connection {phase['server_kib_per_connection']} KiB")
    print(f"  errors                     {phase['errors']} {phase['error_kinds'] or ''}")
    print(format_latency_table(phase["latency"]))


def _print_throughput(phase: dict[str, Any], options: Options) -> None:
    print(f"\nPhase 2: {phase['active_chargers']} chargers run transactions for {phase['seconds']} s")
    print(f"  messages answered          {phase['messages']}")
    print(f"  messages/s                 {phase['messages_per_s']}")
    print(f"  errors                     {phase['errors']} {phase['error_kinds'] or ''}")
    print(f"  server CPU (core 0)        {phase['server_cpu_percent']} %")
    print(f"  load generator CPU         {phase['client_cpu_percent']} %")
    print(f"  connections still held    {phase['connections_held_after']}")
    print(format_latency_table(phase["latency"]))
    overall = phase["latency"][ALL_ACTIONS]
    print(f"  overall p50 {overall['p50_ms']} ms, p99 {overall['p99_ms']} ms, max {overall['max_ms']} ms")
    if options.timeline:
        print("  per second of the phase:")
        print(format_timeline(phase["per_second"]))


def _json_line(report: Report) -> str:
    return json.dumps(
        {
            "benchmark": "ocpp_load",
            "options": vars(report.options),
            "machine": report.machine,
            **report.phases,
        },
        default=str,
    )


# -- command line -----------------------------------------------------------------------------


def _parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ocpp", choices=sorted(VERSIONS), default="1.6", help="the chargers' OCPP version")
    parser.add_argument("--chargers", type=int, default=10_000, help="chargers connected and held (default 10000)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the throughput phase (0 skips it)")
    parser.add_argument(
        "--warmup", type=float, default=0.0, help="seconds of the same load before the measured phase (default 0)"
    )
    parser.add_argument("--concurrency", type=int, default=200, help="chargers sending in the throughput phase")
    parser.add_argument("--rate", type=float, default=0.0, help="total messages/s to pace at (0: back to back)")
    parser.add_argument("--port", type=int, default=0, help="port for csms (default: a free one)")
    parser.add_argument("--batch", type=int, default=500, help="chargers connecting at once")
    parser.add_argument("--keep-db", action="store_true", help="keep the database and server log")
    parser.add_argument("--timeline", action="store_true", help="print answers, p99 and max per second of phase 2")
    parser.add_argument("--compression", choices=["deflate", "none"], default="none", help="permessage-deflate")
    parser.add_argument("--server-log-level", default="info", help="CSMS_LOG_LEVEL of the server")
    parser.add_argument("--csms-src", type=Path, help="run csms from this src directory (default: installed)")
    args = parser.parse_args(argv)
    if not 1 <= args.chargers <= MAX_CHARGERS:
        parser.error(f"--chargers must be 1 to {MAX_CHARGERS}")
    if not 0 <= args.duration <= MAX_DURATION:
        parser.error(f"--duration must be 0 to {MAX_DURATION:.0f} seconds")
    if not 0 <= args.warmup <= MAX_DURATION:
        parser.error(f"--warmup must be 0 to {MAX_DURATION:.0f} seconds")
    if not 1 <= args.concurrency:
        parser.error("--concurrency must be at least 1")
    return Options(
        ocpp=args.ocpp,
        chargers=args.chargers,
        duration=args.duration,
        warmup=args.warmup,
        concurrency=min(args.concurrency, args.chargers),
        rate=max(args.rate, 0.0),
        port=args.port or free_port(),
        batch=max(args.batch, 1),
        keep_db=args.keep_db,
        timeline=args.timeline,
        compression=None if args.compression == "none" else args.compression,
        server_log_level=args.server_log_level,
        csms_src=args.csms_src.resolve() if args.csms_src else None,
    )


def main(argv: list[str] | None = None) -> int:
    options = _parse(argv)
    if (os.cpu_count() or 1) < 2:
        print("ocpp_load: needs two cores, one for csms and one for the load generator", file=sys.stderr)
        return 2
    report = run(options)
    print("\n" + _json_line(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
