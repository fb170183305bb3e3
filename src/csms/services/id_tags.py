"""idTags and what Authorize and StartTransaction answer for them (OCPP 1.6 §7.15 IdTagInfo)."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import IdTag, User
from csms.services.errors import AlreadyExists, InvalidInput, NotFound
from csms.services.tag_directory import KnownTag, TagDirectory

TAG_STATUSES = ("Accepted", "Blocked", "Expired")
# The 2.x IdTokenEnumType values a tag can be registered with (NoAuthorization is no token to register).
TOKEN_TYPES = ("Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress")
ACCEPTED = "Accepted"
BLOCKED = "Blocked"
EXPIRED = "Expired"
INVALID = "Invalid"
CONCURRENT_TX = "ConcurrentTx"

ID_TAG_MAX_LENGTH = 20  # OCPP CiString20
_APP_TAG_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True, slots=True)
class RoamingGrant:
    """Whose roaming token authorized a charge (services/ocpi_tokens.py): what OCPI sessions and CDRs name
    (CdrToken, AuthMethod, authorization_reference), and the party connection they go to."""

    ocpi_party_key: int
    country_code: str
    party_id: str
    uid: str
    token_type: str
    contract_id: str
    # OCPI AuthMethod: WHITELIST (stored token), AUTH_REQUEST (the eMSP said so in real time), COMMAND (START_SESSION)
    auth_method: str
    authorization_reference: str | None = None


@dataclass(frozen=True, slots=True)
class IdTagInfo:
    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None
    roaming: RoamingGrant | None = None  # a roaming token's (no csms idTag): whose it is


def new_app_id_tag() -> str:
    """A random idTag for an account: 'APP' and 16 characters, ~82 bits, fits CiString20."""
    return "APP" + "".join(secrets.choice(_APP_TAG_ALPHABET) for _ in range(16))


class TagFields(Protocol):
    """What a tag's status depends on: an `IdTag` row or a `KnownTag` kept in memory."""

    @property
    def status(self) -> str: ...

    @property
    def expiry_date(self) -> datetime | None: ...

    @property
    def parent_id_tag(self) -> str | None: ...


async def authorize_id_tag(
    tags: TagDirectory,
    id_tag: str,
    *,
    now: datetime,
    ignore_transaction_id: int | None = None,
    id_token_type: str | None = None,
    charge_point_id: str | None = None,
) -> IdTagInfo:
    """What the central system answers for an idTag right now (`id_token_type`: the 2.x type it came with,
    `charge_point_id`: where it was presented, for a roaming token's real-time authorization).

    ConcurrentTx when the tag is already charging somewhere (a transaction is open with it),
    except for the transaction named by `ignore_transaction_id`.
    """
    known = await tags.lookup(id_tag)
    return await answer_for_tag(
        tags,
        id_tag,
        known,
        now=now,
        ignore_transaction_id=ignore_transaction_id,
        id_token_type=id_token_type,
        charge_point_id=charge_point_id,
    )


async def answer_for_tag(
    tags: TagDirectory,
    id_tag: str,
    known: KnownTag | None,
    *,
    now: datetime,
    ignore_transaction_id: int | None = None,
    starting_on: tuple[str, int] | None = None,
    id_token_type: str | None = None,
    charge_point_id: str | None = None,
) -> IdTagInfo:
    """`authorize_id_tag` for a tag already looked up (`known`, None when there is no such tag).

    `starting_on` (charger, connector) is where a StartTransaction arrives: what is still open there
    ends with this start, so it is no concurrent transaction. A 2.x token is the pair of its value and
    type: a tag registered with a type is unknown under another (one registered without, or a 1.6 idTag
    presented without, matches any).

    A tag csms does not know may be a roaming token an eMSP pushed (`tags.roaming`): only then, after the
    local lookup, is it looked for there, so csms's own tags answer as fast as ever.
    """
    if known is None and tags.roaming is not None:
        place = starting_on or ((charge_point_id, None) if charge_point_id else None)
        roaming = await tags.roaming.authorize(id_tag, id_token_type=id_token_type, place=place, now=now)
        info = roaming or IdTagInfo(status=INVALID)
    elif known is None or not _types_match(known.type, id_token_type):
        return IdTagInfo(status=INVALID)
    else:
        info = tag_status(known, known.owner_is_active, now=now)
    if info.status == ACCEPTED and await tags.has_open_transaction(
        id_tag, except_id=ignore_transaction_id, except_on=starting_on
    ):
        return IdTagInfo(
            status=CONCURRENT_TX, expiry_date=info.expiry_date, parent_id_tag=info.parent_id_tag, roaming=info.roaming
        )
    return info


def _types_match(registered: str | None, presented: str | None) -> bool:
    return registered is None or presented is None or registered == presented


def tag_status(tag: TagFields, owner_is_active: bool | None, *, now: datetime) -> IdTagInfo:
    """What the tag itself is worth now, open transactions aside (what a charger's local list holds)."""
    if tag.status == BLOCKED or owner_is_active is False:
        return IdTagInfo(status=BLOCKED, parent_id_tag=tag.parent_id_tag)
    if tag.status == EXPIRED or (tag.expiry_date is not None and tag.expiry_date <= now):
        return IdTagInfo(status=EXPIRED, expiry_date=tag.expiry_date, parent_id_tag=tag.parent_id_tag)
    return IdTagInfo(status=ACCEPTED, expiry_date=tag.expiry_date, parent_id_tag=tag.parent_id_tag)


