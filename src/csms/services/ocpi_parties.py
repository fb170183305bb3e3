"""OCPI parties: the eMSPs and hubs csms roams with, their states and credentials tokens.

The rules of OCPI 2.2.1's credentials module (§7) that do not depend on the wire: which token opens what,
what registering, updating, suspending and unregistering change. The transport (csms/ocpi/) talks to the
parties and hands this module plain values.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import OcpiParty
from csms.services.errors import AlreadyExists, Conflict, InvalidInput, NotFound

PENDING, REGISTERED, SUSPENDED, UNREGISTERED = "PENDING", "REGISTERED", "SUSPENDED", "UNREGISTERED"
ROLES = ("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")


@dataclass(frozen=True, slots=True)
class PartyRole:
    """One role a platform named in its credentials (OCPI CredentialsRole)."""

    role: str
    country_code: str
    party_id: str
    business_name: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One module endpoint of a platform's version details."""

    identifier: str
    role: str
    url: str


@dataclass(frozen=True, slots=True)
class PeerPlatform:
    """What a platform's credentials and version details told csms: how to reach it, as whom."""

    token: str
    versions_url: str
    version: str
    endpoints: tuple[Endpoint, ...]
    roles: tuple[PartyRole, ...]


@dataclass(frozen=True, slots=True)
class Caller:
    """The party behind a request's credentials token, and whether it was the registration token A."""

    party: OcpiParty
    token: str
    is_token_a: bool


def new_token() -> str:
    """A credentials token: 256 random bits in printable ASCII without whitespace (§7.3.1), 43 characters."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_party(
    session: AsyncSession,
    *,
    country_code: str,
    party_id: str,
    role: str,
    now: datetime,
    versions_url: str | None = None,
    peer_token: str | None = None,
) -> tuple[OcpiParty, str | None]:
    """A party, PENDING. Without its versions URL csms is the receiver: the answer carries the token A to give the
    party, valid for its registration only. With them csms registers with it (csms/ocpi/handshake.py).

    A party not registered (PENDING or UNREGISTERED) under the same ids is replaced: its old token A stops working.
    """
    if role not in ROLES:
        raise InvalidInput(f"an OCPI role is one of {', '.join(ROLES)}, not {role!r}")
    country_code, party_id = country_code.upper(), party_id.upper()
    party = await _by_ids(session, country_code, party_id)
    if party is not None and party.state in (REGISTERED, SUSPENDED):
        raise AlreadyExists(f"OCPI party {country_code} {party_id} is {party.state.lower()}; delete it first")
    if party is None:
        party = OcpiParty(country_code=country_code, party_id=party_id, created_at=now)
        session.add(party)
    token_a = None if versions_url else new_token()
    _reset(party, role=role, now=now)
    party.token_a_digest = token_digest(token_a) if token_a else None
    party.versions_url, party.peer_token = versions_url, peer_token
    await session.commit()
    return party, token_a


def _reset(party: OcpiParty, *, role: str, now: datetime) -> None:
    party.role, party.state = role, PENDING
    party.token_digest = party.version = party.business_name = party.last_error = party.registered_at = None
    party.endpoints = party.roles = "[]"
    party.updated_at = now


async def _by_ids(session: AsyncSession, country_code: str, party_id: str) -> OcpiParty | None:
    query = select(OcpiParty).where(OcpiParty.country_code == country_code, OcpiParty.party_id == party_id)
    return (await session.execute(query)).scalar_one_or_none()


async def caller_of(session: AsyncSession, candidates: Sequence[str]) -> Caller | None:
    """The party one of these tokens belongs to (an Authorization header may carry it Base64-encoded or not)."""
    digests = {token_digest(token): token for token in candidates}
    query = select(OcpiParty).where(or_(OcpiParty.token_a_digest.in_(digests), OcpiParty.token_digest.in_(digests)))
    party = (await session.execute(query)).scalars().first()
    if party is None:
        return None
    for digest, token in digests.items():
        if digest in (party.token_a_digest, party.token_digest):
            return Caller(party=party, token=token, is_token_a=digest == party.token_a_digest)
    return None


async def list_parties(session: AsyncSession) -> list[OcpiParty]:
    return list((await session.execute(select(OcpiParty).order_by(OcpiParty.id))).scalars())


async def get_party(session: AsyncSession, party_key: int) -> OcpiParty:
    party = await session.get(OcpiParty, party_key)
    if party is None:
        raise NotFound(f"no OCPI party {party_key}")
    return party


def check_roles_name(party: OcpiParty, roles: Sequence[PartyRole]) -> None:
    """The credentials of a party must name it: the token was issued to these ids (§7.3.1: roles)."""
    if not any(r.country_code.upper() == party.country_code and r.party_id.upper() == party.party_id for r in roles):
        raise InvalidInput(
            f"the credentials' roles do not name {party.country_code} {party.party_id}, the party this token is for"
        )


async def accept_registration(session: AsyncSession, party: OcpiParty, peer: PeerPlatform, *, now: datetime) -> str:
    """csms as the receiver of a POST or PUT: keep what the party told, and answer with a new token C.

    Token A (and any earlier C) stops working (§7.1.1, §7.2.3).
    """
    token_c = new_token()
    _learn(party, peer, now=now)
    party.token_a_digest, party.token_digest, party.peer_token = None, token_digest(token_c), peer.token
    await session.commit()
    return token_c


def _learn(party: OcpiParty, peer: PeerPlatform, *, now: datetime) -> None:
    party.versions_url, party.version = peer.versions_url, peer.version
    party.endpoints = json.dumps([asdict(endpoint) for endpoint in peer.endpoints])
    party.roles = json.dumps([asdict(role) for role in peer.roles])
    party.business_name = _business_name(party, peer.roles)
    if party.state != SUSPENDED:
        party.state = REGISTERED
    party.registered_at = party.registered_at or now
    party.last_error, party.updated_at = None, now


def _business_name(party: OcpiParty, roles: Sequence[PartyRole]) -> str | None:
    named = [r for r in roles if r.country_code.upper() == party.country_code and r.party_id.upper() == party.party_id]
    chosen = named or list(roles)
    return chosen[0].business_name if chosen else None


async def offer_token(session: AsyncSession, party: OcpiParty, *, now: datetime) -> tuple[str, str | None]:
    """csms about to POST or PUT its credentials: a new token B, accepted at once because the party fetches
    csms's versions with it before answering. Returns it and the digest it replaced, to restore on failure."""
    token_b, previous = new_token(), party.token_digest
    party.token_digest, party.updated_at = token_digest(token_b), now
    await session.commit()
    return token_b, previous


