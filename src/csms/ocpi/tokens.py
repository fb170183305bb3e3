"""The tokens module (§12) with csms as the receiver: eMSPs push their tokens (PUT, PATCH) and check them (GET);
and csms's real-time authorization requests to an eMSP (§12.2.2.2), for services/ocpi_tokens.py."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response
from pydantic import ValidationError

from csms.api.deps import RuntimeDep, SessionDep
from csms.db.models import OcpiParty, OcpiToken
from csms.ocpi.auth import FunctionalCaller, PartyCall
from csms.ocpi.client import PeerError, PeerRefused
from csms.ocpi.envelope import OcpiError, OcpiStatus, ocpi_response
from csms.ocpi.identity import VERSION, IdentityMissing, own_party
from csms.ocpi.location_objects import evse_uid
from csms.ocpi.route import OcpiRoute
from csms.ocpi.routing import PartyRef
from csms.ocpi.token_schemas import AuthorizationInfo, LocationReferences, Token, TokenPatch, TokenType
from csms.ocpi.versions import ModuleEndpoint, OcpiModule
from csms.runtime import Runtime
from csms.services import ocpi_locations, ocpi_parties, ocpi_tokens
from csms.services.ocpi_tokens import Place, RealtimeAnswer, RealtimeUnavailable, StoredToken

logger = logging.getLogger(__name__)

router = APIRouter(prefix=f"/ocpi/{VERSION}/tokens", route_class=OcpiRoute, include_in_schema=False)
MODULE = OcpiModule(router, (ModuleEndpoint("tokens", "RECEIVER", "tokens"),))

CountryCodeSegment = Annotated[str, Path(pattern=r"^[A-Za-z]{2}$")]
PartyIdSegment = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{3}$")]
UidSegment = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[ -~]+$")]
TypeParameter = Annotated[TokenType, Query()]


@router.get("/{country_code}/{party_id}/{token_uid}")
async def get_token(
    country_code: CountryCodeSegment,
    party_id: PartyIdSegment,
    token_uid: UidSegment,
    call: FunctionalCaller,
    session: SessionDep,
    runtime: RuntimeDep,
    type: TypeParameter = "RFID",
) -> Response:
    token = await _stored(session, call, country_code, party_id, token_uid, type)
    return ocpi_response(Token.wire(ocpi_tokens.token_values(token)), now=runtime.clock())


@router.put("/{country_code}/{party_id}/{token_uid}")
async def put_token(
    country_code: CountryCodeSegment,
    party_id: PartyIdSegment,
    token_uid: UidSegment,
    body: Token,
    call: FunctionalCaller,
    session: SessionDep,
    runtime: RuntimeDep,
    type: TypeParameter = "RFID",
) -> Response:
    _check_owner(call, country_code, party_id)
    # §12.2.1.2: the URL's country code and party id SHALL be the token's; its uid and type name it too.
    if (body.country_code.upper(), body.party_id.upper()) != (country_code.upper(), party_id.upper()):
        raise OcpiError(OcpiStatus.INVALID_PARAMETERS, "the token's country_code and party_id are not the URL's")
    if ocpi_tokens.uid_key(body.uid) != ocpi_tokens.uid_key(token_uid) or body.type != type:
        raise OcpiError(
            OcpiStatus.INVALID_PARAMETERS, "the token's uid and type are not the URL's (type: RFID unless given)"
        )
    await ocpi_tokens.put_token(session, call.caller.party, body.values(), now=runtime.clock())
    return ocpi_response(None, now=runtime.clock())


@router.patch("/{country_code}/{party_id}/{token_uid}")
async def patch_token(
    country_code: CountryCodeSegment,
    party_id: PartyIdSegment,
    token_uid: UidSegment,
    body: TokenPatch,
    call: FunctionalCaller,
    session: SessionDep,
    runtime: RuntimeDep,
    type: TypeParameter = "RFID",
) -> Response:
    token = await _stored(session, call, country_code, party_id, token_uid, type)
    await ocpi_tokens.patch_token(session, token, body.changes(), now=runtime.clock())
    return ocpi_response(None, now=runtime.clock())


def _check_owner(call: PartyCall, country_code: str, party_id: str) -> None:
    """Tokens are client-owned objects (§3.3.2): a party reaches its own only."""
    named = PartyRef(country_code.upper(), party_id.upper())
    if named != call.sender:
        raise OcpiError(
            OcpiStatus.CLIENT_ERROR,
            f"this request speaks for {call.sender}; the tokens of {named} are not its own",
            http_status=403,
        )


async def _stored(
    session: SessionDep, call: PartyCall, country_code: str, party_id: str, uid: str, token_type: str
) -> OcpiToken:
    _check_owner(call, country_code, party_id)
    token = await ocpi_tokens.find_token(
        session, country_code=country_code, party_id=party_id, uid=uid, token_type=token_type
    )
    if token is None:
        raise OcpiError(
            OcpiStatus.UNKNOWN_TOKEN, f"csms holds no {token_type} token {uid} of {call.sender}", http_status=404
        )
    return token


# -- csms asks an eMSP -----------------------------------------------------------------------------------------


class RealtimeAuthorization:
    """POST {eMSP tokens endpoint}/{uid}/authorize?type=... with the place (§12.2.2.2)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def __call__(self, token: StoredToken, place: Place | None) -> RealtimeAnswer:
        runtime = self._runtime
        async with runtime.session_factory() as session:
            party = await session.get(OcpiParty, token.ocpi_party_key)
        url, peer_token = _tokens_endpoint(party)
        try:
            own = own_party(runtime.settings)
        except IdentityMissing as error:
            raise RealtimeUnavailable(str(error)) from None
        try:
            data = await runtime.ocpi_client.call(
                "POST",
                f"{url.rstrip('/')}/{quote(token.uid, safe='')}/authorize?type={token.type}",
                token=peer_token,
                body=await _location(runtime, place),
                routing=(PartyRef(own.country_code, own.party_id), PartyRef(token.country_code, token.party_id)),
            )
        except PeerRefused as error:
            if error.http_status == 404 or error.status_code == OcpiStatus.UNKNOWN_TOKEN:
                return RealtimeAnswer(ocpi_tokens.UNKNOWN)
            raise RealtimeUnavailable(str(error)) from None
        except PeerError as error:
            raise RealtimeUnavailable(str(error)) from None
        try:
            info = AuthorizationInfo.model_validate(data)
        except ValidationError as error:
            raise RealtimeUnavailable(f"the eMSP's answer is no AuthorizationInfo: {error.errors()[:2]}") from None
        return RealtimeAnswer(info.allowed, info.authorization_reference)


