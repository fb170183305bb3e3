"""Certificate management (Security Whitepaper): a charger's CSR signed end to end by the operator's CA,
InstallCertificate / DeleteCertificate / GetInstalledCertificateIds tracked per charger, expiry reminders."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from ocpp.v16 import call_result

from csms.simulator.charger import ChargerBehaviour, connect_charger
from csms.simulator.station201 import connect_station
from tests.certificates import Issued, RequestKey, issue, make_ca, make_csr
from tests.conftest import CHARGER_PASSWORD, RunningServer, client_from, node_with
from tests.operating import admin, ask_for_csr, ocpp_call, online_charger, payloads_received
from tests.support.backends import sqlite_only_server
from tests.support.waiting import poll

__all__ = ["admin", "sqlite_only_server"]  # fixtures; the node is SQLite only (tests/support/backends.py)

OPERATOR = "Test Operator BV"


@pytest.fixture
def operator_ca(server: RunningServer, tmp_path: Path) -> Iterator[Issued]:
    """The operator's CA, as the PEM files csms is configured with."""
    ca = make_ca(organization=OPERATOR)
    settings = server.app_runtime.settings
    settings.ca_certfile, settings.ca_keyfile = (str(path) for path in ca.write(tmp_path, "operator-ca"))
    yield ca
    settings.ca_certfile = settings.ca_keyfile = None


def hash_data(certificate: x509.Certificate, issuer: x509.Certificate) -> dict[str, Any]:
    """CertificateHashData as an OCSP request computes it."""
    request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA256()).build()
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": request.issuer_name_hash.hex(),
        "issuerKeyHash": request.issuer_key_hash.hex(),
        "serialNumber": format(certificate.serial_number, "x"),
    }


async def charger_certificates(http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str) -> Any:
    """The charger's certificates, once csms has the charger's answer to any CertificateSigned in flight."""

    async def rows() -> Any:
        return (await http.get(f"/api/admin/chargers/{charge_point_id}/certificates", headers=admin)).json()

    return await poll(rows, until=lambda found: all(row["status"] != "Issued" for row in found))


async def security_events(server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], cp: str) -> Any:
    await server.app_runtime.writer.flush()
    return (await http.get("/api/admin/security_events", params={"charge_point_id": cp}, headers=admin)).json()


async def audited_paths(server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]) -> list[str]:
    await server.app_runtime.writer.flush()
    return [row["path"] for row in (await http.get("/api/admin/audit_log", headers=admin)).json()]


