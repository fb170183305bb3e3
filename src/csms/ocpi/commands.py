"""The commands module (§13) with csms as the RECEIVER: an eMSP asks a charger to start or stop a session, to
reserve an EVSE or cancel that, or to unlock a connector; csms answers at once (CommandResponse) and POSTs the
charger's answer to the eMSP's response_url (CommandResult) once it came, on whichever OCPP version the charger
speaks.

The rules live in services/ocpi_commands.py and the services it reuses; the charger is asked through the one
command router (runtime.commands), as the app and the admin API ask it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta
from typing import Any, TypeVar

from fastapi import APIRouter, Body, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from csms.api.deps import RuntimeDep, SessionDep
from csms.db.models import Charger, OcpiParty, Reservation
from csms.domain.commands import CancelReservation, RemoteStart, RemoteStop, ReserveNow, new_remote_start_id
from csms.ocpi import command_schemas
from csms.ocpi.auth import FunctionalCaller, PartyCall
from csms.ocpi.client import PeerError, PeerNotAllowed, PeerRefused
from csms.ocpi.command_schemas import CommandResultType, CommandType
from csms.ocpi.envelope import OcpiError, OcpiStatus, ocpi_response
from csms.ocpi.identity import VERSION, own_party
from csms.ocpi.location_objects import evse_uid
from csms.ocpi.route import OcpiRoute, correlation_id_of
from csms.ocpi.routing import PartyRef
from csms.ocpi.token_schemas import Token
from csms.ocpi.versions import ModuleEndpoint, OcpiModule
from csms.ocpp import commands as ocpp_commands
from csms.runtime import Runtime
from csms.services import ocpi_commands, ocpi_locations, ocpi_parties, ocpi_tokens, reservations
from csms.services.chargers import OCPP_16
from csms.services.errors import NotFound
from csms.services.ocpi_commands import CommandRefused, UnknownSession
from csms.services.ocpi_locations import EvseView

logger = logging.getLogger(__name__)

router = APIRouter(prefix=f"/ocpi/{VERSION}/commands", route_class=OcpiRoute, include_in_schema=False)
MODULE = OcpiModule(router, (ModuleEndpoint("commands", "RECEIVER", "commands"),))

# The eMSP waits this much longer than csms waits for the charger, for the result to reach it.
_RESULT_MARGIN = 10
# A result the eMSP could not take (away, 5xx, 3xxx) is sent again after 1, 2 and 4 seconds.
_RESULT_ATTEMPTS = 4
# A START_SESSION's token opens the charger for this long (the driver may still have to plug in).
_START_WINDOW = 300.0
_NOT_IMPLEMENTED = ("NotImplemented", "NotSupported")
Model = TypeVar("Model", bound=BaseModel)


@router.post("/{command}")
async def receive_command(
    command: CommandType,
    request: Request,
    call: FunctionalCaller,
    session: SessionDep,
    runtime: RuntimeDep,
    body: Any = Body(),  # noqa: B008 (FastAPI's way to take any JSON body)
) -> Response:
    timeout = int(runtime.settings.ocpp_call_timeout) + _RESULT_MARGIN
    try:
        answer = await _COMMANDS[command](body, _Context(request, call, session, runtime))
    except CommandRefused as refusal:
        answer = command_schemas.command_response("REJECTED", timeout=timeout, message=str(refusal))
    except UnknownSession as unknown:
        answer = command_schemas.command_response("UNKNOWN_SESSION", timeout=timeout, message=str(unknown))
    if answer is None:
        answer = command_schemas.command_response("ACCEPTED", timeout=timeout)
    return ocpi_response(answer, now=runtime.clock())


class _Context:
    def __init__(self, request: Request, call: PartyCall, session: AsyncSession, runtime: Runtime) -> None:
        self.call, self.session, self.runtime = call, session, runtime
        self.correlation_id = correlation_id_of(request)
        # Read now: the party's row expires when the token a START_SESSION carries is stored.
        self.party_key, self.sender = call.caller.party.id, call.sender

    def answer_later(self, response_url: str, work: Any, *, what: str) -> None:
        """Carry out `work` (the charger's answer as a CommandResult) and POST it to the response_url."""
        delivery = _deliver(self.runtime, (self.party_key, self.sender), response_url, work, self.correlation_id)
        self.runtime.background.spawn(delivery, name=f"ocpi-command-{what}")


async def _start_session(body: Any, context: _Context) -> dict[str, object] | None:
    request = _parsed(command_schemas.StartSession, body)
    token = _own_token(request.token, context)
    session, runtime = context.session, context.runtime
    if request.evse_uid is None:
        evse = await _evse_to_start_on(session, request.location_id, runtime)
    else:
        evse = await _evse(session, request.location_id, request.evse_uid, request.connector_id, runtime)
    charger = await session.get(Charger, evse.charge_point_id)
    ocpp_version = (charger.ocpp_version if charger is not None else None) or OCPP_16
    ocpi_commands.check_id_tag(token.uid, ocpp_version=ocpp_version)
    refusal = await ocpi_commands.start_refusal(
        session, charge_point_id=evse.charge_point_id, connector_id=evse.connector_id, is_connected=evse.is_connected
    )
    if refusal is not None:
        raise CommandRefused(refusal)
    # The command's token authorizes the charge: kept as if pushed, and the charger's start is the command's.
    if not token.valid:
        raise CommandRefused(f"token {token.uid} is not valid")
    stored = await ocpi_tokens.put_token(
        session, await _party(session, context.party_key), token.values(), now=runtime.clock()
    )
    await ocpi_tokens.open_for_command(
        session,
        stored,
        charge_point_id=evse.charge_point_id,
        authorization_reference=request.authorization_reference,
        until=runtime.clock() + timedelta(seconds=_START_WINDOW),
    )
    start = RemoteStart(
        connector_id=evse.connector_id,
        id_token=token.uid,
        remote_start_id=new_remote_start_id(),
        id_token_type=ocpi_commands.id_token_type(token.type),
    )
    context.answer_later(request.response_url, _ask(runtime, evse.charge_point_id, start), what="start")
    return None


async def _stop_session(body: Any, context: _Context) -> dict[str, object] | None:
    request = _parsed(command_schemas.StopSession, body)
    charge = await ocpi_commands.charge_to_stop(
        context.session, party_key=context.party_key, session_id=request.session_id
    )
    stop = RemoteStop(transaction_id=charge.transaction_id, transaction_key=charge.transaction_key)
    context.answer_later(request.response_url, _ask(context.runtime, charge.charge_point_id, stop), what="stop")
    return None


async def _unlock_connector(body: Any, context: _Context) -> dict[str, object] | None:
    request = _parsed(command_schemas.UnlockConnector, body)
    evse = await _evse(context.session, request.location_id, request.evse_uid, request.connector_id, context.runtime)
    charger = await context.session.get(Charger, evse.charge_point_id)
    if charger is None or charger.ocpp_version == OCPP_16:
        payload: dict[str, Any] = {"connectorId": evse.connector_id}
    else:
        payload = {"evseId": evse.connector_id, "connectorId": evse.evse_connector_id}
    work = _ask_call(context.runtime, evse.charge_point_id, "UnlockConnector", payload)
    context.answer_later(request.response_url, work, what="unlock")
    return None


async def _reserve_now(body: Any, context: _Context) -> dict[str, object] | None:
    request = _parsed(command_schemas.ReserveNow, body)
    token = _own_token(request.token, context)
    session, runtime, now = context.session, context.runtime, context.runtime.clock()
    if request.evse_uid is None:
        evse = await _evse_to_reserve(session, request.location_id, runtime, context.party_key, request.reservation_id)
    else:
        evse = await _evse(session, request.location_id, request.evse_uid, None, runtime)
    if not evse.is_connected:
        raise CommandRefused(f"charger {evse.charge_point_id} is offline")
    charger = await session.get(Charger, evse.charge_point_id)
    ocpi_commands.check_id_tag(token.uid, ocpp_version=(charger.ocpp_version if charger else None) or OCPP_16)
    stored = await ocpi_tokens.put_token(session, await _party(session, context.party_key), token.values(), now=now)
    reservation = await ocpi_commands.reserve(
        session,
        party_key=context.party_key,
        reservation_id=request.reservation_id,
        charge_point_id=evse.charge_point_id,
        connector_id=evse.connector_id,
        token=stored,
        expires_at=request.expiry_date,
        max_duration=timedelta(minutes=runtime.settings.max_reservation_minutes),
        now=now,
    )
    command = dataclasses.replace(
        reservations.reserve_now(reservation), id_token_type=ocpi_commands.id_token_type(token.type)
    )
    work = _ask_reservation(runtime, reservation.id, evse.charge_point_id, command)
    context.answer_later(request.response_url, work, what="reserve")
    return None


async def _cancel_reservation(body: Any, context: _Context) -> dict[str, object] | None:
    request = _parsed(command_schemas.CancelReservation, body)
    reservation = await ocpi_commands.reservation_to_cancel(
        context.session, party_key=context.party_key, reservation_id=request.reservation_id, now=context.runtime.clock()
    )
    if reservation is None:
        context.answer_later(request.response_url, _known("UNKNOWN_RESERVATION"), what="cancel")
        return None
    work = _ask_reservation(context.runtime, reservation.id, reservation.charge_point_id, None)
    context.answer_later(request.response_url, work, what="cancel")
    return None


_COMMANDS = {
    "START_SESSION": _start_session,
    "STOP_SESSION": _stop_session,
    "UNLOCK_CONNECTOR": _unlock_connector,
    "RESERVE_NOW": _reserve_now,
    "CANCEL_RESERVATION": _cancel_reservation,
}


def _own_token(token: Token, context: _Context) -> Token:
    """The token of a command is the eMSP's own (§13.3.5: the eMSP's Token object)."""
    if PartyRef(token.country_code.upper(), token.party_id.upper()) != context.sender:
        raise OcpiError(OcpiStatus.INVALID_PARAMETERS, f"the token is not of {context.sender}, who sends this")
    return token


async def _party(session: AsyncSession, party_key: int) -> OcpiParty:
    party = await session.get(OcpiParty, party_key)
    if party is None:
        raise NotFound("the party is gone")
    return party


def _parsed(model: type[Model], body: Any) -> Model:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        problems = [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors(include_url=False)]
        raise RequestValidationError(problems, body=body) from None


async def _evses_of(session: AsyncSession, location_id: str, runtime: Runtime) -> tuple[EvseView, ...]:
    """The EVSEs of a Location csms publishes, as they are now; OCPI 2003 for any other."""
    location = None
    if location_id.isdigit() and len(location_id) <= 18:
        try:
            location = await ocpi_locations.get_location(session, int(location_id))
        except NotFound:
            location = None
    if location is None or not location.publish:
        raise OcpiError(OcpiStatus.UNKNOWN_LOCATION, f"no location {location_id}")
    (view,) = await ocpi_locations.views_of(session, [location], now=runtime.clock())
    return view.evses


async def _evse_to_start_on(session: AsyncSession, location_id: str, runtime: Runtime) -> EvseView:
    """A START_SESSION without evse_uid (optional in StartSession: the CPO chooses): the first EVSE of the
    Location a driver may start on now, one where a car is plugged in and waits (Preparing) before an Available one."""
    evses = sorted(await _evses_of(session, location_id, runtime), key=lambda evse: evse.status != "Preparing")
    for evse in evses:
        refusal = await ocpi_commands.start_refusal(
            session,
            charge_point_id=evse.charge_point_id,
            connector_id=evse.connector_id,
            is_connected=evse.is_connected,
        )
        if refusal is None:
            return evse
    raise CommandRefused(f"no EVSE of location {location_id} is free to start on now")


async def _evse_to_reserve(
    session: AsyncSession, location_id: str, runtime: Runtime, party_key: int, reservation_id: str
) -> EvseView:
    """A RESERVE_NOW without evse_uid: the EVSE the reservation already holds when it is renewed, else the first
    Available one of the Location on a connected charger that no reservation holds."""
    evses = await _evses_of(session, location_id, runtime)
    held = await ocpi_commands.reserved_connector(session, party_key=party_key, reservation_id=reservation_id)
    if held is not None:
        for evse in evses:
            if (evse.charge_point_id, evse.connector_id) == held:
                return evse
        raise CommandRefused(f"reservation {reservation_id} is for an EVSE of another location: cancel it first")
    for evse in evses:
        if evse.is_connected and evse.status == "Available":
            if not await reservations.is_connector_reserved(
                session, charge_point_id=evse.charge_point_id, connector_id=evse.connector_id, now=runtime.clock()
            ):
                return evse
    raise CommandRefused(f"no EVSE of location {location_id} can be reserved now")


async def _evse(
    session: AsyncSession, location_id: str, uid: str, connector_id: str | None, runtime: Runtime
) -> EvseView:
    """The EVSE an eMSP names by its Location and EVSE uid (ocpi/location_objects.py makes them); OCPI 2003
    when csms publishes no such EVSE."""
    for evse in await _evses_of(session, location_id, runtime):
        if evse_uid(evse.charge_point_id, evse.connector_id) == uid:
            if connector_id is not None and connector_id != str(evse.evse_connector_id):
                raise OcpiError(OcpiStatus.UNKNOWN_LOCATION, f"EVSE {uid} has no connector {connector_id}")
            return evse
    raise OcpiError(OcpiStatus.UNKNOWN_LOCATION, f"location {location_id} has no EVSE {uid}")


# -- the charger's answer, to the eMSP -------------------------------------------------------------------------


async def _ask(runtime: Runtime, charge_point_id: str, command: Any) -> tuple[CommandResultType, str | None]:
    try:
        answer = await runtime.commands.send_command(charge_point_id, command)
    except ocpp_commands.CommandError as error:
        return _failure(error)
    return _read(answer)


async def _ask_call(
    runtime: Runtime, charge_point_id: str, action: str, payload: dict[str, Any]
) -> tuple[CommandResultType, str | None]:
    try:
        answer = await runtime.commands.send(charge_point_id, action, payload)
    except ocpp_commands.CommandError as error:
        return _failure(error)
    return _read(answer)


async def _ask_reservation(
    runtime: Runtime, reservation_key: int, charge_point_id: str, command: ReserveNow | None
) -> tuple[CommandResultType, str | None]:
    """ReserveNow (`command`) or, without one, CancelReservation; the charger's answer kept on the reservation,
    as the app's reservations keep it (api/reservations.py)."""
    try:
        answer = await runtime.commands.send_command(charge_point_id, command or CancelReservation(reservation_key))
    except ocpp_commands.CommandError as error:
        if command is not None:
            await _record_reservation(runtime, reservation_key, "SendFailed")
        return _failure(error)
    status = str(answer.get("status"))
    if command is not None:
        await _record_reservation(runtime, reservation_key, status)
        return _read(answer)
    if status == "Accepted":
        await _record_reservation(runtime, reservation_key, reservations.CANCELLED)
    return _read(answer, rejected="UNKNOWN_RESERVATION")


async def _record_reservation(runtime: Runtime, reservation_key: int, status: str) -> None:
    async with runtime.session_factory() as session:
        reservation = await session.get(Reservation, reservation_key)
        if reservation is not None:
            await reservations.record_status(session, reservation, status, now=runtime.clock())


async def _known(result: CommandResultType) -> tuple[CommandResultType, str | None]:
    return result, None


def _read(answer: dict[str, Any], *, rejected: str = "REJECTED") -> tuple[CommandResultType, str | None]:
    status = answer.get("status")
    result: CommandResultType = ocpi_commands.result_of(status, rejected=rejected)  # type: ignore[assignment]
    return result, None if result == "ACCEPTED" else f"the charger answered {status}"


def _failure(error: ocpp_commands.CommandError) -> tuple[CommandResultType, str | None]:
    if isinstance(error, ocpp_commands.ChargerTimeout):
        return "TIMEOUT", "the charger did not answer in time"
    if isinstance(error, ocpp_commands.ChargerRejected) and error.error_code in _NOT_IMPLEMENTED:
        return "NOT_SUPPORTED", str(error)
    return "FAILED", str(error)


async def _deliver(runtime: Runtime, to: tuple[int, PartyRef], url: str, work: Any, correlation_id: str) -> None:
    result, message = await work
    body = command_schemas.command_result(result, message)
    own = own_party(runtime.settings)
    routing = (PartyRef(own.country_code, own.party_id), to[1])
    for attempt in range(1, _RESULT_ATTEMPTS + 1):
        async with runtime.session_factory() as session:
            party = await session.get(OcpiParty, to[0])
        if party is None or not ocpi_parties.is_registered(party) or party.peer_token is None:
            logger.warning("OCPI command result %s for %s not sent: the party is not registered", result, url)
            return
        try:
            await runtime.ocpi_client.call(
                "POST", url, token=party.peer_token, body=body, correlation_id=correlation_id, routing=routing
            )
            return
        except PeerError as error:
            if _for_good(error) or attempt == _RESULT_ATTEMPTS:
                logger.warning("OCPI command result %s for %s not delivered: %s", result, url, error)
                return
        await asyncio.sleep(2 ** (attempt - 1))


def _for_good(error: PeerError) -> bool:
    """The eMSP cannot take this result ever: an address csms may not call, or 2xxx (the object is wrong)."""
    if isinstance(error, PeerNotAllowed):
        return True
    return isinstance(error, PeerRefused) and error.status_code is not None and 2000 <= error.status_code < 3000
