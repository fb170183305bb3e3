"""Certificates csms signed, over TLS against a real `csms serve` (security profile 3) with csms as the
operator's CA: only CSRs csms asked for are signed, a charger moves to profile 3 only by an operator's
decision, revoked and superseded certificates are refused before the upgrade, and the CRL lists them."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets
from cryptography import x509

from csms.ocpp.takeover import CLOSE_REVOKED
from tests.certificates import Issued, issue, make_ca, make_csr
from tests.support.tls_nodes import TlsNode, tls_node
from tests.support.waiting import poll, wait_for_true

PASSWORD = "revocation-charger-password"
ADMIN = ("ops", "a long admin password for revocation")
GRACE_SECONDS = 10  # CSMS_CERTIFICATE_RENEWAL_GRACE of the node: long enough to connect within, on a busy machine


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsNode]:
    directory = tmp_path_factory.mktemp("revocation")
    ca = make_ca()
    ca_certfile, ca_keyfile = ca.write(directory, "csms-ca")
    settings = {
        "ca_certfile": str(ca_certfile),
        "ca_keyfile": str(ca_keyfile),
        "certificate_renewal_grace": str(GRACE_SECONDS),
    }
    with tls_node(directory, ca, admin=ADMIN, settings=settings) as running:
        yield running


@dataclass
class Operator:
    """The operator's side: the admin API over HTTPS."""

    node: TlsNode
    http: httpx.AsyncClient
    headers: dict[str, str]

    async def register_charger(self) -> str:
        charge_point_id = f"CP-{secrets.token_hex(4)}"
        body = {"charge_point_id": charge_point_id, "password": PASSWORD}
        response = await self.http.post("/api/admin/chargers", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return charge_point_id

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.headers)

    async def certificates(self, charge_point_id: str) -> Any:
        response = await self.http.get(f"/api/admin/chargers/{charge_point_id}/certificates", headers=self.headers)
        return response.json()

    async def security_events(self, charge_point_id: str) -> list[str]:
        params = {"charge_point_id": charge_point_id}
        response = await self.http.get("/api/admin/security_events", params=params, headers=self.headers)
        return [event["kind"] for event in response.json()]

    async def audited_paths(self) -> list[str]:
        response = await self.http.get("/api/admin/audit_log", headers=self.headers)
        return [row["path"] for row in response.json()]

    async def obtain_certificate(self, charge_point_id: str) -> Issued:
        """The charger's certificate as csms issues it: the operator triggers a CSR, the charger (on Basic
        auth over TLS) sends it and accepts CertificateSigned."""
        csr, key = make_csr(charge_point_id)
        async with self.node.charger(charge_point_id, password=PASSWORD) as charger:
            await charger.boot()
            trigger = {"requestedMessage": "SignChargePointCertificate"}
            response = await self.post(f"/api/admin/chargers/{charge_point_id}/ocpp/ExtendedTriggerMessage", trigger)
            assert response.json() == {"status": "Accepted"}, response.text
            assert (await charger.sign_certificate(csr)).status == "Accepted"
            chain = (await charger.wait_for_call("CertificateSigned", within=20)).payload["certificate_chain"]
            certificate = x509.load_pem_x509_certificate(chain.encode())
            await poll(lambda: self.certificates(charge_point_id), until=lambda rows: rows[0]["status"] == "Accepted")
        return Issued(certificate, key)


