"""OCPI commands (2.2.1 §13) with csms as the receiver: what an eMSP may ask a charger, checked by csms's own
rules before anything is sent, and the charger's OCPP answer read as OCPI's CommandResult.

A command is answered at once (CommandResponse: ACCEPTED when it goes to the charger, REJECTED with the reason
when csms's rules refuse it, UNKNOWN_SESSION for a session the eMSP has no charge on); the charger's answer
follows to the eMSP's response_url (csms/ocpi/commands.py sends it). An OCPI session_id is csms's transaction
id, as a string (the sessions module names sessions so too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import OcpiReservation, OcpiToken, OcpiTransactionToken, Reservation, Transaction
from csms.services import charging, reservations
from csms.services.errors import Conflict, InvalidInput, NotFound
from csms.services.id_tags import ACCEPTED as TAG_ACCEPTED

# CommandResultType (§13.4.3).
ACCEPTED, FAILED, REJECTED, TIMEOUT = "ACCEPTED", "FAILED", "REJECTED", "TIMEOUT"
EVSE_OCCUPIED, EVSE_INOPERATIVE, NOT_SUPPORTED = "EVSE_OCCUPIED", "EVSE_INOPERATIVE", "NOT_SUPPORTED"
UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"
# The charger's answer (OCPP 1.6 and 2.x status values) as a CommandResult.
_RESULTS = {
    "Accepted": ACCEPTED,
    "Unlocked": ACCEPTED,
    "Rejected": REJECTED,
    "UnlockFailed": FAILED,
    "OngoingAuthorizedTransaction": REJECTED,
    "UnknownConnector": REJECTED,
    "NotSupported": NOT_SUPPORTED,
    "Occupied": EVSE_OCCUPIED,
    "Faulted": EVSE_INOPERATIVE,
    "Unavailable": EVSE_INOPERATIVE,
}
_NO_USER = -1  # a roaming driver has no csms account: no connector is "their own" session
_ID_TAG_16 = 20  # OCPP 1.6 idTag: CiString20
# The 2.x IdTokenEnumType a token of an OCPI TokenType is presented as (services/ocpi_tokens.py reads it back).
_ID_TOKEN_TYPES = {"RFID": "ISO14443", "APP_USER": "Central", "AD_HOC_USER": "Central", "OTHER": "Local"}


class CommandRefused(Exception):
    """csms's rules refuse the command (CommandResponse REJECTED); the message says why, for the eMSP."""


class UnknownSession(Exception):
    """No charge of this eMSP has that session_id (CommandResponse UNKNOWN_SESSION)."""


def result_of(charger_status: object, *, rejected: str = REJECTED) -> str:
    """The CommandResult of the charger's answer `status`; FAILED for one csms cannot read. `rejected` is what
    the charger's Rejected means (a CancelReservation's: it holds no such reservation)."""
    result = _RESULTS.get(str(charger_status), FAILED)
    return rejected if result == REJECTED and str(charger_status) == "Rejected" else result


def id_token_type(token_type: str) -> str:
    return _ID_TOKEN_TYPES.get(token_type, "Local")


async def start_refusal(
    session: AsyncSession, *, charge_point_id: str, connector_id: int, is_connected: bool
) -> str | None:
    """Why a START_SESSION cannot go to this connector now (offline, out of order, in use), or None. The
    connector rules are the app's (services/charging.py): an eMSP's driver is refused what any driver is."""
    if not is_connected:
        return f"charger {charge_point_id} is offline"
    return await charging.start_refusal(
        session, user_id=_NO_USER, charge_point_id=charge_point_id, connector_id=connector_id, state=None
    )


def check_id_tag(uid: str, *, ocpp_version: str) -> None:
    if ocpp_version == "1.6" and len(uid) > _ID_TAG_16:
        raise CommandRefused(f"token uid {uid} is longer than the 20 characters an OCPP 1.6 charger takes")


@dataclass(frozen=True, slots=True)
class RoamingCharge:
    charge_point_id: str
    transaction_id: int
    transaction_key: str | None


async def charge_to_stop(session: AsyncSession, *, party_key: int, session_id: str) -> RoamingCharge:
    """The running charge a STOP_SESSION names: one of this party's roaming charges (its session_id is csms's
    transaction id); UnknownSession for any other, CommandRefused when it has stopped."""
    if not session_id.isdigit() or len(session_id) > 18:
        raise UnknownSession(f"no session {session_id}")
    query = (
        select(Transaction)
        .join(OcpiTransactionToken, OcpiTransactionToken.transaction_id == Transaction.id)
        .where(Transaction.id == int(session_id), OcpiTransactionToken.ocpi_party_key == party_key)
    )
    transaction = (await session.execute(query)).scalar_one_or_none()
    if transaction is None:
        raise UnknownSession(f"no session {session_id} of this party")
    if transaction.stop_timestamp is not None or transaction.id_tag_status != TAG_ACCEPTED:
        raise CommandRefused(f"session {session_id} is not charging")
    return RoamingCharge(transaction.charge_point_id, transaction.id, transaction.transaction_key)


async def reserved_connector(session: AsyncSession, *, party_key: int, reservation_id: str) -> tuple[str, int] | None:
    """The charger and connector this party's reservation of that id holds, if it has one."""
    known = await session.get(OcpiReservation, (party_key, reservation_id))
    reservation = await session.get(Reservation, known.reservation_key) if known is not None else None
    return (reservation.charge_point_id, reservation.connector_id) if reservation is not None else None


async def reserve(
    session: AsyncSession,
    *,
    party_key: int,
    reservation_id: str,
    charge_point_id: str,
    connector_id: int,
    token: OcpiToken,
    expires_at: datetime,
    max_duration: timedelta,
    now: datetime,
) -> Reservation:
    """The reservation a RESERVE_NOW asks for, by the app's rules (services/reservations.py); the same
    reservation_id again renews it (§13.3.4: the CPO replaces it), on the same connector only."""
    known = await session.get(OcpiReservation, (party_key, reservation_id))
    replacing = await session.get(Reservation, known.reservation_key) if known is not None else None
    if replacing is not None and (replacing.charge_point_id, replacing.connector_id) != (charge_point_id, connector_id):
        raise CommandRefused(f"reservation {reservation_id} is for another EVSE: cancel it first")
    try:
        reservation = await reservations.plan_token_reservation(
            session,
            charge_point_id=charge_point_id,
            connector_id=connector_id,
            id_tag=token.uid,
            parent_id_tag=token.group_id if token.group_id and len(token.group_id) <= _ID_TAG_16 else None,
            expires_at=expires_at,
            max_duration=max_duration,
            now=now,
            replacing=replacing,
        )
    except (Conflict, InvalidInput, NotFound) as refusal:
        raise CommandRefused(str(refusal)) from None
    if known is None:
        session.add(
            OcpiReservation(
                ocpi_party_key=party_key, reservation_id=reservation_id, reservation_key=reservation.id, created_at=now
            )
        )
        await session.commit()
    return reservation


async def reservation_to_cancel(
    session: AsyncSession, *, party_key: int, reservation_id: str, now: datetime
) -> Reservation | None:
    """This party's reservation of that id while the charger holds it; None for any other (UNKNOWN_RESERVATION)."""
    known = await session.get(OcpiReservation, (party_key, reservation_id))
    reservation = await session.get(Reservation, known.reservation_key) if known is not None else None
    if reservation is None or reservations.effective_status(reservation, now=now) != reservations.ACCEPTED:
        return None
    return reservation
