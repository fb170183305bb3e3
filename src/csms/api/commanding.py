"""Calls from the REST layer to chargers: checked, sent, and what the answer changes recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.ocpp.commands import CallChecks, ChargerTimeout, CommandError, CommandRefused
from csms.ocpp.rpc import CallNotSent
from csms.ocpp.versions import supported
from csms.runtime import Runtime
from csms.services import certificate_requests, charger_calls, chargers, security_profiles
from csms.services.errors import DomainError


async def send_and_record(
    runtime: Runtime, charge_point_id: str, action: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Send one call (see CommandRouter.send for its errors) and keep what the charger's answer changed."""
    await _check_request(runtime.session_factory, charge_point_id, action, payload)
    if certificate_requests.is_request_trigger(action, payload):
        answer = await _trigger_certificate_request(runtime, charge_point_id, action, payload)
    else:
        answer = await runtime.commands.send(charge_point_id, action, payload)
    async with runtime.session_factory() as session:
        version = supported(await chargers.ocpp_version(session, charge_point_id))
        await charger_calls.record_answer(
            session,
            version=version.name,
            charge_point_id=charge_point_id,
            action=action,
            payload=payload,
            answer=answer,
            now=runtime.clock(),
        )
        command = version.read_call(action, payload)
        if command is not None:
            await charger_calls.record_command(
                session,
                charge_point_id=charge_point_id,
                command=command,
                answer=version.read_answer(command, answer),
                now=runtime.clock(),
            )
    return answer


async def _trigger_certificate_request(
    runtime: Runtime, charge_point_id: str, action: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """ExtendedTriggerMessage(SignChargePointCertificate), or 2.0.1's TriggerMessage(SignChargingStationCertificate):
    csms expects the CSR from before the call leaves,
    since the charger may send it before its answer is read. A charger that declines, or never got the call,
    owes no CSR: the window is closed again. One that did not answer in time may still send it."""
    async with runtime.session_factory() as session:
        await certificate_requests.open_window(
            session, charge_point_id, seconds=runtime.settings.certificate_request_window
        )
    try:
        answer = await runtime.commands.send(charge_point_id, action, payload)
    except ChargerTimeout:
        raise  # it may have reached the charger
    except (CommandError, CallNotSent):
        await _close_request_window(runtime, charge_point_id)
        raise
    if answer.get("status") != "Accepted":
        await _close_request_window(runtime, charge_point_id)
    return answer


async def _close_request_window(runtime: Runtime, charge_point_id: str) -> None:
    async with runtime.session_factory() as session:
        await certificate_requests.close_window(session, charge_point_id)


def push_local_lists_soon(runtime: Runtime) -> None:
    """After an idTag changes: every charger holding a local list gets the change, without holding up the request."""
    runtime.background.spawn(runtime.local_lists.push_changes(), name="local-list-push")


async def _check_request(
    session_factory: async_sessionmaker[AsyncSession], charge_point_id: str, action: str, payload: dict[str, Any]
) -> None:
    charger_calls.check_request(action, payload)
    if security_profiles.is_profile_change(action, payload):
        async with session_factory() as session:
            await security_profiles.refuse_lowering(session, charge_point_id, action, payload)


def checks_on_the_executing_node(session_factory: async_sessionmaker[AsyncSession]) -> CallChecks:
    """The API's checks, run again by the node that carries a call out, whichever node (or who) sent it."""

    async def check(charge_point_id: str, action: str, payload: dict[str, Any]) -> None:
        try:
            await _check_request(session_factory, charge_point_id, action, payload)
        except DomainError as error:
            raise CommandRefused(str(error)) from None

    return check
