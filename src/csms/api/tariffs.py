"""Tariffs for operators: define prices, assign them to connectors, chargers, everywhere or a group."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.operation_schemas import CallStatusOut
from csms.api.operations import require_charger
from csms.api.schemas import ErrorBody
from csms.services import tariffs
from csms.services.session_costs import load_tariff_book

router = APIRouter(prefix="/api/admin", tags=["tariffs"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    403: {"model": ErrorBody, "description": "Needs admin"},
    404: {"model": ErrorBody, "description": "Unknown tariff, assignment or charger"},
}
Price = Annotated[Decimal, Field(ge=0, le=100_000, max_digits=12, decimal_places=4)]


class TariffIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, examples=["Public AC"])
    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    price_per_kwh: Price = Field(default=Decimal(0), examples=["0.3900"])
    price_per_charging_minute: Price = Decimal(0)
    price_per_idle_minute: Price = Field(
        default=Decimal(0), description="After the car stops drawing power (SuspendedEV, Finishing, ~0 W)"
    )
    session_fee: Price = Decimal(0)
    tax_rate: Decimal = Field(default=Decimal(0), ge=0, lt=1, max_digits=6, decimal_places=4, examples=["0.2000"])


class TariffOut(TariffIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime


class AssignmentIn(BaseModel):
    tariff_id: int = Field(ge=1)
    charge_point_id: str | None = Field(default=None, max_length=64, description="None: every charger")
    connector_id: int | None = Field(default=None, ge=1, le=1000, description="Needs charge_point_id")
    parent_id_tag: str | None = Field(
        default=None, max_length=20, description="Only for idTags with this parent idTag (a fleet, a family)"
    )
    valid_from: datetime | None = None
    valid_to: datetime | None = None


class DefaultTariffIn(BaseModel):
    tariff_id: int = Field(ge=1, description="The csms tariff the charger shows and costs with")
    evse_id: int = Field(default=0, ge=0, le=1000, description="0: the whole charger")


class AssignmentOut(AssignmentIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime


class TariffInForce(TariffOut):
    assignment: AssignmentOut = Field(description="The assignment that puts it in force there and then")


@router.post("/tariffs", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def create_tariff(body: TariffIn, admin: AdminUser, session: SessionDep, runtime: RuntimeDep) -> TariffOut:
    """Define a tariff. Tariffs are never edited: a price change is a new tariff and assignment."""
    tariff = await tariffs.create_tariff(session, tariffs.TariffSpec(**body.model_dump()), now=runtime.clock())
    await runtime.session_watch.live.tariff_book.changed()
    await runtime.ocpi_push.tariff_created(tariff.id)  # to OCPI parties (queued: no party is waited on)
    return TariffOut.model_validate(tariff)


@router.get("/tariffs", responses=_ERRORS)
async def list_tariffs(admin: AdminUser, session: SessionDep) -> list[TariffOut]:
    """Every tariff."""
    return [TariffOut.model_validate(tariff) for tariff in await tariffs.list_tariffs(session)]


@router.get("/tariffs/{tariff_id}", responses=_ERRORS)
async def get_tariff(tariff_id: int, admin: AdminUser, session: SessionDep) -> TariffOut:
    """One tariff."""
    return TariffOut.model_validate(await tariffs.get_tariff(session, tariff_id))


@router.post("/tariff_assignments", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def assign_tariff(
    body: AssignmentIn, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> AssignmentOut:
    """Apply a tariff to a connector, a charger or everywhere, optionally to a group and a period."""
    async with runtime.ocpi_push.tariffs_reassigned():  # OCPI locations name the tariffs in force
        spec = tariffs.AssignmentSpec(**body.model_dump())
        assignment = await tariffs.assign_tariff(session, spec, now=runtime.clock())
    await runtime.session_watch.live.tariff_book.changed()
    return AssignmentOut.model_validate(assignment)


@router.get("/tariff_assignments", responses=_ERRORS)
async def list_assignments(admin: AdminUser, session: SessionDep) -> list[AssignmentOut]:
    """Every tariff assignment."""
    return [AssignmentOut.model_validate(assignment) for assignment in await tariffs.list_assignments(session)]


@router.delete("/tariff_assignments/{assignment_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def remove_assignment(assignment_id: int, admin: AdminUser, session: SessionDep, runtime: RuntimeDep) -> None:
    """Remove an assignment (finished sessions keep the cost they were given when they stopped)."""
    async with runtime.ocpi_push.tariffs_reassigned():
        await tariffs.remove_assignment(session, assignment_id)
    await runtime.session_watch.live.tariff_book.changed()


@router.get("/tariff_for", responses=_ERRORS)
async def tariff_for(
    admin: AdminUser,
    session: SessionDep,
    runtime: RuntimeDep,
    charge_point_id: str = Query(max_length=64),
    connector_id: int = Query(ge=1, le=1000),
    id_tag: str = Query(default="", max_length=20, description="Empty: a driver in no group"),
    at: datetime | None = None,
) -> TariffInForce | None:
    """The tariff a session would start with: on this connector, with this idTag, at this time (default now),
    and the assignment that puts it in force."""
    await require_charger(session, charge_point_id)  # a mistyped charger is not one without a tariff
    place = await tariffs.place_of(session, charge_point_id=charge_point_id, connector_id=connector_id, id_tag=id_tag)
    book = await load_tariff_book(session)
    chosen = tariffs.assignment_in_force(book.assignments, place, at or runtime.clock())
    if chosen is None:
        return None
    tariff = TariffOut.model_validate(book.by_id[chosen.tariff_id])
    return TariffInForce(**tariff.model_dump(), assignment=AssignmentOut.model_validate(chosen))


@router.post(
    "/chargers/{charge_point_id}/default_tariff",
    responses={
        **_ERRORS,
        409: {"model": ErrorBody, "description": "Charger not connected"},
        422: {"description": "The charger's OCPP version keeps no tariffs on the charger (1.6, 2.0.1)"},
        502: {"model": ErrorBody, "description": "The charger answered with a CallError"},
        504: {"model": ErrorBody, "description": "The charger did not answer in time"},
    },
)
async def send_default_tariff(
    charge_point_id: str, body: DefaultTariffIn, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> CallStatusOut:
    """Keep one of csms's tariffs on a 2.1 charger as its default tariff (SetDefaultTariff), which it shows
    drivers and costs with locally; the charger's answer."""
    tariff = await tariffs.get_tariff(session, body.tariff_id)
    await require_charger(session, charge_point_id)
    await session.close()  # not held while the charger answers
    command = tariffs.default_tariff_command(tariff, evse_id=body.evse_id)
    answer = await runtime.commands.send_command(charge_point_id, command)
    return CallStatusOut(status=str(answer["status"]))
