"""Which CSRs csms signs: only those it asked for (Security Whitepaper use case A02 starts with the
central system's ExtendedTriggerMessage), or one inside a window an operator opened.

Without this, anyone holding a charger's Basic-auth password could send SignCertificate unprompted and
get a client certificate: an identity that outlives the password. A window lets one CSR through and is
closed by it; the window is kept in the database, so the node that holds the charger's socket sees the
one the API opened on another node. It is opened and checked on the database's clock, which both nodes
share whatever their own clocks say (db/database_time.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.database_time import database_now, database_now_plus
from csms.db.models import Charger
from csms.services.certificate_authority import CertificateRequestRefused

TRIGGER_ACTION = "ExtendedTriggerMessage"
SIGN_CERTIFICATE_TRIGGER = "SignChargePointCertificate"


class UnsolicitedRequest(CertificateRequestRefused):
    """A SignCertificate csms did not ask for."""


# The calls that ask a charger for a new CSR: 1.6 (security whitepaper) and 2.0.1 (A02, A03).
_REQUEST_TRIGGERS = {
    (TRIGGER_ACTION, SIGN_CERTIFICATE_TRIGGER),
    ("TriggerMessage", "SignChargingStationCertificate"),
    ("TriggerMessage", "SignV2GCertificate"),
}


def is_request_trigger(action: str, payload: dict[str, Any]) -> bool:
    """Whether this call asks the charger for a new CSR."""
    return (action, payload.get("requestedMessage")) in _REQUEST_TRIGGERS


async def open_window(session: AsyncSession, charge_point_id: str, *, seconds: float) -> datetime | None:
    """Expect one CSR from the charger for `seconds` (replacing any window open before); until when, or
    None for an unknown charger."""
    until = await session.scalar(
        update(Charger)
        .where(Charger.charge_point_id == charge_point_id)
        .values(certificate_request_until=database_now_plus(seconds))
        .returning(Charger.certificate_request_until)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return until


async def close_window(session: AsyncSession, charge_point_id: str) -> None:
    await session.execute(
        update(Charger).where(Charger.charge_point_id == charge_point_id).values(certificate_request_until=None)
    )
    await session.commit()


async def take_window(session: AsyncSession, charge_point_id: str) -> None:
    """Use up the charger's open window for the CSR at hand, in the caller's transaction (so a CSR refused
    later for its content leaves the window open once rolled back); UnsolicitedRequest when none is open."""
    taken = await session.execute(
        update(Charger)
        .where(Charger.charge_point_id == charge_point_id, Charger.certificate_request_until > database_now())
        .values(certificate_request_until=None)
        .execution_options(synchronize_session=False)
    )
    if not isinstance(taken, CursorResult) or taken.rowcount != 1:
        raise UnsolicitedRequest(
            f"csms did not ask charger {charge_point_id} for a CSR (send ExtendedTriggerMessage "
            f"{SIGN_CERTIFICATE_TRIGGER}, or open a signing window)"
        )
