"""`csms simulate`: a fleet of realistic chargers for demos and load, in OCPP 1.6, 2.0.1, 2.1 or a mix.

Each charger boots, reports its connectors (EVSEs for 2.x), sends heartbeats, runs charging sessions
(Authorize, then StartTransaction, MeterValues with a rising energy register and StopTransaction in 1.6;
TransactionEvent Started, Updated with each meter value and Ended in 2.0.1 and 2.1), starts a session when the
central system sends RemoteStartTransaction (RequestStartTransaction), stops when told to, and now and
then drops its connection and reconnects.

Its cars obey charging profiles: a car draws the least of its own maximum, the charger's and the limit the
profiles in force set (`ChargingProfiles.limit_a`), on three phases at 230 V; its meter values carry that
current per phase (Current.Import), the current offered (Current.Offered), the power and a register that
grows with it. Under a limit of 0 it waits plugged in (SuspendedEVSE) until the limit rises. A new profile
wakes it at once: it reports what it now draws without waiting for the meter interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import websockets
from ocpp.routing import after
from ocpp.v16.enums import Action
from ocpp.v201.enums import Action as Action201

from csms.simulator.charger import ChargerBehaviour, SimulatedCharger, connect_charger, stop_task
from csms.simulator.profiles import DEFAULT_PHASES, VOLTS, ChargingProfiles
from csms.simulator.station201 import SimulatedStation as SimulatedStation201
from csms.simulator.station201 import StationBehaviour, StationTransaction, connect_station


@dataclass
class FleetOptions:
    url: str
    chargers: int
    password: str
    prefix: str = "SIM"
    connectors: int = 2
    duration: float = 0.0  # 0: until interrupted
    heartbeat_interval: float = 30.0
    meter_interval: float = 5.0
    session_seconds: float = 60.0
    idle_seconds: float = 30.0
    reconnect_probability: float = 0.01
    id_tag: str = "SIMTAG"
    max_current_a: float = 32.0  # what each connector (EVSE) of a charger gives at most, per phase
    car_max_current_a: float = 32.0  # what a car draws at most, per phase
    low_draw_share: float = 0.0  # the share of sessions whose car draws at most low_draw_current_a
    low_draw_current_a: float = 10.0
    ocpp_versions: tuple[str, ...] = ("1.6",)  # taken in turn: charger 1 the first, charger 2 the second, ...

    def ocpp_version(self, index: int) -> str:
        """The version the charger of `index` speaks: the same for the same options, run after run."""
        return self.ocpp_versions[index % len(self.ocpp_versions)]

    @property
    def ws_url(self) -> str:
        return self.url.replace("https://", "wss://").replace("http://", "ws://").rstrip("/")

    def charge_point_id(self, index: int) -> str:
        return f"{self.prefix}{index + 1:05d}"


@dataclass
class FleetStats:
    started_at: float = field(default_factory=time.monotonic)
    connected: int = 0
    charging: int = 0
    messages: int = 0
    errors: int = 0
    reconnects: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def record(self, seconds: float) -> None:
        self.messages += 1
        self.latencies_ms.append(seconds * 1000)
        if len(self.latencies_ms) > 100_000:
            del self.latencies_ms[:50_000]

    def percentile(self, fraction: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]

    def line(self, total: int) -> str:
        elapsed = max(time.monotonic() - self.started_at, 1e-6)
        return (
            f"chargers {self.connected}/{total} connected, {self.charging} charging | "
            f"{self.messages} messages ({self.messages / elapsed:.0f}/s) | errors {self.errors} | "
            f"reconnects {self.reconnects} | p50 {self.percentile(0.5):.1f} ms p99 {self.percentile(0.99):.1f} ms"
        )


class FleetCharger(SimulatedCharger):
    """A simulated 1.6 charger that acts on remote start and stop, and on charging profiles, like real hardware.

    `wake` is set when a session must look again: a remote stop came, or its profiles changed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.remote_starts: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self.remote_stops: asyncio.Queue[int] = asyncio.Queue()
        self.wake = asyncio.Event()

    @after(Action.remote_start_transaction)
    def after_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> None:
        self.remote_starts.put_nowait((id_tag, connector_id or 1))

    @after(Action.remote_stop_transaction)
    def after_remote_stop(self, transaction_id: int, **_: Any) -> None:
        self.remote_stops.put_nowait(transaction_id)
        self.wake.set()

    # After the answer has gone: the meter value the change causes follows it.
    @after(Action.set_charging_profile)
    def after_set_charging_profile(self, **_: Any) -> None:
        self.wake.set()

    @after(Action.clear_charging_profile)
    def after_clear_charging_profile(self, **_: Any) -> None:
        self.wake.set()


