"""The credentials handshake with a party (§7.1): learning its versions and endpoints, exchanging tokens.

csms is the receiver when the party POSTs (credentials.py calls `platform_of`), and the sender when an operator
gives it the party's versions URL and token A (`register_with`); PUT updates and DELETE unregisters either way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from csms.config import Settings
from csms.db.models import OcpiParty
from csms.ocpi.client import OcpiClient, PeerError
from csms.ocpi.envelope import OcpiStatus
from csms.ocpi.identity import VERSION, own_party, versions_url
from csms.ocpi.schemas import BusinessDetails, Credentials, CredentialsRole, Version, VersionDetails
from csms.services import ocpi_parties
from csms.services.errors import InvalidInput
from csms.services.ocpi_parties import Endpoint, PeerPlatform

_Model = TypeVar("_Model")


class HandshakeFailed(Exception):
    """The party could not be registered with; `status` is the OCPI status code that says why (§5.3)."""

    def __init__(self, status: OcpiStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def own_credentials(settings: Settings, token: str) -> dict[str, Any]:
    """csms's credentials object: the token the party is to use, csms's versions URL and its CPO role."""
    own = own_party(settings)
    role = CredentialsRole(
        role="CPO",
        business_details=BusinessDetails(name=own.business_name),
        party_id=own.party_id,
        country_code=own.country_code,
    )
    credentials = Credentials(token=token, url=versions_url(settings), roles=[role])
    return credentials.model_dump(exclude_none=True)


async def discover(client: OcpiClient, url: str, token: str) -> tuple[Endpoint, ...]:
    """The party's 2.2.1 endpoints, from its versions URL (3002 when it offers no 2.2.1, 3003 without credentials)."""
    versions = _parse(list[Version], await _call(client, "GET", url, token=token), what="versions")
    match = next((version for version in versions if version.version == VERSION), None)
    if match is None:
        offered = ", ".join(version.version for version in versions) or "none"
        raise HandshakeFailed(
            OcpiStatus.UNSUPPORTED_VERSION, f"the party offers OCPI {offered}; csms speaks {VERSION} only"
        )
    details = _parse(VersionDetails, await _call(client, "GET", match.url, token=token), what="version details")
    endpoints = details.domain_endpoints()
    if _credentials_url(endpoints) is None:
        raise HandshakeFailed(OcpiStatus.NO_MATCHING_ENDPOINTS, f"the party's {VERSION} endpoints have no credentials")
    return endpoints


async def platform_of(client: OcpiClient, credentials: Credentials) -> PeerPlatform:
    """csms as the receiver of a POST or PUT: what the party is, fetched with the token it gave (§7.2.2)."""
    endpoints = await discover(client, credentials.url, credentials.token)
    return PeerPlatform(
        token=credentials.token,
        versions_url=credentials.url,
        version=VERSION,
        endpoints=endpoints,
        roles=credentials.party_roles(),
    )


async def register_with(
    client: OcpiClient, session: AsyncSession, party: OcpiParty, *, settings: Settings, now: datetime, update: bool
) -> None:
    """csms as the sender: POST (or PUT, `update`) its credentials with a new token B and keep the C the party
    answers with. A failure leaves the party as it was, with the error to show."""
    own_party(settings)  # no identity, no handshake
    previous = party.token_digest
    try:
        peer = await _exchange(client, session, party, settings=settings, now=now, method="PUT" if update else "POST")
    except HandshakeFailed as error:
        await ocpi_parties.record_failure(session, party, str(error), now=now, restore_digest=previous)
        raise
    await ocpi_parties.complete_registration(session, party, peer, now=now)


async def _exchange(
    client: OcpiClient, session: AsyncSession, party: OcpiParty, *, settings: Settings, now: datetime, method: str
) -> PeerPlatform:
    if not party.versions_url or not party.peer_token:
        raise HandshakeFailed(OcpiStatus.CLIENT_ERROR, "csms knows no versions URL and token of this party")
    versions, token = party.versions_url, party.peer_token
    endpoints = await discover(client, versions, token)
    token_b, _ = await ocpi_parties.offer_token(session, party, now=now)
    url = _credentials_url(endpoints) or ""
    answer = await _call(client, method, url, token=token, body=own_credentials(settings, token_b))
    credentials = _parse(Credentials, answer, what="credentials")
    try:
        ocpi_parties.check_roles_name(party, credentials.party_roles())
    except InvalidInput as error:
        raise HandshakeFailed(OcpiStatus.CLIENT_API_UNUSABLE, str(error)) from None
    return PeerPlatform(credentials.token, versions, VERSION, endpoints, credentials.party_roles())


async def unregister_at(client: OcpiClient, party: OcpiParty) -> str | None:
    """Tell a registered party csms ends the registration (DELETE on its credentials, §7.2.4); the error, if any."""
    url = ocpi_parties.endpoint_url(party, "credentials")
    if url is None or party.peer_token is None:
        return "csms knows no credentials endpoint of this party"
    try:
        await client.call("DELETE", url, token=party.peer_token)
    except PeerError as error:
        return str(error)
    return None


def _credentials_url(endpoints: tuple[Endpoint, ...]) -> str | None:
    # The role of a credentials endpoint has no meaning (§6.2.2 NOTE): any will do.
    return next((endpoint.url for endpoint in endpoints if endpoint.identifier == "credentials"), None)


async def _call(client: OcpiClient, method: str, url: str, *, token: str, body: Any = None) -> Any:
    try:
        return await client.call(method, url, token=token, body=body)
    except PeerError as error:
        raise HandshakeFailed(OcpiStatus.CLIENT_API_UNUSABLE, str(error)) from None


def _parse(model: type[_Model], data: Any, *, what: str) -> _Model:
    try:
        return TypeAdapter(model).validate_python(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in problem['loc']) or what}: {problem['msg']}" for problem in error.errors()[:3]
        )
        message = f"the party's {what} are not OCPI {VERSION}: {problems}"
        raise HandshakeFailed(OcpiStatus.CLIENT_API_UNUSABLE, message) from None
