"""Security profile 3: `csms serve --ssl-ca-certs` as a real process with certificates the test makes (an
operator CA, chargers' certificates, a wrong CA's and an expired one); a real OCPP client over TLS."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import websockets

from csms.ocpp import tls
from csms.simulator.charger import SimulatedCharger, connect_charger
from csms.simulator.station201 import SimulatedStation, connect_station
from tests.certificates import Issued, issue, make_ca
from tests.support.processes import CSMS, free_port, run_csms, sqlite_env, wait_until_serving

PASSWORD = "profile-3-charger-password"
ADMIN_PASSWORD = "a long admin password 3"


@dataclass
class Profile3Server:
    address: str
    directory: Path
    ca: Issued

    def context(self, client: Issued | None = None) -> ssl.SSLContext:
        """A charger's TLS context: trusts the operator CA, presents `client` if given."""
        context = ssl.create_default_context(cadata=self.ca.pem)
        if client is not None:
            context.load_cert_chain(*client.write(self.directory, f"client-{id(client)}"))
        return context


@contextmanager
def serving_profile3(directory: Path, *, env: dict[str, str] | None = None) -> Iterator[Profile3Server]:
    """`csms serve` with the operator CA for client certificates; chargers are registered before."""
    ca = make_ca()
    certfile, keyfile = issue(ca, "csms", server_ip="127.0.0.1").write(directory, "server")
    ca_file, _ = ca.write(directory, "operator-ca")
    port = free_port()
    tls_files = ["--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile), "--ssl-ca-certs", str(ca_file)]
    command = [CSMS, "serve", "--port", str(port), *tls_files]
    process = subprocess.Popen(
        command,
        env=sqlite_env(directory) | (env or {}),
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Profile3Server(f"127.0.0.1:{port}", directory, ca)
    try:
        wait_until_serving(f"https://{server.address}", process, verify=server.context())
        yield server
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def profile3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Profile3Server]:
    directory = tmp_path_factory.mktemp("profile3")
    for charge_point_id in ("CP-A", "CP-B", "CP-C", "CP-D", "CP-E", "ST-201A", "ST-201B"):
        assert run_csms(directory, "add-charger", charge_point_id, "--password", PASSWORD).returncode == 0
    created = run_csms(directory, "create-user", "--username", "ops", "--password", ADMIN_PASSWORD, "--role", "admin")
    assert created.returncode == 0, created.stderr
    with serving_profile3(directory) as server:
        yield server


@pytest.fixture(scope="module")
def serial_profile3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Profile3Server]:
    """Profile 3 with CSMS_CHARGER_CERTIFICATE_IDENTITY=serial_number: CP-S1 and CP-S2 have registered serials."""
    directory = tmp_path_factory.mktemp("serial-profile3")
    for charge_point_id in ("CP-S1", "CP-S2"):
        serial = ["--serial-number", f"SN-{charge_point_id}"]
        added = run_csms(directory, "add-charger", charge_point_id, "--password", PASSWORD, *serial)
        assert added.returncode == 0, added.stderr
    with serving_profile3(directory, env={"CSMS_CHARGER_CERTIFICATE_IDENTITY": "serial_number"}) as server:
        yield server


def charger(
    server: Profile3Server, charge_point_id: str, client: Issued | None, password: str | None = None
) -> AbstractAsyncContextManager[SimulatedCharger]:
    context = server.context(client)
    return connect_charger(f"wss://{server.address}", charge_point_id, password, ssl=context)


async def refused_status(
    server: Profile3Server, charge_point_id: str, client: Issued | None, password: str | None
) -> int:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with charger(server, charge_point_id, client, password):
            pass
    return refused.value.response.status_code


async def test_a_charger_with_its_certificate_connects_without_a_password(profile3: Profile3Server) -> None:
    async with charger(profile3, "CP-A", issue(profile3.ca, "CP-A")) as connected:
        booted = await connected.boot()
    assert booted.status == "Accepted"


