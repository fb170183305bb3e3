"""The certificates on each charger: those csms signed for it and those installed or reported on it,
with their expiry for renewal reminders (Security Whitepaper, certificate management); and the ISO 15118
SECC certificates (V2GCertificate) the certificate provider signed for it, kept apart from its OCPP one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.db.models import ChargerCertificate
from csms.services import certificate_authority, certificate_requests, security_profiles
from csms.services.calls import Send
from csms.services.certificate_authority import CertificateAuthority, CertificateRequestRefused, CertificateSubject
from csms.services.errors import DomainError
from csms.services.iso15118 import ACCEPTED, CertificateProvider

CHARGE_POINT_CERTIFICATE = "ChargePointCertificate"
# CertificateSigningUseEnumType: the ISO 15118 SECC certificate. Never a ChargePointCertificate: revocation,
# renewal and the client-certificate check (certificate_revocation.py) leave it alone.
V2G_CERTIFICATE = "V2GCertificate"
ISSUED, SEND_FAILED, INSTALLED = "Issued", "SendFailed", "Installed"
# The fields of CertificateHashData that identify a certificate (hashAlgorithm aside).
_HASH_FIELDS = ("issuerNameHash", "issuerKeyHash", "serialNumber")


async def sign_for_charger(
    session: AsyncSession,
    charge_point_id: str,
    csr_pem: str,
    *,
    authority: CertificateAuthority | None,
    identity: str,
    organization: str | None,
    valid_for: timedelta,
    now: datetime,
) -> int:
    """Sign a charger's CSR (its common name must be the charger's id, or registered serial number as
    configured) and keep the certificate; its id. The certificate names that common name and
    `organization` (else the CA's own), whatever else the CSR says. Only a CSR csms asked for
    (certificate_requests.py) is signed."""
    if authority is None:
        raise CertificateRequestRefused("csms has no CA to sign with (CSMS_CA_CERTFILE, CSMS_CA_KEYFILE)")
    await certificate_requests.take_window(session, charge_point_id)  # rolled back if refused below
    try:
        common_name = await security_profiles.certificate_identity(session, charge_point_id, identity=identity)
    except DomainError as error:
        raise CertificateRequestRefused(str(error)) from None
    subject = CertificateSubject(common_name, organization or authority.organization())
    certificate = certificate_authority.sign_request(authority, csr_pem, subject=subject, now=now, valid_for=valid_for)
    row = _row(charge_point_id, CHARGE_POINT_CERTIFICATE, certificate, authority.certificate, status=ISSUED, now=now)
    session.add(row)
    await session.commit()
    return row.id


async def sign_v2g_for_charger(
    session_factory: async_sessionmaker[AsyncSession],
    provider: CertificateProvider,
    charge_point_id: str,
    csr_pem: str,
    *,
    issuers: Sequence[x509.Certificate],
    now: datetime,
) -> int:
    """Have the certificate provider sign a station's SECC certificate and keep its chain as the charger's
    V2GCertificate; its id. `issuers` (csms's CA) name the leaf's issuer when the chain leaves it out.
    CertificateRequestRefused with the provider's reason when it is Rejected."""
    answer = await provider.sign_v2g_certificate(charge_point_id=charge_point_id, csr_pem=csr_pem)
    if answer.status != ACCEPTED:
        raise CertificateRequestRefused(answer.reason or "the certificate provider rejected it")
    try:
        chain = x509.load_pem_x509_certificates(answer.certificate_chain.encode())
    except ValueError:
        raise CertificateRequestRefused("the certificate provider's chain is not PEM certificates") from None
    leaf = chain[0]
    issuer = next((known for known in [*chain[1:], *issuers] if known.subject == leaf.issuer), None)
    row = _row(charge_point_id, V2G_CERTIFICATE, leaf, issuer, status=ISSUED, now=now)
    row.certificate = answer.certificate_chain  # the whole chain, as CertificateSigned carries it
    async with session_factory() as session:
        session.add(row)
        await session.commit()
        return row.id


async def deliver_signed(
    session_factory: async_sessionmaker[AsyncSession],
    send: Send,
    certificate_id: int,
    *,
    clock: Callable[[], datetime],
    request_id: int | None = None,
) -> str | None:
    """Send CertificateSigned with the certificate (an SECC one says so, as certificateType; `request_id` is
    2.1's, echoed from the SignCertificate) and keep the charger's answer (Accepted or Rejected), which it
    returns."""
    async with session_factory() as session:
        row = await session.get(ChargerCertificate, certificate_id)
        if row is None or row.certificate is None:
            return None
        charge_point_id = row.charge_point_id
        payload: dict[str, Any] = {"certificateChain": row.certificate}
        if row.certificate_type == V2G_CERTIFICATE:
            payload["certificateType"] = V2G_CERTIFICATE
    if request_id is not None:
        payload["requestId"] = request_id
    try:
        answer = await send(charge_point_id, "CertificateSigned", payload)
        status = str(answer.get("status"))
    except Exception:  # offline, timeout, CallError: the charger asks again with a new CSR
        status = SEND_FAILED
    async with session_factory() as session:
        row = await session.get(ChargerCertificate, certificate_id)
        if row is not None:
            row.status, row.updated_at = status, clock()
            await session.commit()
    return status


async def record_installed(
    session: AsyncSession, charge_point_id: str, certificate_type: str, pem: str, *, now: datetime
) -> None:
    """An accepted InstallCertificate: a root certificate, its own issuer."""
    certificate = certificate_authority.read_certificate(pem)
    session.add(_row(charge_point_id, certificate_type, certificate, certificate, status=INSTALLED, now=now))
    await session.commit()


async def record_deleted(session: AsyncSession, charge_point_id: str, hash_data: dict[str, Any]) -> None:
    """An accepted DeleteCertificate."""
    conditions = [getattr(ChargerCertificate, _column(name)) == str(hash_data[name]).lower() for name in _HASH_FIELDS]
    await session.execute(
        delete(ChargerCertificate).where(ChargerCertificate.charge_point_id == charge_point_id, *conditions)
    )
    await session.commit()


async def record_reported(
    session: AsyncSession, charge_point_id: str, certificate_type: str, reported: list[dict[str, Any]], *, now: datetime
) -> None:
    """A GetInstalledCertificateIds answer: what the charger holds of that type replaces what csms knew."""
    known = await _installed(session, charge_point_id, certificate_type)
    wanted = {_identity(hash_data): hash_data for hash_data in reported}
    for identity, row in known.items():
        if identity not in wanted:
            await session.delete(row)
    for identity, hash_data in wanted.items():
        if identity not in known:
            session.add(_reported_row(charge_point_id, certificate_type, hash_data, now=now))
    await session.commit()


async def list_for_charger(session: AsyncSession, charge_point_id: str) -> list[ChargerCertificate]:
    query = select(ChargerCertificate).where(ChargerCertificate.charge_point_id == charge_point_id)
    return list((await session.scalars(query.order_by(ChargerCertificate.id.desc()))).all())


async def list_expiring(session: AsyncSession, *, now: datetime, within: timedelta) -> list[ChargerCertificate]:
    """Certificates in use that expire before `now + within` (expired ones included), soonest first."""
    query = select(ChargerCertificate).where(
        ChargerCertificate.not_after < now + within, ChargerCertificate.status.in_(("Accepted", INSTALLED))
    )
    return list((await session.scalars(query.order_by(ChargerCertificate.not_after))).all())


async def _installed(
    session: AsyncSession, charge_point_id: str, certificate_type: str
) -> dict[tuple[str, ...], ChargerCertificate]:
    query = select(ChargerCertificate).where(
        ChargerCertificate.charge_point_id == charge_point_id,
        ChargerCertificate.certificate_type == certificate_type,
    )
    return {_row_identity(row): row for row in (await session.scalars(query)).all()}


def _row(
    charge_point_id: str,
    certificate_type: str,
    certificate: x509.Certificate,
    issuer: x509.Certificate | None,
    *,
    status: str,
    now: datetime,
) -> ChargerCertificate:
    """A certificate's row; without its `issuer` at hand, the issuer's key hash is unknown (empty)."""
    hash_data = certificate_authority.hash_data(certificate, issuer or certificate)
    if issuer is None:
        hash_data["issuerKeyHash"] = ""
    row = _reported_row(charge_point_id, certificate_type, hash_data, now=now)
    row.status, row.subject = status, certificate.subject.rfc4514_string()[:255]
    row.not_after, row.certificate = certificate.not_valid_after_utc, certificate_authority.to_pem(certificate)
    return row


def _reported_row(
    charge_point_id: str, certificate_type: str, hash_data: dict[str, Any], *, now: datetime
) -> ChargerCertificate:
    return ChargerCertificate(
        charge_point_id=charge_point_id,
        certificate_type=certificate_type,
        status=INSTALLED,
        hash_algorithm=str(hash_data["hashAlgorithm"]),
        issuer_name_hash=str(hash_data["issuerNameHash"]).lower(),
        issuer_key_hash=str(hash_data["issuerKeyHash"]).lower(),
        serial_number=str(hash_data["serialNumber"]).lower(),
        created_at=now,
        updated_at=now,
    )


def _column(field: str) -> str:
    return {"issuerNameHash": "issuer_name_hash", "issuerKeyHash": "issuer_key_hash"}.get(field, "serial_number")


def _identity(hash_data: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(hash_data[name]).lower() for name in _HASH_FIELDS)


def _row_identity(row: ChargerCertificate) -> tuple[str, ...]:
    return (row.issuer_name_hash, row.issuer_key_hash, row.serial_number)
