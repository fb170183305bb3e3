"""Who calls: the party whose token the Authorization header carries, as FastAPI dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from csms.api.deps import RuntimeDep, SessionDep
from csms.ocpi.envelope import OcpiError, OcpiStatus, unauthorized
from csms.ocpi.headers import token_candidates
from csms.ocpi.identity import own_party
from csms.ocpi.routing import PartyRef, check_routing, routing_of
from csms.services import ocpi_parties
from csms.services.ocpi_parties import Caller


async def _caller(request: Request, session: SessionDep) -> Caller:
    candidates = token_candidates(request.headers.get("Authorization"))
    if not candidates:
        raise unauthorized("an OCPI request carries the header Authorization: Token <base64 of the token>")
    caller = await ocpi_parties.caller_of(session, candidates)
    if caller is None:
        raise unauthorized("unknown credentials token")
    if caller.party.state == ocpi_parties.SUSPENDED:
        party = caller.party
        raise OcpiError(
            OcpiStatus.CLIENT_ERROR, f"OCPI party {party.country_code} {party.party_id} is suspended", http_status=403
        )
    return caller


# Versions and credentials: token A before registration, the registered token after.
ConfigurationCaller = Annotated[Caller, Depends(_caller)]


@dataclass(frozen=True, slots=True)
class PartyCall:
    """A functional-module request: the registered party that sent it and the party it speaks for."""

    caller: Caller
    sender: PartyRef


async def _functional_caller(request: Request, caller: ConfigurationCaller, runtime: RuntimeDep) -> PartyCall:
    """A registered party on a functional module (locations, tokens, ...), its routing headers checked."""
    if caller.is_token_a or not ocpi_parties.is_registered(caller.party):
        raise unauthorized("this module needs a registered party's credentials token, not the registration token")
    party = caller.party
    senders = [PartyRef(party.country_code, party.party_id)]
    senders += [PartyRef(r.country_code, r.party_id) for r in ocpi_parties.roles_of(party)]
    sender = check_routing(
        routing_of(request.headers),
        own=own_party(runtime.settings),
        via_hub=party.role == "HUB",
        known_senders=senders,
    )
    return PartyCall(caller=caller, sender=sender)


FunctionalCaller = Annotated[PartyCall, Depends(_functional_caller)]
