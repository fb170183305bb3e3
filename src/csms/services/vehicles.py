"""A user's vehicles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Vehicle
from csms.services.errors import NotFound


@dataclass(frozen=True, slots=True)
class VehicleDetails:
    name: str
    make: str | None = None
    model: str | None = None
    plate: str | None = None
    battery_capacity_kwh: Decimal | None = None


async def add_vehicle(session: AsyncSession, *, owner_id: int, details: VehicleDetails, now: datetime) -> Vehicle:
    vehicle = Vehicle(user_id=owner_id, created_at=now, **_columns(details))
    session.add(vehicle)
    await session.commit()
    return vehicle


async def list_vehicles(session: AsyncSession, owner_id: int) -> list[Vehicle]:
    query = select(Vehicle).where(Vehicle.user_id == owner_id).order_by(Vehicle.id)
    return list((await session.scalars(query)).all())


async def owned_vehicle(session: AsyncSession, *, owner_id: int, vehicle_id: int) -> Vehicle:
    """The owner's vehicle; someone else's looks exactly like one that does not exist."""
    vehicle = await session.get(Vehicle, vehicle_id)
    if vehicle is None or vehicle.user_id != owner_id:
        raise NotFound(f"vehicle {vehicle_id} not found")
    return vehicle


async def update_vehicle(session: AsyncSession, *, owner_id: int, vehicle_id: int, details: VehicleDetails) -> Vehicle:
    vehicle = await owned_vehicle(session, owner_id=owner_id, vehicle_id=vehicle_id)
    for column, value in _columns(details).items():
        setattr(vehicle, column, value)
    await session.commit()
    return vehicle


async def delete_vehicle(session: AsyncSession, *, owner_id: int, vehicle_id: int) -> None:
    await session.delete(await owned_vehicle(session, owner_id=owner_id, vehicle_id=vehicle_id))
    await session.commit()


def _columns(details: VehicleDetails) -> dict[str, object]:
    return {
        "name": details.name,
        "make": details.make,
        "model": details.model,
        "plate": details.plate,
        "battery_capacity_kwh": details.battery_capacity_kwh,
    }
