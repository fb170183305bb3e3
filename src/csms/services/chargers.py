"""Chargers: registration, credentials, boot data, connection state and connector status."""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Executable, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.batch_writer import BatchWriter
from csms.db.models import Charger, ChargerEvent, Connector, DataTransferMessage, StatusNotification
from csms.db.write_journal import journaled
from csms.domain.commands import TriggerMessage
from csms.security import ChargerPasswordVerifier, hash_charger_password
from csms.services.calls import SendCommand
from csms.services.errors import AlreadyExists, InvalidInput, NotFound

logger = logging.getLogger(__name__)

# The charge point id is the last path segment of the OCPP URL and the Basic-auth username, so it
# must survive both: no '/', no ':' (the user:password separator), no spaces or control characters.
CHARGE_POINT_ID_PATTERN = re.compile(r"^[A-Za-z0-9._~\-]{1,64}$")
CHARGER_PASSWORD_MIN_LENGTH = 16
CHARGER_PASSWORD_MAX_LENGTH = 40
SERIAL_NUMBER_MAX_LENGTH = 64
# What csms may answer a BootNotification (OCPP RegistrationStatus, the same in 1.6 and 2.0.1).
BOOT_ACCEPTED, BOOT_PENDING, BOOT_REJECTED = "Accepted", "Pending", "Rejected"
BOOT_ANSWERS = (BOOT_ACCEPTED, BOOT_PENDING, BOOT_REJECTED)


@dataclass(frozen=True, slots=True)
class BootInfo:
    vendor: str
    model: str
    serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


@dataclass(frozen=True, slots=True)
class StatusReport:
    connector_id: int
    status: str
    error_code: str
    timestamp: datetime
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    # A 2.x station names the EVSE and its connector; None: a 1.6 connectorId (its own EVSE, connector 1).
    evse_id: int | None = None
    evse_connector_id: int | None = None
    availability: str | None = None


OCPP_16 = "1.6"


async def ocpp_version(session: AsyncSession, charge_point_id: str) -> str:
    """The OCPP version the charger last connected with; 1.6 for one that never did."""
    version = await session.scalar(select(Charger.ocpp_version).where(Charger.charge_point_id == charge_point_id))
    return version or OCPP_16


class ChargerAuthFailure(Exception):
    """Why a charger's connection was refused; `is_unknown` decides 404 against 401."""

    def __init__(self, reason: str, *, is_unknown: bool = False) -> None:
        super().__init__(reason)
        self.is_unknown = is_unknown


def validate_charger_password(password: str) -> None:
    if not CHARGER_PASSWORD_MIN_LENGTH <= len(password) <= CHARGER_PASSWORD_MAX_LENGTH:
        raise InvalidInput(
            f"a charger password has {CHARGER_PASSWORD_MIN_LENGTH} to {CHARGER_PASSWORD_MAX_LENGTH} characters"
        )
    if not password.isascii() or not password.isprintable():
        raise InvalidInput("a charger password uses printable ASCII characters only")


def validate_charge_point_id(charge_point_id: str) -> None:
    if not CHARGE_POINT_ID_PATTERN.fullmatch(charge_point_id):
        raise InvalidInput("a charge point id has 1 to 64 characters from A-Z, a-z, 0-9 and . _ ~ -")


async def register_charger(
    session: AsyncSession,
    *,
    charge_point_id: str,
    password: str,
    now: datetime,
    registered_serial_number: str | None = None,
    boot_answer: str = BOOT_ACCEPTED,
) -> Charger:
    validate_charge_point_id(charge_point_id)
    validate_charger_password(password)
    if boot_answer not in BOOT_ANSWERS:
        raise InvalidInput(f"a boot answer is one of {', '.join(BOOT_ANSWERS)}")
    if await session.get(Charger, charge_point_id) is not None:
        raise AlreadyExists(f"charger {charge_point_id} is already registered")
    if registered_serial_number is not None:
        await _require_unclaimed_serial(session, registered_serial_number, charge_point_id=charge_point_id)
    charger = Charger(
        charge_point_id=charge_point_id,
        password_hash=await hash_charger_password(password),
        registered_serial_number=registered_serial_number,
        boot_answer=boot_answer,
        created_at=now,
    )
    session.add(charger)
    await _commit_serial(session, registered_serial_number)
    await session.refresh(charger, ["is_connected"])  # a SQL expression (services/presence.py), read once
    return charger


