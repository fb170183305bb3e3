"""Accounts, their app idTag, and the sessions (refresh-token families) they log in with."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from csms import security
from csms.db.models import AuthSession, IdTag, RefreshToken, User
from csms.domain.commands import CENTRAL_ID_TYPE
from csms.services.errors import AlreadyExists, InvalidInput
from csms.services.id_tags import create_id_tag, new_app_id_tag
from csms.services.login_cache import LoginCache, Principal
from csms.services.password_rules import validate_password

ROLES = ("user", "admin", "root")
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@+-]{2,63}$")


class AuthenticationFailed(Exception):
    """Wrong credentials or an unusable token; always shown to the caller as 401."""


@dataclass(frozen=True, slots=True)
class TokenPair:
    user_id: int
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    secret: str
    access_ttl: timedelta
    refresh_ttl: timedelta


def normalize_username(username: str) -> str:
    return username.strip().lower()


def validate_credentials(username: str, password: str) -> None:
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidInput(
            "a username has 3 to 64 characters (letters, digits, . _ @ + -) and starts with a letter or digit"
        )
    validate_password(password, username=username)


async def create_account(
    session: AsyncSession, *, username: str, password: str, now: datetime, role: str = "user"
) -> User:
    """Create an account with its own app idTag."""
    username = normalize_username(username)
    validate_credentials(username, password)
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AlreadyExists(f"username {username} is taken")
    user = User(
        username=username,
        password_hash=await security.hash_user_password(password),
        role=role,
        is_active=True,
        created_at=now,
    )
    session.add(user)
    try:
        await session.flush()
        app_tag = new_app_id_tag()
        await create_id_tag(session, id_tag=app_tag, user_id=user.id, now=now, token_type=CENTRAL_ID_TYPE)
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise AlreadyExists(f"username {username} is taken") from None
    return user


async def verify_login(session: AsyncSession, *, username: str, password: str) -> User:
    """The account for these credentials; unknown users cost the same time as wrong passwords."""
    user = await session.scalar(select(User).where(User.username == normalize_username(username)))
    is_valid = await security.verify_user_password(user.password_hash if user else None, password)
    if user is None or not is_valid:
        raise AuthenticationFailed("wrong username or password")
    if not user.is_active:
        raise AuthenticationFailed("this account is blocked")
    if security.user_password_needs_rehash(user.password_hash):
        user.password_hash = await security.hash_user_password(password)
        await session.commit()
    return user


async def change_password(
    session: AsyncSession, *, user_id: int, session_id: str, old_password: str, new_password: str, now: datetime
) -> None:
    """The owner's own change: the old password proves it; every other session of the account ends."""
    user = await session.get(User, user_id)
    if user is None:
        raise AuthenticationFailed("this session has ended; log in again")
    validate_new_password(old_password, new_password, username=user.username)
    if not await security.verify_user_password(user.password_hash, old_password):
        raise AuthenticationFailed("the old password is wrong")
    await set_password(session, user, new_password, now=now, keep_session_id=session_id)


def validate_new_password(old_password: str, new_password: str, *, username: str) -> None:
    """The rules for a new password, checked before the old one is (a refusal here guesses nothing)."""
    validate_password(new_password, username=username)
    if new_password == old_password:
        raise InvalidInput("the new password must differ from the old one")


async def set_password(
    session: AsyncSession, user: User, password: str, *, now: datetime, keep_session_id: str | None = None
) -> None:
    """Store a new password and end the account's sessions, all but `keep_session_id`."""
    validate_password(password, username=user.username)
    user.password_hash = await security.hash_user_password(password)
    await end_all_sessions(session, user.id, now=now, except_session_id=keep_session_id)
    await session.commit()


async def open_session(session: AsyncSession, user: User, *, policy: TokenPolicy, now: datetime) -> TokenPair:
    auth_session = AuthSession(id=str(uuid.uuid4()), user_id=user.id, created_at=now)
    session.add(auth_session)
    pair = _issue_pair(session, user.id, auth_session.id, policy=policy, now=now)
    await session.commit()
    return pair


async def refresh_session(
    session: AsyncSession, refresh_token: str, *, policy: TokenPolicy, now: datetime, cache: LoginCache
) -> TokenPair:
    """Rotate a refresh token. Presenting one that was already used revokes its whole family:
    either the client or a thief holds a copy, and we cannot tell which.

    The token is marked used by a compare-and-set (only while it is unused), so of two refreshes
    racing with one token exactly one wins; the other is a reuse like any other and ends the family,
    the winner's new tokens with it.
    """
    claims = _decode(refresh_token, policy=policy, expected_type=security.REFRESH, now=now)
    stored = await session.get(RefreshToken, claims.token_id)
    auth_session = await session.get(AuthSession, claims.session_id)
    if stored is None or auth_session is None or auth_session.revoked_at is not None:
        raise AuthenticationFailed("this session has ended; log in again")
    if not await _claim_refresh_token(session, claims.token_id, now=now):
        await end_session(session, auth_session.id, now=now)
        await cache.forget_session(auth_session.id)
        raise AuthenticationFailed("refresh token reuse detected; the session has been ended")
    user = await session.get(User, auth_session.user_id)
    if user is None or not user.is_active:
        await session.rollback()
        raise AuthenticationFailed("this account is blocked")
    pair = _issue_pair(session, user.id, auth_session.id, policy=policy, now=now)
    await session.commit()
    return pair