@pytest.fixture
async def operator(node: TlsNode) -> AsyncIterator[Operator]:
    async with node.http() as http:
        login = await http.post("/api/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        yield Operator(node, http, {"Authorization": f"Bearer {login.json()['access_token']}"})


async def boots(node: TlsNode, charge_point_id: str, client: Issued | None = None, password: str | None = None) -> str:
    async with node.charger(charge_point_id, client, password) as charger:
        return str((await charger.boot()).status)


async def refusal(
    node: TlsNode, charge_point_id: str, client: Issued | None = None, password: str | None = None
) -> Any:
    """The status and detail of the refused upgrade."""
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with node.charger(charge_point_id, client, password):
            pass
    response = refused.value.response
    return response.status_code, response.body.decode()


async def test_a_stolen_password_gets_no_certificate_by_asking_unprompted(node: TlsNode, operator: Operator) -> None:
    charge_point_id = await operator.register_charger()
    async with node.charger(charge_point_id, password=PASSWORD) as attacker:
        await attacker.boot()
        answer = await attacker.sign_certificate(make_csr(charge_point_id)[0])
    assert answer.status == "Rejected"
    assert [call.action for call in attacker.received] == []
    assert await operator.certificates(charge_point_id) == []
    events = await poll(lambda: operator.security_events(charge_point_id), until=lambda kinds: bool(kinds))
    assert events == ["csr_unsolicited"]
    assert await boots(node, charge_point_id, password=PASSWORD) == "Accepted"


async def test_connecting_with_a_certificate_never_locks_the_real_charger_out(
    node: TlsNode, operator: Operator
) -> None:
    charge_point_id = await operator.register_charger()
    # Suppose the attacker won a race for a CSR csms asked for: its certificate connects ...
    stolen_identity = await operator.obtain_certificate(charge_point_id)
    assert await boots(node, charge_point_id, stolen_identity) == "Accepted"
    # ... but the operator never moved the charger to profile 3: the real one still connects with its password.
    assert await boots(node, charge_point_id, password=PASSWORD) == "Accepted"


async def test_the_operator_moves_a_charger_to_profile_3_and_can_move_it_back(
    node: TlsNode, operator: Operator
) -> None:
    charge_point_id = await operator.register_charger()
    certificate = await operator.obtain_certificate(charge_point_id)
    async with node.charger(charge_point_id, password=PASSWORD) as charger:
        await charger.boot()
        change = {"key": "SecurityProfile", "value": "3"}
        moved = await operator.post(f"/api/admin/chargers/{charge_point_id}/ocpp/ChangeConfiguration", change)
    assert moved.json() == {"status": "Accepted"}
    assert await boots(node, charge_point_id, certificate) == "Accepted"  # reconnects at its new profile
    assert await refusal(node, charge_point_id, password=PASSWORD) == (
        403,
        f'{{"detail":"charger {charge_point_id} is at security profile 3; a profile 2 connection is refused"}}',
    )
    lowered = await operator.post(f"/api/admin/chargers/{charge_point_id}/security_profile", {"security_profile": 2})
    assert lowered.json() == {"charge_point_id": charge_point_id, "security_profile": 2, "security_profile_allowed": 2}
    assert await boots(node, charge_point_id, password=PASSWORD) == "Accepted"
    path = f"/api/admin/chargers/{charge_point_id}/security_profile"
    await poll(operator.audited_paths, until=lambda paths: path in paths)


async def test_a_certificate_of_the_ca_that_csms_did_not_issue_is_refused(node: TlsNode, operator: Operator) -> None:
    charge_point_id = await operator.register_charger()
    made_elsewhere = issue(node.ca, charge_point_id)
    status, detail = await refusal(node, charge_point_id, made_elsewhere)
    assert status == 403 and "is not one csms issued to this charger" in detail


async def test_a_revoked_certificate_is_refused_before_the_upgrade_and_listed_on_the_crl(
    node: TlsNode, operator: Operator
) -> None:
    charge_point_id = await operator.register_charger()
    certificate = await operator.obtain_certificate(charge_point_id)
    async with node.charger(charge_point_id, certificate) as connected:
        assert (await connected.boot()).status == "Accepted"
        revoked = await operator.post(f"/api/admin/chargers/{charge_point_id}/certificates/revoke")
        await asyncio.wait_for(connected.websocket.wait_closed(), 20)  # the open socket is ended too
    assert connected.websocket.close_code == CLOSE_REVOKED
    assert [row["revocation_reason"] for row in revoked.json()] == ["unspecified"]
    status, detail = await refusal(node, charge_point_id, certificate)
    assert status == 403 and "is revoked (unspecified)" in detail
    published = await operator.http.get("/api/ca/crl")  # public: no login
    assert published.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(published.content)
    assert crl.is_signature_valid(node.ca.key.public_key())
    assert crl.get_revoked_certificate_by_serial_number(certificate.certificate.serial_number) is not None
    assert "client_certificate_refused" in await operator.security_events(charge_point_id)


async def test_a_renewed_certificates_predecessor_works_through_the_grace_period_and_is_refused_after(
    node: TlsNode, operator: Operator
) -> None:
    charge_point_id = await operator.register_charger()
    older = await operator.obtain_certificate(charge_point_id)
    renewed = await operator.obtain_certificate(charge_point_id)
    listed = await poll(lambda: operator.certificates(charge_point_id), until=lambda rows: rows[-1]["revoked_at"])
    superseded = {row["serial_number"]: row for row in listed}[format(older.certificate.serial_number, "x")]
    assert superseded["revocation_reason"] == "superseded"
    assert await boots(node, charge_point_id, older) == "Accepted"
    assert datetime.now(UTC) < datetime.fromisoformat(superseded["revoked_at"])  # that was inside the grace

    async def older_is_refused() -> bool:
        try:
            await boots(node, charge_point_id, older)
        except websockets.InvalidStatus as refused:
            return refused.response.status_code == 403
        return False

    await wait_for_true(older_is_refused, within=GRACE_SECONDS + 30)
    assert await boots(node, charge_point_id, renewed) == "Accepted"