def _tokens_endpoint(party: OcpiParty | None) -> tuple[str, str]:
    if party is None or not ocpi_parties.is_registered(party) or party.peer_token is None:
        raise RealtimeUnavailable("the token's party is not registered")
    url = ocpi_parties.endpoint_url(party, "tokens", "SENDER")
    if url is None:
        raise RealtimeUnavailable(f"{party.country_code} {party.party_id} has no tokens SENDER endpoint")
    return url, party.peer_token


async def _location(runtime: Runtime, place: Place | None) -> dict[str, object] | None:
    """The place a token is presented at (§12.4.1 LocationReferences): the OCPI location its charger is on, and
    the EVSE when a start names its connector; nothing for a charger on no location (csms publishes none
    for it, so the eMSP could not know it)."""
    if place is None:
        return None
    async with runtime.session_factory() as session:
        location_id = await ocpi_locations.location_of(session, place.charge_point_id)
    if location_id is None:
        return None
    evse_uids = [evse_uid(place.charge_point_id, place.connector_id)] if place.connector_id else None
    return LocationReferences(location_id=str(location_id), evse_uids=evse_uids).model_dump(exclude_none=True)


def attach_roaming(runtime: Runtime) -> None:
    """Roaming tokens answer the tags csms does not know, once csms is an OCPI party (it has an identity)."""
    settings = runtime.settings
    if not settings.ocpi_country_code or not settings.ocpi_party_id:
        return
    runtime.tags.roaming = ocpi_tokens.RoamingTokens(
        runtime.engine,
        RealtimeAuthorization(runtime),
        deadline=settings.ocpi_authorize_timeout,
        reuse=settings.ocpi_authorize_reuse,
        outage_reuse=settings.ocpi_authorize_outage_reuse,
        max_age=settings.cache_max_age,
    )
