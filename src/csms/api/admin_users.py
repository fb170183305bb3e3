"""Account and idTag management for operators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from csms.api.commanding import push_local_lists_soon
from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.schemas import (
    AdminIdTagCreate,
    AdminIdTagOut,
    AdminIdTagUpdate,
    ErrorBody,
    PasswordReset,
    UserOut,
    UserUpdate,
    VehicleOut,
)
from csms.db.models import IdTag
from csms.services import accounts, id_tags, users, vehicles
from csms.services.errors import Conflict, NotFound

router = APIRouter(prefix="/api/admin", tags=["admin"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    403: {"model": ErrorBody, "description": "Needs admin, or root for root accounts, roles and admins' passwords"},
    404: {"model": ErrorBody, "description": "Unknown user or idTag"},
}


@router.get("/users", responses=_ERRORS)
async def list_users(
    admin: AdminUser,
    session: SessionDep,
    response: Response,
    q: Annotated[str | None, Query(max_length=64, description="Part of the username")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[UserOut]:
    """Accounts, searched and paginated; the total is in X-Total-Count."""
    found, total = await users.list_users(session, search=q, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return [UserOut.model_validate(user) for user in found]


@router.get("/users/{user_id}", responses=_ERRORS)
async def get_user(user_id: int, admin: AdminUser, session: SessionDep) -> UserOut:
    """One account."""
    return UserOut.model_validate(await users.managed_user(session, actor=admin, user_id=user_id))


@router.get("/users/{user_id}/vehicles", responses=_ERRORS)
async def user_vehicles(user_id: int, admin: AdminUser, session: SessionDep) -> list[VehicleOut]:
    """One account's vehicles."""
    owner = await users.managed_user(session, actor=admin, user_id=user_id)
    return [VehicleOut.model_validate(vehicle) for vehicle in await vehicles.list_vehicles(session, owner.id)]


@router.patch("/users/{user_id}", responses={**_ERRORS, 409: {"model": ErrorBody}})
async def update_user(
    user_id: int, body: UserUpdate, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> UserOut:
    """Block or unblock an account (its tags answer Blocked, its tokens end); root changes roles."""
    user = await users.update_user(
        session, actor=admin, user_id=user_id, role=body.role, is_active=body.is_active, now=runtime.clock()
    )
    await runtime.logins.forget_user(user_id)  # role or state changed: re-read on next request
    return UserOut.model_validate(user)


@router.post(
    "/users/{user_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_ERRORS, 422: {"description": "The new password does not meet the rules"}},
)
async def reset_password(
    user_id: int, body: PasswordReset, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> Response:
    """Set a new password (admin for users, root for admins and root); every session of the account ends."""
    await users.reset_password(session, actor=admin, user_id=user_id, password=body.new_password, now=runtime.clock())
    await runtime.logins.forget_user(user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**_ERRORS, 409: {"model": ErrorBody}}
)
async def delete_user(user_id: int, admin: AdminUser, runtime: RuntimeDep, session: SessionDep) -> Response:
    """Delete an account; its charging records stay, anonymised."""
    await users.delete_user(session, actor=admin, user_id=user_id)
    await runtime.logins.forget_user(user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/id_tags", responses={**_ERRORS, 422: {"description": "An unknown status, or a number out of range"}})
async def list_id_tags(
    admin: AdminUser,
    session: SessionDep,
    response: Response,
    user_id: int | None = None,
    q: Annotated[str | None, Query(max_length=64, description="Part of the tag, its label or its owner")] = None,
    status: Annotated[str | None, Query(description="Accepted, Blocked or Expired")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AdminIdTagOut]:
    """Every idTag, or one account's, searched and paginated; the total is in X-Total-Count."""
    found, total = await id_tags.list_all_id_tags(
        session, owner_id=user_id, search=q, status=status, limit=limit, offset=offset
    )
    response.headers["X-Total-Count"] = str(total)
    return [_tag_out(listed.tag, listed.username) for listed in found]


def _tag_out(tag: IdTag, username: str | None) -> AdminIdTagOut:
    return AdminIdTagOut.model_validate(tag).model_copy(update={"username": username})


@router.post("/id_tags", status_code=status.HTTP_201_CREATED, responses={**_ERRORS, 409: {"model": ErrorBody}})
async def register_id_tag(
    body: AdminIdTagCreate, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> AdminIdTagOut:
    """Register an RFID card, for an account or unassigned, with status, expiry and parent (group)."""
    if body.user_id is not None:
        await users.managed_user(session, actor=admin, user_id=body.user_id)
    tag = await id_tags.register_id_tag(
        session,
        id_tag=body.id_tag,
        owner_id=body.user_id,
        label=body.label,
        status=body.status,
        expiry_date=body.expiry_date,
        parent_id_tag=body.parent_id_tag,
        now=runtime.clock(),
        token_type=body.type,
    )
    return AdminIdTagOut.model_validate(tag)


@router.patch("/id_tags/{id_tag}", responses=_ERRORS)
async def update_id_tag(
    id_tag: str, body: AdminIdTagUpdate, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> AdminIdTagOut:
    """Block, unblock, expire or regroup a tag; chargers holding a local list get the change."""
    tag = await id_tags.find_id_tag(session, id_tag)
    if tag is None:
        raise NotFound(f"idTag {id_tag} not found")
    if tag.user_id is not None:
        await users.managed_user(session, actor=admin, user_id=tag.user_id)
    await id_tags.update_id_tag(session, tag, changes=body.model_dump(exclude_unset=True))
    push_local_lists_soon(runtime)
    return AdminIdTagOut.model_validate(tag)


@router.delete(
    "/id_tags/{id_tag}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_ERRORS, 409: {"model": ErrorBody, "description": "An account's app tag"}},
)
async def remove_id_tag(id_tag: str, admin: AdminUser, runtime: RuntimeDep, session: SessionDep) -> Response:
    """Remove a card (one reported lost, say): chargers no longer know it, and it may be registered again. An
    account's app tag stays while the account does."""
    tag = await id_tags.find_id_tag(session, id_tag)
    if tag is None:
        raise NotFound(f"idTag {id_tag} not found")
    if tag.user_id is not None:
        await users.managed_user(session, actor=admin, user_id=tag.user_id)
        if tag.id_tag == await accounts.app_id_tag(session, tag.user_id):
            raise Conflict(f"idTag {id_tag} is the app's own tag of its account: block the account instead")
    await session.delete(tag)
    await session.commit()
    push_local_lists_soon(runtime)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