@dataclass
class RemoteStart201:
    """A RequestStartTransaction the station accepted: whose token, on which EVSE, with which remoteStartId."""

    id_token: dict[str, str]
    evse_id: int
    remote_start_id: int


class FleetStation(SimulatedStation201):
    """A simulated 2.0.1 (or 2.1) station that acts on RequestStart/StopTransaction like real hardware."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.remote_starts: asyncio.Queue[RemoteStart201] = asyncio.Queue()
        self.remote_stops: asyncio.Queue[str] = asyncio.Queue()
        self.wake = asyncio.Event()  # as FleetCharger's

    @after(Action201.request_start_transaction)
    def after_request_start(
        self, id_token: dict[str, str], remote_start_id: int, evse_id: int | None = None, **_: Any
    ) -> None:
        token = {"idToken": id_token["id_token"], "type": id_token["type"]}
        self.remote_starts.put_nowait(RemoteStart201(token, evse_id or 1, remote_start_id))

    @after(Action201.request_stop_transaction)
    def after_request_stop(self, transaction_id: str, **_: Any) -> None:
        self.remote_stops.put_nowait(transaction_id)
        self.wake.set()

    @after(Action201.set_charging_profile)
    def after_set_charging_profile(self, **_: Any) -> None:
        self.wake.set()

    @after(Action201.clear_charging_profile)
    def after_clear_charging_profile(self, **_: Any) -> None:
        self.wake.set()


@dataclass
class Car:
    """The car of one session: the current it can draw at most, what it is offered and what it draws (A per
    phase), and when its meter last advanced."""

    max_current_a: float
    offered_a: float = 0.0
    current_a: float = 0.0
    metered_at: float = field(default_factory=time.monotonic)

    @property
    def is_suspended(self) -> bool:
        return self.current_a == 0

    @property
    def power_w(self) -> float:
        return self.current_a * VOLTS * DEFAULT_PHASES


class FleetMember:
    """One charger of the fleet, for as long as the fleet runs: connects, reconnects when its link drops,
    and times every call it makes. `Member16` and `Member201` are what it does while connected."""

    def __init__(self, options: FleetOptions, index: int, stats: FleetStats) -> None:
        self.options = options
        self.charge_point_id = options.charge_point_id(index)
        self.stats = stats
        self.register_wh = float(random.randint(0, 50_000))  # the meter, in fractions of a Wh

    @property
    def energy_wh(self) -> int:
        return int(self.register_wh)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._one_connection(stop)
            except (OSError, websockets.WebSocketException, TimeoutError) as error:
                self.stats.errors += 1
                print(f"\n{self.charge_point_id}: {type(error).__name__}: {error}", file=sys.stderr)
            if not stop.is_set():
                self.stats.reconnects += 1
                await asyncio.sleep(random.uniform(1, 5))

    async def _one_connection(self, stop: asyncio.Event) -> None:
        raise NotImplementedError

    def _drops_link(self) -> bool:
        return random.random() < self.options.reconnect_probability  # as flaky mobile links do

    def _idle_seconds(self) -> float:
        return random.uniform(0.5, 1.5) * self.options.idle_seconds

    def _session_ends_at(self) -> float:
        return time.monotonic() + random.uniform(0.5, 1.5) * self.options.session_seconds

    def _new_car(self) -> Car:
        is_low = random.random() < self.options.low_draw_share
        return Car(self.options.low_draw_current_a if is_low else self.options.car_max_current_a)

    def _follow_limit(self, car: Car, profiles: ChargingProfiles, connector_id: int) -> None:
        """Meter what the car drew since its last reading, then have it draw what the limit in force allows."""
        now = time.monotonic()
        self.register_wh += car.power_w * (now - car.metered_at) / 3600
        car.metered_at = now
        limit = profiles.limit_a(connector_id, datetime.now(UTC))
        car.offered_a = self.options.max_current_a if limit is None else min(limit, self.options.max_current_a)
        drawn = min(car.max_current_a, car.offered_a)
        car.current_a = math.floor(drawn * random.uniform(0.97, 1.0) * 10) / 10  # to 0.1 A, never above the limit

    async def _wait_for_wake(self, wake: asyncio.Event, stops: asyncio.Queue[Any], transaction_id: Any) -> bool:
        """Wait a meter interval, or less if woken; whether the transaction was told to stop meanwhile."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.options.meter_interval):
                await wake.wait()
        wake.clear()
        is_stopped = False
        while not stops.empty():
            is_stopped = is_stopped or stops.get_nowait() == transaction_id
        return is_stopped

    async def _heartbeats(self, beat: Callable[[], Awaitable[Any]]) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_interval)
            await self._timed(beat())

    async def _timed(self, call: Awaitable[Any]) -> Any:
        started = time.perf_counter()
        try:
            result = await call
        except Exception as error:
            self.stats.errors += 1
            print(f"\n{self.charge_point_id}: {type(error).__name__}: {error}", file=sys.stderr)
            return None
        self.stats.record(time.perf_counter() - started)
        return result


