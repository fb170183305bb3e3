"""OCPI parties for operators: register an eMSP or hub (token A, or the handshake with its versions URL), see its
state, suspend, resume, update and unregister it (docs/ocpi.md)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field, model_validator

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.schemas import ErrorBody
from csms.db.models import OcpiParty
from csms.ocpi import handshake
from csms.ocpi.identity import IdentityMissing, own_party, versions_url
from csms.runtime import Runtime
from csms.services import ocpi_parties

router = APIRouter(prefix="/api/admin/ocpi/parties", tags=["ocpi"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    403: {"model": ErrorBody, "description": "Needs the role admin or root"},
    404: {"model": ErrorBody, "description": "Unknown OCPI party"},
}
_HANDSHAKE: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "A party with these ids is registered, or csms has no OCPI identity"},
    502: {"model": ErrorBody, "description": "The party could not be registered with (its error is kept)"},
}


class PartyIn(BaseModel):
    country_code: str = Field(pattern=r"^[A-Za-z]{2}$", examples=["NL"])
    party_id: str = Field(pattern=r"^[A-Za-z0-9]{3}$", examples=["EMS"])
    role: Literal["EMSP", "HUB", "NSP", "NAP", "SCSP", "OTHER", "CPO"] = "EMSP"
    versions_url: str | None = Field(
        default=None,
        max_length=255,
        pattern=r"^https?://\S+$",
        description="The party's versions endpoint: csms registers with it at once (with `token`)",
    )
    token: str | None = Field(
        default=None, pattern=r"^[!-~]{1,64}$", description="The token A the party gave for its versions URL"
    )

    @model_validator(mode="after")
    def _url_with_token(self) -> PartyIn:
        if (self.versions_url is None) != (self.token is None):
            raise ValueError("versions_url and token come together: the party's versions endpoint and its token A")
        return self


class EndpointOut(BaseModel):
    identifier: str
    role: str
    url: str


class RoleOut(BaseModel):
    role: str
    country_code: str
    party_id: str
    business_name: str


class PartyOut(BaseModel):
    id: int
    country_code: str
    party_id: str
    role: str
    state: str = Field(description="PENDING, REGISTERED, SUSPENDED or UNREGISTERED")
    versions_url: str | None = Field(description="The party's versions endpoint, once known")
    version: str | None
    endpoints: list[EndpointOut] = Field(description="The endpoints of its version details")
    roles: list[RoleOut] = Field(description="The roles its credentials named")
    business_name: str | None
    last_error: str | None = Field(description="Why the last handshake csms started failed")
    created_at: datetime
    updated_at: datetime
    registered_at: datetime | None


class CreatedParty(PartyOut):
    token_a: str | None = Field(description="Shown once: the token the party registers with, with csms_versions_url")
    csms_versions_url: str = Field(description="csms's versions endpoint, to give the party")


class UnregisteredParty(BaseModel):
    told_party: bool = Field(description="Whether the party acknowledged the end of its registration")
    error: str | None = Field(description="Why it could not be told, if it could not")


@router.post("", status_code=status.HTTP_201_CREATED, responses={**_ERRORS, **_HANDSHAKE})
async def create_party(body: PartyIn, admin: AdminUser, session: SessionDep, runtime: RuntimeDep) -> CreatedParty:
    """A party: with its versions URL and token csms registers with it at once; without, the answer carries the
    token A the party registers with (shown once)."""
    if body.versions_url:
        _own_identity(runtime)
    party, token_a = await ocpi_parties.create_party(
        session,
        country_code=body.country_code,
        party_id=body.party_id,
        role=body.role,
        now=runtime.clock(),
        versions_url=body.versions_url,
        peer_token=body.token,
    )
    if body.versions_url:
        await _handshake(runtime, session, party, update=False)
    return CreatedParty(**_out(party).model_dump(), token_a=token_a, csms_versions_url=versions_url(runtime.settings))


@router.get("", responses=_ERRORS)
async def list_parties(admin: AdminUser, session: SessionDep) -> list[PartyOut]:
    """Every OCPI party, with its state and what it told csms (never its tokens)."""
    return [_out(party) for party in await ocpi_parties.list_parties(session)]


@router.get("/{ocpi_party_id}", responses=_ERRORS)
async def get_party(ocpi_party_id: int, admin: AdminUser, session: SessionDep) -> PartyOut:
    return _out(await ocpi_parties.get_party(session, ocpi_party_id))


@router.post("/{ocpi_party_id}/suspend", responses=_ERRORS)
async def suspend_party(ocpi_party_id: int, admin: AdminUser, session: SessionDep, runtime: RuntimeDep) -> PartyOut:
    """Refuse the party's requests (HTTP 403) and send it nothing until resumed."""
    party = await ocpi_parties.get_party(session, ocpi_party_id)
    await ocpi_parties.suspend(session, party, now=runtime.clock())
    return _out(party)


