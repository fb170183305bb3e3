"""ISO 15118 contract certificates the operator's CA signs for an eMAID, for development and testing of Plug
& Charge: what the development certificate provider knows it issued, and has revoked.

Also the lookup by OCSP's CertificateHashData of every certificate csms's CA issued (contract certificates
and chargers' own), which the development provider's OCSP answers rest on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import ChargerCertificate, ContractCertificate
from csms.services import certificate_authority
from csms.services.certificate_authority import CertificateAuthority, CertificateRequestRefused, CertificateSubject
from csms.services.certificate_revocation import RevocationReason
from csms.services.certificates import CHARGE_POINT_CERTIFICATE, V2G_CERTIFICATE
from csms.services.errors import NotFound

EMAID_MAX_LENGTH = 36  # IdTokenType.idToken, CiString36


@dataclass(frozen=True, slots=True)
class IssuedRecord:
    """A certificate csms's CA issued, as its OCSP answer needs it."""

    serial_number: str
    revoked_at: datetime | None
    revocation_reason: str | None
    emaid: str | None = None  # a contract certificate's
    not_after: datetime | None = None

    def is_revoked(self, now: datetime) -> bool:
        return self.revoked_at is not None and self.revoked_at <= now


def normalized_emaid(emaid: str) -> str:
    """An eMAID as contract certificates name it: ISO 15118-2 writes it without separators, any case."""
    return emaid.replace("-", "").upper()


async def issue(
    session: AsyncSession,
    *,
    authority: CertificateAuthority | None,
    emaid: str,
    csr_pem: str,
    valid_for: timedelta,
    now: datetime,
) -> ContractCertificate:
    """Sign a contract certificate for `emaid` (the CSR's common name) and keep it."""
    if authority is None:
        raise CertificateRequestRefused("csms has no CA to sign with (CSMS_CA_CERTFILE, CSMS_CA_KEYFILE)")
    if not 1 <= len(emaid) <= EMAID_MAX_LENGTH or not emaid.isascii() or not emaid.isprintable():
        raise CertificateRequestRefused(f"an eMAID has 1 to {EMAID_MAX_LENGTH} printable ASCII characters")
    subject = CertificateSubject(emaid, authority.organization())
    certificate = certificate_authority.sign_request(authority, csr_pem, subject=subject, now=now, valid_for=valid_for)
    hash_data = certificate_authority.hash_data(certificate, authority.certificate)
    row = ContractCertificate(
        emaid=emaid,
        issuer_name_hash=hash_data["issuerNameHash"],
        issuer_key_hash=hash_data["issuerKeyHash"],
        serial_number=hash_data["serialNumber"],
        subject=certificate.subject.rfc4514_string()[:255],
        not_after=certificate.not_valid_after_utc,
        certificate=certificate_authority.to_pem(certificate),
        created_at=now,
    )
    session.add(row)
    await session.commit()
    return row


async def revoke(
    session: AsyncSession, certificate_id: int, *, reason: RevocationReason, now: datetime
) -> ContractCertificate:
    """Revoke a contract certificate from `now` (one revoked already keeps its time and reason)."""
    row = await session.get(ContractCertificate, certificate_id)
    if row is None:
        raise NotFound(f"csms issued no contract certificate {certificate_id}")
    if row.revoked_at is None:
        row.revoked_at, row.revocation_reason = now, reason
        await session.commit()
    return row


async def list_all(session: AsyncSession) -> list[ContractCertificate]:
    query = select(ContractCertificate).order_by(ContractCertificate.id.desc())
    return list((await session.scalars(query)).all())


async def find_issued(
    session: AsyncSession, *, issuer_name_hash: str, issuer_key_hash: str, serial_number: str
) -> IssuedRecord | None:
    """The certificate csms's CA issued with this serial number (SHA256 issuer hashes, as csms keeps them):
    a contract certificate, or a certificate csms signed for a charger (OCPP or SECC); None when it issued none."""
    contract = await session.scalar(
        select(ContractCertificate).where(
            ContractCertificate.issuer_name_hash == issuer_name_hash,
            ContractCertificate.issuer_key_hash == issuer_key_hash,
            ContractCertificate.serial_number == serial_number,
        )
    )
    if contract is not None:
        return IssuedRecord(
            serial_number, contract.revoked_at, contract.revocation_reason, contract.emaid, contract.not_after
        )
    charger = await session.scalar(
        select(ChargerCertificate)
        .where(
            ChargerCertificate.certificate_type.in_((CHARGE_POINT_CERTIFICATE, V2G_CERTIFICATE)),
            ChargerCertificate.issuer_name_hash == issuer_name_hash,
            ChargerCertificate.issuer_key_hash == issuer_key_hash,
            ChargerCertificate.serial_number == serial_number,
        )
        .limit(1)
    )
    if charger is None:
        return None
    return IssuedRecord(serial_number, charger.revoked_at, charger.revocation_reason, None, charger.not_after)