async def test_the_certificate_of_one_charger_never_connects_as_another(profile3: Profile3Server) -> None:
    assert await refused_status(profile3, "CP-B", issue(profile3.ca, "CP-A"), PASSWORD) == 403


@pytest.mark.parametrize(
    "make_client",
    [
        lambda ca: issue(make_ca("Someone Else's CA"), "CP-B"),
        lambda ca: issue(ca, "CP-B", starts=timedelta(days=-30), valid_for=timedelta(days=1)),
    ],
    ids=["wrong-ca", "expired"],
)
async def test_a_certificate_the_operator_ca_does_not_vouch_for_fails_the_tls_handshake(
    profile3: Profile3Server, make_client: object
) -> None:
    client = make_client(profile3.ca)  # type: ignore[operator]
    with pytest.raises((ssl.SSLError, websockets.ConnectionClosedError, websockets.InvalidMessage, ConnectionError)):
        async with charger(profile3, "CP-B", client, PASSWORD) as connected:
            await connected.boot()


async def move_to_profile_3(server: Profile3Server, charge_point_id: str, client: Issued) -> int:
    """The operator's decision: ChangeConfiguration(SecurityProfile=3) to the charger on its certificate, which
    then reconnects with it; the API's status code for the change."""
    async with (
        httpx.AsyncClient(base_url=f"https://{server.address}", verify=server.context()) as http,
        charger(server, charge_point_id, client) as connected,
    ):
        await connected.boot()
        admin = await admin_headers(http)
        path = f"/api/admin/chargers/{charge_point_id}/ocpp/ChangeConfiguration"
        moved = await http.post(path, json={"key": "SecurityProfile", "value": "3"}, headers=admin)
    async with charger(server, charge_point_id, client) as reconnected:
        await reconnected.boot()
    return moved.status_code


async def admin_headers(http: httpx.AsyncClient) -> dict[str, str]:
    login = await http.post("/api/login", json={"username": "ops", "password": ADMIN_PASSWORD})
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def test_a_certificate_alone_does_not_move_a_charger_to_profile_3(profile3: Profile3Server) -> None:
    async with charger(profile3, "CP-D", issue(profile3.ca, "CP-D")) as connected:
        await connected.boot()
    async with charger(profile3, "CP-D", None, PASSWORD) as with_password:
        booted = await with_password.boot()
    assert booted.status == "Accepted"


async def test_a_charger_at_profile_3_is_refused_with_basic_auth_only(profile3: Profile3Server) -> None:
    assert await move_to_profile_3(profile3, "CP-C", issue(profile3.ca, "CP-C")) == 200
    assert await refused_status(profile3, "CP-C", None, PASSWORD) == 403


async def refusal(server: Profile3Server, charge_point_id: str, password: str | None) -> tuple[int, bytes]:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with charger(server, charge_point_id, None, password):
            pass
    return refused.value.response.status_code, refused.value.response.body


async def test_at_profile_3_the_right_and_a_wrong_password_get_the_same_answer(profile3: Profile3Server) -> None:
    assert await move_to_profile_3(profile3, "CP-E", issue(profile3.ca, "CP-E")) == 200
    right, wrong = await refusal(profile3, "CP-E", PASSWORD), await refusal(profile3, "CP-E", "wrong-password-0123")
    assert (
        right
        == wrong
        == (403, b'{"detail":"charger CP-E is at security profile 3; a profile 2 connection is refused"}')
    )


async def test_a_charger_without_a_certificate_still_connects_with_basic_auth(profile3: Profile3Server) -> None:
    async with charger(profile3, "CP-B", None, PASSWORD) as connected:
        booted = await connected.boot()
    assert booted.status == "Accepted"