async def register_serial_number(session: AsyncSession, charge_point_id: str, serial_number: str | None) -> Charger:
    """The serial an operator vouches for (None forgets it): what the charger's certificate names in
    serial_number identity mode. Unique, so no two chargers can present the same certificate identity."""
    charger = await session.get(Charger, charge_point_id)
    if charger is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    if serial_number is not None:
        await _require_unclaimed_serial(session, serial_number, charge_point_id=charge_point_id)
    charger.registered_serial_number = serial_number
    await _commit_serial(session, serial_number)
    await session.refresh(charger, ["is_connected"])  # a SQL expression (services/presence.py), read once
    return charger


def validate_serial_number(serial_number: str) -> None:
    """At most 64 characters, as a certificate's common name holds (RFC 5280, ub-common-name)."""
    if not 1 <= len(serial_number) <= SERIAL_NUMBER_MAX_LENGTH:
        raise InvalidInput(f"a serial number has 1 to {SERIAL_NUMBER_MAX_LENGTH} characters")
    if not serial_number.isprintable() or serial_number != serial_number.strip():
        raise InvalidInput("a serial number is printable, without leading or trailing spaces")


async def _require_unclaimed_serial(session: AsyncSession, serial_number: str, *, charge_point_id: str) -> None:
    validate_serial_number(serial_number)
    query = select(Charger.charge_point_id).where(
        Charger.registered_serial_number == serial_number, Charger.charge_point_id != charge_point_id
    )
    holder = await session.scalar(query)
    if holder is not None:
        raise AlreadyExists(f"serial number {serial_number!r} is registered for charger {holder}")


async def _commit_serial(session: AsyncSession, serial_number: str | None) -> None:
    """Commit; two operators registering the same serial at once: the unique index refuses the second."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        if serial_number is None:
            raise
        raise AlreadyExists(f"serial number {serial_number!r} is registered for another charger") from None


async def authenticate_charger(
    session: AsyncSession,
    *,
    charge_point_id: str,
    username: str | None,
    password: str | None,
    verifier: ChargerPasswordVerifier,
) -> Charger:
    """Check Basic-auth credentials for a charger (OCPP 1.6 security profile 1/2)."""
    charger = await session.get(Charger, charge_point_id)
    if charger is None:
        raise ChargerAuthFailure(f"unknown charger {charge_point_id}", is_unknown=True)
    if username is None or password is None:
        raise ChargerAuthFailure("Basic authentication required")
    if username != charge_point_id:
        raise ChargerAuthFailure("the username must be the charge point id")
    if not await verifier.verify(charger.password_hash, password):
        raise ChargerAuthFailure("wrong password")
    return charger


async def record_boot(
    writer: BatchWriter,
    charge_point_id: str,
    boot: BootInfo,
    *,
    now: datetime,
    ocpp_version: str = OCPP_16,
    answered: str = BOOT_ACCEPTED,
) -> None:
    row = {f"boot_{name}": getattr(boot, name) for name in _BOOT_FIELDS}
    values = {**row, "cp": charge_point_id, "at": now, "ocpp_version": ocpp_version, "answered": answered}
    await writer.write((_BOOT, [values]))


async def boot_answer(session: AsyncSession, charge_point_id: str) -> str:
    """What the operator wants the charger's BootNotification answered: Accepted, Pending or Rejected."""
    answer = await session.scalar(select(Charger.boot_answer).where(Charger.charge_point_id == charge_point_id))
    return answer or BOOT_ACCEPTED


async def ask_to_boot_again(send: SendCommand, charge_point_id: str) -> None:
    """Ask a charger to send its BootNotification now; one that is not connected, or refuses, boots when
    its own interval ends, so a failure is only logged."""
    try:
        answer = await send(charge_point_id, TriggerMessage("BootNotification"))
    except Exception as error:  # not connected, timed out, refused: it boots when its interval ends
        logger.info("charger %s not asked to boot again: %s", charge_point_id, error)
        return
    logger.info("charger %s asked to boot again: %s", charge_point_id, answer.get("status"))


async def set_boot_answer(session: AsyncSession, charge_point_id: str, answer: str) -> Charger:
    """The operator's choice of what the charger's next BootNotification is answered."""
    if answer not in BOOT_ANSWERS:
        raise InvalidInput(f"a boot answer is one of {', '.join(BOOT_ANSWERS)}")
    charger = await session.get(Charger, charge_point_id)
    if charger is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    charger.boot_answer = answer
    await session.commit()
    return charger


