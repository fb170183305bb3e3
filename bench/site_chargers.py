"""The chargers of bench/site_load.py: lean 1.6 chargers that accept every SetChargingProfile and note when it
arrived, and the ledger of each site, which sums the limits in force on its running sessions.

A `SiteCharger` is a `LeanCharger` whose frames are read by a task of its own, since csms calls it at any
moment (its site's TxDefaultProfile, each transaction's TxProfile): answers to the charger's own calls go to
the call waiting for them, csms's calls are answered Accepted at once. Every time is `time.perf_counter()`
in this process, taken when the reader saw the frame, for the answers and the profiles alike.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from lean_charger import CALL_TIMEOUT, CONNECTOR_ID, ENERGY_REGISTER, CallFailed, LeanCharger, ocpp_timestamp

TX_DEFAULT_PROFILE, TX_PROFILE = "TxDefaultProfile", "TxProfile"
# csms publishes a car's draw again when it moved this much (services/site_load.py DRAW_CHANGE_A): such a
# MeterValues is a site event, as a start or a stop is.
DRAW_CHANGE_A = 2.0
_CALL, _CALL_RESULT, _CALL_ERROR = 2, 3, 4
_ACCEPTED = '[3,{unique_id},{{"status":"Accepted"}}]'
FIRST, RAISED, LOWERED, SAME, NOT_RUNNING = "first", "raised", "lowered", "same", "not running"


@dataclass
class Profile:
    """A SetChargingProfile as the charger received it."""

    at: float
    purpose: str
    limit_a: float
    transaction_id: int | None
    # A TxProfile's change to its transaction's limit: first, raised, lowered or same (sent again).
    change: str
    size: int  # bytes of the frame


@dataclass
class SiteLedger:
    """One site as its chargers see it: the sum of the limits in force on its running sessions, at every
    change, against the site's limit; and when things happened on it, for the latencies."""

    name: str
    limit_a: float
    charger_max_a: float
    chargers: list[SiteCharger] = field(default_factory=list)
    peak_a: float = 0.0
    violations: list[tuple[float, float]] = field(default_factory=list)  # (when, sum of limits)
    # The same with every idle connector counted at what a car plugging in may take (its default, else the
    # charger's maximum): what csms itself promises (services/site_load.py), stricter than the rule.
    peak_with_idle_a: float = 0.0
    violations_with_idle: list[tuple[float, float]] = field(default_factory=list)
    # How long each stretch over the limit (with idle connectors) lasted, and when the current one began.
    over_limit_seconds: list[float] = field(default_factory=list)
    over_since: float | None = None
    # The first violations with idle connectors, as they happened: when, the sum, what each charger had.
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    # Starts, stops and draw changes answered, by when: what makes csms recompute the site.
    events: list[float] = field(default_factory=list)
    raises: list[float] = field(default_factory=list)

    def start_checking(self) -> None:
        """Forget the sums of the boot, when chargers still without their default counted at their maximum."""
        self.peak_a = self.peak_with_idle_a = 0.0
        self.violations, self.violations_with_idle = [], []
        self.over_limit_seconds, self.over_since, self.snapshots = [], None, []
        self.check(time.perf_counter())

    def check(self, at: float) -> None:
        running = sum(charger.limit_in_force_a() for charger in self.chargers if charger.charging)
        idle = sum(charger.limit_in_force_a() for charger in self.chargers if not charger.charging)
        self.peak_a = max(self.peak_a, running)
        self.peak_with_idle_a = max(self.peak_with_idle_a, running + idle)
        if running > self.limit_a + 1e-6:
            self.violations.append((at, running))
        if running + idle <= self.limit_a + 1e-6:
            if self.over_since is not None:
                self.over_limit_seconds.append(at - self.over_since)
                self.over_since = None
            return
        self.violations_with_idle.append((at, running + idle))
        if self.over_since is None:
            self.over_since = at
        if len(self.snapshots) < 2:
            chargers = {
                charger.charge_point_id: ("charging" if charger.charging else "idle", charger.limit_in_force_a())
                for charger in self.chargers
            }
            self.snapshots.append({"at": at, "sum_a": running + idle, "chargers": chargers})

    def profiles_around(self, at: float, seconds: float = 1.0) -> list[tuple[float, str, int | None, float, str]]:
        """The TxProfiles the site's chargers received within `seconds` of `at`: (seconds from it, charger,
        transaction, limit, change)."""
        found = [
            (
                round(profile.at - at, 4),
                charger.charge_point_id,
                profile.transaction_id,
                profile.limit_a,
                profile.change,
            )
            for charger in self.chargers
            for profile in charger.profiles
            if abs(profile.at - at) <= seconds and profile.purpose == TX_PROFILE
        ]
        return sorted(found)


