"""Accounts and sessions: signup, login, refresh, logout, me."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from csms.api.deps import CurrentLogin, CurrentUser, RuntimeDep, SessionDep, unauthorized
from csms.api.schemas import Credentials, ErrorBody, IdTagOut, Me, RefreshRequest, TokenResponse, VehicleOut
from csms.db.models import User
from csms.services import accounts, vehicles

router = APIRouter(prefix="/api", tags=["accounts"])

_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Wrong credentials or unusable token"}
}


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"model": ErrorBody, "description": "Username taken"},
        422: {"description": "Rules not met"},
    },
)
async def signup(body: Credentials, runtime: RuntimeDep, session: SessionDep) -> TokenResponse:
    """Create an account with its own idTag and log it in."""
    now = runtime.clock()
    user = await accounts.create_account(session, username=body.username, password=body.password, now=now)
    return await _tokens_for(session, user, runtime)


@router.post(
    "/login",
    responses={**_UNAUTHORIZED, 429: {"model": ErrorBody, "description": "Too many failed attempts"}},
)
async def login(body: Credentials, request: Request, runtime: RuntimeDep, session: SessionDep) -> TokenResponse:
    """Exchange a username and password for an access and a refresh token."""
    account = accounts.normalize_username(body.username)
    address = request.client.host if request.client else "unknown"
    wait = runtime.login_throttle.retry_after(account=account, address=address)
    if wait:
        raise HTTPException(429, "too many failed logins; try again later", headers={"Retry-After": str(wait)})
    try:
        user = await accounts.verify_login(session, username=body.username, password=body.password)
    except accounts.AuthenticationFailed as error:
        runtime.login_throttle.record_failure(account=account, address=address)
        raise unauthorized(str(error)) from None
    runtime.login_throttle.record_success(account=account)
    return await _tokens_for(session, user, runtime)


@router.post("/token/refresh", responses=_UNAUTHORIZED)
async def refresh(body: RefreshRequest, runtime: RuntimeDep, session: SessionDep) -> TokenResponse:
    """Trade a refresh token for a new pair; the old refresh token stops working."""
    try:
        pair = await accounts.refresh_session(
            session, body.refresh_token, policy=runtime.token_policy, now=runtime.clock(), cache=runtime.logins
        )
    except accounts.AuthenticationFailed as error:
        raise unauthorized(str(error)) from None
    return await _response(session, pair)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=_UNAUTHORIZED)
async def logout(login: CurrentLogin, runtime: RuntimeDep, session: SessionDep) -> Response:
    """End this session: its access and refresh tokens stop working."""
    await accounts.end_session(session, login.session_id, now=runtime.clock())
    await runtime.logins.forget_session(login.session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", responses=_UNAUTHORIZED)
async def me(user: CurrentUser, session: SessionDep) -> Me:
    """The caller's account: username, role, idTags and vehicles."""
    tags = await accounts.list_id_tags(session, user.id)
    owned_vehicles = await vehicles.list_vehicles(session, user.id)
    return Me(
        id=user.id,
        username=user.username,
        role=user.role,
        id_tags=[IdTagOut.model_validate(tag) for tag in tags],
        vehicles=[VehicleOut.model_validate(vehicle) for vehicle in owned_vehicles],
    )


async def _tokens_for(session: SessionDep, user: User, runtime: RuntimeDep) -> TokenResponse:
    pair = await accounts.open_session(session, user, policy=runtime.token_policy, now=runtime.clock())
    return await _response(session, pair)


async def _response(session: SessionDep, pair: accounts.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        id_tag=await accounts.app_id_tag(session, pair.user_id),
    )