# Connects and disconnects before 0014; kept so a held-writes journal of an older node replays. Presence
# and these times are now written in the presence transactions (services/presence.py).
_CONNECTION_STATE = journaled(
    "charger.connection_state",
    update(Charger)
    .where(Charger.charge_point_id == bindparam("cp"))
    .values(
        is_connected=bindparam("connected"),
        connected_at=func.coalesce(bindparam("on", type_=Charger.connected_at.type), Charger.connected_at),
        disconnected_at=func.coalesce(bindparam("off", type_=Charger.disconnected_at.type), Charger.disconnected_at),
    )
    .execution_options(synchronize_session=False),
)
_BOOT_FIELDS = tuple(field.name for field in dataclasses.fields(BootInfo))
_BOOT = journaled(
    "charger.boot",
    update(Charger)
    .where(Charger.charge_point_id == bindparam("cp"))
    .values(
        {
            **{name: bindparam(f"boot_{name}") for name in _BOOT_FIELDS},
            # A default: a held-writes journal of a node before 0022 has no answer, and always accepted.
            "registration_status": bindparam("answered", value=BOOT_ACCEPTED),
            "last_boot_at": bindparam("at"),
            "last_heartbeat_at": bindparam("at"),
            # A default: a held-writes journal of a node before 0020 has no ocpp_version, and meant 1.6.
            "ocpp_version": bindparam("ocpp_version", value=OCPP_16),
        }
    )
    .execution_options(synchronize_session=False),
)
_HEARTBEAT = journaled(
    "charger.heartbeat",
    update(Charger)
    .where(Charger.charge_point_id == bindparam("cp"))
    .values(last_heartbeat_at=bindparam("at"))
    .execution_options(synchronize_session=False),
)
_STATUS_HISTORY = journaled("connector.status_history", insert(StatusNotification))


def record_heartbeat(writer: BatchWriter, charge_point_id: str, *, now: datetime) -> None:
    """Last seen: written in the background, since losing it on a crash costs nothing."""
    writer.write_soon((_HEARTBEAT, [{"cp": charge_point_id, "at": now}]))


async def record_status(writer: BatchWriter, charge_point_id: str, report: StatusReport, *, now: datetime) -> None:
    """Keep the report in the history; make it the connector's current status unless a newer one is known.

    Chargers queue notifications while offline and send them late, so arrival order is not event order.
    """
    row = {
        "charge_point_id": charge_point_id,
        "connector_id": report.connector_id,
        "status": report.status,
        "error_code": report.error_code,
        "info": report.info,
        "vendor_id": report.vendor_id,
        "vendor_error_code": report.vendor_error_code,
    }
    current = {**row, **_evse_of(report), "status_at": report.timestamp}
    await writer.write(
        (_STATUS_HISTORY, [{**row, "timestamp": report.timestamp, "received_at": now}]),
        (_current_status_upsert(writer.dialect_name), [current]),
    )


def _evse_of(report: StatusReport) -> dict[str, int | str | None]:
    """EVSE, connector on it and availability; for 1.6 the connectorId is the EVSE (0: the station) with
    connector 1, and availability follows the status, since 1.6 reports none of its own."""
    if report.evse_id is not None:
        return {
            "evse_id": report.evse_id,
            "evse_connector_id": report.evse_connector_id,
            "availability": report.availability,
        }
    return {
        "evse_id": report.connector_id,
        "evse_connector_id": None if report.connector_id == 0 else 1,
        "availability": "Inoperative" if report.status == "Unavailable" else "Operative",
    }


def _current_status_upsert(dialect_name: str) -> Executable:
    return _UPSERTS["sqlite" if dialect_name == "sqlite" else "postgresql"]


def _build_current_status_upsert(dialect_name: str) -> Executable:
    """INSERT ... ON CONFLICT DO UPDATE, only when the report is not older than the stored status."""
    dialect_insert = sqlite_insert if dialect_name == "sqlite" else postgresql_insert
    statement = dialect_insert(Connector)
    newer: dict[str, Any] = {column: statement.excluded[column] for column in _STATUS_COLUMNS}
    # A held-writes journal of a node before 0020 has none of these: keep what is known.
    newer |= {
        column: func.coalesce(statement.excluded[column], Connector.__table__.c[column]) for column in _EVSE_COLUMNS
    }
    return statement.on_conflict_do_update(
        index_elements=[Connector.charge_point_id, Connector.connector_id],
        set_=newer,
        where=statement.excluded.status_at >= Connector.status_at,
    )


