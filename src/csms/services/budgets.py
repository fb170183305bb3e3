"""A user's budget per charging session: a limit in energy (Wh) or money, whichever is reached first.

A budget applies to each of the user's sessions on its own (not to a month's total). It is set with
`PUT /api/me/budget` (or by an admin for the user) and applies from the next meter values on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Budget, User
from csms.services.errors import InvalidInput, NotFound


@dataclass(frozen=True, slots=True)
class Limit:
    max_energy_wh: int | None = None
    max_cost: Decimal | None = None

    def is_reached(self, *, energy_wh: int, cost: Decimal | None) -> bool:
        energy_reached = self.max_energy_wh is not None and energy_wh >= self.max_energy_wh
        cost_reached = self.max_cost is not None and cost is not None and cost >= self.max_cost
        return energy_reached or cost_reached


async def get_limit(session: AsyncSession, user_id: int) -> Limit | None:
    budget = await session.get(Budget, user_id)
    return Limit(budget.max_energy_wh, budget.max_cost) if budget is not None else None


async def set_limit(session: AsyncSession, user_id: int, limit: Limit, *, now: datetime) -> Limit:
    if limit.max_energy_wh is None and limit.max_cost is None:
        raise InvalidInput("give max_energy_wh or max_cost (or both)")
    if await session.get(User, user_id) is None:
        raise NotFound(f"user {user_id} not found")
    budget = await session.get(Budget, user_id)
    if budget is None:
        budget = Budget(user_id=user_id, updated_at=now)
        session.add(budget)
    budget.max_energy_wh, budget.max_cost, budget.updated_at = limit.max_energy_wh, limit.max_cost, now
    await session.commit()
    return limit


async def clear_limit(session: AsyncSession, user_id: int) -> None:
    budget = await session.get(Budget, user_id)
    if budget is not None:
        await session.delete(budget)
        await session.commit()
