"""The caller's own idTags (RFID cards) and vehicles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from csms.api.deps import CurrentUser, RuntimeDep, SessionDep
from csms.api.schemas import ErrorBody, IdTagCreate, IdTagOut, IdTagUpdate, VehicleIn, VehicleOut
from csms.services import accounts, id_tags, tag_claims, vehicles
from csms.services.errors import Conflict

router = APIRouter(prefix="/api/me", tags=["account"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    404: {"model": ErrorBody, "description": "Not one of the caller's"},
}


@router.get("/id_tags", responses=_ERRORS)
async def my_id_tags(user: CurrentUser, session: SessionDep) -> list[IdTagOut]:
    """The caller's idTags: the app's own and any RFID cards."""
    return [IdTagOut.model_validate(tag) for tag in await accounts.list_id_tags(session, user.id)]


@router.post(
    "/id_tags",
    status_code=status.HTTP_201_CREATED,
    responses={
        **_ERRORS,
        409: {"model": ErrorBody, "description": "The value is a tag, a group (parent) id or reserved already"},
    },
)
async def add_my_id_tag(body: IdTagCreate, user: CurrentUser, runtime: RuntimeDep, session: SessionDep) -> IdTagOut:
    """Register an RFID card to the caller's account; values in use as a tag or group id are refused."""
    if body.vehicle_id is not None:
        await vehicles.owned_vehicle(session, owner_id=user.id, vehicle_id=body.vehicle_id)
    tag = await tag_claims.register_own_id_tag(
        session,
        id_tag=body.id_tag,
        owner_id=user.id,
        label=body.label,
        vehicle_id=body.vehicle_id,
        now=runtime.clock(),
        token_type=body.type,
    )
    return IdTagOut.model_validate(tag)


@router.patch("/id_tags/{id_tag}", responses=_ERRORS)
async def update_my_id_tag(id_tag: str, body: IdTagUpdate, user: CurrentUser, session: SessionDep) -> IdTagOut:
    """Rename one of the caller's tags or bind it to one of their vehicles (null unbinds)."""
    tag = await id_tags.owned_id_tag(session, owner_id=user.id, id_tag=id_tag)
    if body.vehicle_id is not None:
        await vehicles.owned_vehicle(session, owner_id=user.id, vehicle_id=body.vehicle_id)
    fields = body.model_fields_set
    if "vehicle_id" in fields:
        tag.vehicle_id = body.vehicle_id
    if "label" in fields:
        tag.label = body.label
    await session.commit()
    return IdTagOut.model_validate(tag)


@router.post(
    "/id_tags/{id_tag}/lost",
    responses={**_ERRORS, 409: {"model": ErrorBody, "description": "The app's own idTag, which is no card"}},
)
async def report_my_id_tag_lost(id_tag: str, user: CurrentUser, session: SessionDep) -> IdTagOut:
    """Block one of the caller's RFID cards, lost or stolen: chargers refuse it from now on (those holding a
    local list with their next update) and it cannot be registered to another account. The driver cannot
    unblock or remove it; an operator can. Reporting it again changes nothing."""
    tag = await id_tags.owned_id_tag(session, owner_id=user.id, id_tag=id_tag)
    if tag.id_tag == await accounts.app_id_tag(session, user.id):
        raise Conflict("the app's own idTag is no card and cannot be lost; log out on the lost phone instead")
    tag.status = id_tags.BLOCKED
    await session.commit()
    return IdTagOut.model_validate(tag)


@router.delete(
    "/id_tags/{id_tag}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_ERRORS, 409: {"model": ErrorBody, "description": "The app's own idTag, or a blocked card"}},
)
async def remove_my_id_tag(id_tag: str, user: CurrentUser, session: SessionDep) -> Response:
    """Remove one of the caller's RFID cards (the app's own tag stays).

    A blocked card stays: removed, it could be registered again as a new, accepted card, by its owner or by
    whoever found it. An operator removes it if need be."""
    tag = await id_tags.owned_id_tag(session, owner_id=user.id, id_tag=id_tag)
    if tag.id_tag == await accounts.app_id_tag(session, user.id):
        raise Conflict("the app's own idTag cannot be removed")
    if tag.status == id_tags.BLOCKED:
        raise Conflict(f"card {id_tag} is blocked and stays on the account; an operator can remove it")
    await session.delete(tag)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/vehicles", responses=_ERRORS)
async def my_vehicles(user: CurrentUser, session: SessionDep) -> list[VehicleOut]:
    """The caller's vehicles."""
    return [VehicleOut.model_validate(vehicle) for vehicle in await vehicles.list_vehicles(session, user.id)]


@router.post("/vehicles", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def add_my_vehicle(body: VehicleIn, user: CurrentUser, runtime: RuntimeDep, session: SessionDep) -> VehicleOut:
    """Add a vehicle to the caller's account."""
    vehicle = await vehicles.add_vehicle(session, owner_id=user.id, details=_details(body), now=runtime.clock())
    return VehicleOut.model_validate(vehicle)


@router.get("/vehicles/{vehicle_id}", responses=_ERRORS)
async def my_vehicle(vehicle_id: int, user: CurrentUser, session: SessionDep) -> VehicleOut:
    """One of the caller's vehicles."""
    return VehicleOut.model_validate(await vehicles.owned_vehicle(session, owner_id=user.id, vehicle_id=vehicle_id))


@router.put("/vehicles/{vehicle_id}", responses=_ERRORS)
async def replace_my_vehicle(vehicle_id: int, body: VehicleIn, user: CurrentUser, session: SessionDep) -> VehicleOut:
    """Replace the details of one of the caller's vehicles."""
    vehicle = await vehicles.update_vehicle(session, owner_id=user.id, vehicle_id=vehicle_id, details=_details(body))
    return VehicleOut.model_validate(vehicle)


@router.delete("/vehicles/{vehicle_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def remove_my_vehicle(vehicle_id: int, user: CurrentUser, session: SessionDep) -> Response:
    """Remove one of the caller's vehicles; past charging records keep no link to it."""
    await vehicles.delete_vehicle(session, owner_id=user.id, vehicle_id=vehicle_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _details(body: VehicleIn) -> vehicles.VehicleDetails:
    return vehicles.VehicleDetails(
        name=body.name,
        make=body.make,
        model=body.model,
        plate=body.plate,
        battery_capacity_kwh=body.battery_capacity_kwh,
    )
