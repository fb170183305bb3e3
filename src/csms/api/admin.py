"""Operator endpoints (roles admin and root): chargers, commands to chargers, users, all records."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response, status
from sqlalchemy import inspect

from csms.api.commanding import send_and_record
from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.schemas import (
    ChargerCreate,
    ChargerOut,
    ChargerUpdate,
    ConnectorOut,
    ErrorBody,
    OcppMessageOut,
    SettlementOut,
)
from csms.db.models import Charger
from csms.services import chargers, file_transfer, message_log, settlements, sites
from csms.services.errors import NotFound

router = APIRouter(prefix="/api/admin", tags=["admin"])

ChargerState = Literal["online", "offline", "charging", "faulted", "unavailable"]
ChargerSort = Literal["charge_point_id", "-charge_point_id", "last_heartbeat_at", "-last_heartbeat_at"]
_STATE = (
    "online or offline; charging, faulted or unavailable: connected, with a connector in that status "
    "(faulted and unavailable count the charger itself, connector 0)"
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    403: {"model": ErrorBody, "description": "Needs the role admin or root"},
    404: {"model": ErrorBody, "description": "Unknown charger"},
}


@router.post("/chargers", status_code=status.HTTP_201_CREATED, responses={**_ERRORS, 409: {"model": ErrorBody}})
async def register_charger(
    body: ChargerCreate, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> ChargerOut:
    """Register a charger, the password it authenticates with (HTTP Basic auth) and its serial number."""
    charger = await chargers.register_charger(
        session,
        charge_point_id=body.charge_point_id,
        password=body.password,
        registered_serial_number=body.registered_serial_number,
        boot_answer=body.boot_answer,
        now=runtime.clock(),
    )
    return ChargerOut.model_validate(charger)


@router.get("/chargers", responses=_ERRORS)
async def list_chargers(
    admin: AdminUser,
    session: SessionDep,
    response: Response,
    q: Annotated[str | None, Query(max_length=64, description="Part of the id, vendor, model or serial number")] = None,
    state: Annotated[ChargerState | None, Query(description=_STATE)] = None,
    sort: Annotated[ChargerSort, Query(description="A leading - sorts descending")] = "charge_point_id",
    limit: Annotated[int | None, Query(ge=1, le=500, description="Every match when left out")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ChargerOut]:
    """Chargers with their boot data, connection state and connector status, searched, filtered and paginated;
    the total is in X-Total-Count."""
    found, total = await chargers.find_chargers(session, text=q, state=state, sort=sort, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return [await _charger_out(session, charger) for charger in found]


@router.get("/chargers/{charge_point_id}", responses=_ERRORS)
async def get_charger(charge_point_id: str, admin: AdminUser, session: SessionDep) -> ChargerOut:
    """One charger with its boot data, connection state and connector status."""
    return await _charger_out(session, await _require_charger(session, charge_point_id))


@router.patch("/chargers/{charge_point_id}", responses={**_ERRORS, 409: {"model": ErrorBody}})
async def update_charger(
    charge_point_id: str, body: ChargerUpdate, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> ChargerOut:
    """Register the charger's serial number, choose how its firmware and diagnostics links are served, or what
    its boot is answered (a connected charger held in Pending is asked to boot again once accepted)."""
    charger = await _require_charger(session, charge_point_id)
    was_pending = charger.boot_answer == chargers.BOOT_PENDING
    if "registered_serial_number" in body.model_fields_set:
        charger = await chargers.register_serial_number(session, charge_point_id, body.registered_serial_number)
    if body.file_transfer is not None:
        charger = await file_transfer.set_preference(session, charge_point_id, body.file_transfer)
    if body.boot_answer is not None:
        charger = await chargers.set_boot_answer(session, charge_point_id, body.boot_answer)
        if was_pending and body.boot_answer == chargers.BOOT_ACCEPTED:
            _ask_to_boot_again(runtime, charge_point_id)
    return await _charger_out(session, charger)


def _ask_to_boot_again(runtime: RuntimeDep, charge_point_id: str) -> None:
    """TriggerMessage BootNotification, so an accepted charger need not wait out its Pending interval (2.0.1
    B02.FR.05, 1.6 §4.2); in the background: the operator's answer does not wait on the charger, and one
    not connected boots on its own when its interval ends."""
    asking = chargers.ask_to_boot_again(runtime.commands.send_command, charge_point_id)
    runtime.background.spawn(asking, name=f"boot-again-{charge_point_id}")


@router.get("/chargers/{charge_point_id}/messages", responses=_ERRORS)
async def charger_messages(
    charge_point_id: str,
    admin: AdminUser,
    session: SessionDep,
    limit: int = 100,
    before_id: int | None = None,
    action: Annotated[str | None, Query(max_length=64, description="Only frames of this action")] = None,
    direction: Annotated[Literal["in", "out"] | None, Query(description="in: from the charger; out: to it")] = None,
) -> list[OcppMessageOut]:
    """The charger's OCPP message log, newest first, filtered by action and direction; page back with before_id
    (the smallest id of the page before)."""
    await _require_charger(session, charge_point_id)
    found = await message_log.list_messages(
        session,
        charge_point_id,
        limit=min(max(limit, 1), 1000),
        before_id=before_id,
        action=action,
        direction=direction,
    )
    return [OcppMessageOut.model_validate(message) for message in found]


@router.get("/chargers/{charge_point_id}/settlements", responses=_ERRORS)
async def charger_settlements(
    charge_point_id: str, admin: AdminUser, session: SessionDep, limit: int = 100
) -> list[SettlementOut]:
    """The payments the charger's terminal settled (OCPP 2.1 NotifySettlement), newest first."""
    await _require_charger(session, charge_point_id)
    found = await settlements.list_settlements(session, charge_point_id, limit=min(max(limit, 1), 1000))
    return [SettlementOut.model_validate(settlement) for settlement in found]


