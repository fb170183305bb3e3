"""OCPI 2.2.1's objects of the commands module (§13.3, §13.4) as pydantic models with the spec's field rules."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from csms.ocpi.schemas import Url
from csms.ocpi.token_schemas import CiString36, DateTime, DisplayText, Token, Uid

CommandType = Literal["CANCEL_RESERVATION", "RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"]
CommandResponseType = Literal["NOT_SUPPORTED", "REJECTED", "ACCEPTED", "UNKNOWN_SESSION"]
CommandResultType = Literal[
    "ACCEPTED", "CANCELED_RESERVATION", "EVSE_OCCUPIED", "EVSE_INOPERATIVE", "FAILED", "NOT_SUPPORTED",
    "REJECTED", "TIMEOUT", "UNKNOWN_RESERVATION",
]  # fmt: skip


class StartSession(BaseModel):
    """§13.3.5."""

    response_url: Url
    token: Token
    location_id: Uid
    evse_uid: Uid | None = None
    connector_id: Uid | None = None
    authorization_reference: CiString36 | None = None


class StopSession(BaseModel):
    """§13.3.6."""

    response_url: Url
    session_id: Uid


class ReserveNow(BaseModel):
    """§13.3.4."""

    response_url: Url
    token: Token
    expiry_date: DateTime
    reservation_id: Uid
    location_id: Uid
    evse_uid: Uid | None = None
    authorization_reference: CiString36 | None = None


class CancelReservation(BaseModel):
    """§13.3.1."""

    response_url: Url
    reservation_id: Uid


class UnlockConnector(BaseModel):
    """§13.3.7."""

    response_url: Url
    location_id: Uid
    evse_uid: Uid
    connector_id: Uid


def command_response(result: CommandResponseType, *, timeout: int, message: str | None = None) -> dict[str, object]:
    """§13.3.2: csms's immediate answer; `timeout` the seconds the eMSP waits for the CommandResult."""
    answer: dict[str, object] = {"result": result, "timeout": timeout}
    if message:
        answer["message"] = [DisplayText(language="en", text=message[:512]).model_dump()]
    return answer


def command_result(result: CommandResultType, message: str | None = None) -> dict[str, object]:
    """§13.3.3: what csms POSTs to the response_url once the charger answered."""
    answer: dict[str, object] = {"result": result}
    if message:
        answer["message"] = [DisplayText(language="en", text=message[:512]).model_dump()]
    return answer
