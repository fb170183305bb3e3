"""Roaming tokens: the tokens eMSPs push to csms (OCPI 2.2.1 tokens module, csms the receiver), and what a
charger is answered when a driver presents one.

A tag csms does not know as its own is looked for among them (services/id_tags.py asks `RoamingTokens` only
after its own lookup failed). What a stored token is worth depends on its `whitelist` (§12.4.4):

- ALWAYS: the eMSP is never asked; Accepted when `valid`, Blocked when not;
- ALLOWED, ALLOWED_OFFLINE, NEVER: the eMSP is asked in real time (§12.2.2.2), also for a token stored as not
  valid (§12.4.5: its state may have changed), within a deadline well inside the charger's call timeout.
  Its answer is used again for a short while (a 1.6 Authorize and the StartTransaction after it ask once),
  and, while the eMSP cannot be reached, for longer. Without an answer: ALLOWED_OFFLINE is Accepted
  (§12.4.5), ALLOWED is what the stored `valid` says (it may be whitelisted), NEVER is refused.

Stored tokens are read once and kept in memory like csms's own tags (services/tag_directory.py): the tag
directory's announcements drop them when a commit changes one, or its party's state, here and on every other
node, and their own change counter (ocpi_tokens, db/change_counters.py) covers a missed announcement without
dropping csms's own tags.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from csms.db.models import OcpiParty, OcpiToken, OcpiTransactionToken
from csms.db.sqlite_thread import Part
from csms.db.write_journal import journaled
from csms.services import ocpi_parties
from csms.services.errors import InvalidInput
from csms.services.id_tags import ACCEPTED, BLOCKED, EXPIRED, INVALID, IdTagInfo, RoamingGrant
from csms.services.tag_directory import EVERY_ROAMING_ID

logger = logging.getLogger(__name__)

TOKEN_TYPES = ("AD_HOC_USER", "APP_USER", "OTHER", "RFID")
ALWAYS, ALLOWED, ALLOWED_OFFLINE, NEVER = "ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"
WHITELISTS = (ALWAYS, ALLOWED, ALLOWED_OFFLINE, NEVER)
# OCPI AuthMethod of a charge: a stored token, or the eMSP's real-time answer.
WHITELIST, AUTH_REQUEST = "WHITELIST", "AUTH_REQUEST"
# A charge the eMSP started with START_SESSION (services/ocpi_commands.py): its command authorized it.
COMMAND = "COMMAND"
# The eMSP's answer (AllowedType), and UNKNOWN: it does not know the token (HTTP 404, OCPI 2004).
UNKNOWN = "UNKNOWN"
_STATUS_OF = {"ALLOWED": ACCEPTED, "BLOCKED": BLOCKED, "EXPIRED": EXPIRED}  # NO_CREDIT, NOT_ALLOWED: Invalid
# The OCPI token types a 2.x IdTokenEnumType can be; a 1.6 idTag (no type) can be any, an RFID card first.
_OCPI_TYPES_OF: dict[str | None, tuple[str, ...]] = {
    None: ("RFID", "APP_USER", "AD_HOC_USER", "OTHER"),
    "ISO14443": ("RFID",),
    "ISO15693": ("RFID",),
    "Central": ("APP_USER", "AD_HOC_USER"),
    "KeyCode": ("OTHER",),
    "Local": ("OTHER",),
    "MacAddress": ("OTHER",),
}
_EVERY_TAG = "*"
_PARENT_ID_TAG_MAX = 20  # OCPP 1.6 parentIdTag: a longer group_id is not passed on


def uid_key(uid: str) -> str:
    """A uid as compared: OCPI's uid is a CiString, case-insensitive."""
    return uid.upper()


# -- storing what eMSPs push ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenValues:
    """A token as an eMSP sent it (OCPI Token), checked on the wire already."""

    country_code: str
    party_id: str
    uid: str
    type: str
    contract_id: str
    issuer: str
    valid: bool
    whitelist: str
    last_updated: datetime
    visual_number: str | None = None
    group_id: str | None = None
    language: str | None = None
    default_profile_type: str | None = None
    energy_contract: dict[str, Any] | None = None


_FIELDS = TokenValues.__dataclass_fields__
_IDENTITY = ("country_code", "party_id", "uid", "type")