async def test_lowering_the_security_profile_is_refused_before_it_leaves(profile3: Profile3Server) -> None:
    certificate = issue(profile3.ca, "CP-A")
    assert await move_to_profile_3(profile3, "CP-A", certificate) == 200
    async with (
        httpx.AsyncClient(base_url=f"https://{profile3.address}", verify=profile3.context()) as http,
        charger(profile3, "CP-A", certificate) as connected,
    ):
        await connected.boot()
        path = "/api/admin/chargers/CP-A/ocpp/ChangeConfiguration"
        lowered = await http.post(
            path, json={"key": "SecurityProfile", "value": "2"}, headers=await admin_headers(http)
        )
        received = [call.payload["value"] for call in connected.received if call.action == "ChangeConfiguration"]
    assert lowered.status_code == 422 and "cannot be lowered" in lowered.json()["detail"]
    assert received == []


def test_the_server_context_refuses_tls_older_than_1_2() -> None:
    context = tls.server_context(None, lambda: ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), ciphers="AES128-GCM-SHA256")  # type: ignore[arg-type]
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


async def test_with_serial_number_identity_a_certificate_names_the_registered_serial_not_the_booted_one(
    serial_profile3: Profile3Server,
) -> None:
    # CP-S1 boots claiming CP-S2's serial: neither CP-S2's certificate connects as CP-S1, nor does CP-S1's
    # own certificate stop working.
    async with charger(serial_profile3, "CP-S1", None, PASSWORD) as impostor:
        await impostor.boot(charge_point_serial_number="SN-CP-S2")
    refused = await refused_status(serial_profile3, "CP-S1", issue(serial_profile3.ca, "SN-CP-S2"), None)
    async with charger(serial_profile3, "CP-S1", issue(serial_profile3.ca, "SN-CP-S1")) as connected:
        booted = await connected.boot(charge_point_serial_number="SN-CP-S2")
    assert (refused, booted.status) == (403, "Accepted")


def station(
    server: Profile3Server, station_id: str, client: Issued | None, password: str | None = None
) -> AbstractAsyncContextManager[SimulatedStation]:
    return connect_station(f"wss://{server.address}", station_id, password, ssl=server.context(client))


async def test_a_201_station_connects_at_profile_2_and_3_like_a_16_charger(profile3: Profile3Server) -> None:
    async with station(profile3, "ST-201A", None, PASSWORD) as with_password:
        assert with_password.websocket.subprotocol == "ocpp2.0.1"
        assert (await with_password.boot()).status == "Accepted"
    async with station(profile3, "ST-201A", issue(profile3.ca, "ST-201A")) as with_certificate:
        assert (await with_certificate.boot()).status == "Accepted"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with station(profile3, "ST-201A", issue(profile3.ca, "CP-A"), PASSWORD):
            pass
    assert refused.value.response.status_code == 403


async def test_a_201_station_moved_to_profile_3_by_its_network_profile_is_refused_basic_auth(
    profile3: Profile3Server,
) -> None:
    certificate = issue(profile3.ca, "ST-201B")
    connection = {
        "ocppVersion": "OCPP20",
        "ocppTransport": "JSON",
        "ocppCsmsUrl": f"wss://{profile3.address}/ocpp",
        "messageTimeout": 30,
        "securityProfile": 3,
        "ocppInterface": "Wired0",
    }
    async with (
        httpx.AsyncClient(base_url=f"https://{profile3.address}", verify=profile3.context()) as http,
        station(profile3, "ST-201B", certificate) as connected,
    ):
        await connected.boot()
        moved = await http.post(
            "/api/admin/chargers/ST-201B/ocpp/SetNetworkProfile",
            json={"configurationSlot": 1, "connectionData": connection},
            headers=await admin_headers(http),
        )
        assert moved.status_code == 200 and moved.json() == {"status": "Accepted"}, moved.text
    async with station(profile3, "ST-201B", certificate) as reconnected:
        await reconnected.boot()
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with station(profile3, "ST-201B", None, PASSWORD):
            pass
    assert refused.value.response.status_code == 403