async def _claim_refresh_token(session: AsyncSession, token_id: str, *, now: datetime) -> bool:
    """Mark the token used if nobody has; whether this call did. Its row stays locked until commit."""
    result = await session.execute(
        update(RefreshToken).where(RefreshToken.jti == token_id, RefreshToken.used_at.is_(None)).values(used_at=now)
    )
    return isinstance(result, CursorResult) and result.rowcount == 1


async def end_session(session: AsyncSession, session_id: str, *, now: datetime) -> None:
    await session.execute(
        update(AuthSession).where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None)).values(revoked_at=now)
    )
    await session.commit()


async def end_all_sessions(
    session: AsyncSession, user_id: int, *, now: datetime, except_session_id: str | None = None
) -> None:
    """End the account's sessions (all but `except_session_id`); the caller commits."""
    query = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if except_session_id is not None:
        query = query.where(AuthSession.id != except_session_id)
    await session.execute(query.values(revoked_at=now))


async def authenticate_access_token(
    open_session: Callable[[], AsyncSession],
    token: str,
    *,
    policy: TokenPolicy,
    now: datetime,
    cache: LoginCache,
) -> Principal:
    """The active account behind an access token; revoked sessions and blocked accounts are refused."""
    claims = _decode(token, policy=policy, expected_type=security.ACCESS, now=now)
    return await current_login(open_session, claims.user_id, claims.session_id, now=now, cache=cache)


async def current_login(
    open_session: Callable[[], AsyncSession], user_id: int, session_id: str, *, now: datetime, cache: LoginCache
) -> Principal:
    """The account behind a login as it is now (the cache's answer while fresh); AuthenticationFailed
    once the session has ended or the account is blocked or gone."""
    principal = cache.get(session_id)
    if principal is None or principal.id != user_id:
        async with open_session() as session:
            principal = await _load_principal(session, user_id, session_id, now=now)
        cache.remember(principal)
    if not principal.is_active:
        raise AuthenticationFailed("this account is blocked")
    return principal


async def _load_principal(session: AsyncSession, user_id: int, session_id: str, *, now: datetime) -> Principal:
    row = (
        await session.execute(
            select(User, AuthSession.revoked_at)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(AuthSession.id == session_id, User.id == user_id)
        )
    ).first()
    if row is None or row.revoked_at is not None:
        raise AuthenticationFailed("this session has ended; log in again")
    user: User = row[0]
    app_tag = await session.scalar(select(IdTag.id_tag).where(IdTag.user_id == user.id).order_by(IdTag.id).limit(1))
    return Principal(
        id=user.id,
        username=user.username,
        role=user.role,
        is_active=user.is_active,
        session_id=session_id,
        app_id_tag=app_tag,
        checked_at=now,
    )


async def list_id_tags(session: AsyncSession, user_id: int) -> list[IdTag]:
    return list((await session.scalars(select(IdTag).where(IdTag.user_id == user_id).order_by(IdTag.id))).all())


async def app_id_tag(session: AsyncSession, user_id: int) -> str:
    """The idTag the app charges with: the account's first tag."""
    tag = await session.scalar(select(IdTag.id_tag).where(IdTag.user_id == user_id).order_by(IdTag.id).limit(1))
    if tag is None:
        raise InvalidInput("this account has no idTag to charge with")
    return tag


def _issue_pair(
    session: AsyncSession, user_id: int, session_id: str, *, policy: TokenPolicy, now: datetime
) -> TokenPair:
    access, _ = security.encode_token(
        secret=policy.secret,
        user_id=user_id,
        session_id=session_id,
        token_type=security.ACCESS,
        now=now,
        ttl=policy.access_ttl,
    )
    refresh, refresh_claims = security.encode_token(
        secret=policy.secret,
        user_id=user_id,
        session_id=session_id,
        token_type=security.REFRESH,
        now=now,
        ttl=policy.refresh_ttl,
    )
    session.add(RefreshToken(jti=refresh_claims.token_id, session_id=session_id, expires_at=refresh_claims.expires_at))
    return TokenPair(user_id, access, refresh, int(policy.access_ttl.total_seconds()))


def _decode(token: str, *, policy: TokenPolicy, expected_type: str, now: datetime) -> security.TokenClaims:
    try:
        return security.decode_token(token, secret=policy.secret, expected_type=expected_type, now=now)
    except security.InvalidToken as error:
        raise AuthenticationFailed(str(error)) from None
