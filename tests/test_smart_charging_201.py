"""Smart charging on OCPP 2.0.1 stations (block K): profiles set, cleared and read back through the
version-neutral API and the generic call, the composite schedule, and what the station reports itself
(ReportChargingProfiles, NotifyChargingLimit / ClearedChargingLimit, NotifyEVChargingNeeds and
NotifyEVChargingSchedule)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from ocpp.v201 import call, call_result

from csms.services.smart_charging import NEEDS_PROFILE_ID
from csms.simulator.station201 import SimulatedStation, StationBehaviour
from tests.conftest import RunningServer
from tests.operating import admin, booted_station, new_tag, ocpp_call
from tests.support.backends import sqlite_only_server
from tests.support.events import live_stream
from tests.support.waiting import poll, wait_until

__all__ = ["admin", "sqlite_only_server"]

SCHEDULE = [{"start_period": 0, "limit": 16, "number_phases": 3}, {"start_period": 1800, "limit": 10}]


def tokens_of(admin: dict[str, str]) -> dict[str, str]:
    return {"access_token": admin["Authorization"].removeprefix("Bearer ")}


def profile_body(connector_id: int, profile_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "connector_id": connector_id,
        "charging_profile_id": profile_id,
        "stack_level": 0,
        "purpose": "TxDefaultProfile",
        "charging_rate_unit": "A",
        "periods": SCHEDULE,
        **fields,
    }


async def set_profile(
    http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await http.post(f"/api/admin/chargers/{charge_point_id}/charging_profiles", json=body, headers=admin)


async def held(http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/api/admin/chargers/{charge_point_id}/charging_profiles", headers=admin)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def started_transaction(
    http: httpx.AsyncClient, admin: dict[str, str], station: SimulatedStation, evse_id: int
) -> tuple[int, str]:
    """A transaction the station began on `evse_id`: csms's id of it and the station's own."""
    token = {"idToken": await new_tag(http, admin), "type": "ISO14443"}
    transaction = station.new_transaction(evse_id, token)
    await station.transaction_event(transaction, "Started", "Authorized", energy_wh=0, charging_state="Charging")

    async def of_station() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await http.get("/api/admin/transactions", headers=admin)).json()
        return [record for record in found if record["charge_point_id"] == station.id]

    record = (await poll(of_station, until=bool))[0]
    return record["id"], transaction.transaction_id


async def test_a_tx_profile_reaches_the_evse_naming_the_stations_transaction_and_is_listed(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with booted_station(server) as station:
        transaction_id, key = await started_transaction(http, admin, station, 2)
        body = profile_body(2, 7, purpose="TxProfile", stack_level=1, transaction_id=transaction_id)
        response = await set_profile(http, admin, station.id, body)
        sent = station.calls_received("SetChargingProfile")

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "Accepted"}
    assert sent == [
        {
            "evseId": 2,
            "chargingProfile": {
                "id": 7,
                "stackLevel": 1,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative",
                "transactionId": key,
                "chargingSchedule": [
                    {
                        "id": 7,
                        "chargingRateUnit": "A",
                        "chargingSchedulePeriod": [
                            {"startPeriod": 0, "limit": 16.0, "numberPhases": 3},
                            {"startPeriod": 1800, "limit": 10.0},
                        ],
                    }
                ],
            },
        }
    ]
    [listed] = await held(http, admin, station.id)
    assert {name: listed[name] for name in ("connector_id", "charging_profile_id", "purpose", "stack_level")} == {
        "connector_id": 2,
        "charging_profile_id": 7,
        "purpose": "TxProfile",
        "stack_level": 1,
    }
    assert (listed["transaction_id"], listed["transaction_key"]) == (transaction_id, key)
    assert listed["periods"] == [
        {"start_period": 0, "limit": 16.0, "number_phases": 3},
        {"start_period": 1800, "limit": 10.0, "number_phases": None},
    ]


async def test_a_station_maximum_goes_to_evse_0_and_replaces_the_profile_with_its_id(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with booted_station(server) as station:
        maximum = profile_body(0, 3, purpose="ChargingStationMaxProfile", periods=[{"start_period": 0, "limit": 63}])
        assert (await set_profile(http, admin, station.id, maximum)).json() == {"status": "Accepted"}
        lower = {**maximum, "periods": [{"start_period": 0, "limit": 40}]}
        assert (await set_profile(http, admin, station.id, lower)).json() == {"status": "Accepted"}
        sent = station.calls_received("SetChargingProfile")

    assert [(frame["evseId"], frame["chargingProfile"]["chargingProfilePurpose"]) for frame in sent] == [
        (0, "ChargingStationMaxProfile"),
        (0, "ChargingStationMaxProfile"),
    ]
    assert [(item["connector_id"], item["periods"][0]["limit"]) for item in await held(http, admin, station.id)] == [
        (0, 40.0)
    ]


async def test_a_profile_the_station_rejects_is_not_kept(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    behaviour = StationBehaviour(
        answers={"SetChargingProfile": lambda _: call_result.SetChargingProfile(status="Rejected")}
    )
    async with booted_station(server, behaviour) as station:
        response = await set_profile(http, admin, station.id, profile_body(1, 1))
    assert response.json() == {"status": "Rejected"}
    assert await held(http, admin, station.id) == []


async def test_the_generic_set_and_clear_calls_are_kept_per_evse(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    def wire(profile_id: int, stack_level: int) -> dict[str, Any]:
        schedule = {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}]}
        return {
            "id": profile_id,
            "stackLevel": stack_level,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": [schedule],
        }

    async with booted_station(server) as station:
        for evse_id, profile_id, stack_level in ((1, 11, 0), (2, 12, 0), (2, 13, 2)):
            payload = {"evseId": evse_id, "chargingProfile": wire(profile_id, stack_level)}
            assert (await ocpp_call(http, admin, station.id, "SetChargingProfile", payload)).status_code == 200
        kept = [(item["connector_id"], item["charging_profile_id"]) for item in await held(http, admin, station.id)]
        clear = {"chargingProfileCriteria": {"evseId": 2, "stackLevel": 2}}
        assert (await ocpp_call(http, admin, station.id, "ClearChargingProfile", clear)).json() == {
            "status": "Accepted"
        }
    assert kept == [(1, 11), (2, 12), (2, 13)]
    listed = await held(http, admin, station.id)
    assert [(item["connector_id"], item["charging_profile_id"], item["charging_rate_unit"]) for item in listed] == [
        (1, 11, "W"),
        (2, 12, "W"),
    ]


async def test_clearing_through_the_api_sends_charging_profile_criteria_and_forgets_what_it_names(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with booted_station(server) as station:
        await set_profile(http, admin, station.id, profile_body(1, 1))
        await set_profile(http, admin, station.id, profile_body(2, 2))
        url = f"/api/admin/chargers/{station.id}/charging_profiles"
        by_criteria = await http.delete(url, params={"connector_id": 2, "purpose": "TxDefaultProfile"}, headers=admin)
        by_id = await http.delete(url, params={"charging_profile_id": 1}, headers=admin)
        sent = station.calls_received("ClearChargingProfile")
    assert (by_criteria.json(), by_id.json()) == ({"status": "Accepted"}, {"status": "Accepted"})
    assert sent == [
        {"chargingProfileCriteria": {"evseId": 2, "chargingProfilePurpose": "TxDefaultProfile"}},
        {"chargingProfileId": 1},
    ]
    assert await held(http, admin, station.id) == []


async def test_the_composite_schedule_is_asked_for_the_evse_and_read_back_in_neutral_form(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    schedule = {
        "evseId": 1,
        "duration": 3600,
        "scheduleStart": "2030-01-01T00:00:00Z",
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 20},
            {"startPeriod": 600, "limit": 8, "numberPhases": 1},
        ],
    }
    answer = call_result.GetCompositeSchedule(status="Accepted", schedule=schedule)
    async with booted_station(server, StationBehaviour(answers={"GetCompositeSchedule": lambda _: answer})) as station:
        response = await http.get(
            f"/api/admin/chargers/{station.id}/composite_schedule",
            params={"connector_id": 1, "duration": 3600, "unit": "A"},
            headers=admin,
        )
        sent = station.calls_received("GetCompositeSchedule")
    assert sent == [{"evseId": 1, "duration": 3600, "chargingRateUnit": "A"}]
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "Accepted",
        "schedule": {
            "connector_id": 1,
            "schedule_start": "2030-01-01T00:00:00Z",
            "duration": 3600,
            "charging_rate_unit": "A",
            "periods": [
                {"start_period": 0, "limit": 20.0, "number_phases": None},
                {"start_period": 600, "limit": 8.0, "number_phases": 1},
            ],
        },
    }


async def test_a_tx_profile_for_a_transaction_of_another_charger_or_an_ended_one_is_refused(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with booted_station(server) as station, booted_station(server) as other:
        transaction_id, _ = await started_transaction(http, admin, other, 1)
        elsewhere = await set_profile(
            http, admin, station.id, profile_body(1, 1, purpose="TxProfile", transaction_id=transaction_id)
        )
        wrong_evse = await set_profile(
            http, admin, other.id, profile_body(2, 1, purpose="TxProfile", transaction_id=transaction_id)
        )
        sent = station.calls_received("SetChargingProfile") + other.calls_received("SetChargingProfile")
    assert (elsewhere.status_code, wrong_evse.status_code) == (404, 422)
    assert "detail" in elsewhere.json() and "connector" in wrong_evse.json()["detail"]
    assert sent == []


async def test_report_charging_profiles_in_two_parts_is_listed_whole(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    def reported(profile_id: int, purpose: str, limit: float) -> dict[str, Any]:
        schedule = {
            "id": profile_id,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        }
        return {
            "id": profile_id,
            "stackLevel": 0,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Relative",
            "chargingSchedule": [schedule],
        }

    accepting = StationBehaviour(
        answers={"GetChargingProfiles": lambda _: call_result.GetChargingProfiles(status="Accepted")}
    )
    async with booted_station(server, accepting) as station:
        asked = {"requestId": 42, "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"}}
        assert (await ocpp_call(http, admin, station.id, "GetChargingProfiles", asked)).json() == {"status": "Accepted"}
        assert station.calls_received("GetChargingProfiles") == [asked]
        first = call.ReportChargingProfiles(
            request_id=42,
            charging_limit_source="CSO",
            evse_id=0,
            charging_profile=[reported(1, "ChargingStationMaxProfile", 63)],
            tbc=True,
        )
        second = call.ReportChargingProfiles(
            request_id=42,
            charging_limit_source="EMS",
            evse_id=1,
            charging_profile=[reported(2, "TxDefaultProfile", 10)],
        )
        answers = [await station.call(first), await station.call(second)]
    assert [answer.__class__.__name__ for answer in answers] == ["ReportChargingProfiles"] * 2
    response = await http.get(f"/api/admin/chargers/{station.id}/charging_profiles/reported", headers=admin)
    listed = response.json()
    assert [
        (item["request_id"], item["connector_id"], item["source"], item["charging_profile_id"], item["purpose"])
        for item in listed
    ] == [(42, 0, "CSO", 1, "ChargingStationMaxProfile"), (42, 1, "EMS", 2, "TxDefaultProfile")]
    assert [item["periods"][0]["limit"] for item in listed] == [63.0, 10.0]


async def test_a_new_report_replaces_the_last_one(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    profile = {
        "id": 5,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": [
            {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 1}]}
        ],
    }
    async with booted_station(server) as station:
        for request_id in (1, 2):
            await station.call(
                call.ReportChargingProfiles(
                    request_id=request_id, charging_limit_source="CSO", evse_id=1, charging_profile=[profile]
                )
            )
    listed = (await http.get(f"/api/admin/chargers/{station.id}/charging_profiles/reported", headers=admin)).json()
    assert [item["request_id"] for item in listed] == [2]


async def test_an_external_charging_limit_is_listed_until_the_station_clears_it(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    schedule = {"id": 9, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 12.5}]}
    url = "/api/admin/chargers/{}/charging_limits"
    async with booted_station(server) as station, live_stream(server.http_url, tokens_of(admin)) as live:
        await station.call(
            call.NotifyChargingLimit(
                charging_limit={"chargingLimitSource": "EMS", "isGridCritical": True},
                evse_id=1,
                charging_schedule=[schedule],
            )
        )
        before = (await http.get(url.format(station.id), headers=admin)).json()
        answer = await station.call(call.ClearedChargingLimit(charging_limit_source="EMS", evse_id=1))
        after = (await http.get(url.format(station.id), headers=admin)).json()
        await wait_until(lambda: bool(live.events("charging_limit_cleared")))
    assert answer.__class__.__name__ == "ClearedChargingLimit"
    assert [
        (event["charge_point_id"], event["evse_id"], event["source"]) for event in live.events("charging_limit")
    ] == [(station.id, 1, "EMS")]
    assert [(event["evse_id"], event["source"]) for event in live.events("charging_limit_cleared")] == [(1, "EMS")]
    assert len(before) == 1 and before[0]["cleared_at"] is None
    assert {name: before[0][name] for name in ("evse_id", "source", "is_grid_critical")} == {
        "evse_id": 1,
        "source": "EMS",
        "is_grid_critical": True,
    }
    assert before[0]["schedules"] == [
        {
            "id": 9,
            "charging_rate_unit": "A",
            "start_schedule": None,
            "duration": None,
            "min_charging_rate": None,
            "periods": [{"start_period": 0, "limit": 12.5, "number_phases": None}],
        }
    ]
    assert after[0]["cleared_at"] is not None


async def test_ev_charging_needs_and_schedule_are_accepted_and_kept(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    needs = {
        "requestedEnergyTransfer": "AC_three_phase",
        "departureTime": "2030-01-01T18:00:00Z",
        "acChargingParameters": {"energyAmount": 20000, "evMinCurrent": 6, "evMaxCurrent": 32, "evMaxVoltage": 400},
    }
    chosen = {"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}
    async with booted_station(server) as station, live_stream(server.http_url, tokens_of(admin)) as live:
        needs_answer = await station.call(
            call.NotifyEVChargingNeeds(charging_needs=needs, evse_id=1, max_schedule_tuples=3)
        )
        schedule_answer = await station.call(
            call.NotifyEVChargingSchedule(time_base="2030-01-01T12:00:00Z", charging_schedule=chosen, evse_id=1)
        )
        await wait_until(lambda: len(live.events("ev_charging_report")) == 2)
    assert (needs_answer.status, schedule_answer.status) == ("Accepted", "Accepted")
    assert [(event["report"], event["energy_transfer"]) for event in live.events("ev_charging_report")] == [
        ("ChargingNeeds", "AC_three_phase"),
        ("ChargingSchedule", None),
    ]
    reports = (await http.get(f"/api/admin/chargers/{station.id}/ev_charging_reports", headers=admin)).json()
    assert [(report["kind"], report["evse_id"]) for report in reports] == [
        ("ChargingSchedule", 1),
        ("ChargingNeeds", 1),
    ]
    assert reports[1]["energy_transfer"] == "AC_three_phase"
    assert reports[1]["departure_time"].startswith("2030-01-01T18:00:00")
    assert reports[1]["details"] == {"chargingNeeds": needs, "maxScheduleTuples": 3}
    assert reports[0]["details"] == {"timeBase": "2030-01-01T12:00:00Z", "chargingSchedule": chosen}


async def test_a_tx_profile_set_by_the_generic_call_goes_once_the_station_ends_its_transaction(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with booted_station(server) as station:
        token = {"idToken": await new_tag(http, admin), "type": "ISO14443"}
        transaction = station.new_transaction(1, token)
        await station.transaction_event(transaction, "Started", "Authorized", energy_wh=0)
        schedule = {"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8}]}
        profile = {
            "id": 21,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "transactionId": transaction.transaction_id,
            "chargingSchedule": [schedule],
        }
        await ocpp_call(http, admin, station.id, "SetChargingProfile", {"evseId": 1, "chargingProfile": profile})
        during = await held(http, admin, station.id)
        await station.transaction_event(transaction, "Ended", "StopAuthorized", energy_wh=500, stopped_reason="Local")
        after = await poll(lambda: held(http, admin, station.id), until=lambda found: not found)
    assert [(item["charging_profile_id"], item["transaction_key"]) for item in during] == [
        (21, transaction.transaction_id)
    ]
    assert after == []


async def test_the_test_station_holds_the_tx_profile_of_its_transaction_until_it_ends(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tag = await new_tag(http, admin)
    async with booted_station(server) as station:
        transaction = station.new_transaction(1, {"idToken": tag, "type": "ISO14443"})
        await station.transaction_event(transaction, "Started", "Authorized", energy_wh=0, context="Transaction.Begin")
        record = await poll(
            lambda: http.get("/api/admin/transactions", params={"charge_point_id": station.id}, headers=admin),
            until=lambda response: bool(response.json()),
        )
        body = profile_body(1, 9, purpose="TxProfile", transaction_id=record.json()[0]["id"], periods=[{"start_period": 0, "limit": 11040, "number_phases": 3}], charging_rate_unit="W")  # fmt: skip
        assert (await set_profile(http, admin, station.id, body)).json() == {"status": "Accepted"}
        limit_in_force = station.profiles.limit_a(1, datetime.now(UTC))
        composite = await http.get(
            f"/api/admin/chargers/{station.id}/composite_schedule",
            params={"connector_id": 1, "duration": 300, "unit": "W"},
            headers=admin,
        )
        await station.transaction_event(
            transaction, "Ended", "StopAuthorized", energy_wh=100, context="Transaction.End"
        )
        after_it = station.profiles.limit_a(1, datetime.now(UTC))
    assert (limit_in_force, after_it) == (16, None)  # 11040 W on 3 phases at 230 V
    assert composite.json()["schedule"]["periods"] == [{"start_period": 0, "limit": 11040.0, "number_phases": None}]


async def test_csms_never_sets_an_external_constraints_profile(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    # 2.0.1 K01.FR.22: the purpose is a limit set on the station from outside; the CSMS only reads it.
    wire = {
        "id": 3,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargingStationExternalConstraints",
        "chargingProfileKind": "Relative",
        "chargingSchedule": [
            {"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}]}
        ],
    }
    async with booted_station(server) as station:
        dedicated = await set_profile(
            http, admin, station.id, profile_body(0, 3, purpose="ChargingStationExternalConstraints")
        )
        generic = await ocpp_call(http, admin, station.id, "SetChargingProfile", {"evseId": 0, "chargingProfile": wire})
        assert station.calls_received("SetChargingProfile") == []
    assert dedicated.status_code == generic.status_code == 422, (dedicated.text, generic.text)
    assert "K01.FR.22" in dedicated.text and "K01.FR.22" in generic.json()["detail"]
    assert await held(http, admin, station.id) == []


async def test_an_external_constraints_profile_the_station_reports_is_kept_and_listed(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    external = {
        "id": 900,
        "stackLevel": 1,
        "chargingProfilePurpose": "ChargingStationExternalConstraints",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {
                "id": 1,
                "startSchedule": "2026-12-07T00:00:00Z",
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}, {"startPeriod": 3600, "limit": 4000}],
            }
        ],
    }
    async with booted_station(server) as station:
        await station.call(
            call.ReportChargingProfiles(
                request_id=7, charging_limit_source="EMS", evse_id=0, charging_profile=[external]
            )
        )
    response = await http.get(f"/api/admin/chargers/{station.id}/charging_profiles/reported", headers=admin)
    assert response.status_code == 200, response.text
    [listed] = response.json()
    assert (listed["charging_profile_id"], listed["purpose"], listed["source"], listed["connector_id"]) == (
        900,
        "ChargingStationExternalConstraints",
        "EMS",
        0,
    )
    assert [(period["start_period"], period["limit"]) for period in listed["periods"]] == [(0, 11000.0), (3600, 4000.0)]


def _tx_profiles(station: SimulatedStation) -> list[dict[str, Any]]:
    profiles = [r.payload["charging_profile"] for r in station.received if r.action == "SetChargingProfile"]
    return [profile for profile in profiles if profile["charging_profile_purpose"] == "TxProfile"]


def _needs_profiles(station: SimulatedStation) -> list[dict[str, Any]]:
    return [profile for profile in _tx_profiles(station) if profile["id"] >= NEEDS_PROFILE_ID]


async def test_an_evs_charging_needs_are_answered_with_a_schedule_that_meets_them_by_departure(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with booted_station(server) as station:
        _, key = await started_transaction(http, admin, station, 1)
        # 11,040 Wh in two hours on three phases: 5,520 W, 8 A per phase (the EV takes 6 to 32 A).
        departure = (datetime.now(UTC) + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
        needs = {
            "requestedEnergyTransfer": "AC_three_phase",
            "departureTime": departure,
            "acChargingParameters": {"energyAmount": 11040, "evMinCurrent": 6, "evMaxCurrent": 32, "evMaxVoltage": 400},
        }
        answer = await station.call(call.NotifyEVChargingNeeds(charging_needs=needs, evse_id=1))

        async def needs_profiles() -> list[dict[str, Any]]:
            return _needs_profiles(station)

        profile = (await poll(needs_profiles, until=bool))[0]
        # A DC EV with no departure gets all it takes.
        dc = {
            "requestedEnergyTransfer": "DC",
            "dcChargingParameters": {"evMaxCurrent": 125, "evMaxVoltage": 400, "evMaxPower": 50000},
        }
        await station.call(call.NotifyEVChargingNeeds(charging_needs=dc, evse_id=1))
        second = (await poll(needs_profiles, until=lambda found: len(found) == 2))[1]
    assert answer.status == "Accepted"
    assert (profile["charging_profile_purpose"], profile["transaction_id"]) == ("TxProfile", key)
    (schedule,) = profile["charging_schedule"]
    assert schedule["charging_rate_unit"] == "A"
    assert schedule["charging_schedule_period"] == [{"start_period": 0, "limit": 8.0, "number_phases": 3}]
    (schedule,) = second["charging_schedule"]
    assert (schedule["charging_rate_unit"], schedule["charging_schedule_period"][0]["limit"]) == ("W", 50000)


async def test_the_needs_of_an_ev_on_a_site_are_left_to_the_site_s_allocator(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with booted_station(server) as station:
        response = await http.post(
            "/api/admin/sites",
            json={"name": f"needs-{station.id}", "max_current_a": 40, "charge_point_ids": [station.id]},
            headers=admin,
        )
        assert response.status_code == 201, response.text
        await started_transaction(http, admin, station, 1)
        needs = {
            "requestedEnergyTransfer": "AC_three_phase",
            "acChargingParameters": {"energyAmount": 5000, "evMinCurrent": 6, "evMaxCurrent": 32, "evMaxVoltage": 400},
        }
        assert (await station.call(call.NotifyEVChargingNeeds(charging_needs=needs, evse_id=1))).status == "Accepted"

        async def tx_profiles() -> list[dict[str, Any]]:
            return _tx_profiles(station)

        await poll(tx_profiles, until=bool)  # the allocator's
    assert _needs_profiles(station) == []
