"""Site load management: chargers behind one grid connection, kept under its limit by the profiles csms sends.

The chargers are real OCPP clients; what counts is what they received (tests/support/sites.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from ocpp.v16 import call_result

from csms.simulator.charger import ChargerBehaviour, SimulatedCharger
from csms.simulator.station201 import SimulatedStation
from tests.conftest import RunningServer, bearer, create_account_with_role, login_as, node_with
from tests.operating import admin, booted_station, new_tag, online_charger, payloads_received
from tests.support.sites import MINIMUM, Car, default_limit, limits_settle, make_site, site_chargers, start_car
from tests.support.waiting import poll

__all__ = ["admin"]


async def test_six_cars_on_a_63_a_site_never_take_it_over_its_limit(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with site_chargers(server, 6) as chargers:
        site = await make_site(http, admin, [charger.id for charger in chargers])
        # Every charger gets the safe default first: 6 connectors at 6 A fit under 63 A.
        await poll(lambda: _defaults(chargers), until=lambda found: found == [MINIMUM] * 6)
        cars: list[Car] = []
        # One by one: each idle connector keeps its 6 A default in reserve; the rest is shared equally.
        expected_after_each = [[32.0], [19.5] * 2, [15.0] * 3, [12.8, 12.8, 12.7, 12.7], [11.4] * 5, [10.5] * 6]
        for charger, expected in zip(chargers, expected_after_each, strict=True):
            cars.append(await start_car(charger, await new_tag(http, admin)))
            await limits_settle(cars, expected)

        # The first car leaves: the others could have 11.4 A, but a rise under 1 A is not worth a profile.
        await cars.pop(0).stop()
        await limits_settle(cars, [10.5] * 5)
        # A second leaves: the freed current is handed out.
        await cars.pop(0).stop()
        await limits_settle(cars, [12.8, 12.8, 12.7, 12.7])
        await cars.pop(0).stop()
        await limits_settle(cars, [15.0] * 3)
        # A car that draws only 10 A of its 15 keeps its draw plus the 2 A hysteresis; the others get the rest.
        await cars[0].draw(10)
        await limits_settle(cars, [12.0, 16.5, 16.5])

        # The operator lowers the limit (3 idle connectors hold 18 A of it): limits go down at once, each
        # car keeps the minimum while it fits, and the last to come waits when it does not.
        response = await http.put(f"/api/admin/sites/{site['id']}/limit", json={"max_current_a": 36}, headers=admin)
        assert response.status_code == 200, response.text
        await limits_settle(cars, [6.0, 6.0, 6.0])
        await http.put(f"/api/admin/sites/{site['id']}/limit", json={"max_current_a": 30}, headers=admin)
        await limits_settle(cars, [6.0, 6.0, 0.0])

        async def site_view() -> dict[str, Any]:
            return dict((await http.get(f"/api/admin/sites/{site['id']}", headers=admin)).json())

        # The allocation is recorded once the chargers' answers are back, a moment after they have the limits.
        states = ["charging", "charging", "waiting"]
        view = await poll(site_view, until=lambda found: [s["state"] for s in found["sessions"]] == states)
        assert view["limit_in_force_a"] == 30
        assert view["allocated_a"] == 12.0

        # The limit lifted: the waiting car is served again, all share equally (the 10 A car was held to 6 A).
        await http.delete(f"/api/admin/sites/{site['id']}/limit", headers=admin)
        await limits_settle(cars, [15.0, 15.0, 15.0])


async def _defaults(chargers: list[SimulatedCharger]) -> list[float | None]:
    return [default_limit(charger) for charger in chargers]


async def test_a_charger_that_refuses_limits_is_counted_at_its_maximum_until_it_accepts(
    tmp_path: Path,
) -> None:
    refusing = ChargerBehaviour()
    refusing.answers["SetChargingProfile"] = lambda payload: call_result.SetChargingProfile(status="Rejected")
    async with (
        node_with(tmp_path, site_allocation_tick=1.0) as server,
        httpx.AsyncClient(base_url=server.http_url) as http,
    ):
        username, _ = await create_account_with_role(server, "admin")
        admin = bearer(await login_as(http, username))
        async with site_chargers(server, 2) as chargers, online_charger(server, refusing) as stubborn:
            site = await make_site(http, admin, [chargers[0].id, chargers[1].id, stubborn.id])
            first = await start_car(chargers[0], await new_tag(http, admin))
            # 63 A less the stubborn charger's 32 (it never took its default) and the other idle one's 6.
            await limits_settle([first], [25.0])
            stuck = await start_car(stubborn, await new_tag(http, admin))
            second = await start_car(chargers[1], await new_tag(http, admin))
            await limits_settle([first, second], [15.5, 15.5])

            async def stuck_state() -> tuple[str, float] | None:
                view = (await http.get(f"/api/admin/sites/{site['id']}", headers=admin)).json()
                states = {s["transaction_id"]: (s["state"], s["counted_a"]) for s in view["sessions"]}
                return states.get(stuck.transaction_id)

            # Recorded once the round's answers are back, a moment after the others have their limits.
            assert await poll(stuck_state, until=lambda state: state == ("unresponsive", 32.0))

            # It accepts again: asked again within a tick, then counted at what it accepted.
            refusing.answers.pop("SetChargingProfile")
            await limits_settle([first, second, stuck], [21.0, 21.0, 21.0])


async def test_a_2_0_1_station_and_a_1_6_charger_share_one_site(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger, booted_station(server) as station:
        await make_site(http, admin, [charger.id, station.id], max_current_a=40)
        car = await start_car(charger, await new_tag(http, admin))
        transaction = station.new_transaction(1, {"idToken": await new_tag(http, admin), "type": "ISO14443"})
        await station.transaction_event(transaction, "Started", "Authorized", energy_wh=0, charging_state="Charging")

        async def station_limit() -> float | None:
            return _station_tx_limit(station, transaction.transaction_id)

        # 40 A less the station's idle EVSE 2 (6 A), shared by two.
        assert await poll(station_limit, until=lambda limit: limit == 17.0) == 17.0
        await limits_settle([car], [17.0])


def _station_tx_limit(station: SimulatedStation, transaction_id: str) -> float | None:
    limit = None
    for received in station.received:
        if received.action != "SetChargingProfile":
            continue
        profile = received.payload["charging_profile"]
        if profile["charging_profile_purpose"] == "TxProfile" and profile.get("transaction_id") == transaction_id:
            limit = float(profile["charging_schedule"][0]["charging_schedule_period"][0]["limit"])
    return limit


async def test_site_settings_are_checked(server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    async with online_charger(server) as charger:
        site = await make_site(http, admin, [charger.id])
        cases = [
            ({"name": site["name"], "max_current_a": 10}, 409),
            ({"name": "x-elsewhere", "max_current_a": 10, "charge_point_ids": [charger.id]}, 409),
            ({"name": "x-ghost", "max_current_a": 10, "charge_point_ids": ["NO-SUCH-CHARGER"]}, 422),
            ({"name": "x-phases", "max_current_a": 10, "phases": 2}, 422),
            ({"name": "x-zone", "max_current_a": 10, "timezone": "Mars/Olympus"}, 422),
            ({"name": "x-limit", "max_current_a": 0}, 422),
            ({"name": "x-min", "max_current_a": 63, "min_current_a": 40}, 422),
        ]
        for body, expected in cases:
            response = await http.post("/api/admin/sites", json=body, headers=admin)
            assert response.status_code == expected, (body, response.text)
            assert "detail" in response.json()
        windows = [
            {"start": "17:00", "end": "20:00", "max_current_a": 20},
            {"start": "19:00", "end": "21:00", "max_current_a": 10},
        ]
        response = await http.put(f"/api/admin/sites/{site['id']}/limit_windows", json=windows, headers=admin)
        assert response.status_code == 422 and "overlap" in response.json()["detail"]
        response = await http.put(f"/api/admin/sites/{site['id']}/limit_windows", json=windows[:1], headers=admin)
        assert response.json()["limit_windows"] == windows[:1]
        assert (await http.get("/api/admin/sites/999999", headers=admin)).status_code == 404
        assert (await http.delete(f"/api/admin/sites/{site['id']}", headers=admin)).status_code == 204


@pytest.mark.parametrize("strategy", ["priority"])
async def test_under_the_priority_strategy_a_fleet_vehicle_tag_gets_a_larger_share(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], strategy: str
) -> None:
    async with site_chargers(server, 2) as chargers:
        await make_site(http, admin, [c.id for c in chargers], max_current_a=30, strategy=strategy, min_current_a=0)
        fleet, visitor = await new_tag(http, admin), await new_tag(http, admin)
        response = await http.patch(f"/api/admin/id_tags/{fleet}", json={"charging_priority": 2}, headers=admin)
        assert response.status_code == 200 and response.json()["charging_priority"] == 2
        cars = [await start_car(chargers[0], visitor), await start_car(chargers[1], fleet)]
        await limits_settle(cars, [10.0, 20.0])


async def test_a_limit_window_of_the_day_lowers_the_site_s_limit_while_it_lasts(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with site_chargers(server, 2) as chargers:
        site = await make_site(http, admin, [c.id for c in chargers], timezone="Asia/Tokyo", min_current_a=0)
        cars = [await start_car(charger, await new_tag(http, admin)) for charger in chargers]
        await limits_settle(cars, [31.5, 31.5])
        # A window around now, in the site's time zone (over midnight when now is close to it).
        now = datetime.now(ZoneInfo("Asia/Tokyo"))
        window = {
            "start": (now - timedelta(hours=1)).strftime("%H:%M"),
            "end": (now + timedelta(hours=1)).strftime("%H:%M"),
            "max_current_a": 20,
        }
        response = await http.put(f"/api/admin/sites/{site['id']}/limit_windows", json=[window], headers=admin)
        assert response.status_code == 200 and response.json()["limit_in_force_a"] == 20, response.text
        await limits_settle(cars, [10.0, 10.0])
        # An override wins over the window while it lasts.
        until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        response = await http.put(
            f"/api/admin/sites/{site['id']}/limit", json={"max_current_a": 12, "until": until}, headers=admin
        )
        await limits_settle(cars, [6.0, 6.0])
        await http.delete(f"/api/admin/sites/{site['id']}/limit", headers=admin)
        await http.put(f"/api/admin/sites/{site['id']}/limit_windows", json=[], headers=admin)
        await limits_settle(cars, [31.5, 31.5])


async def test_a_charger_taken_off_its_site_has_the_site_s_profiles_cleared(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with site_chargers(server, 2) as (leaving, staying):
        site = await make_site(http, admin, [leaving.id, staying.id])
        car = await start_car(leaving, await new_tag(http, admin))
        await limits_settle([car], [32.0])
        response = await http.patch(
            f"/api/admin/sites/{site['id']}", json={"charge_point_ids": [staying.id]}, headers=admin
        )
        assert response.json()["charge_point_ids"] == [staying.id]

        async def cleared() -> list[int]:
            return sorted(p["id"] for p in payloads_received(leaving, "ClearChargingProfile"))

        assert await poll(cleared, until=lambda ids: len(ids) == 2) == [770_000, 770_001]

        async def held() -> list[dict[str, object]]:
            response = await http.get(f"/api/admin/chargers/{leaving.id}/charging_profiles", headers=admin)
            return list(response.json())

        # csms forgets each profile once the charger's answer is back, a moment after the charger has the call.
        assert await poll(held, until=lambda profiles: profiles == []) == []