async def find_token(
    session: AsyncSession, *, country_code: str, party_id: str, uid: str, token_type: str
) -> OcpiToken | None:
    query = select(OcpiToken).where(
        OcpiToken.country_code == country_code.upper(),
        OcpiToken.party_id == party_id.upper(),
        OcpiToken.uid_key == uid_key(uid),
        OcpiToken.type == token_type,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def put_token(session: AsyncSession, party: OcpiParty, values: TokenValues, *, now: datetime) -> OcpiToken:
    """Store a token the party pushed, new or replacing the one with its owner, uid and type (§12.2.1.2)."""
    token = await find_token(
        session, country_code=values.country_code, party_id=values.party_id, uid=values.uid, token_type=values.type
    )
    if token is None:
        token = OcpiToken(country_code=values.country_code.upper(), party_id=values.party_id.upper())
        session.add(token)
    token.ocpi_party_key = party.id
    _apply(token, {name: getattr(values, name) for name in _FIELDS if name not in ("country_code", "party_id")})
    token.received_at = now
    await session.commit()
    return token


async def patch_token(session: AsyncSession, token: OcpiToken, changes: dict[str, Any], *, now: datetime) -> None:
    """Change the fields the party sent (§12.2.1.3); a token's owner, uid and type are what name it."""
    for name in _IDENTITY:
        if name in changes and str(changes[name]).upper() != str(getattr(token, name)).upper():
            raise InvalidInput(f"a PATCH cannot change a token's {name}; PUT the token under its new {name}")
    unknown = set(changes) - set(_FIELDS)
    if unknown:
        raise InvalidInput(f"a Token has no field {', '.join(sorted(unknown))}")
    _apply(token, {name: value for name, value in changes.items() if name not in _IDENTITY})
    token.received_at = now
    await session.commit()


def _apply(token: OcpiToken, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name == "energy_contract":
            value = json.dumps(value) if value is not None else None
        setattr(token, name, value)
    if "uid" in values:
        token.uid_key = uid_key(values["uid"])


async def open_for_command(
    session: AsyncSession,
    token: OcpiToken,
    *,
    charge_point_id: str,
    authorization_reference: str | None,
    until: datetime,
) -> None:
    """An eMSP's START_SESSION for `token` at `charge_point_id`: until `until`, the token presented there is
    authorized by the command (AuthMethod COMMAND), on whichever node the charger is connected to."""
    token.command_charge_point_id, token.command_reference = charge_point_id, authorization_reference
    token.command_until = until
    await session.commit()


def token_values(token: OcpiToken) -> TokenValues:
    """A stored token as the eMSP sent it."""
    values = {name: getattr(token, name) for name in _FIELDS if name != "energy_contract"}
    contract = json.loads(token.energy_contract) if token.energy_contract else None
    return TokenValues(**values, energy_contract=contract)


async def list_tokens(
    session: AsyncSession, *, party_id: str | None = None, uid: str | None = None, limit: int, offset: int
) -> tuple[list[OcpiToken], int]:
    """Stored tokens, of one owning party id and one uid if given, and how many there are in all."""
    query = select(OcpiToken)
    if party_id:
        query = query.where(OcpiToken.party_id == party_id.upper())
    if uid:
        query = query.where(OcpiToken.uid_key == uid_key(uid))
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    page = query.order_by(OcpiToken.id).limit(limit).offset(offset)
    return list((await session.execute(page)).scalars()), total


# -- answering chargers --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A roaming token as answers need it, with whether the party it came through is registered."""

    ocpi_party_key: int
    party_is_registered: bool
    country_code: str
    party_id: str
    uid: str
    type: str
    contract_id: str
    group_id: str | None
    valid: bool
    whitelist: str
    command_charge_point_id: str | None = None
    command_reference: str | None = None
    command_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Place:
    """Where a token is presented: a charger and, for a start, its connector."""

    charge_point_id: str
    connector_id: int | None = None


@dataclass(frozen=True, slots=True)
class RealtimeAnswer:
    allowed: str  # an OCPI AllowedType, or UNKNOWN
    authorization_reference: str | None = None


class RealtimeUnavailable(Exception):
    """The eMSP gave no usable answer (unreachable, an error, no tokens endpoint); the message says why."""


class RealtimeAsk(Protocol):
    """Asks a token's eMSP whether it may charge at `place` (csms/ocpi/tokens.py sends the request)."""

    async def __call__(self, token: StoredToken, place: Place | None) -> RealtimeAnswer: ...


class RoamingTokens:
    """Stored roaming tokens kept in memory, and the eMSPs' recent real-time answers (the module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        ask: RealtimeAsk,
        *,
        deadline: float,
        reuse: float,
        outage_reuse: float,
        max_age: float = 30.0,
        max_entries: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine, self._ask = engine, ask
        self._deadline, self._reuse, self._outage_reuse = deadline, reuse, max(reuse, outage_reuse)
        self._max_age, self._max_entries, self._clock = max_age, max_entries, clock
        self._tokens: dict[str, tuple[tuple[StoredToken, ...], float]] = {}
        self._answers: dict[tuple[int, str, str], tuple[RealtimeAnswer, float]] = {}
        self._generation = 0

    async def authorize(
        self, id_tag: str, *, id_token_type: str | None, place: tuple[str, int | None] | None, now: datetime
    ) -> IdTagInfo | None:
        """The answer for a roaming token presented at `place`, None when no eMSP pushed such a token."""
        tokens = await self.lookup(id_tag)
        commanded = _commanded(tokens, id_token_type, place[0] if place else None, now)
        if commanded is not None:
            return _accepted(commanded, COMMAND, commanded.command_reference)
        token = _best_match(tokens, id_token_type)
        if token is None:
            return None
        if not token.party_is_registered:
            return IdTagInfo(status=INVALID)  # an unregistered or suspended party's tokens open nothing
        if token.whitelist == ALWAYS:
            return (
                _accepted(token, WHITELIST) if token.valid else IdTagInfo(status=BLOCKED, parent_id_tag=_parent(token))
            )
        return await self._realtime(token, Place(*place) if place else None)

    async def lookup(self, id_tag: str) -> tuple[StoredToken, ...]:
        key = uid_key(id_tag)
        kept = self._tokens.get(key)
        if kept is not None and self._clock() - kept[1] <= self._max_age:
            return kept[0]
        generation, read_at = self._generation, self._clock()
        async with self._engine.connect() as connection:
            rows = (await connection.execute(_READ_TOKENS, {"uid_key": key})).all()
        tokens = tuple(_stored(row) for row in rows)
        if generation == self._generation:
            if len(self._tokens) >= self._max_entries:
                self._tokens.clear()
            self._tokens[key] = (tokens, read_at)
        return tokens

    def drop(self, id_tags: set[str]) -> None:
        self._generation += 1
        if _EVERY_TAG in id_tags or EVERY_ROAMING_ID in id_tags:
            self._tokens.clear()
            self._answers.clear()
            return
        keys = {uid_key(id_tag) for id_tag in id_tags}
        for key in keys:
            self._tokens.pop(key, None)
        for answer in [answer for answer in self._answers if answer[1] in keys]:
            self._answers.pop(answer, None)

    def forget_all(self) -> None:
        self.drop({_EVERY_TAG})

    async def _realtime(self, token: StoredToken, place: Place | None) -> IdTagInfo:
        key = (token.ocpi_party_key, uid_key(token.uid), token.type)
        kept = self._answers.get(key)
        if kept is not None and self._clock() - kept[1] <= self._reuse:
            return _answered(token, kept[0])
        try:
            async with asyncio.timeout(self._deadline):
                answer = await self._ask(token, place)
        except (RealtimeUnavailable, TimeoutError) as error:
            reason = str(error) or f"no answer within {self._deadline:g} s"
            return self._without_answer(token, kept, reason)
        if len(self._answers) >= self._max_entries:
            self._answers.clear()
        self._answers[key] = (answer, self._clock())
        logger.info(
            "eMSP %s %s answered %s for token %s", token.country_code, token.party_id, answer.allowed, token.uid
        )
        return _answered(token, answer)

    def _without_answer(self, token: StoredToken, kept: tuple[RealtimeAnswer, float] | None, reason: str) -> IdTagInfo:
        owner = f"{token.country_code} {token.party_id}"
        if kept is not None and self._clock() - kept[1] <= self._outage_reuse:
            logger.warning("eMSP %s gave no real-time answer (%s); its last one stands", owner, reason)
            return _answered(token, kept[0])
        logger.warning(
            "eMSP %s gave no real-time answer (%s); token %s is %s", owner, reason, token.uid, token.whitelist
        )
        if token.whitelist == ALLOWED_OFFLINE or (token.whitelist == ALLOWED and token.valid):
            return _accepted(token, WHITELIST)
        if token.whitelist == ALLOWED:
            return IdTagInfo(status=BLOCKED, parent_id_tag=_parent(token))
        return IdTagInfo(status=INVALID, parent_id_tag=_parent(token))  # NEVER: only the eMSP may say yes


def _commanded(
    tokens: Sequence[StoredToken], id_token_type: str | None, charge_point_id: str | None, now: datetime
) -> StoredToken | None:
    """The token an eMSP's START_SESSION opened this charger for, while it does (services/ocpi_commands.py)."""
    types = _OCPI_TYPES_OF.get(id_token_type, ())
    for token in tokens:
        until = token.command_until
        if (
            token.party_is_registered
            and token.type in types
            and charge_point_id is not None
            and token.command_charge_point_id == charge_point_id
            and until is not None
            and _utc(until) > now
        ):
            return token
    return None


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes: csms stores UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _best_match(tokens: Sequence[StoredToken], id_token_type: str | None) -> StoredToken | None:
    """The token a presented tag is: of a type it can be, an RFID card first, a registered party's first."""
    types = _OCPI_TYPES_OF.get(id_token_type, ())
    candidates = [token for token in tokens if token.type in types]
    candidates.sort(key=lambda token: (not token.party_is_registered, types.index(token.type)))
    return candidates[0] if candidates else None


def _answered(token: StoredToken, answer: RealtimeAnswer) -> IdTagInfo:
    status = _STATUS_OF.get(answer.allowed, INVALID)
    if status != ACCEPTED:
        return IdTagInfo(status=status, parent_id_tag=_parent(token))
    return _accepted(token, AUTH_REQUEST, answer.authorization_reference)


def _accepted(token: StoredToken, auth_method: str, reference: str | None = None) -> IdTagInfo:
    grant = RoamingGrant(
        ocpi_party_key=token.ocpi_party_key,
        country_code=token.country_code,
        party_id=token.party_id,
        uid=token.uid,
        token_type=token.type,
        contract_id=token.contract_id,
        auth_method=auth_method,
        authorization_reference=reference,
    )
    return IdTagInfo(status=ACCEPTED, parent_id_tag=_parent(token), roaming=grant)


def _parent(token: StoredToken) -> str | None:
    group = token.group_id
    return group if group and len(group) <= _PARENT_ID_TAG_MAX else None


def _stored(row: Any) -> StoredToken:
    values = row._mapping
    registered = values["state"] == ocpi_parties.REGISTERED and values["has_peer_token"]
    return StoredToken(
        ocpi_party_key=values["ocpi_party_key"],
        party_is_registered=bool(registered),
        country_code=values["country_code"],
        party_id=values["party_id"],
        uid=values["uid"],
        type=values["type"],
        contract_id=values["contract_id"],
        group_id=values["group_id"],
        valid=values["valid"],
        whitelist=values["whitelist"],
        command_charge_point_id=values["command_charge_point_id"],
        command_reference=values["command_reference"],
        command_until=values["command_until"],
    )


_READ_TOKENS = (
    select(
        OcpiToken.ocpi_party_key,
        OcpiParty.state,
        OcpiParty.peer_token.is_not(None).label("has_peer_token"),
        OcpiToken.country_code,
        OcpiToken.party_id,
        OcpiToken.uid,
        OcpiToken.type,
        OcpiToken.contract_id,
        OcpiToken.group_id,
        OcpiToken.valid,
        OcpiToken.whitelist,
        OcpiToken.command_charge_point_id,
        OcpiToken.command_reference,
        OcpiToken.command_until,
    )
    .join(OcpiParty, OcpiToken.ocpi_party_key == OcpiParty.id)
    .where(OcpiToken.uid_key == bindparam("uid_key"))
    .order_by(OcpiToken.id)
)


# -- which token a transaction was ------------------------------------------------------------------------

_LINK = journaled("ocpi.transaction_token", insert(OcpiTransactionToken))


def transaction_token_part(transaction_id: int, grant: RoamingGrant, *, now: datetime) -> Part:
    """The record that `transaction_id` charges on `grant`'s token: whom its Session and CDR go to."""
    row = {
        "transaction_id": transaction_id,
        "ocpi_party_key": grant.ocpi_party_key,
        "country_code": grant.country_code,
        "party_id": grant.party_id,
        "uid": grant.uid,
        "token_type": grant.token_type,
        "contract_id": grant.contract_id,
        "auth_method": grant.auth_method,
        "authorization_reference": grant.authorization_reference,
        "created_at": now,
    }
    return (_LINK, [row])
