"""ISO 15118 Plug & Charge: GetCertificateStatus, Get15118EVCertificate and Authorize with a contract
answered through the certificate provider, for a 2.0.1 station and for a 1.6 charger through the OCA's
DataTransfer messages; the development provider on csms's own CA and the HTTP adapter to an external
PKI; V2G and MO root certificates installed on a station and listed per charger."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as call_result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import call_result
from ocpp.v201.enums import Action
from websockets.asyncio.client import ClientConnection

from csms.ocpp.rpc import OcppVersion
from csms.ocpp.v21 import OCPP21
from csms.ocpp.v201 import OCPP201
from csms.services.certificate_authority import to_pem
from csms.simulator.charger import SimulatedCharger, basic_auth_header
from csms.simulator.station201 import SimulatedStation, connect_station
from tests.certificates import Issued, issue, make_ca, make_csr
from tests.conftest import (
    CHARGER_PASSWORD,
    RunningServer,
    bearer,
    client_from,
    create_account_with_role,
    login_as,
    node_with,
)
from tests.operating import admin, ask_for_csr, ocpp_call, online_charger
from tests.support.backends import sqlite_only_server
from tests.support.waiting import poll

__all__ = ["admin", "sqlite_only_server"]

PNC_VENDOR = "org.openchargealliance.iso15118pnc"
RESPONDER = "http://ocsp.example.test"
SCHEMA = "urn:iso:15118:2:2013:MsgDef"


@pytest.fixture
def operator_ca(server: RunningServer, tmp_path: Path) -> Iterator[Issued]:
    """The operator's CA, as the PEM files csms is configured with."""
    ca = make_ca(organization="Test Operator BV")
    settings = server.app_runtime.settings
    settings.ca_certfile, settings.ca_keyfile = (str(path) for path in ca.write(tmp_path, "operator-ca"))
    yield ca
    settings.ca_certfile = settings.ca_keyfile = None


def new_emaid() -> str:
    return "NLTNMC" + secrets.token_hex(4).upper()


def hash_data(certificate: x509.Certificate, issuer: x509.Certificate) -> dict[str, Any]:
    """OCSPRequestData for a certificate, as an OCSP request computes it."""
    request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA256()).build()
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": request.issuer_name_hash.hex(),
        "issuerKeyHash": request.issuer_key_hash.hex(),
        "serialNumber": format(certificate.serial_number, "x"),
        "responderURL": RESPONDER,
    }


def without_responder(data: dict[str, Any]) -> dict[str, Any]:
    """CertificateHashData: OCSPRequestData without the responder."""
    return {key: value for key, value in data.items() if key != "responderURL"}


def snake(data: dict[str, Any]) -> dict[str, Any]:
    """OCSPRequestData as the `ocpp` package's calls spell it."""
    return {
        "hash_algorithm": data["hashAlgorithm"],
        "issuer_name_hash": data["issuerNameHash"],
        "issuer_key_hash": data["issuerKeyHash"],
        "serial_number": data["serialNumber"],
    }


@dataclass
class Contract:
    emaid: str
    id: int
    certificate: x509.Certificate
    pem: str


async def emaid_tag(http: httpx.AsyncClient, admin: dict[str, str], emaid: str) -> None:
    response = await http.post("/api/admin/id_tags", json={"id_tag": emaid, "type": "eMAID"}, headers=admin)
    assert response.status_code == 201, response.text


async def issued_contract(http: httpx.AsyncClient, admin: dict[str, str], emaid: str | None = None) -> Contract:
    """A contract certificate csms's CA signs for a new eMAID (or `emaid`)."""
    emaid = emaid or new_emaid()
    csr, _ = make_csr(emaid)
    response = await http.post("/api/admin/contract_certificates", json={"emaid": emaid, "csr": csr}, headers=admin)
    assert response.status_code == 201, response.text
    row = response.json()
    certificate = x509.load_pem_x509_certificate(row["certificate"].encode())
    assert row["serial_number"] == format(certificate.serial_number, "x")
    return Contract(emaid, row["id"], certificate, row["certificate"])


async def revoke_contract(http: httpx.AsyncClient, admin: dict[str, str], contract: Contract) -> dict[str, Any]:
    path = f"/api/admin/contract_certificates/{contract.id}/revoke"
    response = await http.post(path, json={"reason": "keyCompromise"}, headers=admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@asynccontextmanager
async def online_station(
    server: RunningServer, station_class: type[SimulatedStation] = SimulatedStation
) -> AsyncIterator[SimulatedStation]:
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD, station_class=station_class) as station:
        await station.boot()
        yield station


class RawStation:
    """A 2.0.1 (or 2.1) station that sends its calls as frames written by hand (the `ocpp` package would
    spell responderURL as responderUrl), each answer checked against its version's schema."""

    def __init__(self, station_id: str, websocket: ClientConnection, version: OcppVersion = OCPP201) -> None:
        self.id = station_id
        self.version = version
        self._websocket = websocket
        self._next_id = 0

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        message_id = f"m{self._next_id}"
        await self._websocket.send(json.dumps([2, message_id, action, payload]))
        answer = json.loads(await asyncio.wait_for(self._websocket.recv(), 20))
        assert answer[:2] == [3, message_id], answer
        self.version.schemas.check_response(action, answer[2])
        result: dict[str, Any] = answer[2]
        return result

    async def answer_call(self, action: str, answer: dict[str, Any]) -> dict[str, Any]:
        """The next call csms sends, which must be `action`, answered with `answer`; its payload."""
        frame = json.loads(await asyncio.wait_for(self._websocket.recv(), 20))
        assert frame[0] == 2 and frame[2] == action, frame
        await self._websocket.send(json.dumps([3, frame[1], answer]))
        payload: dict[str, Any] = frame[3]
        return payload