async def test_a_charger_csr_is_signed_by_the_operator_ca_and_delivered_with_certificate_signed(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    async with online_charger(server) as charger:
        csr, key = make_csr(charger.id)
        await ask_for_csr(http, admin, charger.id)
        answer = await charger.sign_certificate(csr)
        assert answer.status == "Accepted"
        chain = (await charger.wait_for_call("CertificateSigned")).payload["certificate_chain"]
        listed = await charger_certificates(http, admin, charger.id)
    certificate = x509.load_pem_x509_certificate(chain.encode())
    certificate.verify_directly_issued_by(operator_ca.certificate)  # raises unless the operator CA signed it
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == charger.id
    assert certificate.issuer == operator_ca.certificate.subject
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert certificate.public_key().public_bytes(serialization.Encoding.DER, spki) == key.public_key().public_bytes(
        serialization.Encoding.DER, spki
    )
    assert [(row["certificate_type"], row["status"], row["serial_number"]) for row in listed] == [
        ("ChargePointCertificate", "Accepted", format(certificate.serial_number, "x"))
    ]
    days_left = (datetime.fromisoformat(listed[0]["not_after"]) - datetime.now(UTC)).days
    assert 363 <= days_left <= 365


async def test_a_csr_naming_another_charger_is_rejected_and_logged(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    async with online_charger(server) as charger:
        await ask_for_csr(http, admin, charger.id)
        answer = await charger.sign_certificate(make_csr("CP-SOMEONE-ELSE")[0])
        await asyncio.sleep(0.2)
        assert payloads_received(charger, "CertificateSigned") == []
    assert answer.status == "Rejected"
    events = await security_events(server, http, admin, charger.id)
    assert [(e["kind"], e["detail"]) for e in events] == [
        ("csr_refused", f"the CSR's common name must be {charger.id!r}")
    ]


async def signed_certificate(
    http: httpx.AsyncClient, admin: dict[str, str], charger: Any, csr: str | None = None
) -> x509.Certificate:
    """The certificate csms signs for the connected charger's `csr` (one naming the charger by default) once
    csms has asked for it, as csms sends it in CertificateSigned."""
    charger.received.clear()
    await ask_for_csr(http, admin, charger.id)
    answer = await charger.sign_certificate(csr or make_csr(charger.id)[0])
    assert answer.status == "Accepted"
    chain = (await charger.wait_for_call("CertificateSigned")).payload["certificate_chain"]
    await charger_certificates(http, admin, charger.id)
    return x509.load_pem_x509_certificate(chain.encode())


def rsa_key(bits: int, exponent: int = 65537) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=exponent, key_size=bits)


def dsa_key() -> RequestKey:
    """A DSA key, as an old charger might still put in its CSR; cryptography 51 deprecates DSA itself."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return dsa.generate_private_key(1024)  # noqa: S505 (weak on purpose)


REFUSED_KEYS = {
    "rsa-1024": (lambda: rsa_key(1024), "the CSR's key is RSA-1024; "),
    "rsa-2048-e3": (lambda: rsa_key(2048, exponent=3), "the CSR's RSA public exponent is 3; csms signs 65537"),
    "dsa-1024": (dsa_key, "the CSR's key is DSA; "),
    "ed25519": (ed25519.Ed25519PrivateKey.generate, "the CSR's key is Ed25519; "),
    "ec-secp256k1": (lambda: ec.generate_private_key(ec.SECP256K1()), "the CSR's key is EC on secp256k1; "),
}


@pytest.mark.parametrize("kind", REFUSED_KEYS)
async def test_a_csr_with_a_key_the_whitepaper_does_not_allow_is_rejected_and_logged(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued, kind: str
) -> None:
    make_key, reason = REFUSED_KEYS[kind]
    async with online_charger(server) as charger:
        await ask_for_csr(http, admin, charger.id)
        answer = await charger.sign_certificate(make_csr(charger.id, make_key())[0])
        signed = await charger_certificates(http, admin, charger.id)  # a signed one is kept before the answer
    assert (answer.status, signed) == ("Rejected", [])
    events = await security_events(server, http, admin, charger.id)
    assert [event["kind"] for event in events] == ["csr_refused"]
    assert events[0]["detail"].startswith(reason)


@pytest.mark.parametrize(
    "make_key",
    [lambda: rsa_key(2048), lambda: ec.generate_private_key(ec.SECP384R1())],
    ids=["rsa-2048", "ec-p384"],
)
async def test_a_csr_with_a_key_the_whitepaper_allows_is_signed(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued, make_key: Any
) -> None:
    async with online_charger(server) as charger:
        csr, key = make_csr(charger.id, make_key())
        certificate = await signed_certificate(http, admin, charger, csr)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert certificate.public_key().public_bytes(serialization.Encoding.DER, spki) == key.public_key().public_bytes(
        serialization.Encoding.DER, spki
    )


def forged_subject(charge_point_id: str) -> x509.Name:
    """What the review's attacker asked for: its own serial, unit and operator beside the right name."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "P2-A"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Evil"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Other CPO"),
            x509.NameAttribute(NameOID.COMMON_NAME, charge_point_id),
        ]
    )


