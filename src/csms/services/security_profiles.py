"""OCPP security profiles (1.6 Security Whitepaper §2, 2.0.1 part 2 A00): the profile each charger has reached, which
OCPP can never lower (staff can, for recovery), raised only as far as an operator moved the charger,
and the binding of a profile 3 client certificate to its charger."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger
from csms.services.errors import InvalidInput, NotFound, PermissionDenied

BASIC_AUTH, TLS_BASIC_AUTH, TLS_CLIENT_CERTIFICATE = 1, 2, 3
SECURITY_PROFILE_KEY = "SecurityProfile"


class ProfileDowngrade(PermissionDenied):
    """A charger connecting with less than the profile it has reached."""


def connection_profile(*, is_tls: bool, has_client_certificate: bool) -> int:
    if has_client_certificate:
        return TLS_CLIENT_CERTIFICATE
    return TLS_BASIC_AUTH if is_tls else BASIC_AUTH


async def record_connection(session: AsyncSession, charge_point_id: str, profile: int) -> None:
    """Refuse a connection below the charger's recorded profile; remember a higher one, but only as far as
    an operator has moved the charger (`allow`, `set_profile`): a connection alone never raises it beyond,
    or whoever holds the charger's password could lock the real charger out by connecting first over TLS
    or with a certificate."""
    recorded, allowed = await _profiles(session, charge_point_id)
    if profile < recorded:
        raise ProfileDowngrade(
            f"charger {charge_point_id} is at security profile {recorded}; a profile {profile} connection is refused"
        )
    raised = min(profile, allowed)
    if raised > recorded:
        await _update(session, charge_point_id, security_profile=raised)


async def refuse_below_recorded(session: AsyncSession, charge_point_id: str, profile: int) -> None:
    """Refuse a connection below the charger's recorded profile, changing nothing."""
    recorded = await recorded_profile(session, charge_point_id)
    if profile < recorded:
        raise ProfileDowngrade(
            f"charger {charge_point_id} is at security profile {recorded}; a profile {profile} connection is refused"
        )


async def recorded_profile(session: AsyncSession, charge_point_id: str) -> int:
    return (await _profiles(session, charge_point_id))[0]


async def allow(session: AsyncSession, charge_point_id: str, profile: int) -> None:
    """The charger accepted the operator's ChangeConfiguration(SecurityProfile): its next connection at that
    profile raises the recorded one."""
    await _update(session, charge_point_id, security_profile_allowed=profile)


async def set_profile(session: AsyncSession, charge_point_id: str, profile: int) -> None:
    """Staff set the charger's profile directly, lower included (recovery of a charger that lost its
    certificate): connections below it are refused, and connections above it do not raise it."""
    if profile not in (BASIC_AUTH, TLS_BASIC_AUTH, TLS_CLIENT_CERTIFICATE):
        raise InvalidInput("a security profile is 1, 2 or 3")
    if await session.get(Charger, charge_point_id) is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    await _update(session, charge_point_id, security_profile=profile, security_profile_allowed=profile)


async def _profiles(session: AsyncSession, charge_point_id: str) -> tuple[int, int]:
    """The charger's recorded profile and the highest an operator allowed (0 when none)."""
    query = select(Charger.security_profile, Charger.security_profile_allowed).where(
        Charger.charge_point_id == charge_point_id
    )
    found = (await session.execute(query)).first()
    return (0, 0) if found is None else (int(found[0] or 0), int(found[1] or 0))


async def _update(session: AsyncSession, charge_point_id: str, **values: int) -> None:
    await session.execute(update(Charger).where(Charger.charge_point_id == charge_point_id).values(**values))
    await session.commit()


def requested_profile(action: str, payload: dict[str, Any]) -> str | None:
    """The profile a call moves the charger to, as the call spells it; None for a call that does not.

    1.6: ChangeConfiguration(SecurityProfile); 2.0.1: SetNetworkProfile, whose connection data names the
    profile of the connection the station makes with it.
    """
    if action == "ChangeConfiguration" and payload.get("key") == SECURITY_PROFILE_KEY:
        return str(payload.get("value", ""))
    if action == "SetNetworkProfile":
        return str(payload.get("connectionData", {}).get("securityProfile", ""))
    return None


def is_profile_change(action: str, payload: dict[str, Any]) -> bool:
    return requested_profile(action, payload) is not None


async def refuse_lowering(session: AsyncSession, charge_point_id: str, action: str, payload: dict[str, Any]) -> None:
    """A call may only raise the charger's profile (1.6 Security Whitepaper §2.1, 2.0.1 part 2 A00)."""
    requested = requested_profile(action, payload)
    if requested not in ("1", "2", "3"):
        raise InvalidInput("a security profile is 1, 2 or 3")
    recorded = await recorded_profile(session, charge_point_id)
    if int(requested) < recorded:
        raise InvalidInput(f"charger {charge_point_id} is at security profile {recorded}; it cannot be lowered")


async def certificate_identity(session: AsyncSession, charge_point_id: str, *, identity: str) -> str:
    """What a charger's certificate must name as its common name: its id, or the serial number an
    operator registered for it. Never the serial its BootNotification reports: any charger can claim
    another's there."""
    charger = await session.get(Charger, charge_point_id)
    if charger is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    if identity == "serial_number":
        if not charger.registered_serial_number:
            raise PermissionDenied(
                f"charger {charge_point_id} has no registered serial number to bind its certificate to"
            )
        return charger.registered_serial_number
    return charge_point_id


def common_name(certificate_pem: str) -> str | None:
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if len(names) == 1 else None
