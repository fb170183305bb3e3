"""The credentials module (§7) with csms as the server: a party registers (POST with token A), reads csms's
credentials (GET), updates them (PUT) and unregisters (DELETE)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from csms.api.deps import RuntimeDep, SessionDep
from csms.ocpi import handshake
from csms.ocpi.auth import ConfigurationCaller
from csms.ocpi.envelope import OcpiError, OcpiStatus, ocpi_response
from csms.ocpi.identity import VERSION, own_party
from csms.ocpi.route import OcpiRoute
from csms.ocpi.schemas import Credentials
from csms.ocpi.versions import ModuleEndpoint, OcpiModule
from csms.runtime import Runtime
from csms.services import ocpi_parties
from csms.services.ocpi_parties import Caller

router = APIRouter(prefix=f"/ocpi/{VERSION}/credentials", route_class=OcpiRoute, include_in_schema=False)
# The role of a credentials endpoint means nothing; SENDER is what §6.2.2 advises.
MODULE = OcpiModule(router, (ModuleEndpoint("credentials", "SENDER", "credentials"),))


@router.get("")
async def get_credentials(caller: ConfigurationCaller, runtime: RuntimeDep) -> Response:
    return ocpi_response(handshake.own_credentials(runtime.settings, caller.token), now=runtime.clock())


@router.post("")
async def register(
    body: Credentials, caller: ConfigurationCaller, session: SessionDep, runtime: RuntimeDep
) -> Response:
    if not caller.is_token_a:
        raise _not_allowed("this party is registered already; PUT updates its credentials")
    return await _accept(body, caller, session, runtime)


@router.put("")
async def update(body: Credentials, caller: ConfigurationCaller, session: SessionDep, runtime: RuntimeDep) -> Response:
    if caller.is_token_a or not ocpi_parties.is_registered(caller.party):
        raise _not_allowed("this party is not registered yet; POST registers it")
    return await _accept(body, caller, session, runtime)


@router.delete("")
async def unregister(caller: ConfigurationCaller, session: SessionDep, runtime: RuntimeDep) -> Response:
    if caller.is_token_a or not ocpi_parties.is_registered(caller.party):
        raise _not_allowed("this party is not registered")
    await ocpi_parties.unregister(session, caller.party, now=runtime.clock())
    return ocpi_response(None, now=runtime.clock())


async def _accept(body: Credentials, caller: Caller, session: SessionDep, runtime: Runtime) -> Response:
    """Fetch the party's versions and endpoints with the token it gave, then answer with a new token C."""
    own_party(runtime.settings)
    ocpi_parties.check_roles_name(caller.party, body.party_roles())
    await session.commit()  # no transaction held open while the party answers
    try:
        peer = await handshake.platform_of(runtime.ocpi_client, body)
    except handshake.HandshakeFailed as error:
        raise OcpiError(error.status, str(error)) from None
    token_c = await ocpi_parties.accept_registration(session, caller.party, peer, now=runtime.clock())
    return ocpi_response(handshake.own_credentials(runtime.settings, token_c), now=runtime.clock())


def _not_allowed(message: str) -> OcpiError:
    # §7.2.2-7.2.4: POST once registered, PUT or DELETE before, are answered 405.
    return OcpiError(OcpiStatus.CLIENT_ERROR, message, http_status=405)