class Member16(FleetMember):
    """An OCPP 1.6 charger: StartTransaction, MeterValues, StopTransaction."""

    async def _one_connection(self, stop: asyncio.Event) -> None:
        async with connect_charger(
            self.options.ws_url,
            self.charge_point_id,
            self.options.password,
            behaviour=ChargerBehaviour(max_current_a=self.options.max_current_a),
            charger_class=FleetCharger,
        ) as connected:
            charger = cast(FleetCharger, connected)
            self.stats.connected += 1
            try:
                await self._timed(charger.boot(vendor="csms-sim", model="SimCharger", firmware_version="1.0.0"))
                for connector in range(1, self.options.connectors + 1):
                    await self._timed(charger.status(connector, "Available"))
                await self._live(charger, stop)
            finally:
                self.stats.connected -= 1

    async def _live(self, charger: FleetCharger, stop: asyncio.Event) -> None:
        heartbeats = asyncio.create_task(self._heartbeats(charger.heartbeat))
        try:
            while not stop.is_set():
                if self._drops_link():
                    return
                id_tag, connector = await self._next_session(charger, stop)
                if id_tag is not None:
                    await self._session(charger, id_tag, connector, stop)
        finally:
            await stop_task(heartbeats)

    async def _next_session(self, charger: FleetCharger, stop: asyncio.Event) -> tuple[str | None, int]:
        """Wait for a remote start, or start a local (RFID) session after the idle time."""
        try:
            async with asyncio.timeout(self._idle_seconds()):
                return await charger.remote_starts.get()
        except TimeoutError:
            pass
        if stop.is_set():
            return None, 1
        answer = await self._timed(charger.authorize(self.options.id_tag))
        is_accepted = answer is not None and answer.id_tag_info.get("status") == "Accepted"
        return (self.options.id_tag if is_accepted else None), random.randint(1, self.options.connectors)

    async def _session(self, charger: FleetCharger, id_tag: str, connector: int, stop: asyncio.Event) -> None:
        await self._timed(charger.status(connector, "Preparing"))
        started = await self._timed(charger.start_transaction(connector, id_tag, meter_start=self.energy_wh))
        if started is None:
            return
        if started.id_tag_info.get("status") != "Accepted":
            await self._timed(charger.stop_transaction(started.transaction_id, self.energy_wh, reason="DeAuthorized"))
            await self._timed(charger.status(connector, "Available"))
            return
        transaction_id = started.transaction_id
        self.stats.charging += 1
        try:
            car = self._new_car()
            self._follow_limit(car, charger.profiles, connector)
            await self._timed(charger.status(connector, _charging_state(car)))
            reason = await self._charge(charger, connector, transaction_id, car, stop)
            await self._timed(charger.stop_transaction(transaction_id, self.energy_wh, reason=reason))
            await self._timed(charger.status(connector, "Available"))
        finally:
            self.stats.charging -= 1

    async def _charge(
        self, charger: FleetCharger, connector: int, transaction_id: int, car: Car, stop: asyncio.Event
    ) -> str:
        ends_at = self._session_ends_at()
        while time.monotonic() < ends_at and not stop.is_set():
            if await self._wait_for_wake(charger.wake, charger.remote_stops, transaction_id):
                return "Remote"
            was_suspended = car.is_suspended
            self._follow_limit(car, charger.profiles, connector)
            if car.is_suspended != was_suspended:
                await self._timed(charger.status(connector, _charging_state(car)))
            await self._timed(
                charger.meter_values(
                    connector,
                    transaction_id,
                    self.energy_wh,
                    power_w=car.power_w,
                    current_a=car.current_a,
                    offered_a=car.offered_a,
                )
            )
        return "Local"