@router.post("/{ocpi_party_id}/resume", responses=_ERRORS)
async def resume_party(ocpi_party_id: int, admin: AdminUser, session: SessionDep, runtime: RuntimeDep) -> PartyOut:
    party = await ocpi_parties.get_party(session, ocpi_party_id)
    await ocpi_parties.resume(session, party, now=runtime.clock())
    return _out(party)


@router.post("/{ocpi_party_id}/update", responses={**_ERRORS, **_HANDSHAKE})
async def update_party(ocpi_party_id: int, admin: AdminUser, session: SessionDep, runtime: RuntimeDep) -> PartyOut:
    """Exchange new tokens with a registered party and learn its endpoints again (PUT on its credentials)."""
    party = await ocpi_parties.get_party(session, ocpi_party_id)
    if not ocpi_parties.is_registered(party):
        detail = f"OCPI party {party.country_code} {party.party_id} is not registered"
        raise HTTPException(status.HTTP_409_CONFLICT, detail)
    await _handshake(runtime, session, party, update=True)
    return _out(party)


@router.delete("/{ocpi_party_id}", responses=_ERRORS)
async def delete_party(
    ocpi_party_id: int, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> UnregisteredParty:
    """Forget a party; a registered one is told first (DELETE on its credentials), whether it answers or not."""
    party = await ocpi_parties.get_party(session, ocpi_party_id)
    error = None
    if ocpi_parties.is_registered(party):
        await session.commit()  # no transaction held open while the party answers
        error = await handshake.unregister_at(runtime.ocpi_client, party)
    told = ocpi_parties.is_registered(party) and error is None
    await ocpi_parties.delete_party(session, party)
    return UnregisteredParty(told_party=told, error=error)


def _own_identity(runtime: Runtime) -> None:
    try:
        own_party(runtime.settings)
    except IdentityMissing as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


async def _handshake(runtime: Runtime, session: SessionDep, party: OcpiParty, *, update: bool) -> None:
    _own_identity(runtime)
    try:
        await handshake.register_with(
            runtime.ocpi_client, session, party, settings=runtime.settings, now=runtime.clock(), update=update
        )
    except handshake.HandshakeFailed as error:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"OCPI {int(error.status)}: {error} (the party is kept, {party.state})"
        ) from None


def _out(party: OcpiParty) -> PartyOut:
    return PartyOut(
        id=party.id,
        country_code=party.country_code,
        party_id=party.party_id,
        role=party.role,
        state=party.state,
        versions_url=party.versions_url,
        version=party.version,
        endpoints=[EndpointOut(**asdict(e)) for e in ocpi_parties.endpoints_of(party)],
        roles=[RoleOut(**asdict(r)) for r in ocpi_parties.roles_of(party)],
        business_name=party.business_name,
        last_error=party.last_error,
        created_at=party.created_at,
        updated_at=party.updated_at,
        registered_at=party.registered_at,
    )
