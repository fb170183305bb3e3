"""Site load management under load: many sites of chargers, sessions starting and stopping, and how fast and
how often csms re-shares each site's limit.

One csms node (`csms serve` on a fresh SQLite file, or a fresh PostgreSQL database with `--postgres`) on core 0;
this process on core 1. Its chargers and their tags are seeded, an admin logs in and creates the sites through
`POST /api/admin/sites`; then every charger connects as a lean OCPP 1.6 charger (bench/site_chargers.py) that
accepts every SetChargingProfile, boots and waits for its site's TxDefaultProfile. For `--duration` seconds
sessions start at `--sessions-per-second` on random idle chargers, each sends MeterValues (Current.Import at
the limit it was given, or less for a share of the cars) and stops after `--session-seconds`.

Measured, on the chargers' clock (the moment each frame was read):
- start latency: StartTransaction answered -> that transaction's first TxProfile arrived;
- stop latency: StopTransaction answered -> the first TxProfile raising another running session of the
  site, when one arrives before the site's next start, stop or draw change (else the stop freed nothing
  worth sending);
- SetChargingProfile calls per session started, by kind, against the charger's own calls;
- the sum of the limits in force on each site's running sessions (their TxProfile, else the charger's
  TxDefaultProfile, else the charger's maximum), checked at every profile, start and stop: any sum over the
  site's limit is a violation; and the same with idle connectors counted at their default (csms's own promise).
`--no-sites` runs the same sessions on no site, for the cost of the OCPP traffic alone. docs/benchmarks.md
has the definitions and the figures.

    .venv/bin/python bench/site_load.py --sites 2 --chargers-per-site 5 --duration 10 --session-seconds 4 \
        --meter-interval 1 --sessions-per-second 2
    .venv/bin/python bench/site_load.py --sites 200 --chargers-per-site 20 --duration 60 --warmup 60
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from websockets.exceptions import WebSocketException

from csms_process import (
    LOOPBACK,
    ServerProcess,
    database_url,
    free_port,
    seed_chargers,
    start_server,
    use_csms_source,
    wait_until_ready,
)
from lean_charger import OCPP16, CallFailed, connect_charger, send_step
from load_stats import LatencyBook, format_latency_table
from machine import describe, freeze_heap, other_work, raise_open_file_limit
from site_chargers import (
    FIRST,
    LOWERED,
    NOT_RUNNING,
    RAISED,
    SAME,
    TX_DEFAULT_PROFILE,
    TX_PROFILE,
    SiteCharger,
    SiteLedger,
)

SERVER_CORE, CLIENT_CORE = 0, 1
CHARGER_PASSWORD = "bench-password-0123456789"  # a throwaway database
ADMIN_USERNAME, ADMIN_PASSWORD = "bench-admin", "bench-admin-password-0123"
MAX_CHARGERS = 19_000  # the sandbox's open-file limit is 20,000 (docs/benchmarks.md)
BOOT_BATCH = 500
_FAILURES = (CallFailed, TimeoutError, OSError, WebSocketException)


@dataclass
class Options:
    sites: int
    chargers_per_site: int
    site_limit_a: float
    charger_max_a: float
    min_current_a: float
    sessions_per_second: float
    session_seconds: float
    meter_interval: float
    low_draw_share: float
    low_draw_a: float
    duration: float
    warmup: float
    grace: float
    seed: int
    postgres: str | None
    no_sites: bool
    port: int
    keep_db: bool
    server_log_level: str
    csms_src: Path | None

    @property
    def chargers(self) -> int:
        return self.sites * self.chargers_per_site


@dataclass
class Fleet:
    chargers: list[SiteCharger]
    ledgers: list[SiteLedger]
    book: LatencyBook = field(default_factory=LatencyBook)


# -- the database and the sites -----------------------------------------------------------------


def charge_point_ids(options: Options) -> list[list[str]]:
    return [
        [f"SITE{site:03d}-CP{number:02d}" for number in range(options.chargers_per_site)]
        for site in range(options.sites)
    ]


def id_tag_of(charge_point_id: str) -> str:
    return "T" + charge_point_id.replace("SITE", "").replace("-CP", "")


async def seed(url: str, ids: list[str]) -> None:
    """The chargers (csms_process.seed_chargers), an Accepted idTag for each (a tag charges in one
    transaction at a time) and the admin account, as `csms create-user --role admin` makes it."""
    from csms.db.engine import create_engine
    from csms.db.models import IdTag
    from csms.services import accounts
    from csms.services.clock import utc_now

    await seed_chargers(url, ids, CHARGER_PASSWORD)
    engine = create_engine(url)
    try:
        now = utc_now()
        async with engine.begin() as connection:
            rows = [{"id_tag": id_tag_of(cp_id), "status": "Accepted", "created_at": now} for cp_id in ids]
            await connection.execute(insert(IdTag), rows)
        async with async_sessionmaker(engine)() as session:
            await accounts.create_account(
                session, username=ADMIN_USERNAME, password=ADMIN_PASSWORD, role="admin", now=now
            )
    finally:
        await engine.dispose()


@contextmanager
def fresh_database(options: Options, workdir: Path, ids: list[str]) -> Iterator[str]:
    """A fresh SQLite file in `workdir`, or a new database on the `--postgres` server (dropped on exit)."""
    if options.postgres is None:
        url = database_url(workdir / "csms.db")
        asyncio.run(seed(url, ids))
        yield url
        return
    import asyncpg

    server = options.postgres.rstrip("/")
    name = f"csms_site_load_{os.getpid()}"

    async def administer(statement: str) -> None:
        connection = await asyncpg.connect(f"{server}/postgres")
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(administer(f'CREATE DATABASE "{name}"'))
    try:
        url = f"{server.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
        asyncio.run(seed(url, ids))
        yield url
    finally:
        asyncio.run(administer(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _request(port: int, method: str, path: str, body: object, token: str | None = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def create_sites(options: Options, port: int, sites: list[list[str]]) -> dict[str, Any]:
    """Log in as the admin and create every site through the REST API."""
    status, answer = _request(port, "POST", "/api/login", {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    if status != 200:
        raise RuntimeError(f"admin login answered {status}: {answer}")
    token = str(answer["access_token"])
    started = time.perf_counter()
    for number, members in enumerate(sites):
        body = {
            "name": f"bench-site-{number:03d}",
            "max_current_a": options.site_limit_a,
            "min_current_a": options.min_current_a,
            "charger_max_current_a": options.charger_max_a,
            "charge_point_ids": members,
        }
        status, answer = _request(port, "POST", "/api/admin/sites", body, token)
        if status != 201:
            raise RuntimeError(f"POST /api/admin/sites answered {status}: {answer}")
    elapsed = time.perf_counter() - started
    return {"sites": len(sites), "seconds": round(elapsed, 2), "ms_per_site": round(1000 * elapsed / len(sites), 1)}


# -- phase 1: connect, boot, the defaults ----------------------------------------------------------


async def _connect_and_boot(options: Options, charge_point_id: str, book: LatencyBook) -> SiteCharger | None:
    try:
        lean = await connect_charger(
            port=options.port, charge_point_id=charge_point_id, password=CHARGER_PASSWORD, book=book, compression=None
        )
    except _FAILURES as error:
        book.record_error(f"connect: {type(error).__name__}")
        return None
    charger = SiteCharger(charge_point_id, lean.connection, book, OCPP16, id_tag=id_tag_of(charge_point_id))
    charger.start_reading()
    try:
        for step in OCPP16.boot_sequence():
            await send_step(charger, step)
    except _FAILURES as error:
        book.record_error(f"boot: {type(error).__name__}")
    return charger


async def connect_phase(
    options: Options, server: ServerProcess, sites: list[list[str]]
) -> tuple[Fleet, dict[str, Any]]:
    book = LatencyBook()
    ledgers = [
        SiteLedger(name=f"bench-site-{number:03d}", limit_a=options.site_limit_a, charger_max_a=options.charger_max_a)
        for number in range(len(sites))
    ]
    started = time.perf_counter()
    everyone = [(ledger, cp_id) for ledger, members in zip(ledgers, sites, strict=True) for cp_id in members]
    for first in range(0, len(everyone), BOOT_BATCH):
        batch = everyone[first : first + BOOT_BATCH]
        connected = await asyncio.gather(*(_connect_and_boot(options, cp_id, book) for _, cp_id in batch))
        for (ledger, _), charger in zip(batch, connected, strict=True):
            if charger is not None:
                charger.ledger = ledger
                ledger.chargers.append(charger)
    booted = time.perf_counter() - started
    chargers = [charger for ledger in ledgers for charger in ledger.chargers]
    for _ in range(int(max(60.0, options.chargers / 20) / 0.2)):  # every charger's default, or a deadline
        if options.no_sites or all(charger.default_a is not None for charger in chargers):
            break
        await asyncio.sleep(0.2)
    waits = [
        charger.profiles[0].at - charger.boot_answered_at
        for charger in chargers
        if charger.profiles and charger.boot_answered_at is not None
    ]
    defaults = Counter(charger.default_a for charger in chargers)
    return Fleet(chargers, ledgers, book), {
        "chargers_connected": len(chargers),
        "seconds_to_boot": round(booted, 2),
        "boots_per_s": round(len(chargers) / booted, 1),
        "server_rss_mib": round(server.rss_bytes() / 2**20, 1),
        "without_default": sum(1 for charger in chargers if charger.default_a is None),
        "default_limits_a": {str(limit): count for limit, count in defaults.items()},
        "default_after_boot_s": _seconds_summary(waits),
        "errors": book.error_count,
        "error_kinds": dict(book.errors.most_common(5)),
        "latency": book.summary(),
    }


# -- phase 2: sessions -------------------------------------------------------------------------------


async def _session(options: Options, charger: SiteCharger, idle: list[SiteCharger], rng: random.Random) -> None:
    charger.draws_less_a = options.low_draw_a if rng.random() < options.low_draw_share else None
    try:
        await charger.start_transaction()
        await send_step(charger, OCPP16.status_charging)
        ends = time.perf_counter() + options.session_seconds
        next_meter = time.perf_counter() + rng.uniform(0.2, 1.0) * options.meter_interval
        while next_meter < ends:
            await asyncio.sleep(max(0.0, next_meter - time.perf_counter()))
            await charger.meter_values()
            next_meter += options.meter_interval
        await asyncio.sleep(max(0.0, ends - time.perf_counter()))
        await charger.stop_transaction()
        await send_step(charger, OCPP16.status_available)
    except _FAILURES as error:
        charger.book.record_error(f"session: {type(error).__name__}")
        return  # a charger whose call failed sits out the rest of the run
    idle.append(charger)


async def session_phase(options: Options, server: ServerProcess, fleet: Fleet) -> dict[str, Any]:
    rng = random.Random(options.seed)
    book = LatencyBook()
    for charger in fleet.chargers:
        charger.book = book
    idle = list(fleet.chargers)
    rng.shuffle(idle)
    for ledger in fleet.ledgers:
        ledger.start_checking()
    tasks: set[asyncio.Task[None]] = set()
    interval = 1 / options.sessions_per_second
    server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
    started = time.perf_counter()
    measured_from = started + options.warmup
    deadline = measured_from + options.duration
    next_start, busy_skips = started, 0
    while next_start < deadline:
        await asyncio.sleep(max(0.0, next_start - time.perf_counter()))
        next_start += interval
        if not idle:
            busy_skips += 1
            continue
        charger = idle.pop(rng.randrange(len(idle)))
        task = asyncio.create_task(_session(options, charger, idle, rng))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    ended = time.perf_counter()
    server_cpu = server.cpu_seconds() - server_cpu
    client_cpu = time.process_time() - client_cpu
    for task in list(tasks):
        task.cancel()
    await asyncio.sleep(options.grace)  # profiles csms is still sending for the last events
    return {
        "seconds": round(ended - started, 2),
        "measured_seconds": round(ended - measured_from, 2),
        "starts_not_made_all_busy": busy_skips,
        "server_cpu_percent": round(100 * server_cpu / (ended - started), 1),
        "client_cpu_percent": round(100 * client_cpu / (ended - started), 1),
        "server_rss_mib": round(server.rss_bytes() / 2**20, 1),
        **measure(
            fleet, measured_from, deadline, charger_calls=sum(1 for at, _ in book.answers if at >= measured_from)
        ),
        "errors": book.error_count,
        "error_kinds": dict(book.errors.most_common(5)),
        "latency": book.summary(),
    }


# -- the figures -------------------------------------------------------------------------------------


def measure(fleet: Fleet, measured_from: float, deadline: float, *, charger_calls: int) -> dict[str, Any]:
    in_window = range_check(measured_from, deadline)
    start_waits, starts_unserved = [], 0
    for charger in fleet.chargers:
        for transaction_id, answered in charger.starts:
            if not in_window(answered):
                continue
            arrived = charger.first_tx_profile_at.get(transaction_id)
            if arrived is None:
                starts_unserved += 1
            else:
                start_waits.append(max(0.0, arrived - answered))
    stop_waits, stops_without_raise = _stop_waits(fleet, in_window)
    starts = sum(1 for charger in fleet.chargers for _, answered in charger.starts if in_window(answered))
    stops = sum(1 for charger in fleet.chargers for _, answered in charger.stops if in_window(answered))
    events = sum(1 for ledger in fleet.ledgers for at in ledger.events if in_window(at))
    return {
        "sessions_started": starts,
        "sessions_stopped": stops,
        "site_events_per_s": round(events / (deadline - measured_from), 1),
        "start_to_own_profile_s": _seconds_summary(start_waits),
        "starts_without_profile": starts_unserved,
        "stop_to_first_raise_s": _seconds_summary(stop_waits),
        "stops_without_raise": stops_without_raise,
        "traffic": _traffic(fleet, measured_from, starts, charger_calls),
        "limits": _limits(fleet),
    }


def range_check(first: float, last: float) -> Any:
    return lambda at: first <= at < last


def _stop_waits(fleet: Fleet, in_window: Any) -> tuple[list[float], int]:
    waits, without = [], 0
    for ledger in fleet.ledgers:
        events, raises = sorted(ledger.events), sorted(ledger.raises)
        for charger in ledger.chargers:
            for sent, answered in charger.stops:
                if not in_window(answered):
                    continue
                following = [at for at in events if at > answered]
                until = following[0] if following else math.inf
                raise_at = next((at for at in raises if sent <= at < until), None)
                if raise_at is None:
                    without += 1
                else:
                    waits.append(max(0.0, raise_at - answered))
    return waits, without


def _traffic(fleet: Fleet, measured_from: float, starts: int, charger_calls: int) -> dict[str, Any]:
    profiles = [p for charger in fleet.chargers for p in charger.profiles if p.at >= measured_from]
    kinds = Counter(p.change if p.purpose == TX_PROFILE else p.purpose for p in profiles)
    tx_profiles = sum(1 for p in profiles if p.purpose == TX_PROFILE)
    per_session = max(starts, 1)
    return {
        "set_charging_profile": len(profiles),
        "per_session": round(len(profiles) / per_session, 2),
        "tx_profiles_per_session": round(tx_profiles / per_session, 2),
        "first_limits": kinds[FIRST],
        "lowered": kinds[LOWERED],
        "raised": kinds[RAISED],
        "same_limit_again": kinds[SAME],
        "after_the_stop": kinds[NOT_RUNNING],
        "defaults": kinds[TX_DEFAULT_PROFILE],
        "bytes_per_session": round(sum(p.size for p in profiles) / per_session),
        "charger_calls_per_session": round(charger_calls / per_session, 2),
        "other_csms_calls": sum(charger.other_calls for charger in fleet.chargers),
    }


def _limits(fleet: Fleet) -> dict[str, Any]:
    snapshots = [
        {**snapshot, "at": None, "profiles_around": ledger.profiles_around(snapshot["at"])}
        for ledger in fleet.ledgers
        for snapshot in ledger.snapshots
    ]
    stretches = [seconds for ledger in fleet.ledgers for seconds in ledger.over_limit_seconds]
    return {
        "over_limit_with_idle_s": _seconds_summary(stretches),
        "first_over_limit_with_idle": snapshots[:2],
        "running": _violations(fleet, lambda ledger: ledger.violations, lambda ledger: ledger.peak_a),
        "with_idle": _violations(
            fleet, lambda ledger: ledger.violations_with_idle, lambda ledger: ledger.peak_with_idle_a
        ),
    }


def _violations(fleet: Fleet, found_on: Any, peak_of: Any) -> dict[str, Any]:
    violations = [(ledger, at, total) for ledger in fleet.ledgers for at, total in found_on(ledger)]
    worst = max(violations, key=lambda found: found[2] - found[0].limit_a, default=None)
    peak = max(fleet.ledgers, key=lambda ledger: peak_of(ledger) / ledger.limit_a)
    return {
        "violations": len(violations),
        "sites": len({id(ledger) for ledger, _, _ in violations}),
        "worst": None if worst is None else {"site": worst[0].name, "sum_a": round(worst[2], 1)},
        "highest_sum_over_limit": round(peak_of(peak) / peak.limit_a, 3),
    }


def _seconds_summary(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"count": 0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(samples)

    def rank(quantile: float) -> float:
        return ordered[max(0, min(len(ordered) - 1, math.ceil(quantile * len(ordered)) - 1))]

    return {
        "count": len(ordered),
        "p50_ms": round(rank(0.5) * 1000, 1),
        "p99_ms": round(rank(0.99) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


# -- orchestration -----------------------------------------------------------------------------------


async def run_load(options: Options, server: ServerProcess, sites: list[list[str]], report: dict[str, Any]) -> None:
    if not options.no_sites:
        report["sites"] = create_sites(options, options.port, sites)
    fleet, report["connect"] = await connect_phase(options, server, sites)
    _print_connect(report["connect"], options)
    freeze_heap()
    try:
        report["sessions"] = await session_phase(options, server, fleet)
        _print_sessions(report["sessions"], options)
    finally:
        for charger in fleet.chargers:
            charger.connection.transport.abort()
        await asyncio.sleep(0)


def run(options: Options) -> dict[str, Any]:
    report: dict[str, Any] = {"machine": _machine()}
    workdir = Path(tempfile.mkdtemp(prefix="csms-site-bench-"))
    # A node keeps the identity of the database it ran on in its files directory: one of the run's own.
    server_environment = {**use_csms_source(options.csms_src), "CSMS_FILES_DIR": str(workdir / "files")}
    sites = charge_point_ids(options)
    try:
        with fresh_database(options, workdir, [cp for members in sites for cp in members]) as url:
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
                f"csms pid {server.pid} on 127.0.0.1:{options.port}, core {SERVER_CORE},"
                f" {'PostgreSQL' if options.postgres else 'SQLite'}; {options.sites} sites"
                f" of {options.chargers_per_site} OCPP 1.6 chargers" + (" (--no-sites: on no site)" * options.no_sites)
            )
            try:
                wait_until_ready(server)
                os.sched_setaffinity(0, {CLIENT_CORE})
                with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                    runner.run(run_load(options, server, sites, report))
            finally:
                server.stop()
    finally:
        if options.keep_db:
            print(f"kept {workdir} (csms.db, server.log)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def _machine() -> dict[str, Any]:
    return {**describe(), "load_average_at_start": os.getloadavg(), "other_work_at_start": len(other_work())}


# -- output -------------------------------------------------------------------------------------------


def _ms(summary: dict[str, float]) -> str:
    return f"p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms, max {summary['max_ms']} ms ({summary['count']})"


def _print_connect(phase: dict[str, Any], options: Options) -> None:
    print(f"\nPhase 1: {options.chargers} chargers connect and boot in batches of {BOOT_BATCH}")
    print(f"  connected and booted          {phase['chargers_connected']} in {phase['seconds_to_boot']} s")
    print(f"  TxDefaultProfile after boot   {_ms(phase['default_after_boot_s'])}")
    print(f"  without a default             {phase['without_default']}  (limits: {phase['default_limits_a']})")
    print(f"  server RSS                    {phase['server_rss_mib']} MiB")
    print(f"  errors                        {phase['errors']} {phase['error_kinds'] or ''}")


def _print_sessions(phase: dict[str, Any], options: Options) -> None:
    traffic, limits = phase["traffic"], phase["limits"]
    print(
        f"\nPhase 2: {options.sessions_per_second} sessions/s of {options.session_seconds} s for {phase['seconds']} s"
        f" ({phase['measured_seconds']} s measured), MeterValues every {options.meter_interval} s,"
        f" {options.low_draw_share:.0%} of the cars draw at most {options.low_draw_a} A"
    )
    print(f"  sessions started / stopped    {phase['sessions_started']} / {phase['sessions_stopped']}")
    print(f"  site events (start, stop, draw change) {phase['site_events_per_s']} /s")
    print(f"  start -> its own TxProfile    {_ms(phase['start_to_own_profile_s'])}")
    print(f"  starts that got none          {phase['starts_without_profile']}")
    print(f"  stop -> first raise elsewhere {_ms(phase['stop_to_first_raise_s'])}")
    print(f"  stops that raised no one      {phase['stops_without_raise']}")
    print(
        f"  SetChargingProfile            {traffic['set_charging_profile']}: {traffic['per_session']} per session"
        f" ({traffic['tx_profiles_per_session']} TxProfile), {traffic['bytes_per_session']} bytes per session"
    )
    print(
        f"    TxProfile                   first limits {traffic['first_limits']}, lowered {traffic['lowered']},"
        f" raised {traffic['raised']}, the same limit again {traffic['same_limit_again']},"
        f" after the stop {traffic['after_the_stop']}; TxDefaultProfile {traffic['defaults']}"
    )
    print(f"  the charger's own calls       {traffic['charger_calls_per_session']} per session")
    print(f"  csms's other calls            {traffic['other_csms_calls']}")
    for key, label in (("running", "running sessions"), ("with_idle", "with idle at default")):
        found = limits[key]
        print(
            f"  limit exceeded, {label:<21} {found['violations']} times on {found['sites']} sites"
            f" (worst {found['worst']}; highest sum / limit {found['highest_sum_over_limit']})"
        )
    print(f"    stretches over the limit, with idle at default: {_ms(limits['over_limit_with_idle_s'])}")
    print(f"  server CPU (core 0)           {phase['server_cpu_percent']} %, RSS {phase['server_rss_mib']} MiB")
    print(f"  load generator CPU            {phase['client_cpu_percent']} %")
    print(f"  errors                        {phase['errors']} {phase['error_kinds'] or ''}")
    print(format_latency_table(phase["latency"]))


# -- command line -------------------------------------------------------------------------------------


def _parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--sites", type=int, default=200, help="sites (default 200)")
    add("--chargers-per-site", type=int, default=20, help="chargers on each site, one connector each (default 20)")
    add("--site-limit", type=float, default=150.0, help="each site's max_current_a (default 150)")
    add("--charger-max", type=float, default=32.0, help="each charger's maximum, A (default 32)")
    add("--min-current", type=float, default=6.0, help="the sites' min_current_a (default 6)")
    add("--sessions-per-second", type=float, default=20.0, help="sessions started per second in all (default 20)")
    add("--session-seconds", type=float, default=60.0, help="how long each session charges (default 60)")
    add("--meter-interval", type=float, default=10.0, help="seconds between a session's MeterValues (default 10)")
    add("--low-draw-share", type=float, default=0.2, help="share of the cars that draw less (default 0.2)")
    add("--low-draw-a", type=float, default=10.0, help="what those cars draw at most, A (default 10)")
    add("--duration", type=float, default=120.0, help="seconds of sessions measured (default 120)")
    add("--warmup", type=float, default=0.0, help="seconds of sessions before the measured ones (default 0)")
    add("--grace", type=float, default=5.0, help="seconds to wait for the last events' profiles (default 5)")
    add("--seed", type=int, default=22, help="the random choice of chargers and cars")
    add("--postgres", metavar="URL", help="a PostgreSQL server, e.g. postgresql://postgres@127.0.0.1:5432")
    add("--no-sites", action="store_true", help="the same chargers and sessions on no site: the baseline")
    add("--port", type=int, default=0, help="port for csms (default: a free one)")
    add("--keep-db", action="store_true", help="keep the SQLite database and the server log")
    add("--server-log-level", default="warning", help="CSMS_LOG_LEVEL of the server (default warning)")
    add("--csms-src", type=Path, help="run csms from this src directory (default: installed)")
    args = parser.parse_args(argv)
    if not 1 <= args.sites * args.chargers_per_site <= MAX_CHARGERS:
        parser.error(f"--sites times --chargers-per-site must be 1 to {MAX_CHARGERS}")
    if args.chargers_per_site > 1000:
        parser.error("--chargers-per-site must be at most 1000 (a site's limit in the API)")
    if args.sessions_per_second <= 0 or args.session_seconds <= 0 or args.meter_interval <= 0:
        parser.error("--sessions-per-second, --session-seconds and --meter-interval must be positive")
    return Options(
        sites=args.sites,
        chargers_per_site=args.chargers_per_site,
        site_limit_a=args.site_limit,
        charger_max_a=args.charger_max,
        min_current_a=args.min_current,
        sessions_per_second=args.sessions_per_second,
        session_seconds=args.session_seconds,
        meter_interval=args.meter_interval,
        low_draw_share=min(max(args.low_draw_share, 0.0), 1.0),
        low_draw_a=args.low_draw_a,
        duration=args.duration,
        warmup=max(args.warmup, 0.0),
        grace=max(args.grace, 0.0),
        seed=args.seed,
        postgres=args.postgres,
        no_sites=args.no_sites,
        port=args.port or free_port(),
        keep_db=args.keep_db,
        server_log_level=args.server_log_level,
        csms_src=args.csms_src.resolve() if args.csms_src else None,
    )


def main(argv: list[str] | None = None) -> int:
    options = _parse(argv)
    if (os.cpu_count() or 1) < 2:
        print("site_load: needs two cores, one for csms and one for the chargers", file=sys.stderr)
        return 2
    report = run(options)
    print("\n" + json.dumps({"benchmark": "site_load", "options": vars(options), **report}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
