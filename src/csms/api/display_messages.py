"""Operator endpoints for messages on 2.x stations' displays (OCPP 2.0.1 block O)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.schemas import ErrorBody
from csms.db.models import DisplayMessage, DisplayMessageStation
from csms.domain.commands import ChargerCommand
from csms.ocpp.commands import ChargerNotConnected, ChargerRejected, ChargerTimeout, CommandError, InvalidPayload
from csms.runtime import Runtime
from csms.services import chargers, display_messages
from csms.services.display_messages import Deliver, MessageSpec
from csms.services.errors import NotFound

router = APIRouter(prefix="/api/admin", tags=["admin"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    403: {"model": ErrorBody, "description": "Needs the role admin or root"},
    404: {"model": ErrorBody, "description": "Unknown charger or message"},
}


class MessageContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=512)
    language: str | None = Field(default=None, min_length=1, max_length=8, examples=["en"])
    format: Literal["ASCII", "HTML", "URI", "UTF8"] = "UTF8"


class DisplayMessageCreate(BaseModel):
    """A message for one station or a group: what, how urgent, and optionally when, in which state or
    during which transaction."""

    model_config = ConfigDict(extra="forbid")

    charge_point_ids: list[str] = Field(min_length=1, max_length=display_messages.MAX_STATIONS)
    message: MessageContent
    priority: Literal["AlwaysFront", "InFront", "NormalCycle"]
    state: Literal["Charging", "Faulted", "Idle", "Unavailable"] | None = None
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    transaction_id: str | None = Field(default=None, min_length=1, max_length=36)


class StationStatusOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    charge_point_id: str
    status: str = Field(
        description="The station's answer (Accepted, Rejected, NotSupportedPriority, ...), or NotSupported"
        " (a 1.6 charger), NotConnected, Timeout, CallError, SendFailed; after a clear, Cleared"
    )
    updated_at: datetime


class DisplayMessageOut(BaseModel):
    id: int = Field(description="The message id every station got")
    content: str
    language: str | None
    format: str
    priority: str
    state: str | None
    start_at: datetime | None
    end_at: datetime | None
    transaction_id: str | None
    created_at: datetime
    cleared_at: datetime | None
    stations: list[StationStatusOut]


class ReportedDisplayMessageOut(BaseModel):
    """A message on a station's display, as its NotifyDisplayMessages told it."""

    model_config = ConfigDict(from_attributes=True)

    message_id: int = Field(description="The station's id of the message")
    request_id: int
    content: str
    language: str | None
    format: str
    priority: str
    state: str | None
    start_at: datetime | None
    end_at: datetime | None
    transaction_id: str | None
    display: str | None
    reported_at: datetime


@router.post(
    "/display_messages",
    status_code=status.HTTP_201_CREATED,
    responses={**_ERRORS, 422: {"description": "A bad body, or end_at not after start_at"}},
)
async def put_display_message(
    body: DisplayMessageCreate, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> DisplayMessageOut:
    """Put a message on the displays of one or more 2.x stations (SetDisplayMessage); each station's answer,
    1.6 chargers as NotSupported and offline ones as NotConnected."""
    spec = MessageSpec(
        content=body.message.content,
        priority=body.priority,
        format=body.message.format,
        language=body.message.language,
        state=body.state,
        start_at=body.start_at,
        end_at=body.end_at,
        transaction_id=body.transaction_id,
    )
    message, _ = await display_messages.create_message(
        session, spec, body.charge_point_ids, created_by=admin.id, now=runtime.clock()
    )
    await session.close()  # not held while the stations answer
    stations = await display_messages.put_on_stations(
        runtime.session_factory, _deliver(runtime), message, clock=runtime.clock
    )
    return _message_out(message, stations)


@router.get("/display_messages", responses=_ERRORS)
async def list_display_messages(admin: AdminUser, session: SessionDep) -> list[DisplayMessageOut]:
    """The messages csms put on displays, newest first, with each station's status."""
    return [_message_out(message, stations) for message, stations in await display_messages.list_messages(session)]


@router.delete("/display_messages/{message_id}", responses={**_ERRORS, 409: {"model": ErrorBody}})
async def clear_display_message(
    message_id: int, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> DisplayMessageOut:
    """Take a message off every station holding it (ClearDisplayMessage); each station's outcome."""
    await session.close()
    message, stations = await display_messages.clear_message(
        runtime.session_factory, _deliver(runtime), message_id, clock=runtime.clock
    )
    return _message_out(message, stations)


@router.get("/chargers/{charge_point_id}/display_messages", responses=_ERRORS)
async def reported_display_messages(
    charge_point_id: str, admin: AdminUser, session: SessionDep
) -> list[ReportedDisplayMessageOut]:
    """The messages a 2.x station reported on its display (NotifyDisplayMessages, after GetDisplayMessages)."""
    if await chargers.get_charger(session, charge_point_id) is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    found = await display_messages.list_reported(session, charge_point_id)
    return [ReportedDisplayMessageOut.model_validate(message) for message in found]


def _deliver(runtime: Runtime) -> Deliver:
    """Commands to stations, the gateway's errors read as each station's outcome."""

    async def deliver(charge_point_id: str, command: ChargerCommand) -> str:
        try:
            answer = await runtime.commands.send_command(charge_point_id, command)
        except ChargerNotConnected:
            return "NotConnected"
        except ChargerTimeout:
            return "Timeout"
        except InvalidPayload:  # its version cannot say it: a 1.6 charger that csms knew no version of
            return display_messages.NOT_SUPPORTED
        except ChargerRejected:
            return "CallError"
        except CommandError:
            return "SendFailed"
        return str(answer["status"])

    return deliver


def _message_out(message: DisplayMessage, stations: list[DisplayMessageStation]) -> DisplayMessageOut:
    return DisplayMessageOut(
        id=message.id,
        content=message.content,
        language=message.language,
        format=message.format,
        priority=message.priority,
        state=message.state,
        start_at=message.start_at,
        end_at=message.end_at,
        transaction_id=message.transaction_id,
        created_at=message.created_at,
        cleared_at=message.cleared_at,
        stations=[StationStatusOut.model_validate(row) for row in stations],
    )