@router.post(
    "/chargers/{charge_point_id}/ocpp/{action}",
    responses={
        **_ERRORS,
        409: {"model": ErrorBody, "description": "Charger not connected, or its boot was answered Rejected"},
        422: {"description": "A call of another OCPP version than the charger's, or a payload breaking its schema"},
        502: {"model": ErrorBody, "description": "The charger answered with a CallError"},
        504: {"model": ErrorBody, "description": "The charger did not answer in time"},
    },
)
async def send_ocpp_call(
    charge_point_id: str,
    action: str,
    admin: AdminUser,
    runtime: RuntimeDep,
    session: SessionDep,
    payload: dict[str, Any] = Body(default_factory=dict, examples=[{"type": "Soft"}]),  # noqa: B008
) -> dict[str, Any]:
    """Send any CSMS-initiated call of the charger's OCPP version (1.6, 2.0.1 or 2.1): the body is its camelCase
    payload, the answer the charger's."""
    await _require_charger(session, charge_point_id)
    await session.close()  # not held while the charger answers
    return await send_and_record(runtime, charge_point_id, action, payload)


async def _require_charger(session: SessionDep, charge_point_id: str) -> Charger:
    charger = await chargers.get_charger(session, charge_point_id)
    if charger is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    return charger


async def _charger_out(session: SessionDep, charger: Charger) -> ChargerOut:
    if "is_connected" in inspect(charger).unloaded:  # a SQL expression (ocpp/presence.py), expired by a commit
        await session.refresh(charger, ["is_connected"])
    out = ChargerOut.model_validate(charger)
    out.connectors = [
        ConnectorOut.model_validate(c) for c in await chargers.list_connectors(session, charger.charge_point_id)
    ]
    if site := await sites.site_holding(session, charger.charge_point_id):
        out.site_id, out.site_name = site.id, site.name
    return out
