"""Revoking the charger certificates csms signed: by staff, or superseded by a renewal after a grace
period; the check of a presented client certificate against csms's records; and the CRL csms publishes.

A revocation has a time (`revoked_at`) that may lie ahead: a renewed certificate's predecessor keeps
working until then, so a charger that installs its new certificate has time to reconnect with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.db.models import ChargerCertificate
from csms.services import certificates
from csms.services.calls import Send
from csms.services.certificate_authority import CertificateAuthority, hash_data
from csms.services.certificates import CHARGE_POINT_CERTIFICATE
from csms.services.errors import NotFound, PermissionDenied

# RFC 5280 §5.3.1 CRLReason, spelled as `cryptography`'s ReasonFlags values.
RevocationReason = Literal["unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"]
SUPERSEDED: RevocationReason = "superseded"
# How long a CRL is good for when no scheduled revocation comes sooner; csms signs a fresh one per request.
_CRL_LIFETIME = timedelta(days=1)


class CertificateNotHonoured(PermissionDenied):
    """A presented client certificate csms did not issue to this charger, or has revoked."""


async def revoke(
    session: AsyncSession,
    charge_point_id: str,
    *,
    certificate_id: int | None,
    reason: RevocationReason,
    now: datetime,
) -> list[ChargerCertificate]:
    """Revoke one certificate csms signed for the charger (or all of them when `certificate_id` is None)
    from `now`; a revocation already in effect keeps its time, one scheduled later is brought forward."""
    rows = await _signed_for(session, charge_point_id)
    if certificate_id is not None:
        rows = [row for row in rows if row.id == certificate_id]
        if not rows:
            raise NotFound(f"charger {charge_point_id} has no certificate {certificate_id} signed by csms")
    for row in rows:
        if row.revoked_at is None or row.revoked_at > now:
            row.revoked_at, row.revocation_reason, row.updated_at = now, reason, now
    await session.commit()
    return rows


async def deliver_renewal(
    session_factory: async_sessionmaker[AsyncSession],
    send: Send,
    charge_point_id: str,
    certificate_id: int,
    *,
    grace: timedelta,
    clock: Callable[[], datetime],
) -> None:
    """Deliver a signed certificate; once the charger accepts it, its older ones are superseded."""
    status = await certificates.deliver_signed(session_factory, send, certificate_id, clock=clock)
    if status == "Accepted":
        async with session_factory() as session:
            await supersede_older(session, charge_point_id, certificate_id, grace=grace, now=clock())


async def supersede_older(
    session: AsyncSession, charge_point_id: str, renewed_id: int, *, grace: timedelta, now: datetime
) -> None:
    """The charger accepted certificate `renewed_id`: every older one csms signed for it is revoked after
    the grace period (unless revoked sooner already)."""
    revoke_at = now + grace
    await session.execute(
        update(ChargerCertificate)
        .where(
            ChargerCertificate.charge_point_id == charge_point_id,
            ChargerCertificate.certificate_type == CHARGE_POINT_CERTIFICATE,
            ChargerCertificate.id < renewed_id,
            or_(ChargerCertificate.revoked_at.is_(None), ChargerCertificate.revoked_at > revoke_at),
        )
        .values(revoked_at=revoke_at, revocation_reason=SUPERSEDED, updated_at=now)
    )
    await session.commit()


async def check_presented(session: AsyncSession, charge_point_id: str, certificate_pem: str, *, now: datetime) -> None:
    """Security profile 3 with csms as the CA: the client certificate must be one csms signed for this
    charger (same issuer, serial and bytes) and not revoked by `now`; else CertificateNotHonoured."""
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    serial = format(certificate.serial_number, "x")
    query = select(ChargerCertificate).where(
        ChargerCertificate.charge_point_id == charge_point_id,
        ChargerCertificate.certificate_type == CHARGE_POINT_CERTIFICATE,
        ChargerCertificate.serial_number == serial,
        ChargerCertificate.issuer_name_hash == hashlib.sha256(certificate.issuer.public_bytes()).hexdigest(),
    )
    issued = [row for row in (await session.scalars(query)).all() if _is_same(row, certificate)]
    if not issued:
        raise CertificateNotHonoured(f"the client certificate (serial {serial}) is not one csms issued to this charger")
    revoked_at = issued[0].revoked_at
    if revoked_at is not None and revoked_at <= now:
        reason = issued[0].revocation_reason or "unspecified"
        raise CertificateNotHonoured(f"the client certificate (serial {serial}) is revoked ({reason})")


async def certificate_revocation_list(
    session: AsyncSession, authority: CertificateAuthority, *, now: datetime
) -> x509.CertificateRevocationList:
    """A CRL signed by the CA: every certificate it signed for a charger that is revoked by `now`. Its
    nextUpdate comes no later than the next scheduled revocation, so relying parties fetch it again then."""
    issuer_name_hash, issuer_key_hash = _issuer_hashes(authority)
    query = select(ChargerCertificate).where(
        ChargerCertificate.certificate_type == CHARGE_POINT_CERTIFICATE,
        ChargerCertificate.issuer_name_hash == issuer_name_hash,
        ChargerCertificate.issuer_key_hash == issuer_key_hash,
        ChargerCertificate.revoked_at.is_not(None),
    )
    rows = list((await session.scalars(query.order_by(ChargerCertificate.id))).all())
    revoked = [row for row in rows if row.revoked_at is not None and row.revoked_at <= now]
    scheduled = [row.revoked_at for row in rows if row.revoked_at is not None and row.revoked_at > now]
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(now)
        .next_update(min([now + _CRL_LIFETIME, *scheduled]))
    )
    for row in revoked:
        builder = builder.add_revoked_certificate(_revoked_entry(row))
    return builder.sign(authority.key, hashes.SHA256())


def _revoked_entry(row: ChargerCertificate) -> x509.RevokedCertificate:
    assert row.revoked_at is not None  # noqa: S101 - selected for it
    entry = x509.RevokedCertificateBuilder().serial_number(int(row.serial_number, 16)).revocation_date(row.revoked_at)
    reason = x509.ReasonFlags(row.revocation_reason or "unspecified")
    return entry.add_extension(x509.CRLReason(reason), critical=False).build()


def _issuer_hashes(authority: CertificateAuthority) -> tuple[str, str]:
    """The issuer name and key hashes csms keeps on the certificates this CA signs."""
    name_hash = hashlib.sha256(authority.certificate.subject.public_bytes()).hexdigest()
    return name_hash, str(hash_data(authority.certificate, authority.certificate)["issuerKeyHash"])


def _is_same(row: ChargerCertificate, certificate: x509.Certificate) -> bool:
    if row.certificate is None:
        return False
    return x509.load_pem_x509_certificate(row.certificate.encode()) == certificate


async def _signed_for(session: AsyncSession, charge_point_id: str) -> list[ChargerCertificate]:
    query = select(ChargerCertificate).where(
        ChargerCertificate.charge_point_id == charge_point_id,
        ChargerCertificate.certificate_type == CHARGE_POINT_CERTIFICATE,
    )
    return list((await session.scalars(query.order_by(ChargerCertificate.id))).all())
