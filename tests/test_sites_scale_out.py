"""Site load management on two nodes sharing PostgreSQL and NATS: a site's chargers on different nodes,
exactly one node allocating for the site, and the other taking over when that one stops."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from csms.simulator.charger import connect_charger
from tests.conftest import (
    CHARGER_PASSWORD,
    NATS_URL,
    Node,
    bearer,
    cluster_of,
    create_account_with_role,
    login_as,
    settings_for,
    stop_server,
)
from tests.operating import new_tag
from tests.support.sites import limits_settle, make_site, start_car
from tests.support.waiting import poll

pytestmark = [pytest.mark.postgres, pytest.mark.nats]


@pytest.fixture
async def nodes(shared_database: str) -> AsyncIterator[list[Node]]:
    settings = settings_for(shared_database, bus_url=NATS_URL, ocpp_call_timeout=3, site_allocation_tick=1.0)
    async with cluster_of(settings, settings) as started:
        yield started


async def test_one_node_allocates_for_a_site_whose_chargers_sit_on_two_nodes(nodes: list[Node]) -> None:
    (_, _, first), (_, _, second) = nodes
    one, other = await first.add_charger(), await first.add_charger()
    async with (
        httpx.AsyncClient(base_url=first.http_url, timeout=10) as http,
        connect_charger(first.ws_url, one, CHARGER_PASSWORD) as on_first,
        connect_charger(second.ws_url, other, CHARGER_PASSWORD) as on_second,
    ):
        username, _ = await create_account_with_role(first, "admin")
        admin = bearer(await login_as(http, username))
        for charger in (on_first, on_second):
            await charger.boot()
            await charger.status(1, "Available")
        site = await make_site(http, admin, [one, other], max_current_a=40)

        async def leader() -> str | None:
            view = (await http.get(f"/api/admin/sites/{site['id']}", headers=admin)).json()
            node: str | None = view["allocator_node"]
            return node

        node_ids = {first.app_runtime.node_id, second.app_runtime.node_id}
        leading = await poll(leader, until=lambda node: node in node_ids)
        # Each car's limit comes from one allocator, whichever node holds its charger: 40 A shared by two.
        cars = [
            await start_car(on_first, await new_tag(http, admin)),
            await start_car(on_second, await new_tag(http, admin)),
        ]
        await limits_settle(cars, [20.0, 20.0])
        assert await leader() == leading

        # The leading node stops: the other takes the site over and serves the car still connected to it.
        survivor = second if leading == first.app_runtime.node_id else first
        stopped = 0 if survivor is second else 1
        handle, task, _ = nodes[stopped]
        await stop_server(handle, task)
        remaining = cars[1 - stopped]
        async with httpx.AsyncClient(base_url=survivor.http_url, timeout=10) as http_survivor:
            username, _ = await create_account_with_role(survivor, "admin")
            admin = bearer(await login_as(http_survivor, username))

            async def survivor_leads() -> str | None:
                view = (await http_survivor.get(f"/api/admin/sites/{site['id']}", headers=admin)).json()
                node: str | None = view["allocator_node"]
                return node

            await poll(survivor_leads, until=lambda node: node == survivor.app_runtime.node_id, within=40)
            # The other charger's socket went with its node: counted at its maximum (32 A) while silent.
            await limits_settle([remaining], [8.0], within=40)