class Member201(FleetMember):
    """An OCPP 2.0.1 station with one connector per EVSE: a transaction is its TransactionEvents,
    Started, Updated with each meter value, Ended."""

    ocpp_version = "2.0.1"
    model = "SimStation201"

    async def _one_connection(self, stop: asyncio.Event) -> None:
        async with connect_station(
            self.options.ws_url,
            self.charge_point_id,
            self.options.password,
            behaviour=StationBehaviour(max_current_a=self.options.max_current_a),
            station_class=FleetStation,
            ocpp_version=self.ocpp_version,
        ) as connected:
            station = cast(FleetStation, connected)
            self.stats.connected += 1
            try:
                await self._timed(station.boot(vendor="csms-sim", model=self.model, firmwareVersion="1.0.0"))
                for evse_id in range(1, self.options.connectors + 1):
                    await self._timed(station.status(evse_id, "Available"))
                await self._live(station, stop)
            finally:
                self.stats.connected -= 1

    async def _live(self, station: FleetStation, stop: asyncio.Event) -> None:
        heartbeats = asyncio.create_task(self._heartbeats(station.heartbeat))
        try:
            while not stop.is_set():
                if self._drops_link():
                    return
                transaction = await self._next_transaction(station, stop)
                if transaction is not None:
                    await self._session(station, transaction, stop)
        finally:
            await stop_task(heartbeats)

    async def _next_transaction(self, station: FleetStation, stop: asyncio.Event) -> StationTransaction | None:
        """Wait for a remote start, or begin a local (RFID) transaction after the idle time."""
        try:
            async with asyncio.timeout(self._idle_seconds()):
                remote = await station.remote_starts.get()
                return station.new_transaction(remote.evse_id, remote.id_token, remote_start_id=remote.remote_start_id)
        except TimeoutError:
            pass
        if stop.is_set():
            return None
        answer = await self._timed(station.authorize(self.options.id_tag))
        if answer is None or answer.id_token_info.get("status") != "Accepted":
            return None
        token = {"idToken": self.options.id_tag, "type": "ISO14443"}
        return station.new_transaction(random.randint(1, self.options.connectors), token)

    async def _session(self, station: FleetStation, transaction: StationTransaction, stop: asyncio.Event) -> None:
        evse_id = transaction.evse_id
        trigger = "RemoteStart" if transaction.remote_start_id is not None else "Authorized"
        await self._timed(station.status(evse_id, "Occupied"))
        car = self._new_car()
        self._follow_limit(car, station.profiles, evse_id)
        started = await self._timed(
            station.transaction_event(
                transaction,
                "Started",
                trigger,
                energy_wh=self.energy_wh,
                context="Transaction.Begin",
                charging_state=_charging_state(car),
            )
        )
        if started is None:
            return
        info = started.id_token_info or {}
        if info.get("status") != "Accepted":
            await self._end(station, transaction, "Deauthorized", "DeAuthorized")
            return
        self.stats.charging += 1
        try:
            reason = await self._charge(station, transaction, car, stop)
            await self._end(station, transaction, "RemoteStop" if reason == "Remote" else "StopAuthorized", reason)
        finally:
            self.stats.charging -= 1

    async def _charge(
        self, station: FleetStation, transaction: StationTransaction, car: Car, stop: asyncio.Event
    ) -> str:
        ends_at = self._session_ends_at()
        while time.monotonic() < ends_at and not stop.is_set():
            if await self._wait_for_wake(station.wake, station.remote_stops, transaction.transaction_id):
                return "Remote"
            was = (car.is_suspended, car.offered_a)
            self._follow_limit(car, station.profiles, transaction.evse_id)
            trigger = "MeterValuePeriodic"
            if car.is_suspended != was[0]:
                trigger = "ChargingStateChanged"
            elif car.offered_a != was[1]:
                trigger = "ChargingRateChanged"
            await self._timed(
                station.transaction_event(
                    transaction,
                    "Updated",
                    trigger,
                    energy_wh=self.energy_wh,
                    power_w=car.power_w,
                    current_a=car.current_a,
                    offered_a=car.offered_a,
                    charging_state=_charging_state(car) if trigger == "ChargingStateChanged" else None,
                )
            )
        return "Local"

    async def _end(self, station: FleetStation, transaction: StationTransaction, trigger: str, reason: str) -> None:
        await self._timed(
            station.transaction_event(
                transaction,
                "Ended",
                trigger,
                energy_wh=self.energy_wh,
                context="Transaction.End",
                stopped_reason=reason,
            )
        )
        await self._timed(station.status(transaction.evse_id, "Available"))


