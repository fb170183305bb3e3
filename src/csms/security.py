"""Password hashing for accounts and chargers, and the JWTs of app sessions."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's minimum for argon2id: 19 MiB, two passes, one lane.
USER_PASSWORD_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# Charger passwords (AuthorizationKey) are 16-40 characters handed out by the operator, not
# memorised by people, and every reconnect of thousands of chargers checks one: a lighter argon2id
# keeps a reconnect storm from pinning the CPU while staying a salted, memory-hard hash.
CHARGER_PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=4 * 1024, parallelism=1)

# A hash of a real password that unknown accounts are checked against, so a login for an
# unknown user costs as much as one with a wrong password.
_DUMMY_USER_HASH = USER_PASSWORD_HASHER.hash(secrets.token_urlsafe(16))

_Result = TypeVar("_Result")

# argon2 is memory-hard CPU work (tens of ms for a user password) that releases the GIL: it runs in
# threads of its own so chargers' messages are answered while a burst of logins is checked. One core
# is left to the event loop; hashes beyond the pool's size wait their turn instead of competing for it.
_HASHING = ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="csms-argon2")


async def _off_the_loop(work: Callable[..., _Result], *args: Any) -> _Result:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, functools.partial(work, *args))


async def hash_user_password(password: str) -> str:
    return await _off_the_loop(USER_PASSWORD_HASHER.hash, password)


async def verify_user_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown user) do the same work and answer False."""
    is_valid = await _off_the_loop(_verify, USER_PASSWORD_HASHER, password_hash or _DUMMY_USER_HASH, password)
    return is_valid and bool(password_hash)


def user_password_needs_rehash(password_hash: str) -> bool:
    return USER_PASSWORD_HASHER.check_needs_rehash(password_hash)


async def hash_charger_password(password: str) -> str:
    return await _off_the_loop(CHARGER_PASSWORD_HASHER.hash, password)


class ChargerPasswordVerifier:
    """Verifies charger passwords, remembering recent successes.

    Chargers reconnect often (network drops, node restarts). After one argon2 check succeeds,
    the pair (stored hash, password) is remembered as a keyed digest, so a reconnect with the same
    credentials costs a HMAC instead of a memory-hard hash. A changed stored hash misses the cache.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self._max_entries = max_entries

    async def verify(self, password_hash: str, password: str) -> bool:
        digest = hmac.new(self._key, f"{password_hash}\0{password}".encode(), hashlib.sha256).digest()
        remembered = self._verified.get(password_hash)
        if remembered is not None and hmac.compare_digest(remembered, digest):
            return True
        if not await _off_the_loop(_verify, CHARGER_PASSWORD_HASHER, password_hash, password):
            return False
        if len(self._verified) >= self._max_entries:
            self._verified.clear()
        self._verified[password_hash] = digest
        return True


def _verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# -- tokens ---------------------------------------------------------------------------------

JWT_ALGORITHM = "HS256"  # pinned: decode never trusts the token's own "alg" header
ACCESS = "access"
REFRESH = "refresh"


class InvalidToken(Exception):
    """Expired, tampered, of the wrong type or otherwise unusable; the reason is safe to show."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    session_id: str
    token_id: str
    token_type: str
    expires_at: datetime


def encode_token(
    *, secret: str, user_id: int, session_id: str, token_type: str, now: datetime, ttl: timedelta
) -> tuple[str, TokenClaims]:
    claims = TokenClaims(
        user_id=user_id,
        session_id=session_id,
        token_id=str(uuid.uuid4()),
        token_type=token_type,
        expires_at=now + ttl,
    )
    payload = {
        "sub": str(user_id),
        "sid": session_id,
        "jti": claims.token_id,
        "typ": token_type,
        "iat": int(now.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=JWT_ALGORITHM), claims


_VERIFIED_TOKENS: dict[tuple[str, str], dict[str, Any]] = {}
_MAX_VERIFIED_TOKENS = 50_000


def decode_token(token: str, *, secret: str, expected_type: str, now: datetime) -> TokenClaims:
    # The claims of a token whose signature was verified once are remembered by the exact token
    # string: the same string carries the same signature, so checking it again proves nothing new.
    # Expiry and type are still checked on every use.
    payload = _VERIFIED_TOKENS.get((secret, token))
    if payload is None:
        payload = _verified_payload(token, secret)
        if len(_VERIFIED_TOKENS) >= _MAX_VERIFIED_TOKENS:
            _VERIFIED_TOKENS.clear()
        _VERIFIED_TOKENS[(secret, token)] = payload
    return _claims(payload, expected_type=expected_type, now=now)


def _verified_payload(token: str, secret: str) -> dict[str, Any]:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            # Expiry is checked against the caller's `now` (_claims). "Issued at" is not checked: the
            # library would compare it with this host's clock, refusing every token of a node whose
            # clock is ahead of this one's until the difference has passed.
            options={"require": ["exp", "sub", "sid", "jti", "typ"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(f"invalid token: {error}") from None
    return dict(payload)


def _claims(payload: dict[str, Any], *, expected_type: str, now: datetime) -> TokenClaims:
    if payload["typ"] != expected_type:
        raise InvalidToken(f"a {payload['typ']} token cannot be used here")
    expires_at = datetime.fromtimestamp(payload["exp"], UTC)
    if expires_at <= now:
        raise InvalidToken("token has expired")
    try:
        user_id = int(payload["sub"])
    except (TypeError, ValueError):
        raise InvalidToken("invalid token subject") from None
    return TokenClaims(user_id, str(payload["sid"]), str(payload["jti"]), expected_type, expires_at)