async def create_id_tag(
    session: AsyncSession,
    *,
    id_tag: str,
    now: datetime,
    user_id: int | None = None,
    status: str = ACCEPTED,
    expiry_date: datetime | None = None,
    parent_id_tag: str | None = None,
    token_type: str | None = None,
) -> IdTag:
    tag = IdTag(
        id_tag=id_tag,
        user_id=user_id,
        status=status,
        expiry_date=expiry_date,
        parent_id_tag=parent_id_tag,
        created_at=now,
        type=token_type,
    )
    session.add(tag)
    await session.flush()
    return tag


async def find_id_tag(session: AsyncSession, id_tag: str) -> IdTag | None:
    return await session.scalar(select(IdTag).where(IdTag.id_tag == id_tag))


def validate_id_tag(id_tag: str) -> None:
    """OCPP CiString20: 1 to 20 printable ASCII characters."""
    if not 1 <= len(id_tag) <= ID_TAG_MAX_LENGTH or not id_tag.isascii() or not id_tag.isprintable():
        raise InvalidInput(f"an idTag has 1 to {ID_TAG_MAX_LENGTH} printable ASCII characters")


def validate_token_type(token_type: str | None) -> None:
    if token_type is not None and token_type not in TOKEN_TYPES:
        raise InvalidInput(f"a token type is one of {', '.join(TOKEN_TYPES)}")


def validate_status(status: str) -> None:
    if status not in TAG_STATUSES:
        raise InvalidInput(f"an idTag status is one of {', '.join(TAG_STATUSES)}")


async def register_id_tag(
    session: AsyncSession,
    *,
    id_tag: str,
    now: datetime,
    owner_id: int | None = None,
    label: str | None = None,
    vehicle_id: int | None = None,
    status: str = ACCEPTED,
    expiry_date: datetime | None = None,
    parent_id_tag: str | None = None,
    token_type: str | None = None,
) -> IdTag:
    """Register an RFID card or other token. A tag that exists already, whoever has it, is refused.

    `token_type` is its 2.x IdTokenEnumType: a 2.x station presenting it under another type is refused;
    None (a 1.6 idTag) matches any."""
    validate_id_tag(id_tag)
    validate_status(status)
    validate_token_type(token_type)
    if parent_id_tag is not None:
        validate_id_tag(parent_id_tag)
    if await find_id_tag(session, id_tag) is not None:
        raise AlreadyExists(f"idTag {id_tag} is already registered")
    tag = await create_id_tag(
        session,
        id_tag=id_tag,
        now=now,
        user_id=owner_id,
        status=status,
        expiry_date=expiry_date,
        parent_id_tag=parent_id_tag,
        token_type=token_type,
    )
    tag.label = label
    tag.vehicle_id = vehicle_id
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise AlreadyExists(f"idTag {id_tag} is already registered") from None
    return tag


async def owned_id_tag(session: AsyncSession, *, owner_id: int, id_tag: str) -> IdTag:
    """The owner's tag; someone else's looks exactly like one that does not exist."""
    tag = await find_id_tag(session, id_tag)
    if tag is None or tag.user_id != owner_id:
        raise NotFound(f"idTag {id_tag} not found")
    return tag


@dataclass(frozen=True, slots=True)
class ListedTag:
    tag: IdTag
    username: str | None  # its owner's; None for a card of no account


async def list_all_id_tags(
    session: AsyncSession,
    *,
    owner_id: int | None = None,
    search: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[ListedTag], int]:
    """A page of idTags with their owners' usernames, and how many match in all. `search` is part of the tag,
    its label or its owner's username, in any case."""
    query = select(IdTag, User.username).outerjoin(User, User.id == IdTag.user_id)
    if owner_id is not None:
        query = query.where(IdTag.user_id == owner_id)
    if status is not None:
        validate_status(status)
        query = query.where(IdTag.status == status)
    if search and search.strip():
        needle = search.strip().lower()
        query = query.where(
            or_(
                func.lower(IdTag.id_tag).contains(needle, autoescape=True),
                func.lower(IdTag.label).contains(needle, autoescape=True),
                User.username.contains(needle, autoescape=True),
            )
        )
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = (await session.execute(query.order_by(IdTag.id).limit(limit).offset(offset))).all()
    return [ListedTag(tag, username) for tag, username in rows], total


async def update_id_tag(session: AsyncSession, tag: IdTag, *, changes: dict[str, Any]) -> IdTag:
    """Apply an operator's changes: status, expiry_date, parent_id_tag, type, charging_priority."""
    if "type" in changes:
        validate_token_type(changes["type"])
        tag.type = changes["type"]
    if "status" in changes:
        validate_status(changes["status"])
        tag.status = changes["status"]
    if "expiry_date" in changes:
        tag.expiry_date = changes["expiry_date"]
    if "parent_id_tag" in changes:
        if changes["parent_id_tag"] is not None:
            validate_id_tag(changes["parent_id_tag"])
        tag.parent_id_tag = changes["parent_id_tag"]
    if changes.get("charging_priority") is not None:
        tag.charging_priority = changes["charging_priority"]
    await session.commit()
    return tag