def _charging_state(car: Car) -> str:
    """1.6's connector status and 2.x's chargingState while a car is plugged in: the words are the same."""
    return "SuspendedEVSE" if car.is_suspended else "Charging"


class Member21(Member201):
    """An OCPP 2.1 station: the same story as 2.0.1, whose messages it shares."""

    ocpp_version = "2.1"
    model = "SimStation21"


MEMBERS: dict[str, type[FleetMember]] = {"1.6": Member16, "2.0.1": Member201, "2.1": Member21}
OCPP_VERSIONS = tuple(MEMBERS)


async def register_chargers(options: FleetOptions, username: str, password: str) -> int:
    """Register the fleet's chargers through the admin API (those that exist already are skipped)."""
    registered = 0
    async with _admin_client(options, username, password) as client:
        for index in range(options.chargers):
            body = {"charge_point_id": options.charge_point_id(index), "password": options.password}
            response = await client.post("/api/admin/chargers", json=body)
            if response.status_code == 201:
                registered += 1
            elif response.status_code != 409:
                response.raise_for_status()
    return registered


async def put_on_site(options: FleetOptions, username: str, password: str, *, name: str, max_current_a: float) -> int:
    """Make the fleet's chargers the chargers of site `name` (created with `max_current_a` when it is new, else
    given that limit), so csms shares the site's current among the fleet's cars; the site's id."""
    site = {
        "max_current_a": max_current_a,
        "charger_max_current_a": options.max_current_a,
        "charge_point_ids": [options.charge_point_id(index) for index in range(options.chargers)],
    }
    async with _admin_client(options, username, password) as client:
        response = await client.post("/api/admin/sites", json={"name": name, **site})
        if response.status_code == 409:
            existing = [s for s in (await client.get("/api/admin/sites")).json() if s["name"] == name]
            if not existing:
                response.raise_for_status()  # a charger of the fleet is on another site
            response = await client.patch(f"/api/admin/sites/{existing[0]['id']}", json=site)
        response.raise_for_status()
        site_id: int = response.json()["id"]
        return site_id


@contextlib.asynccontextmanager
async def _admin_client(options: FleetOptions, username: str, password: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=options.url, timeout=30) as client:
        login = await client.post("/api/login", json={"username": username, "password": password})
        login.raise_for_status()
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield client


STOP_GRACE_SECONDS = 30.0


async def run_fleet(
    options: FleetOptions, *, ramp_per_second: float = 200.0, stats: FleetStats | None = None
) -> FleetStats:
    """Run the fleet for `options.duration` (or until cancelled), counting into `stats` (a new one by default)."""
    stats = stats or FleetStats()
    stats.started_at = time.monotonic()
    stop = asyncio.Event()
    stations = [MEMBERS[options.ocpp_version(index)](options, index, stats) for index in range(options.chargers)]
    tasks = []
    progress = asyncio.create_task(_show_progress(stats, options.chargers, stop))
    try:
        for station in stations:
            tasks.append(asyncio.create_task(station.run(stop)))
            await asyncio.sleep(1 / ramp_per_second)
        if options.duration:
            await asyncio.sleep(max(0.0, options.duration - (time.monotonic() - stats.started_at)))
        else:
            await asyncio.Event().wait()
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await _wait_for_members(tasks, stats)
        progress.cancel()
        await asyncio.gather(progress, return_exceptions=True)
    return stats


async def _wait_for_members(tasks: list[asyncio.Task[None]], stats: FleetStats) -> None:
    """Every member, told to stop, has STOP_GRACE_SECONDS to close its connection; one that does not is
    left behind and counted as an error, so a stuck charger shows in the figures instead of hanging the run."""
    if not tasks:
        return
    done, stuck = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
    for task in done:
        if not task.cancelled():
            task.exception()  # retrieved: a member's own error is already counted in stats
    if stuck:
        stats.errors += len(stuck)
        print(f"\n{len(stuck)} chargers did not stop within {STOP_GRACE_SECONDS:.0f} s", file=sys.stderr)
        for task in stuck:  # where each waits: what a stuck charger was doing is the clue
            task.print_stack(limit=20, file=sys.stderr)


async def _show_progress(stats: FleetStats, total: int, stop: asyncio.Event) -> None:
    while not stop.is_set():
        print("\r" + stats.line(total), end="", flush=True)
        await asyncio.sleep(1)
