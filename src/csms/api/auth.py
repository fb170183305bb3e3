"""Accounts and sessions: signup, login, refresh, logout, me, password change."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from csms.api.deps import CurrentLogin, CurrentUser, RuntimeDep, SessionDep, unauthorized
from csms.api.schemas import (
    Credentials,
    ErrorBody,
    IdTagOut,
    Me,
    PasswordChange,
    RefreshRequest,
    TokenResponse,
    VehicleOut,
)
from csms.db.models import User
from csms.services import accounts, vehicles
from csms.services.errors import PermissionDenied
from csms.services.login_throttle import Guess, TooManyAttempts

router = APIRouter(prefix="/api", tags=["accounts"])

_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Wrong credentials or unusable token"}
}
_THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "Too many attempts; see Retry-After"}
}


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"model": ErrorBody, "description": "Username taken"},
        422: {"description": "Rules not met (length, differs from the username, not a common password)"},
        **_THROTTLED,
    },
)
async def signup(body: Credentials, request: Request, runtime: RuntimeDep, session: SessionDep) -> TokenResponse:
    """Create an account with its own idTag and log it in."""
    try:
        runtime.signup_throttle.begin(address=client_address(request))
    except TooManyAttempts as error:
        raise _too_many("too many signups from this address; try again later", error) from None
    now = runtime.clock()
    user = await accounts.create_account(session, username=body.username, password=body.password, now=now)
    return await _tokens_for(session, user, runtime)


@router.post(
    "/login",
    responses={**_UNAUTHORIZED, **_THROTTLED},
)
async def login(body: Credentials, request: Request, runtime: RuntimeDep, session: SessionDep) -> TokenResponse:
    """Exchange a username and password for an access and a refresh token."""
    with await _begin_guess(runtime, request, accounts.normalize_username(body.username)) as guess:
        try:
            user = await accounts.verify_login(session, username=body.username, password=body.password)
        except accounts.AuthenticationFailed as error:
            raise unauthorized(str(error)) from None
        guess.succeeded()
    return await _tokens_for(session, user, runtime)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **_UNAUTHORIZED,
        **_THROTTLED,
        403: {"model": ErrorBody, "description": "The old password is wrong (the login itself stays valid)"},
        422: {"description": "The new password does not meet the rules"},
    },
)
async def change_password(
    body: PasswordChange, login: CurrentLogin, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Response:
    """Change the caller's password (the old one proves it); every other session of the account ends."""
    accounts.validate_new_password(body.old_password, body.new_password, username=login.username)
    # The old password is a guess like a login's.
    with await _begin_guess(runtime, request, login.username) as guess:
        try:
            await accounts.change_password(
                session,
                user_id=login.id,
                session_id=login.session_id,
                old_password=body.old_password,
                new_password=body.new_password,
                now=runtime.clock(),
            )
        except accounts.AuthenticationFailed as error:
            # 403, not 401: the bearer token is fine, and a client that meets 401 refreshes it and logs out.
            raise PermissionDenied(str(error)) from None
        guess.succeeded()
    await runtime.logins.forget_user(login.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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


def client_address(request: Request) -> str:
    """The client's address: the peer's, or what a configured proxy says (CSMS_FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


async def _begin_guess(runtime: RuntimeDep, request: Request, account: str) -> Guess:
    """Count a password guess at `account` before it is checked, or refuse it with 429."""
    try:
        return await runtime.login_throttle.begin(account=account, address=client_address(request))
    except TooManyAttempts as error:
        raise _too_many("too many failed logins; try again later", error) from None


def _too_many(detail: str, error: TooManyAttempts) -> HTTPException:
    return HTTPException(429, detail, headers={"Retry-After": str(error.retry_after)})


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
