"""FastAPI dependencies, as Annotated aliases so routes read like prose."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import User
from csms.runtime import Runtime
from csms.services import accounts


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.session_factory() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="An access token from /api/login or /api/signup")


@dataclass(frozen=True, slots=True)
class Login:
    user: User
    session_id: str


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


async def get_login(
    runtime: RuntimeDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Login:
    if credentials is None:
        raise unauthorized("missing bearer token")
    try:
        user, session_id = await accounts.authenticate_access_token(
            session, credentials.credentials, policy=runtime.token_policy, now=runtime.clock()
        )
    except accounts.AuthenticationFailed as error:
        raise unauthorized(str(error)) from None
    return Login(user, session_id)


CurrentLogin = Annotated[Login, Depends(get_login)]


async def get_current_user(login: CurrentLogin) -> User:
    return login.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: str) -> Callable[[User], Coroutine[Any, Any, User]]:
    async def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the role {' or '.join(roles)}")
        return user

    return check


AdminUser = Annotated[User, Depends(require_role("admin", "root"))]
RootUser = Annotated[User, Depends(require_role("root"))]
