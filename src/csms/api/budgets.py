"""Budgets per charging session: a driver's own, or one an admin sets for them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field, field_validator

from csms.api.deps import AdminUser, CurrentUser, RuntimeDep, SessionDep
from csms.api.schemas import ErrorBody
from csms.runtime import Runtime
from csms.services import budgets
from csms.services.costing import CENT
from csms.services.errors import NotFound

router = APIRouter(prefix="/api", tags=["budgets"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    404: {"model": ErrorBody, "description": "No budget set, or unknown user"},
}


class BudgetIn(BaseModel):
    """A limit per session: charging is stopped (RemoteStopTransaction) when either is reached."""

    max_energy_wh: int | None = Field(default=None, ge=1, le=10_000_000, examples=[20_000])
    max_cost: Decimal | None = Field(
        default=None, gt=0, max_digits=12, decimal_places=2, description="In the tariff's currency", examples=["15.00"]
    )

    @field_validator("max_cost")
    @classmethod
    def _in_cents(cls, value: Decimal | None) -> Decimal | None:
        return value.quantize(CENT) if value is not None else None


BudgetOut = BudgetIn


@router.get("/me/budget", responses=_ERRORS)
async def my_budget(user: CurrentUser, session: SessionDep) -> BudgetOut:
    """The caller's budget per session."""
    return await _budget_of(session, user.id)


@router.put("/me/budget", responses=_ERRORS)
async def set_my_budget(body: BudgetIn, user: CurrentUser, session: SessionDep, runtime: RuntimeDep) -> BudgetOut:
    """Set the caller's budget per session; it applies to running sessions from their next meter values."""
    return await _set_budget(session, runtime, user.id, body)


@router.delete("/me/budget", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def clear_my_budget(user: CurrentUser, session: SessionDep, runtime: RuntimeDep) -> None:
    """Remove the caller's budget."""
    await _clear_budget(session, runtime, user.id)


@router.get("/admin/users/{user_id}/budget", responses=_ERRORS, tags=["admin"])
async def user_budget(user_id: int, admin: AdminUser, session: SessionDep) -> BudgetOut:
    """A user's budget per session."""
    return await _budget_of(session, user_id)


@router.put("/admin/users/{user_id}/budget", responses=_ERRORS, tags=["admin"])
async def set_user_budget(
    user_id: int, body: BudgetIn, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> BudgetOut:
    """Set a user's budget per session."""
    return await _set_budget(session, runtime, user_id, body)


@router.delete(
    "/admin/users/{user_id}/budget", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS, tags=["admin"]
)
async def clear_user_budget(user_id: int, admin: AdminUser, session: SessionDep, runtime: RuntimeDep) -> None:
    """Remove a user's budget."""
    await _clear_budget(session, runtime, user_id)


async def _budget_of(session: SessionDep, user_id: int) -> BudgetOut:
    limit = await budgets.get_limit(session, user_id)
    if limit is None:
        raise NotFound("no budget set")
    return BudgetOut(max_energy_wh=limit.max_energy_wh, max_cost=limit.max_cost)


async def _set_budget(session: SessionDep, runtime: Runtime, user_id: int, body: BudgetIn) -> BudgetOut:
    limit = budgets.Limit(max_energy_wh=body.max_energy_wh, max_cost=body.max_cost)
    await budgets.set_limit(session, user_id, limit, now=runtime.clock())
    runtime.session_watch.live.limit_changed(user_id, limit)
    return body


async def _clear_budget(session: SessionDep, runtime: Runtime, user_id: int) -> None:
    await budgets.clear_limit(session, user_id)
    runtime.session_watch.live.limit_changed(user_id, None)