async def test_the_certificate_names_the_charger_and_the_operator_never_what_else_the_csr_asks(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    async with online_charger(server) as charger:
        csr, _ = make_csr(charger.id, subject=forged_subject(charger.id))
        certificate = await signed_certificate(http, admin, charger, csr)
    assert certificate.subject.rfc4514_string() == f"CN={charger.id},O={OPERATOR}"


async def test_the_operator_named_in_the_settings_is_the_certificate_s_organization(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    settings = server.app_runtime.settings
    settings.certificate_organization = "Configured Operator"
    try:
        async with online_charger(server) as charger:
            csr = make_csr(charger.id, subject=forged_subject(charger.id))[0]
            certificate = await signed_certificate(http, admin, charger, csr)
    finally:
        settings.certificate_organization = None
    assert certificate.subject.rfc4514_string() == f"CN={charger.id},O=Configured Operator"


@pytest.mark.parametrize(
    "csr", ["not a CSR", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----"]
)
async def test_an_unreadable_csr_is_rejected(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued, csr: str
) -> None:
    async with online_charger(server) as charger:
        await ask_for_csr(http, admin, charger.id)
        answer = await charger.sign_certificate(csr)
    assert answer.status == "Rejected"


async def test_without_an_operator_ca_every_csr_is_rejected(server: RunningServer) -> None:
    async with online_charger(server) as charger:
        answer = await charger.sign_certificate(make_csr(charger.id)[0])
    assert answer.status == "Rejected"


async def test_a_certificate_the_charger_refuses_is_kept_as_rejected(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    refusing = ChargerBehaviour(
        answers={"CertificateSigned": lambda _: call_result.CertificateSigned(status="Rejected")}
    )
    async with online_charger(server, refusing) as charger:
        await ask_for_csr(http, admin, charger.id)
        await charger.sign_certificate(make_csr(charger.id)[0])
        await charger.wait_for_call("CertificateSigned")
        listed = await charger_certificates(http, admin, charger.id)
    assert [row["status"] for row in listed] == ["Rejected"]


async def test_installed_reported_and_deleted_certificates_are_tracked_per_charger(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    root, other = make_ca("Central System Root"), make_ca("Another Root")
    reported = [hash_data(root.certificate, root.certificate), hash_data(other.certificate, other.certificate)]
    answers = {
        "GetInstalledCertificateIds": lambda _: call_result.GetInstalledCertificateIds(
            status="Accepted", certificate_hash_data=reported
        )
    }
    async with online_charger(server, ChargerBehaviour(answers=answers)) as charger:
        payload = {"certificateType": "CentralSystemRootCertificate", "certificate": root.pem}
        assert (await ocpp_call(http, admin, charger.id, "InstallCertificate", payload)).json() == {
            "status": "Accepted"
        }
        installed = await charger_certificates(http, admin, charger.id)
        asked = {"certificateType": "CentralSystemRootCertificate"}
        assert (await ocpp_call(http, admin, charger.id, "GetInstalledCertificateIds", asked)).status_code == 200
        after_report = await charger_certificates(http, admin, charger.id)
        deleted = {"certificateHashData": reported[0]}
        assert (await ocpp_call(http, admin, charger.id, "DeleteCertificate", deleted)).json() == {"status": "Accepted"}
        after_delete = await charger_certificates(http, admin, charger.id)
    assert [(row["subject"], row["status"]) for row in installed] == [("CN=Central System Root", "Installed")]
    assert {row["serial_number"] for row in after_report} == {item["serialNumber"] for item in reported}
    assert [row["serial_number"] for row in after_delete] == [reported[1]["serialNumber"]]


async def test_a_certificate_that_is_not_pem_is_refused_before_it_leaves(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async with online_charger(server) as charger:
        payload = {"certificateType": "ManufacturerRootCertificate", "certificate": "not a certificate"}
        response = await ocpp_call(http, admin, charger.id, "InstallCertificate", payload)
        assert payloads_received(charger, "InstallCertificate") == []
    assert response.status_code == 422


async def test_certificates_expiring_soon_are_listed_for_renewal(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    soon = issue(make_ca(), "Expiring Root", valid_for=timedelta(days=10), starts=timedelta(0))
    async with online_charger(server) as charger:
        payload = {"certificateType": "ManufacturerRootCertificate", "certificate": soon.pem}
        assert (await ocpp_call(http, admin, charger.id, "InstallCertificate", payload)).status_code == 200

    async def expiring(days: int) -> list[str]:
        response = await http.get("/api/admin/certificates/expiring", params={"within_days": days}, headers=admin)
        return [row["charge_point_id"] for row in response.json()]

    assert charger.id in await expiring(30)
    assert charger.id not in await expiring(5)


@pytest.fixture
def serial_number_identity(server: RunningServer) -> Iterator[None]:
    """CSMS_CHARGER_CERTIFICATE_IDENTITY=serial_number for one test."""
    settings = server.app_runtime.settings
    settings.charger_certificate_identity = "serial_number"
    yield
    settings.charger_certificate_identity = "charge_point_id"


async def register_serial(http: httpx.AsyncClient, admin: dict[str, str], charge_point_id: str, serial: str) -> None:
    path = f"/api/admin/chargers/{charge_point_id}"
    assert (await http.patch(path, json={"registered_serial_number": serial}, headers=admin)).status_code == 200


async def test_with_serial_number_identity_a_csr_for_a_serial_the_charger_only_booted_with_is_rejected(
    server: RunningServer,
    http: httpx.AsyncClient,
    admin: dict[str, str],
    operator_ca: Issued,
    serial_number_identity: None,
) -> None:
    victim = await server.add_charger()
    await register_serial(http, admin, victim, f"SN-{victim}")
    async with online_charger(server) as attacker:
        await register_serial(http, admin, attacker.id, f"SN-{attacker.id}")
        await attacker.boot(charge_point_serial_number=f"SN-{victim}")  # claims the victim's serial
        await ask_for_csr(http, admin, attacker.id)
        answer = await attacker.sign_certificate(make_csr(f"SN-{victim}")[0])
        own = await signed_certificate(http, admin, attacker, make_csr(f"SN-{attacker.id}")[0])
    assert answer.status == "Rejected"
    assert own.subject.rfc4514_string() == f"CN=SN-{attacker.id},O={OPERATOR}"


async def test_with_serial_number_identity_a_charger_without_a_registered_serial_gets_no_certificate(
    server: RunningServer,
    http: httpx.AsyncClient,
    admin: dict[str, str],
    operator_ca: Issued,
    serial_number_identity: None,
) -> None:
    async with online_charger(server) as charger:
        await charger.boot(charge_point_serial_number="SN-BOOTED")
        await ask_for_csr(http, admin, charger.id)
        answer = await charger.sign_certificate(make_csr("SN-BOOTED")[0])
    events = await security_events(server, http, admin, charger.id)
    assert answer.status == "Rejected"
    assert [(e["kind"], e["detail"]) for e in events] == [
        ("csr_refused", f"charger {charger.id} has no registered serial number to bind its certificate to")
    ]


async def test_an_operator_ca_that_expires_soon_is_warned_about_at_start_in_readyz_and_in_metrics(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    certfile, keyfile = make_ca(valid_for=timedelta(days=10, hours=1)).write(tmp_path, "operator-ca")
    with caplog.at_level(logging.WARNING, logger="csms.observability.certificate_expiry"):
        async with node_with(tmp_path, ca_certfile=str(certfile), ca_keyfile=str(keyfile)) as node:
            started = [record.getMessage() for record in caplog.records]
            async with client_from(node) as http:
                ready, metrics = await http.get("/readyz"), (await http.get("/metrics")).text
    warning = f"ca certificate {certfile} expires in 10 days"
    assert any(message.startswith(warning) for message in started), started
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    assert ready.json()["certificates"]["ca"].startswith(warning)
    line = next(
        line for line in metrics.splitlines() if line.startswith('csms_certificate_expiry_days{certificate="ca"}')
    )
    assert 10 < float(line.split()[-1]) < 10.05


async def test_an_unsolicited_csr_is_rejected_and_kept_as_a_security_event(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    async with online_charger(server) as charger:
        answer = await charger.sign_certificate(make_csr(charger.id)[0])
        listed = await charger_certificates(http, admin, charger.id)
    assert (answer.status, listed, payloads_received(charger, "CertificateSigned")) == ("Rejected", [], [])
    events = await security_events(server, http, admin, charger.id)
    assert [e["kind"] for e in events] == ["csr_unsolicited"]
    assert "did not ask" in events[0]["detail"]


async def test_one_trigger_lets_one_csr_through(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    async with online_charger(server) as charger:
        await ask_for_csr(http, admin, charger.id)
        first = await charger.sign_certificate(make_csr(charger.id)[0])
        second = await charger.sign_certificate(make_csr(charger.id)[0])
    assert (first.status, second.status) == ("Accepted", "Rejected")


async def test_a_refused_csr_leaves_the_window_open_for_a_good_one(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    async with online_charger(server) as charger:
        await ask_for_csr(http, admin, charger.id)
        wrong = await charger.sign_certificate(make_csr("CP-SOMEONE-ELSE")[0])
        right = await charger.sign_certificate(make_csr(charger.id)[0])
    assert (wrong.status, right.status) == ("Rejected", "Accepted")


async def test_a_charger_that_declines_the_trigger_gets_no_csr_signed(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    declining = ChargerBehaviour(
        answers={"ExtendedTriggerMessage": lambda _: call_result.ExtendedTriggerMessage(status="Rejected")}
    )
    async with online_charger(server, declining) as charger:
        payload = {"requestedMessage": "SignChargePointCertificate"}
        assert (await ocpp_call(http, admin, charger.id, "ExtendedTriggerMessage", payload)).json() == {
            "status": "Rejected"
        }
        answer = await charger.sign_certificate(make_csr(charger.id)[0])
    assert answer.status == "Rejected"


async def test_a_trigger_that_never_reached_the_charger_opens_no_window(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    charge_point_id = await server.add_charger()
    payload = {"requestedMessage": "SignChargePointCertificate"}
    offline = await ocpp_call(http, admin, charge_point_id, "ExtendedTriggerMessage", payload)
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        await charger.boot()
        answer = await charger.sign_certificate(make_csr(charge_point_id)[0])
    assert (offline.status_code, answer.status) == (409, "Rejected")


async def test_an_operator_window_lets_one_csr_through_until_it_is_closed(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    async with online_charger(server) as charger:
        window = f"/api/admin/chargers/{charger.id}/certificates/sign-window"
        opened = await http.post(window, json={"minutes": 5}, headers=admin)
        signed = await charger.sign_certificate(make_csr(charger.id)[0])
        assert (await http.post(window, json={"minutes": 5}, headers=admin)).status_code == 200
        closed = await http.post(window, json={"minutes": 0}, headers=admin)
        refused = await charger.sign_certificate(make_csr(charger.id)[0])
    assert opened.status_code == 200 and opened.json()["open_until"] is not None
    assert closed.json() == {"charge_point_id": charger.id, "open_until": None}
    assert (signed.status, refused.status) == ("Accepted", "Rejected")
    assert (await audited_paths(server, http, admin)).count(window) == 3


@pytest.mark.parametrize("body", [{"minutes": -1}, {"minutes": 1441}, {}])
async def test_a_signing_window_out_of_bounds_is_refused(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]
) -> None:
    charge_point_id = await server.add_charger()
    response = await http.post(
        f"/api/admin/chargers/{charge_point_id}/certificates/sign-window", json=body, headers=admin
    )
    assert response.status_code == 422


async def certificate_revocation_list(http: httpx.AsyncClient) -> x509.CertificateRevocationList:
    response = await http.get("/api/ca/crl")
    assert (response.status_code, response.headers["content-type"]) == (200, "application/pkix-crl")
    return x509.load_der_x509_crl(response.content)


async def test_a_renewed_certificate_supersedes_the_older_one_after_the_grace_period(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    async with online_charger(server) as charger:
        older = await signed_certificate(http, admin, charger)
        renewed = await signed_certificate(http, admin, charger)
        listed = await poll(
            lambda: charger_certificates(http, admin, charger.id), until=lambda rows: rows[-1]["revoked_at"] is not None
        )
    by_serial = {row["serial_number"]: row for row in listed}
    superseded, current = by_serial[format(older.serial_number, "x")], by_serial[format(renewed.serial_number, "x")]
    grace_left = datetime.fromisoformat(superseded["revoked_at"]) - datetime.now(UTC)
    assert superseded["revocation_reason"] == "superseded"
    assert timedelta(hours=23) < grace_left <= timedelta(days=1)  # CSMS_CERTIFICATE_RENEWAL_GRACE's default
    assert (current["revoked_at"], current["revocation_reason"]) == (None, None)
    crl = await certificate_revocation_list(http)
    assert crl.get_revoked_certificate_by_serial_number(older.serial_number) is None  # not yet revoked
    assert crl.next_update_utc is not None and crl.next_update_utc <= datetime.fromisoformat(superseded["revoked_at"])


async def test_revoked_certificates_are_listed_on_the_crl_signed_by_the_ca(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    async with online_charger(server) as charger:
        first = await signed_certificate(http, admin, charger)
        second = await signed_certificate(http, admin, charger)
    rows = {row["serial_number"]: row["id"] for row in await charger_certificates(http, admin, charger.id)}
    path = f"/api/admin/chargers/{charger.id}/certificates/{rows[format(first.serial_number, 'x')]}/revoke"
    one = await http.post(path, json={"reason": "keyCompromise"}, headers=admin)
    everything = await http.post(f"/api/admin/chargers/{charger.id}/certificates/revoke", headers=admin)
    crl = await certificate_revocation_list(http)
    assert one.status_code == 200 and one.json()["revocation_reason"] == "keyCompromise"
    assert [row["revocation_reason"] for row in everything.json()] == ["keyCompromise", "unspecified"]
    assert crl.is_signature_valid(operator_ca.key.public_key())
    assert crl.issuer == operator_ca.certificate.subject
    reasons = {
        entry.serial_number: entry.extensions.get_extension_for_class(x509.CRLReason).value.reason for entry in crl
    }
    assert reasons == {
        first.serial_number: x509.ReasonFlags.key_compromise,
        second.serial_number: x509.ReasonFlags.unspecified,
    }
    audited = await audited_paths(server, http, admin)
    assert path in audited and f"/api/admin/chargers/{charger.id}/certificates/revoke" in audited


async def test_revoking_what_csms_did_not_sign_is_refused(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    base = f"/api/admin/chargers/{charge_point_id}/certificates"
    unknown = await http.post(f"{base}/12345/revoke", headers=admin)
    bad_reason = await http.post(f"{base}/revoke", json={"reason": "because"}, headers=admin)
    unknown_charger = await http.post("/api/admin/chargers/CP-NOBODY/certificates/revoke", headers=admin)
    assert (unknown.status_code, bad_reason.status_code, unknown_charger.status_code) == (404, 422, 404)
    assert "no certificate 12345" in unknown.json()["detail"]


async def test_without_a_ca_there_is_no_crl(server: RunningServer, http: httpx.AsyncClient) -> None:
    response = await http.get("/api/ca/crl")
    assert response.status_code == 404 and "no CA" in response.json()["detail"]


async def test_staff_set_a_chargers_security_profile_within_1_to_3_and_it_shows_on_the_charger(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await server.add_charger()
    path = f"/api/admin/chargers/{charge_point_id}/security_profile"
    out_of_range = [
        (await http.post(path, json=body, headers=admin)).status_code for body in ({"security_profile": 4}, {})
    ]
    unknown = await http.post(
        "/api/admin/chargers/CP-NOBODY/security_profile", json={"security_profile": 2}, headers=admin
    )
    assert (await http.post(path, json={"security_profile": 2}, headers=admin)).status_code == 200
    charger = (await http.get(f"/api/admin/chargers/{charge_point_id}", headers=admin)).json()
    assert (out_of_range, unknown.status_code) == ([422, 422], 404)
    assert (charger["security_profile"], charger["security_profile_allowed"]) == (2, 2)


async def test_a_201_station_asked_for_a_csr_gets_it_signed_and_delivered(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str], operator_ca: Issued
) -> None:
    station_id = await server.add_charger()
    async with connect_station(server.ws_url, station_id, CHARGER_PASSWORD) as station:
        await station.boot()
        unsolicited = await station.sign_certificate(make_csr(station_id)[0])
        assert unsolicited.status == "Rejected"
        payload = {"requestedMessage": "SignChargingStationCertificate"}
        asked = await ocpp_call(http, admin, station_id, "TriggerMessage", payload)
        assert asked.json() == {"status": "Accepted"}, asked.text
        answer = await station.sign_certificate(make_csr(station_id)[0])
        assert answer.status == "Accepted"
        chain = (await station.wait_for_call("CertificateSigned")).payload["certificate_chain"]
    certificate = x509.load_pem_x509_certificate(chain.encode())
    certificate.verify_directly_issued_by(operator_ca.certificate)
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == station_id
