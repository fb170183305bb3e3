"""Certificates across nodes on one PostgreSQL and one NATS: the API on one node asks for a CSR and
revokes; the charger is connected to another."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from csms.simulator.charger import connect_charger
from tests.certificates import make_ca, make_csr
from tests.conftest import (
    CHARGER_PASSWORD,
    NATS_URL,
    RunningServer,
    bearer,
    cluster_of,
    create_account_with_role,
    login_as,
    settings_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.nats]


@pytest.fixture
async def chargers_and_api(shared_database: str, tmp_path: Path) -> AsyncIterator[tuple[RunningServer, RunningServer]]:
    """Node A serves chargers only, node B the API only; both sign with the same operator CA."""
    ca_certfile, ca_keyfile = make_ca().write(tmp_path, "operator-ca")
    roles = [
        settings_for(
            shared_database, bus_url=NATS_URL, node_role=role, ca_certfile=str(ca_certfile), ca_keyfile=str(ca_keyfile)
        )
        for role in ("ocpp", "api")
    ]
    async with cluster_of(*roles) as started:
        yield started[0][2], started[1][2]


async def admin_headers(node: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    username, _ = await create_account_with_role(node, "admin")
    return bearer(await login_as(http, username))


async def test_a_csr_asked_for_on_the_api_node_is_signed_on_the_chargers_node_and_revoking_closes_its_socket(
    chargers_and_api: tuple[RunningServer, RunningServer],
) -> None:
    node_a, node_b = chargers_and_api
    charge_point_id = await node_a.add_charger()
    async with (
        httpx.AsyncClient(base_url=node_b.http_url, timeout=10) as http,
        connect_charger(node_a.ws_url, charge_point_id, CHARGER_PASSWORD) as charger,
    ):
        admin = await admin_headers(node_b, http)
        await charger.boot()
        unsolicited = await charger.sign_certificate(make_csr(charge_point_id)[0])
        trigger = {"requestedMessage": "SignChargePointCertificate"}
        path = f"/api/admin/chargers/{charge_point_id}/ocpp/ExtendedTriggerMessage"
        assert (await http.post(path, json=trigger, headers=admin)).json() == {"status": "Accepted"}
        asked_for = await charger.sign_certificate(make_csr(charge_point_id)[0])
        await charger.wait_for_call("CertificateSigned", within=20)
        revoked: Any = await http.post(f"/api/admin/chargers/{charge_point_id}/certificates/revoke", headers=admin)
        await asyncio.wait_for(charger.websocket.wait_closed(), 20)
    assert (unsolicited.status, asked_for.status) == ("Rejected", "Accepted")
    assert [row["revocation_reason"] for row in revoked.json()] == ["unspecified"]
