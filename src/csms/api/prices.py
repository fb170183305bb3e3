"""The price before charging: the tariff a driver's session would start with on a connector."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from csms.api.deps import CurrentUser, RuntimeDep, SessionDep
from csms.api.schemas import ErrorBody
from csms.db.models import Tariff
from csms.services import chargers, charging, tariffs
from csms.services.errors import NotFound

router = APIRouter(prefix="/api", tags=["charging"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    404: {"model": ErrorBody, "description": "Unknown charger"},
    422: {"description": "A connector the charger does not have"},
}


class PriceOut(BaseModel):
    """A tariff as the driver pays it: every amount includes tax."""

    tariff_id: int
    name: str
    currency: str = Field(examples=["EUR"])
    per_kwh: Decimal = Field(examples=["0.4800"])
    per_charging_minute: Decimal
    per_idle_minute: Decimal = Field(description="After the car stops drawing power")
    session_fee: Decimal
    tax_rate: Decimal = Field(description="Included in the amounts above: 0.2 is 20 %")
    summary: str = Field(examples=["0.48 EUR/kWh, incl. 20% tax"])

    @classmethod
    def of(cls, tariff: Tariff) -> PriceOut:
        return cls(
            tariff_id=tariff.id,
            name=tariff.name,
            currency=tariff.currency,
            per_kwh=tariffs.with_tax(tariff, tariff.price_per_kwh),
            per_charging_minute=tariffs.with_tax(tariff, tariff.price_per_charging_minute),
            per_idle_minute=tariffs.with_tax(tariff, tariff.price_per_idle_minute),
            session_fee=tariffs.with_tax(tariff, tariff.session_fee),
            tax_rate=tariff.tax_rate,
            summary=tariffs.tariff_text(tariff),
        )


@router.get("/chargers/{charge_point_id}/connectors/{connector_id}/price", responses=_ERRORS)
async def connector_price(
    charge_point_id: Annotated[str, Path(max_length=64)],
    connector_id: Annotated[int, Path(ge=1, le=1000)],
    user: CurrentUser,
    runtime: RuntimeDep,
    session: SessionDep,
) -> PriceOut | None:
    """The tariff in force now for the caller's own idTag on this connector; null when none applies."""
    if await chargers.get_charger(session, charge_point_id) is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    await charging.require_known_connector(session, charge_point_id, connector_id)
    place = await tariffs.place_of(
        session, charge_point_id=charge_point_id, connector_id=connector_id, id_tag=user.app_id_tag or ""
    )
    book = await runtime.session_watch.live.tariff_book.get()
    chosen = tariffs.assignment_in_force(book.assignments, place, runtime.clock())
    return PriceOut.of(book.by_id[chosen.tariff_id]) if chosen is not None else None
