"""What a site allows a session, as the driver's records and the charger's page show it.

A driver on a site's charger reads in their own session JSON the current csms lets the car draw now and
its power (current x phases x 230 V), and it follows the site's limit; a charger names its site.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import RunningServer, bearer, signup
from tests.operating import admin, new_tag, online_charger
from tests.support.sites import limits_settle, make_site, site_chargers, start_car
from tests.support.waiting import poll

__all__ = ["admin"]


async def my_session(http: httpx.AsyncClient, driver: dict[str, str], transaction_id: int) -> dict[str, Any]:
    """The driver's session as the app's live view reads it: from their list of records."""
    records = (await http.get("/api/transactions?limit=5", headers=driver)).json()
    found: dict[str, Any] = next(record for record in records if record["id"] == transaction_id)
    return found


async def test_a_drivers_session_on_a_site_carries_the_current_and_power_csms_allows(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tokens = await signup(http)
    driver = bearer(tokens)
    async with site_chargers(server, 2) as chargers:
        site = await make_site(http, admin, [charger.id for charger in chargers], phases=3)
        mine = await start_car(chargers[0], tokens["idTag"])
        other = await start_car(chargers[1], await new_tag(http, admin))
        limit = (await limits_settle([mine, other]))[0]

        async def allowed() -> tuple[float | None, float | None]:
            record = await my_session(http, driver, mine.transaction_id)
            return record["allowed_current_a"], record["allowed_power_w"]

        assert await poll(allowed, until=lambda found: found[0] == limit) == (limit, round(limit * 3 * 230, 1))
        one = (await http.get(f"/api/transactions/{mine.transaction_id}", headers=driver)).json()
        assert (one["allowed_current_a"], one["allowed_power_w"]) == (limit, round(limit * 3 * 230, 1))

        # The operator lowers the site's limit: the driver's allowance follows it down.
        response = await http.put(f"/api/admin/sites/{site['id']}/limit", json={"max_current_a": 20}, headers=admin)
        assert response.status_code == 200, response.text
        await limits_settle([mine, other], [10.0, 10.0])
        assert await poll(allowed, until=lambda found: found[0] == 10.0) == (10.0, 6900.0)

        # Once stopped, the session allows nothing any more.
        await mine.stop()
        assert await poll(allowed, until=lambda found: found == (None, None)) == (None, None)


async def test_a_session_off_any_site_has_no_allowance(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    tokens = await signup(http)
    async with online_charger(server) as charger:
        car = await start_car(charger, tokens["idTag"])
        record = await my_session(http, bearer(tokens), car.transaction_id)
        assert record["is_active"] is True
        assert (record["allowed_current_a"], record["allowed_power_w"]) == (None, None)
        view = (await http.get(f"/api/admin/chargers/{charger.id}", headers=admin)).json()
        assert (view["site_id"], view["site_name"]) == (None, None)


async def test_a_charger_names_the_site_it_is_on(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with site_chargers(server, 1) as chargers:
        site = await make_site(http, admin, [chargers[0].id])
        view = (await http.get(f"/api/admin/chargers/{chargers[0].id}", headers=admin)).json()
        assert (view["site_id"], view["site_name"]) == (site["id"], site["name"])
        listed = (await http.get("/api/admin/chargers", headers=admin)).json()
        assert next(c for c in listed if c["charge_point_id"] == chargers[0].id)["site_id"] == site["id"]