async def complete_registration(session: AsyncSession, party: OcpiParty, peer: PeerPlatform, *, now: datetime) -> None:
    """csms registered (or updated) with the party: `peer.token` is the C it answered with."""
    _learn(party, peer, now=now)
    party.peer_token = peer.token
    await session.commit()


async def record_failure(
    session: AsyncSession, party: OcpiParty, error: str, *, now: datetime, restore_digest: str | None
) -> None:
    """A handshake csms started failed: the party keeps the token it had, the error is shown to the operator."""
    party.token_digest, party.last_error, party.updated_at = restore_digest, error[:255], now
    await session.commit()


async def unregister(session: AsyncSession, party: OcpiParty, *, now: datetime) -> None:
    """Either side ended the registration (§7.2.4): no token opens anything, and csms sends nothing more."""
    party.state, party.token_a_digest, party.token_digest, party.peer_token = UNREGISTERED, None, None, None
    party.updated_at = now
    await session.commit()


async def suspend(session: AsyncSession, party: OcpiParty, *, now: datetime) -> None:
    """The operator stops the party: its requests are refused and csms sends it nothing until resumed."""
    if party.state == UNREGISTERED:
        raise Conflict(f"OCPI party {party.country_code} {party.party_id} is unregistered")
    party.state, party.updated_at = SUSPENDED, now
    await session.commit()


async def resume(session: AsyncSession, party: OcpiParty, *, now: datetime) -> None:
    if party.state != SUSPENDED:
        raise Conflict(f"OCPI party {party.country_code} {party.party_id} is not suspended")
    party.state = REGISTERED if party.registered_at and party.token_digest else PENDING
    party.updated_at = now
    await session.commit()


async def delete_party(session: AsyncSession, party: OcpiParty) -> None:
    await session.delete(party)
    await session.commit()


def endpoints_of(party: OcpiParty) -> list[Endpoint]:
    return [Endpoint(**endpoint) for endpoint in json.loads(party.endpoints)]


def roles_of(party: OcpiParty) -> list[PartyRole]:
    return [PartyRole(**role) for role in json.loads(party.roles)]


def endpoint_url(party: OcpiParty, identifier: str, role: str | None = None) -> str | None:
    """Where the party serves a module (and interface role): what later modules push to or pull from."""
    for endpoint in endpoints_of(party):
        if endpoint.identifier == identifier and (role is None or endpoint.role == role):
            return endpoint.url
    return None


def is_registered(party: OcpiParty) -> bool:
    """Whether csms may call the party and serve its functional-module requests."""
    return party.state == REGISTERED and party.peer_token is not None
