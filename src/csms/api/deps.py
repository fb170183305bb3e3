"""FastAPI dependencies, as Annotated aliases so routes read like prose."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.batch_writer import DATABASE_UNREACHABLE
from csms.ocpp.command_envelope import REQUESTED_BY
from csms.runtime import Runtime
from csms.services import accounts
from csms.services.login_cache import Principal

logger = logging.getLogger(__name__)


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    session = runtime.session_factory()
    try:
        yield session
    finally:
        await _close(session)


async def _close(session: AsyncSession) -> None:
    """Close the request's session; on a database that stopped answering, drop its connection instead of
    waiting out another timeout for the rollback, after the answer has started."""
    try:
        await session.close()
    except DATABASE_UNREACHABLE as error:
        logger.warning("dropped a request's database connection: %s", type(error).__name__)
        await session.invalidate()


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


class AccessTokenLogin(SecurityBase):
    """The caller behind the bearer token, and the HTTP bearer scheme in OpenAPI.

    One dependency instead of `HTTPBearer` plus a function depending on it: FastAPI solves each
    dependency with a recursive walk, and this one runs on every authenticated request.
    """

    def __init__(self) -> None:
        self.model = HTTPBearerModel(description="An access token from /api/login or /api/signup")
        self.scheme_name = "HTTPBearer"

    async def __call__(self, request: Request) -> Principal:
        scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("missing bearer token")
        runtime: Runtime = request.app.state.runtime
        try:
            principal = await accounts.authenticate_access_token(
                runtime.session_factory,
                token,
                policy=runtime.token_policy,
                now=runtime.clock(),
                cache=runtime.logins,
            )
        except accounts.AuthenticationFailed as error:
            raise unauthorized(str(error)) from None
        request.state.principal = principal  # for the audit log
        # For the record of any call this request sends to a charger, kept by the node that carries it out.
        REQUESTED_BY.set(f"user {principal.id} {principal.username} ({principal.role})")
        return principal


get_current_user = AccessTokenLogin()
CurrentUser = Annotated[Principal, Depends(get_current_user)]
CurrentLogin = CurrentUser  # the session id is `session_id`


def require_role(*roles: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the role {' or '.join(roles)}")
        return user

    return check


AdminUser = Annotated[Principal, Depends(require_role("admin", "root"))]
RootUser = Annotated[Principal, Depends(require_role("root"))]