_STATUS_COLUMNS = ("status", "error_code", "info", "vendor_id", "vendor_error_code", "status_at")
_EVSE_COLUMNS = ("evse_id", "evse_connector_id", "availability")
# Built at import for both dialects: a journal written before a restart finds them by name at once.
_UPSERTS: dict[str, Executable] = {
    name: journaled(f"connector.current_status.{name}", _build_current_status_upsert(name))
    for name in ("sqlite", "postgresql")
}


async def record_charger_event(
    session: AsyncSession, charge_point_id: str, *, kind: str, status: str, now: datetime
) -> None:
    """Store firmware or diagnostics progress (kind "firmware" or "diagnostics")."""
    session.add(ChargerEvent(charge_point_id=charge_point_id, kind=kind, status=status, received_at=now))
    values = (
        {"firmware_status": status, "firmware_status_at": now}
        if kind == "firmware"
        else {"diagnostics_status": status, "diagnostics_status_at": now}
    )
    await session.execute(update(Charger).where(Charger.charge_point_id == charge_point_id).values(**values))
    await session.commit()


async def record_data_transfer(
    session: AsyncSession,
    charge_point_id: str,
    *,
    vendor_id: str,
    message_id: str | None,
    data: str | None,
    now: datetime,
) -> None:
    session.add(
        DataTransferMessage(
            charge_point_id=charge_point_id,
            vendor_id=vendor_id,
            message_id=message_id,
            data=data,
            received_at=now,
        )
    )
    await session.commit()


async def get_charger(session: AsyncSession, charge_point_id: str) -> Charger | None:
    return await session.get(Charger, charge_point_id)


# What an operator looks for in the chargers list. A connector's status counts only while its charger is
# connected: an offline charger's last report is stale, and "offline" is its alarm.
_CONNECTOR_STATUS_OF_STATE = {"charging": "Charging", "faulted": "Faulted", "unavailable": "Unavailable"}


def state_condition(state: str) -> ColumnElement[bool]:
    """Chargers in `state`: online, offline, charging (a connector above 0 Charging), faulted or unavailable."""
    if state == "online":
        return Charger.is_connected.is_(True)
    if state == "offline":
        return Charger.is_connected.is_(False)
    connectors = select(Connector.charge_point_id).where(
        Connector.charge_point_id == Charger.charge_point_id, Connector.status == _CONNECTOR_STATUS_OF_STATE[state]
    )
    if state == "charging":
        connectors = connectors.where(Connector.connector_id > 0)
    return and_(Charger.is_connected.is_(True), connectors.exists())


async def find_chargers(
    session: AsyncSession,
    *,
    text: str | None = None,
    state: str | None = None,
    sort: str = "charge_point_id",
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[Charger], int]:
    """A page of chargers whose id, vendor, model or serial number contains `text` (any case), in `state`,
    sorted by `sort` (charge_point_id or last_heartbeat_at, a leading "-" for descending; chargers never heard
    from last); and how many match."""
    query = select(Charger)
    if text:
        needle = text.strip().lower()
        columns = (Charger.charge_point_id, Charger.vendor, Charger.model, Charger.serial_number)
        query = query.where(or_(*(func.lower(column).contains(needle, autoescape=True) for column in columns)))
    if state:
        query = query.where(state_condition(state))
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    column = Charger.last_heartbeat_at if sort.lstrip("-") == "last_heartbeat_at" else Charger.charge_point_id
    order = column.desc() if sort.startswith("-") else column.asc()
    page = query.order_by(column.is_(None), order, Charger.charge_point_id).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    return list((await session.scalars(page)).all()), total


async def list_connectors(session: AsyncSession, charge_point_id: str) -> list[Connector]:
    query = select(Connector).where(Connector.charge_point_id == charge_point_id).order_by(Connector.connector_id)
    return list((await session.scalars(query)).all())


async def get_connector(session: AsyncSession, charge_point_id: str, connector_id: int) -> Connector | None:
    return await session.get(Connector, (charge_point_id, connector_id))