@asynccontextmanager
async def raw_station(server: RunningServer, version: OcppVersion = OCPP201) -> AsyncIterator[RawStation]:
    station_id = await server.add_charger()
    async with websockets.connect(
        f"{server.ws_url}/ocpp/{station_id}",
        subprotocols=[websockets.Subprotocol(version.subprotocol)],
        additional_headers={"Authorization": basic_auth_header(station_id, CHARGER_PASSWORD)},
    ) as websocket:
        yield RawStation(station_id, websocket, version)


def authorize(emaid: str, **contract: Any) -> dict[str, Any]:
    return {"idToken": {"idToken": emaid, "type": "eMAID"}, **contract}


def read_ocsp(answer_b64: str, ca: Issued) -> ocsp.OCSPResponse:
    """The OCSP response, its signature checked with the CA's key."""
    response = ocsp.load_der_ocsp_response(base64.b64decode(answer_b64))
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    public_key = ca.certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(response.signature_hash_algorithm))
    return response


# -- 2.0.1 GetCertificateStatus with the development provider ---------------------------------


async def test_certificate_status_of_a_contract_csms_issued_is_a_good_ocsp_response_signed_by_its_ca(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    contract = await issued_contract(http, admin)
    request = hash_data(contract.certificate, operator_ca.certificate)
    async with raw_station(server) as station:
        answer = await station.call("GetCertificateStatus", {"ocspRequestData": request})
    assert answer["status"] == "Accepted"
    response = read_ocsp(answer["ocspResult"], operator_ca)
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == contract.certificate.serial_number
    assert response.issuer_key_hash.hex() == request["issuerKeyHash"]


async def test_certificate_status_of_a_revoked_contract_is_revoked_with_its_reason(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    contract = await issued_contract(http, admin)
    revoked = await revoke_contract(http, admin, contract)
    async with raw_station(server) as station:
        request = hash_data(contract.certificate, operator_ca.certificate)
        answer = await station.call("GetCertificateStatus", {"ocspRequestData": request})
    response = read_ocsp(answer["ocspResult"], operator_ca)
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason == x509.ReasonFlags.key_compromise
    assert revoked["revoked_at"] is not None and revoked["revocation_reason"] == "keyCompromise"


async def test_certificate_status_of_a_certificate_csms_never_issued_is_unknown(
    server: RunningServer, operator_ca: Issued
) -> None:
    unrecorded = issue(operator_ca, "made-outside-csms")  # the CA's key, but no record of csms
    async with raw_station(server) as station:
        request = hash_data(unrecorded.certificate, operator_ca.certificate)
        answer = await station.call("GetCertificateStatus", {"ocspRequestData": request})
    assert read_ocsp(answer["ocspResult"], operator_ca).certificate_status == ocsp.OCSPCertStatus.UNKNOWN


async def test_certificate_status_of_another_issuer_is_failed_without_an_ocsp_result(
    server: RunningServer, operator_ca: Issued
) -> None:
    other_ca = make_ca("Another Mobility Operator CA")
    foreign = issue(other_ca, new_emaid())
    async with raw_station(server) as station:
        request = hash_data(foreign.certificate, other_ca.certificate)
        answer = await station.call("GetCertificateStatus", {"ocspRequestData": request})
    assert answer == {"status": "Failed"}


async def test_certificate_status_of_a_station_certificate_csms_signed_follows_its_revocation(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    async with raw_station(server) as station:
        window = f"/api/admin/chargers/{station.id}/certificates/sign-window"
        assert (await http.post(window, json={"minutes": 5}, headers=admin)).status_code == 200
        csr, _ = make_csr(station.id)
        signing = await station.call("SignCertificate", {"csr": csr, "certificateType": "ChargingStationCertificate"})
        delivered = await station.answer_call("CertificateSigned", {"status": "Accepted"})
        certificate = x509.load_pem_x509_certificate(delivered["certificateChain"].encode())
        request = hash_data(certificate, operator_ca.certificate)
        good = await station.call("GetCertificateStatus", {"ocspRequestData": request})
        revoking = await http.post(f"/api/admin/chargers/{station.id}/certificates/revoke", headers=admin)
    async with raw_station(server) as other_station:
        revoked = await other_station.call("GetCertificateStatus", {"ocspRequestData": request})
    assert signing == {"status": "Accepted"} and revoking.status_code == 200, revoking.text
    assert read_ocsp(good["ocspResult"], operator_ca).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert read_ocsp(revoked["ocspResult"], operator_ca).certificate_status == ocsp.OCSPCertStatus.REVOKED


async def test_get_15118_ev_certificate_is_failed_by_the_development_provider(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    request = {"iso15118SchemaVersion": SCHEMA, "action": "Install", "exiRequest": "gAQ="}
    async with raw_station(server) as station:
        answer = await station.call("Get15118EVCertificate", request)
    assert answer == {"status": "Failed", "exiResponse": ""}
    assert "cannot decode the EV's EXI request" in caplog.text


# -- 2.0.1 Authorize with a contract (C07) -----------------------------------------------------


async def test_authorize_with_hash_data_of_a_valid_contract_and_a_registered_emaid_is_accepted(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    contract = await issued_contract(http, admin)
    await emaid_tag(http, admin, contract.emaid)
    hashes_ = [hash_data(contract.certificate, operator_ca.certificate)]
    async with raw_station(server) as station:
        answer = await station.call("Authorize", authorize(contract.emaid, iso15118CertificateHashData=hashes_))
    assert answer == {"idTokenInfo": {"status": "Accepted"}, "certificateStatus": "Accepted"}


async def test_authorize_with_the_contract_certificate_itself_is_accepted(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    contract = await issued_contract(http, admin)
    await emaid_tag(http, admin, contract.emaid)
    async with raw_station(server) as station:
        answer = await station.call("Authorize", authorize(contract.emaid, certificate=contract.pem))
    assert answer == {"idTokenInfo": {"status": "Accepted"}, "certificateStatus": "Accepted"}


async def test_authorize_of_an_unregistered_emaid_with_a_valid_contract_is_invalid(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    contract = await issued_contract(http, admin)  # no tag of that eMAID
    async with raw_station(server) as station:
        answer = await station.call("Authorize", authorize(contract.emaid, certificate=contract.pem))
    assert answer == {"idTokenInfo": {"status": "Invalid"}, "certificateStatus": "Accepted"}


async def test_authorize_with_a_revoked_contract_is_certificate_revoked_and_the_token_invalid(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    contract = await issued_contract(http, admin)
    await emaid_tag(http, admin, contract.emaid)
    await revoke_contract(http, admin, contract)
    hashes_ = [hash_data(contract.certificate, operator_ca.certificate)]
    async with raw_station(server) as station:
        by_hash = await station.call("Authorize", authorize(contract.emaid, iso15118CertificateHashData=hashes_))
        by_certificate = await station.call("Authorize", authorize(contract.emaid, certificate=contract.pem))
    for answer in (by_hash, by_certificate):
        assert answer == {"idTokenInfo": {"status": "Invalid"}, "certificateStatus": "CertificateRevoked"}


async def test_authorize_with_a_contract_of_another_ca_is_a_chain_error(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    emaid = new_emaid()
    await emaid_tag(http, admin, emaid)
    foreign = issue(make_ca("Another Mobility Operator CA"), emaid)
    async with raw_station(server) as station:
        answer = await station.call("Authorize", authorize(emaid, certificate=foreign.pem))
    assert answer == {"idTokenInfo": {"status": "Invalid"}, "certificateStatus": "CertChainError"}


async def test_authorize_with_another_emaids_contract_is_not_accepted(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    contract = await issued_contract(http, admin)
    someone_else = new_emaid()
    await emaid_tag(http, admin, someone_else)
    async with raw_station(server) as station:
        answer = await station.call("Authorize", authorize(someone_else, certificate=contract.pem))
    assert answer == {"idTokenInfo": {"status": "Invalid"}, "certificateStatus": "CertChainError"}


async def test_authorize_of_a_registered_emaid_without_a_certificate_has_no_certificate_status(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    emaid = new_emaid()
    await emaid_tag(http, admin, emaid)
    async with raw_station(server) as station:
        answer = await station.call("Authorize", authorize(emaid))
    assert answer == {"idTokenInfo": {"status": "Accepted"}}


# -- SignCertificate for a V2GCertificate (the station's ISO 15118 SECC certificate) ---------------


def secc_subject(station_id: str) -> x509.Name:
    """What an SECC certificate names (ISO 15118-2 Annex F): the CPO's country and name, DC=CPO, and the
    SECC id as its common name."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Operator BV"),
            x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "CPO"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"NLTNMS{station_id.replace('-', '')}"[:64]),
        ]
    )


def public_der(key: Any) -> bytes:
    der: bytes = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


async def delivered_certificates(http: httpx.AsyncClient, admin: dict[str, str], station_id: str) -> Any:
    """The station's certificate rows, once csms has its answer to every CertificateSigned in flight."""

    async def rows() -> Any:
        return (await http.get(f"/api/admin/chargers/{station_id}/certificates", headers=admin)).json()

    return await poll(rows, until=lambda found: all(row["status"] != "Issued" for row in found))


async def secc_security_events(server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], cp: str) -> Any:
    await server.app_runtime.writer.flush()
    response = await http.get("/api/admin/security_events", params={"charge_point_id": cp}, headers=admin)
    return [(event["kind"], event["detail"]) for event in response.json()]


async def ocpp_client_certificate(http: httpx.AsyncClient, admin: dict[str, str], station: RawStation) -> str:
    """The station's OCPP client certificate as csms signs it (a window opened, CSR sent, CertificateSigned
    accepted); its serial number."""
    window = f"/api/admin/chargers/{station.id}/certificates/sign-window"
    assert (await http.post(window, json={"minutes": 5}, headers=admin)).status_code == 200
    signing = await station.call("SignCertificate", {"csr": make_csr(station.id)[0]})
    delivered = await station.answer_call("CertificateSigned", {"status": "Accepted"})
    assert signing == {"status": "Accepted"} and "certificateType" not in delivered, delivered
    return format(x509.load_pem_x509_certificate(delivered["certificateChain"].encode()).serial_number, "x")


@pytest.mark.parametrize("version", [OCPP201, OCPP21], ids=["2.0.1", "2.1"])
async def test_a_v2g_csr_is_signed_as_an_secc_certificate_and_leaves_the_ocpp_certificate_alone(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued, version: OcppVersion
) -> None:
    async with raw_station(server, version) as station:
        ocpp_serial = await ocpp_client_certificate(http, admin, station)
        csr, key = make_csr("", subject=secc_subject(station.id))
        request_id = {"requestId": 7} if version is OCPP21 else {}  # 2.1 correlates the two (2.0.1 has no field)
        answer = await station.call("SignCertificate", {"csr": csr, "certificateType": "V2GCertificate", **request_id})
        delivered = await station.answer_call("CertificateSigned", {"status": "Accepted"})
        rows = await delivered_certificates(http, admin, station.id)
    assert answer == {"status": "Accepted"}
    version.schemas.check_request("CertificateSigned", delivered)
    assert delivered["certificateType"] == "V2GCertificate"
    assert delivered.get("requestId") == request_id.get("requestId")
    chain = x509.load_pem_x509_certificates(delivered["certificateChain"].encode())
    assert len(chain) == 1  # the CA is the station's V2G root: the chain is the leaf
    leaf = chain[0]
    leaf.verify_directly_issued_by(operator_ca.certificate)
    assert leaf.subject == secc_subject(station.id)
    assert public_der(leaf.public_key()) == public_der(key.public_key())
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.key_agreement
    assert not (usage.value.key_cert_sign or usage.value.key_encipherment)
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert 59 <= (leaf.not_valid_after_utc - datetime.now(UTC)).days <= 60  # CSMS_V2G_CERTIFICATE_DAYS
    signed = {row["certificate_type"]: row for row in rows}
    assert set(signed) == {"ChargePointCertificate", "V2GCertificate"}
    ocpp, secc = signed["ChargePointCertificate"], signed["V2GCertificate"]
    assert (ocpp["serial_number"], ocpp["status"], ocpp["revoked_at"], ocpp["revocation_reason"]) == (
        ocpp_serial,
        "Accepted",
        None,
        None,
    )
    assert (secc["serial_number"], secc["status"]) == (format(leaf.serial_number, "x"), "Accepted")
    assert secc["subject"] == leaf.subject.rfc4514_string()


async def test_the_ocsp_status_of_an_secc_certificate_csms_signed_is_good(
    server: RunningServer, operator_ca: Issued
) -> None:
    async with raw_station(server) as station:
        csr, _ = make_csr("", subject=secc_subject(station.id))
        await station.call("SignCertificate", {"csr": csr, "certificateType": "V2GCertificate"})
        delivered = await station.answer_call("CertificateSigned", {"status": "Accepted"})
        leaf = x509.load_pem_x509_certificate(delivered["certificateChain"].encode())
        answer = await station.call(
            "GetCertificateStatus", {"ocspRequestData": hash_data(leaf, operator_ca.certificate)}
        )
    assert read_ocsp(answer["ocspResult"], operator_ca).certificate_status == ocsp.OCSPCertStatus.GOOD


def tampered(csr_pem: str) -> str:
    """The CSR with the last byte of its signature changed: well formed, wrongly signed."""
    der = bytearray(x509.load_pem_x509_csr(csr_pem.encode()).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01
    body = base64.encodebytes(bytes(der)).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


def secc_csr(key: Any = None, algorithm: hashes.HashAlgorithm | None = None, subject: x509.Name | None = None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = subject or secc_subject("CP-1")
    request = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, algorithm or hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM).decode()


BAD_SECC_CSRS = {
    "rsa-2048": (lambda: secc_csr(rsa.generate_private_key(65537, 2048)), "the CSR's key is RSA; "),
    "ec-p384": (lambda: secc_csr(ec.generate_private_key(ec.SECP384R1())), "the CSR's key is EC on secp384r1; "),
    "sha384": (lambda: secc_csr(algorithm=hashes.SHA384()), "the CSR is signed with SHA384; "),
    "bad-signature": (lambda: tampered(secc_csr()), "the CSR's signature does not match its key"),
    "not-a-csr": (lambda: make_ca().pem, "the CSR is not a PEM certificate signing request"),
    "no-common-name": (
        lambda: secc_csr(subject=x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Operator BV")])),
        "the CSR names no common name",
    ),
}


@pytest.mark.parametrize(("make", "reason"), BAD_SECC_CSRS.values(), ids=BAD_SECC_CSRS.keys())
async def test_a_v2g_csr_the_development_provider_will_not_sign_is_rejected_and_logged(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued, make: Any, reason: str
) -> None:
    async with raw_station(server) as station:
        answer = await station.call("SignCertificate", {"csr": make(), "certificateType": "V2GCertificate"})
        rows = await delivered_certificates(http, admin, station.id)  # a signed one is kept before the answer
    events = await secc_security_events(server, http, admin, station.id)
    assert (answer, rows) == ({"status": "Rejected"}, [])
    assert [kind for kind, _ in events] == ["v2g_csr_refused"]
    assert events[0][1].startswith(reason), events


async def test_a_v2g_csr_without_a_ca_to_sign_with_is_rejected_and_logged(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with raw_station(server) as station:
        answer = await station.call("SignCertificate", {"csr": secc_csr(), "certificateType": "V2GCertificate"})
    events = await secc_security_events(server, http, admin, station.id)
    assert answer == {"status": "Rejected"}
    assert events == [("v2g_csr_refused", "csms has no CA to sign with (CSMS_CA_CERTFILE, CSMS_CA_KEYFILE)")]


async def test_a_21_csr_for_an_iso_15118_20_certificate_is_rejected_and_never_signed_as_the_ocpp_one(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    async with raw_station(server, OCPP21) as station:
        window = f"/api/admin/chargers/{station.id}/certificates/sign-window"
        assert (await http.post(window, json={"minutes": 5}, headers=admin)).status_code == 200
        csr = make_csr(station.id)[0]
        answer = await station.call("SignCertificate", {"csr": csr, "certificateType": "V2G20Certificate"})
        rows = await delivered_certificates(http, admin, station.id)
    events = await secc_security_events(server, http, admin, station.id)
    assert (answer, rows) == ({"status": "Rejected"}, [])
    assert events == [("v2g_csr_refused", "csms signs no V2G20Certificate")]


# -- 1.6: the OCA's DataTransfer route -----------------------------------------------------------


async def pnc_data_transfer(charger: SimulatedCharger, message_id: str, data: Any) -> Any:
    return await charger.call(call16.DataTransfer(vendor_id=PNC_VENDOR, message_id=message_id, data=data))


def inner_response(answer: Any, action: str) -> dict[str, Any]:
    """The 2.0.1 response a DataTransfer answer carries, checked against its 2.0.1 schema."""
    assert answer.status == "Accepted", answer
    response: dict[str, Any] = json.loads(answer.data)
    OCPP201.schemas.check_response(action, response)
    return response


async def test_a_16_charger_authorizes_a_contract_through_data_transfer(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    contract = await issued_contract(http, admin)
    await emaid_tag(http, admin, contract.emaid)
    request = {
        "idToken": {"idToken": contract.emaid, "type": "eMAID"},
        "iso15118CertificateHashData": [hash_data(contract.certificate, operator_ca.certificate)],
    }
    async with online_charger(server) as charger:
        accepted = await pnc_data_transfer(charger, "Authorize", json.dumps(request))
        await revoke_contract(http, admin, contract)
        revoked = await pnc_data_transfer(charger, "Authorize", json.dumps(request))
    assert inner_response(accepted, "Authorize") == {
        "idTokenInfo": {"status": "Accepted"},
        "certificateStatus": "Accepted",
    }
    assert inner_response(revoked, "Authorize") == {
        "idTokenInfo": {"status": "Invalid"},
        "certificateStatus": "CertificateRevoked",
    }


async def test_a_16_charger_gets_a_certificate_status_through_data_transfer(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    contract = await issued_contract(http, admin)
    request = {"ocspRequestData": hash_data(contract.certificate, operator_ca.certificate)}
    async with online_charger(server) as charger:
        answer = await pnc_data_transfer(charger, "GetCertificateStatus", json.dumps(request))
    response = inner_response(answer, "GetCertificateStatus")
    assert response["status"] == "Accepted"
    assert read_ocsp(response["ocspResult"], operator_ca).certificate_status == ocsp.OCSPCertStatus.GOOD


async def test_a_16_charger_asking_for_an_ev_certificate_gets_failed_from_the_development_provider(
    server: RunningServer,
) -> None:
    request = {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install", "exiRequest": "gAQ="}
    async with online_charger(server) as charger:
        answer = await pnc_data_transfer(charger, "Get15118EVCertificate", json.dumps(request))
    assert inner_response(answer, "Get15118EVCertificate") == {"status": "Failed", "exiResponse": ""}


class PncCharger(SimulatedCharger):
    """A 1.6 charger that takes the Plug & Charge calls csms wraps in DataTransfer (CertificateSigned), as
    the OCA's application note has it: Accepted, with the 2.0.1 response as `data`."""

    @on(Action16.data_transfer)
    async def on_data_transfer(self, **payload: Any) -> Any:
        self._received("DataTransfer", payload)
        return call_result16.DataTransfer(status="Accepted", data=json.dumps({"status": "Accepted"}))


async def test_a_16_charger_gets_its_secc_certificate_through_data_transfer(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    async with online_charger(server, charger_class=PncCharger) as charger:
        csr, key = make_csr("", subject=secc_subject(charger.id))
        request = {"csr": csr, "certificateType": "V2GCertificate"}
        answer = await pnc_data_transfer(charger, "SignCertificate", json.dumps(request))
        delivered = (await charger.wait_for_call("DataTransfer", within=20)).payload
        rows = await delivered_certificates(http, admin, charger.id)
    assert inner_response(answer, "SignCertificate") == {"status": "Accepted"}
    assert (delivered["vendor_id"], delivered["message_id"]) == (PNC_VENDOR, "CertificateSigned")
    certificate_signed = json.loads(delivered["data"])
    OCPP201.schemas.check_request("CertificateSigned", certificate_signed)
    assert certificate_signed["certificateType"] == "V2GCertificate"
    leaf = x509.load_pem_x509_certificate(certificate_signed["certificateChain"].encode())
    leaf.verify_directly_issued_by(operator_ca.certificate)
    assert (leaf.subject, public_der(leaf.public_key())) == (secc_subject(charger.id), public_der(key.public_key()))
    assert [(row["certificate_type"], row["status"]) for row in rows] == [("V2GCertificate", "Accepted")]


async def test_a_16_charger_cannot_have_its_ocpp_certificate_signed_through_data_transfer(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    async with online_charger(server) as charger:
        await ask_for_csr(http, admin, charger.id)  # csms asked for the OCPP CSR: still not this way
        request = {"csr": make_csr(charger.id)[0], "certificateType": "ChargingStationCertificate"}
        answer = await pnc_data_transfer(charger, "SignCertificate", json.dumps(request))
        rows = await delivered_certificates(http, admin, charger.id)
    assert (inner_response(answer, "SignCertificate"), rows) == ({"status": "Rejected"}, [])


@pytest.mark.parametrize(
    "data",
    [
        None,
        "not json",
        "[1, 2]",
        json.dumps({"idToken": {"idToken": "NLTNMC1", "type": "eMAID"}, "iso15118CertificateHashData": []}),
        json.dumps({"idToken": "NLTNMC1"}),
    ],
    ids=["no data", "not json", "not an object", "empty hash data", "idToken not an IdTokenType"],
)
async def test_malformed_plug_and_charge_data_is_rejected(
    server: RunningServer, caplog: pytest.LogCaptureFixture, data: str | None
) -> None:
    async with online_charger(server) as charger:
        answer = await pnc_data_transfer(charger, "Authorize", data)
    assert (answer.status, answer.data) == ("Rejected", None)
    assert "Plug & Charge Authorize Rejected" in caplog.text


async def test_a_plug_and_charge_message_csms_does_not_answer_is_an_unknown_message_id(server: RunningServer) -> None:
    async with online_charger(server) as charger:
        answer = await pnc_data_transfer(charger, "NotAMessage", "{}")
    assert answer.status == "UnknownMessageId"


# -- the HTTP provider, against a real HTTP server ----------------------------------------------


@dataclass
class FakePki:
    """An external PKI/OCSP service speaking csms's JSON contract: answers by path, and what it was sent."""

    answers: dict[str, Any]
    delay: float = 0.0
    received: list[tuple[str, Any]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def pki() -> Iterator[FakePki]:
    fake = FakePki(answers={})

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.received.append((self.path, body))
            time.sleep(fake.delay)
            answer = fake.answers.get(self.path, (404, {}))
            status, payload = answer
            encoded = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)
            except (BrokenPipeError, ConnectionResetError):
                pass  # csms stopped waiting (the timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}/pki"
    yield fake
    httpd.shutdown()
    httpd.server_close()


@asynccontextmanager
async def node_on(pki: FakePki, tmp_path: Path, provider_timeout: float = 5.0) -> AsyncIterator[RunningServer]:
    async with node_with(
        tmp_path, iso15118_provider="http", iso15118_provider_url=pki.url, iso15118_provider_timeout=provider_timeout
    ) as node:
        yield node


async def test_the_http_provider_forwards_certificate_status_and_returns_its_ocsp_result(
    pki: FakePki, tmp_path: Path
) -> None:
    request = {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "aa" * 32,
        "issuerKeyHash": "bb" * 32,
        "serialNumber": "1f",
        "responderURL": RESPONDER,
    }
    pki.answers["/pki/certificate-status"] = (200, {"status": "Accepted", "ocspResult": "MAMKAQE="})
    async with node_on(pki, tmp_path) as node, raw_station(node) as station:
        answer = await station.call("GetCertificateStatus", {"ocspRequestData": request})
    assert answer == {"status": "Accepted", "ocspResult": "MAMKAQE="}
    assert pki.received == [("/pki/certificate-status", request)]


async def test_the_http_provider_forwards_an_ev_certificate_request(pki: FakePki, tmp_path: Path) -> None:
    pki.answers["/pki/ev-certificate"] = (200, {"status": "Accepted", "exiResponse": "gAR="})
    request = {"iso15118SchemaVersion": SCHEMA, "action": "Update", "exiRequest": "gAQ="}
    async with node_on(pki, tmp_path) as node, raw_station(node) as station:
        answer = await station.call("Get15118EVCertificate", request)
    assert answer == {"status": "Accepted", "exiResponse": "gAR="}
    expected = {"schemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Update", "exiRequest": "gAQ="}
    assert pki.received == [("/pki/ev-certificate", expected)]


async def test_the_http_provider_checks_a_16_chargers_contract(pki: FakePki, tmp_path: Path) -> None:
    emaid = new_emaid()
    hash_ = {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "aa" * 32,
        "issuerKeyHash": "bb" * 32,
        "serialNumber": "2",
        "responderURL": RESPONDER,
    }
    pki.answers["/pki/contract-check"] = (200, {"status": "ContractCancelled"})
    request = {"idToken": {"idToken": emaid, "type": "eMAID"}, "iso15118CertificateHashData": [hash_]}
    async with node_on(pki, tmp_path) as node, online_charger(node) as charger:
        answer = await pnc_data_transfer(charger, "Authorize", json.dumps(request))
    assert inner_response(answer, "Authorize") == {
        "idTokenInfo": {"status": "Invalid"},
        "certificateStatus": "ContractCancelled",
    }
    assert pki.received == [("/pki/contract-check", {"emaid": emaid, "certificate": None, "hashData": [hash_]})]


@pytest.mark.parametrize(
    "answer",
    [(500, {"status": "Accepted"}), (200, "not json"), (200, {"status": "Maybe"}), (200, {"status": "Accepted"})],
    ids=["server error", "not json", "unknown status", "accepted without ocsp result"],
)
async def test_an_unusable_answer_of_the_http_provider_is_failed(
    pki: FakePki, tmp_path: Path, caplog: pytest.LogCaptureFixture, answer: Any
) -> None:
    pki.answers["/pki/certificate-status"] = answer
    request = {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "aa" * 32,
        "issuerKeyHash": "bb" * 32,
        "serialNumber": "3",
        "responderURL": RESPONDER,
    }
    async with node_on(pki, tmp_path) as node, raw_station(node) as station:
        result = await station.call("GetCertificateStatus", {"ocspRequestData": request})
    assert result == {"status": "Failed"}
    assert "GetCertificateStatus answered Failed" in caplog.text


async def test_an_http_provider_too_slow_to_answer_is_failed_within_its_timeout(pki: FakePki, tmp_path: Path) -> None:
    pki.delay = 3.0
    pki.answers["/pki/ev-certificate"] = (200, {"status": "Accepted", "exiResponse": "gAR="})
    request = {"iso15118SchemaVersion": SCHEMA, "action": "Install", "exiRequest": "gAQ="}
    async with node_on(pki, tmp_path, provider_timeout=0.5) as node, raw_station(node) as station:
        started = time.monotonic()
        answer = await station.call("Get15118EVCertificate", request)
        elapsed = time.monotonic() - started
    assert answer == {"status": "Failed", "exiResponse": ""}
    assert elapsed < 2.5


async def test_an_unreachable_http_provider_leaves_a_contract_unchecked(tmp_path: Path) -> None:
    emaid = new_emaid()
    unreachable = FakePki(answers={}, url="http://127.0.0.1:9/pki")  # the discard port: nothing listens
    async with node_on(unreachable, tmp_path) as node, raw_station(node) as station:
        answer = await station.call("Authorize", authorize(emaid, certificate="-----BEGIN CERTIFICATE-----"))
    assert answer == {"idTokenInfo": {"status": "Invalid"}, "certificateStatus": "NoCertificateAvailable"}


async def admin_headers(node: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    username, _ = await create_account_with_role(node, "admin")
    return bearer(await login_as(http, username))


def pki_signed(csr_pem: str) -> tuple[str, x509.Certificate]:
    """What a real V2G PKI answers for a CSR: the SECC leaf signed by a CPO sub-CA, then that sub-CA (leaf
    first, the root left out); and the leaf."""
    sub_ca = make_ca("Test CPO Sub-CA 2")
    request = x509.load_pem_x509_csr(csr_pem.encode())
    now = datetime.now(UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(sub_ca.certificate.subject)
        .public_key(request.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=60))
        .sign(sub_ca.key, hashes.SHA256())
    )
    return to_pem(leaf) + sub_ca.pem, leaf


async def test_the_http_provider_signs_a_v2g_csr_and_its_chain_is_delivered(pki: FakePki, tmp_path: Path) -> None:
    csr, _ = make_csr("", subject=secc_subject("CP-PKI"))
    chain, leaf = pki_signed(csr)
    pki.answers["/pki/v2g-certificate"] = (200, {"status": "Accepted", "certificateChain": chain})
    async with node_on(pki, tmp_path) as node, raw_station(node) as station:
        answer = await station.call("SignCertificate", {"csr": csr, "certificateType": "V2GCertificate"})
        delivered = await station.answer_call("CertificateSigned", {"status": "Accepted"})
        async with client_from(node) as http:
            rows = await delivered_certificates(http, await admin_headers(node, http), station.id)
    assert answer == {"status": "Accepted"}
    assert delivered == {"certificateChain": chain, "certificateType": "V2GCertificate"}
    assert pki.received == [("/pki/v2g-certificate", {"chargePointId": station.id, "csr": csr})]
    assert [(row["certificate_type"], row["status"], row["serial_number"]) for row in rows] == [
        ("V2GCertificate", "Accepted", format(leaf.serial_number, "x"))
    ]


def another_keys_chain() -> str:
    """A PKI chain for another CSR than the one sent."""
    return pki_signed(make_csr("", subject=secc_subject("CP-OTHER"))[0])[0]


UNUSABLE_SIGNING_ANSWERS = {
    "rejected": (
        lambda csr: (200, {"status": "Rejected", "reason": "unknown CPO"}),
        "the PKI rejected it: unknown CPO",
    ),
    "server error": (lambda csr: (500, {}), "the PKI gave no usable answer: "),
    "unknown status": (lambda csr: (200, {"status": "Maybe"}), "the PKI gave no usable answer: "),
    "not pem": (
        lambda csr: (200, {"status": "Accepted", "certificateChain": "MIIB"}),
        "the PKI gave no usable answer: v2g-certificate answered a certificateChain that is not PEM",
    ),
    "another key": (
        lambda csr: (200, {"status": "Accepted", "certificateChain": another_keys_chain()}),
        "the PKI gave no usable answer: v2g-certificate answered a certificate for another key",
    ),
}


@pytest.mark.parametrize(("answer", "reason"), UNUSABLE_SIGNING_ANSWERS.values(), ids=UNUSABLE_SIGNING_ANSWERS.keys())
async def test_a_v2g_csr_the_http_provider_does_not_sign_is_rejected_and_logged(
    pki: FakePki, tmp_path: Path, answer: Any, reason: str
) -> None:
    csr, _ = make_csr("", subject=secc_subject("CP-PKI"))
    pki.answers["/pki/v2g-certificate"] = answer(csr)
    async with node_on(pki, tmp_path) as node, raw_station(node) as station:
        result = await station.call("SignCertificate", {"csr": csr, "certificateType": "V2GCertificate"})
        async with client_from(node) as http:
            headers = await admin_headers(node, http)
            rows = await delivered_certificates(http, headers, station.id)
            events = await secc_security_events(node, http, headers, station.id)
    assert (result, rows) == ({"status": "Rejected"}, [])
    assert [kind for kind, _ in events] == ["v2g_csr_refused"]
    assert events[0][1].startswith(reason), events


async def test_an_http_provider_too_slow_to_sign_is_rejected_within_its_timeout(pki: FakePki, tmp_path: Path) -> None:
    csr, _ = make_csr("", subject=secc_subject("CP-PKI"))
    pki.delay = 3.0
    pki.answers["/pki/v2g-certificate"] = (200, {"status": "Accepted", "certificateChain": pki_signed(csr)[0]})
    async with node_on(pki, tmp_path, provider_timeout=0.5) as node, raw_station(node) as station:
        started = time.monotonic()
        answer = await station.call("SignCertificate", {"csr": csr, "certificateType": "V2GCertificate"})
        elapsed = time.monotonic() - started
    assert answer == {"status": "Rejected"}
    assert elapsed < 2.5


# -- V2G and MO root certificates on a 2.0.1 station ---------------------------------------------


class CertificateStation(SimulatedStation):
    """A station that installs, lists and deletes root certificates as asked."""

    installed: dict[str, tuple[str, dict[str, Any]]]

    @on(Action.install_certificate)
    async def on_install_certificate(self, **payload: Any) -> Any:
        self._received("InstallCertificate", payload)
        certificate = x509.load_pem_x509_certificate(payload["certificate"].encode())
        data = hash_data(certificate, certificate)
        self.installed = getattr(self, "installed", {})
        self.installed[data["serialNumber"]] = (payload["certificate_type"], data)
        return call_result.InstallCertificate(status="Accepted")

    @on(Action.get_installed_certificate_ids)
    async def on_get_installed_certificate_ids(self, **payload: Any) -> Any:
        self._received("GetInstalledCertificateIds", payload)
        chains = [
            {"certificate_type": kind, "certificate_hash_data": snake(data)}
            for kind, data in getattr(self, "installed", {}).values()
        ]
        return call_result.GetInstalledCertificateIds(status="Accepted", certificate_hash_data_chain=chains)

    @on(Action.delete_certificate)
    async def on_delete_certificate(self, **payload: Any) -> Any:
        self._received("DeleteCertificate", payload)
        getattr(self, "installed", {}).pop(payload["certificate_hash_data"]["serial_number"], None)
        return call_result.DeleteCertificate(status="Accepted")


async def listed_certificates(http: httpx.AsyncClient, admin: dict[str, str], station_id: str) -> list[tuple[str, str]]:
    response = await http.get(f"/api/admin/chargers/{station_id}/certificates", headers=admin)
    assert response.status_code == 200, response.text
    return sorted((row["certificate_type"], row["serial_number"]) for row in response.json())


@pytest.mark.parametrize(
    "certificate_type",
    ["V2GRootCertificate", "MORootCertificate", "CSMSRootCertificate", "ManufacturerRootCertificate"],
)
async def test_a_root_certificate_installed_on_a_201_station_is_listed_and_deleted(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], certificate_type: str
) -> None:
    root = make_ca(f"Test {certificate_type}")
    serial = format(root.certificate.serial_number, "x")
    async with online_station(server, CertificateStation) as station:
        body = {"certificateType": certificate_type, "certificate": root.pem}
        installed = await ocpp_call(http, admin, station.id, "InstallCertificate", body)
        after_install = await listed_certificates(http, admin, station.id)
        deleted = await ocpp_call(
            http,
            admin,
            station.id,
            "DeleteCertificate",
            {"certificateHashData": without_responder(hash_data(root.certificate, root.certificate))},
        )
        after_delete = await listed_certificates(http, admin, station.id)
    assert installed.json() == {"status": "Accepted"}
    assert after_install == [(certificate_type, serial)]
    assert deleted.json() == {"status": "Accepted"}
    assert after_delete == []


async def test_the_v2g_and_mo_roots_a_201_station_reports_are_listed(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    v2g, mo = make_ca("Test V2G Root"), make_ca("Test MO Root")
    async with online_station(server, CertificateStation) as station:
        station.installed = {
            format(v2g.certificate.serial_number, "x"): (
                "V2GRootCertificate",
                hash_data(v2g.certificate, v2g.certificate),
            ),
            format(mo.certificate.serial_number, "x"): ("MORootCertificate", hash_data(mo.certificate, mo.certificate)),
        }
        body = {"certificateType": ["V2GRootCertificate", "MORootCertificate"]}
        answer = await ocpp_call(http, admin, station.id, "GetInstalledCertificateIds", body)
        listed = await listed_certificates(http, admin, station.id)
    assert answer.json()["status"] == "Accepted"
    assert listed == sorted(
        [
            ("MORootCertificate", format(mo.certificate.serial_number, "x")),
            ("V2GRootCertificate", format(v2g.certificate.serial_number, "x")),
        ]
    )
