"""Remote charging from the app: start and stop, and the caller's charging records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from csms.api.deps import CurrentUser, RuntimeDep, SessionDep
from csms.api.schemas import (
    ChargerAnswer,
    ErrorBody,
    MeterValueOut,
    StartCharging,
    StopCharging,
    TransactionOut,
)
from csms.db.models import MeterValue, Transaction
from csms.ocpp import commands
from csms.services import charging, idempotency, transactions
from csms.services.errors import DomainError, NotFound

router = APIRouter(prefix="/api", tags=["charging"])

_COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    404: {"model": ErrorBody, "description": "Unknown charger or transaction"},
    409: {"model": ErrorBody, "description": "The charger is not connected, or the request conflicts"},
    422: {"description": "Invalid body, or a connector the charger does not have"},
    502: {"model": ErrorBody, "description": "The charger answered with an OCPP CallError"},
    504: {"model": ErrorBody, "description": "The charger did not answer in time"},
}


@router.post("/start_charging", responses=_COMMAND_ERRORS)
async def start_charging(
    body: StartCharging,
    user: CurrentUser,
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(description="Makes a retried start send one command")
    ] = None,
) -> ChargerAnswer:
    """Ask a charger to start charging with the caller's idTag (RemoteStartTransaction)."""
    plan = await charging.plan_remote_start(
        session, user=user, charge_point_id=body.evse_id, connector_id=body.connector_id
    )
    if idempotency_key is None:
        return ChargerAnswer.model_validate(await _remote_start(runtime, session, plan))
    stored = await idempotency.claim(
        session,
        user_id=user.id,
        key=idempotency_key,
        request_fingerprint=idempotency.fingerprint(body.model_dump()),
        now=runtime.clock(),
    )
    if stored is not None:
        response.headers["Idempotent-Replayed"] = "true"
        return ChargerAnswer.model_validate(stored.body)
    try:
        answer = await _remote_start(runtime, session, plan)
    except (commands.CommandError, DomainError):
        await idempotency.release(session, user_id=user.id, key=idempotency_key)
        raise
    await idempotency.store_answer(
        session, user_id=user.id, key=idempotency_key, status_code=200, body=answer
    )
    return ChargerAnswer.model_validate(answer)


async def _remote_start(
    runtime: RuntimeDep, session: SessionDep, plan: charging.RemoteStart
) -> dict[str, Any]:
    payload = {"idTag": plan.id_tag, "connectorId": plan.connector_id}
    return await _send(runtime, session, plan.charge_point_id, "RemoteStartTransaction", payload)


@router.post("/stop_charging", responses=_COMMAND_ERRORS)
async def stop_charging(
    body: StopCharging, user: CurrentUser, runtime: RuntimeDep, session: SessionDep
) -> ChargerAnswer:
    """Ask the charger to stop one of the caller's transactions (RemoteStopTransaction)."""
    plan = await charging.plan_remote_stop(session, user=user, transaction_id=body.transaction_id)
    answer = await _send(
        runtime,
        session,
        plan.charge_point_id,
        "RemoteStopTransaction",
        {"transactionId": plan.transaction_id},
    )
    return ChargerAnswer.model_validate(answer)


@router.get("/transactions", responses={401: _COMMAND_ERRORS[401]})
async def my_transactions(
    user: CurrentUser, session: SessionDep, limit: int = 50, offset: int = 0
) -> list[TransactionOut]:
    """The caller's charging records, newest first."""
    found = await transactions.list_transactions(
        session, user_id=user.id, limit=min(max(limit, 1), 500), offset=max(offset, 0)
    )
    return [transaction_out(transaction) for transaction in found]


@router.get(
    "/transactions/{transaction_id}", responses={401: _COMMAND_ERRORS[401], 404: _COMMAND_ERRORS[404]}
)
async def my_transaction(transaction_id: int, user: CurrentUser, session: SessionDep) -> TransactionOut:
    """One of the caller's charging records, with its meter values."""
    transaction = await transactions.get_transaction(session, transaction_id)
    if transaction is None or (transaction.user_id != user.id and user.role not in charging.STAFF_ROLES):
        raise NotFound(f"transaction {transaction_id} not found")
    return transaction_out(
        transaction, meter_values=await transactions.list_meter_values(session, transaction.id)
    )


def transaction_out(transaction: Transaction, meter_values: list[MeterValue] | None = None) -> TransactionOut:
    return TransactionOut(
        id=transaction.id,
        charge_point_id=transaction.charge_point_id,
        connector_id=transaction.connector_id,
        id_tag=transaction.id_tag,
        user_id=transaction.user_id,
        start_timestamp=transaction.start_timestamp,
        stop_timestamp=transaction.stop_timestamp,
        meter_start=transaction.meter_start,
        meter_stop=transaction.meter_stop,
        stop_reason=transaction.stop_reason,
        energy_wh=transactions.energy_wh(transaction),
        is_active=transaction.stop_timestamp is None,
        meter_values=[MeterValueOut.model_validate(value) for value in meter_values]
        if meter_values
        else None,
    )


async def _send(
    runtime: RuntimeDep, session: SessionDep, charge_point_id: str, action: str, payload: dict[str, Any]
) -> dict[str, Any]:
    # Give the database connection back while the charger thinks: it may take seconds, and
    # holding a pooled connection that long would serialise everyone else's requests.
    await session.close()
    return await commands.send_call(runtime.registry, charge_point_id, action, payload)