@dataclass
class SiteCharger(LeanCharger):
    id_tag: str = ""
    ledger: SiteLedger | None = None
    reader: asyncio.Task[None] | None = None
    pending: dict[str, tuple[str, asyncio.Future[tuple[int, Any, float]]]] = field(default_factory=dict)
    # The session as the car sees it: charging from the StartTransaction sent to the StopTransaction sent.
    charging: bool = False
    current_transaction: int | None = None
    default_a: float | None = None
    tx_limits: dict[int, float] = field(default_factory=dict)  # the last TxProfile limit of each transaction
    profiles: list[Profile] = field(default_factory=list)
    other_calls: int = 0  # csms's calls other than SetChargingProfile
    boot_answered_at: float | None = None
    # (transaction, StartTransaction answered) and (StopTransaction sent, answered) of every session.
    starts: list[tuple[int, float]] = field(default_factory=list)
    stops: list[tuple[float, float]] = field(default_factory=list)
    first_tx_profile_at: dict[int, float] = field(default_factory=dict)
    draws_less_a: float | None = None  # the car of this session draws at most this
    last_draw_published: float | None = None

    def start_reading(self) -> None:
        self.reader = asyncio.create_task(self._read(), name=f"read-{self.charge_point_id}")

    def limit_in_force_a(self) -> float:
        """What the car may draw: its transaction's TxProfile, else the charger's default, else the charger's
        maximum (a charger with no profile is not limited); idle, what a car plugging in may take."""
        if self.charging and self.current_transaction is not None and self.current_transaction in self.tx_limits:
            return self.tx_limits[self.current_transaction]
        if self.default_a is not None:
            return self.default_a
        return self.ledger.charger_max_a if self.ledger is not None else 0.0

    def draw_a(self) -> float:
        limit = self.limit_in_force_a()
        return limit if self.draws_less_a is None else min(limit, self.draws_less_a)

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.message_count += 1
        unique_id = f"c{self.message_count}"
        frame = json.dumps([_CALL, unique_id, action, payload], separators=(",", ":"))
        answer: asyncio.Future[tuple[int, Any, float]] = asyncio.get_running_loop().create_future()
        self.pending[unique_id] = (action, answer)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                await self.connection.send(frame)
                kind, body, answered_at = await answer
        except TimeoutError:
            self.book.record_error(f"{action}: timeout")
            raise
        finally:
            self.pending.pop(unique_id, None)
        if kind == _CALL_RESULT:
            self.book.record(action, answered_at - started)
            return dict(body)
        error = f"{action}: {body}" if kind == _CALL_ERROR else f"{action}: unexpected frame"
        self.book.record_error(error)
        raise CallFailed(error)

    # -- a session's calls ----------------------------------------------------------------------

    async def start_transaction(self) -> None:
        self.charging, self.current_transaction, self.last_draw_published = True, None, None
        self._check()
        payload = {
            "connectorId": CONNECTOR_ID,
            "idTag": self.id_tag,
            "meterStart": self.meter_wh,
            "timestamp": ocpp_timestamp(),
        }
        answer = await self.call("StartTransaction", payload)
        if answer.get("idTagInfo", {}).get("status") != "Accepted":
            raise CallFailed(f"StartTransaction: {answer.get('idTagInfo')}")

    async def meter_values(self) -> None:
        drawn = self.draw_a()
        self.meter_wh += int(drawn * 230 * 3 / 360)  # ten seconds of it, roughly
        sample = {
            "timestamp": ocpp_timestamp(),
            "sampledValue": [
                {"value": str(self.meter_wh), "measurand": ENERGY_REGISTER, "unit": "Wh"},
                *(
                    {"value": f"{drawn:.1f}", "measurand": "Current.Import", "unit": "A", "phase": phase}
                    for phase in ("L1", "L2", "L3")
                ),
            ],
        }
        payload = {"connectorId": CONNECTOR_ID, "transactionId": self.current_transaction, "meterValue": [sample]}
        await self.call("MeterValues", payload)
        last = self.last_draw_published
        if last is None or abs(drawn - last) >= DRAW_CHANGE_A:
            self.last_draw_published = drawn
            if self.ledger is not None:
                self.ledger.events.append(time.perf_counter())

    async def stop_transaction(self) -> None:
        transaction_id = self.current_transaction
        self.charging = False
        self._check()
        sent = time.perf_counter()
        payload = {
            "transactionId": transaction_id if transaction_id is not None else 0,
            "meterStop": self.meter_wh,
            "timestamp": ocpp_timestamp(),
            "reason": "Local",
        }
        self.stops.append((sent, sent))  # the answer's time replaces the second one
        await self.call("StopTransaction", payload)

    def _check(self) -> None:
        if self.ledger is not None:
            self.ledger.check(time.perf_counter())

    # -- what csms sends --------------------------------------------------------------------------

    async def _read(self) -> None:
        async for raw in self.connection:
            at = time.perf_counter()
            message = json.loads(raw)
            if message[0] == _CALL:
                await self._answer(message, at, len(raw))
                continue
            waiting = self.pending.get(str(message[1]))
            if waiting is None or waiting[1].done():
                continue
            action, answer = waiting
            body = message[2] if message[0] == _CALL_RESULT else message[2:]
            if message[0] == _CALL_RESULT:
                self._answered(action, body, at)
            answer.set_result((message[0], body, at))

    def _answered(self, action: str, body: dict[str, Any], at: float) -> None:
        """Bookkeeping at the moment an answer arrived, before the waiting call resumes."""
        if action == "BootNotification":
            self.boot_answered_at = at
        elif action == "StartTransaction":
            self.current_transaction = int(body["transactionId"])
            self.starts.append((self.current_transaction, at))
            self._site_event(at)
        elif action == "StopTransaction" and self.stops:
            self.stops[-1] = (self.stops[-1][0], at)
            self._site_event(at)

    def _site_event(self, at: float) -> None:
        if self.ledger is not None:
            self.ledger.events.append(at)
            self.ledger.check(at)

    async def _answer(self, message: list[Any], at: float, size: int) -> None:
        unique_id, action, payload = message[1], message[2], message[3]
        if action == "SetChargingProfile":
            self._received_profile(payload, at, size)
        else:
            self.other_calls += 1
        await self.connection.send(_ACCEPTED.format(unique_id=json.dumps(unique_id)))

    def _received_profile(self, payload: dict[str, Any], at: float, size: int) -> None:
        profile = payload["csChargingProfiles"]
        limit = float(profile["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"])
        purpose = str(profile["chargingProfilePurpose"])
        transaction_id = profile.get("transactionId")
        change = ""
        if purpose == TX_DEFAULT_PROFILE:
            self.default_a = limit
        elif purpose == TX_PROFILE and transaction_id is not None:
            change = self._change(transaction_id, limit)
            self.tx_limits[transaction_id] = limit
            self.first_tx_profile_at.setdefault(transaction_id, at)
        self.profiles.append(Profile(at, purpose, limit, transaction_id, change, size))
        if self.ledger is not None:
            if change == RAISED:
                self.ledger.raises.append(at)
            self.ledger.check(at)

    def _change(self, transaction_id: int, limit: float) -> str:
        before = self.tx_limits.get(transaction_id)
        if before is None:
            return FIRST
        if not (self.charging and transaction_id == self.current_transaction):
            return NOT_RUNNING
        return RAISED if limit > before else LOWERED if limit < before else SAME
