"""Remote charging from the app: start and stop charging on a charger, wherever it is connected."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from csms.api.deps import CurrentUser, RuntimeDep, SessionDep, get_current_user
from csms.api.schemas import (
    ChargerAnswer,
    ErrorBody,
    StartCharging,
    StopCharging,
)
from csms.domain.commands import RemoteStart, RemoteStop, new_remote_start_id
from csms.ocpp import commands
from csms.runtime import Runtime
from csms.services import charging, idempotency, pairing
from csms.services.errors import DomainError, InvalidInput

router = APIRouter(prefix="/api", tags=["charging"])

_COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    404: {"model": ErrorBody, "description": "Unknown charger or transaction"},
    409: {"model": ErrorBody, "description": "The charger is not connected, or the request conflicts"},
    422: {"description": "Invalid body, or a connector the charger does not have"},
    502: {"model": ErrorBody, "description": "The charger answered with an OCPP CallError"},
    503: {"model": ErrorBody, "description": "The database or the bus to other nodes is unavailable"},
    504: {"model": ErrorBody, "description": "The charger did not answer in time"},
}


# The app's hottest route. FastAPI documents it from this signature, StartChargingRoute serves it
# (below); the runtime comes from the request, and the answer is rendered here rather than by
# FastAPI's response-model pass (its schema is declared with the route).
async def start_charging(
    body: StartCharging,
    user: CurrentUser,
    request: Request,
    idempotency_key: Annotated[str | None, Header(description="Makes a retried start send one command")] = None,
) -> Response:
    """Ask a charger to start charging with the caller's idTag (RemoteStartTransaction)."""
    runtime: Runtime = request.app.state.runtime
    charge_point_id, connector_id = _named_connector(body, runtime)
    live = runtime.registry.get(charge_point_id)
    plan = await charging.plan_remote_start(
        runtime.session_factory,
        user=user,
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        connected=live.station if live is not None else None,
    )
    if idempotency_key is None:
        return _answer(await _remote_start(runtime, plan))
    async with runtime.session_factory() as session:
        return await _remote_start_once(runtime, session, plan, body, idempotency_key)


class StartChargingRoute(APIRoute):
    """A route that calls `start_charging` with its arguments read directly from the request.

    FastAPI fills an endpoint's parameters with its general dependency solver, a recursive walk that is
    a large share of the node's CPU on this, the busiest app route. This handler reads the
    same three things (JSON body, bearer token, Idempotency-Key header) in FastAPI's order, with its
    checks and its error answers, and calls the same endpoint.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return _serve_start_charging


async def _serve_start_charging(request: Request) -> Response:
    body = await _read_json_body(request)
    user = await get_current_user(request)
    return await start_charging(_start_charging_body(body), user, request, request.headers.get("idempotency-key"))


async def _read_json_body(request: Request) -> Any:
    """The parsed body, the raw bytes when it is not declared JSON (refused later), None when empty."""
    raw = await request.body()
    if not raw:
        return None
    if not _declares_json(request.headers.get("content-type")):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        problem = {"type": "json_invalid", "loc": ("body", error.pos), "msg": "JSON decode error", "input": {}}
        raise RequestValidationError([{**problem, "ctx": {"error": error.msg}}], body=error.doc) from None


def _declares_json(content_type: str | None) -> bool:
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _start_charging_body(body: Any) -> StartCharging:
    if body is None:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    try:
        return StartCharging.model_validate(body, from_attributes=True)
    except ValidationError as error:
        problems = [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors(include_url=False)]
        raise RequestValidationError(problems, body=body) from None


router.add_api_route(
    "/start_charging",
    start_charging,
    methods=["POST"],
    response_model=None,
    responses={200: {"model": ChargerAnswer, "description": "The charger's answer"}, **_COMMAND_ERRORS},
    route_class_override=StartChargingRoute,
)


async def _remote_start_once(
    runtime: Runtime,
    session: AsyncSession,
    plan: charging.RemoteStart,
    body: StartCharging,
    key: str,
) -> Response:
    """Send the start at most once per Idempotency-Key; a retry gets the first answer back."""
    request_fingerprint = idempotency.fingerprint(body.model_dump())
    stored = await idempotency.claim(
        session, user_id=plan.user_id, key=key, request_fingerprint=request_fingerprint, now=runtime.clock()
    )
    if stored is not None:
        return _answer(stored.body, headers={"Idempotent-Replayed": "true"})
    await session.close()  # not held while the charger answers
    try:
        answer = await _remote_start(runtime, plan)
    except (commands.CommandError, DomainError):
        await idempotency.release(session, user_id=plan.user_id, key=key)
        raise
    await idempotency.store_answer(session, user_id=plan.user_id, key=key, status_code=200, body=answer)
    return _answer(answer)


def _answer(answer: dict[str, Any], *, headers: dict[str, str] | None = None) -> Response:
    body = ChargerAnswer.model_validate(answer).model_dump_json()
    return Response(body, media_type="application/json", headers=headers)


def _named_connector(body: StartCharging, runtime: RuntimeDep) -> tuple[str, int]:
    if body.qr is not None:
        code = pairing.parse_code(body.qr, runtime.sticker_key)
        return code.charge_point_id, code.connector_id
    named = body.by_id()
    if named is None:  # the schema's validator already refuses this
        raise InvalidInput("give either evse_id and connector_id, or qr")
    return named


async def _remote_start(runtime: Runtime, plan: charging.RemoteStart) -> dict[str, Any]:
    command = RemoteStart(connector_id=plan.connector_id, id_token=plan.id_tag, remote_start_id=new_remote_start_id())
    return await runtime.commands.send_command(plan.charge_point_id, command)


@router.post("/stop_charging", responses=_COMMAND_ERRORS)
async def stop_charging(
    body: StopCharging, user: CurrentUser, runtime: RuntimeDep, session: SessionDep
) -> ChargerAnswer:
    """Ask the charger to stop one of the caller's transactions (RemoteStopTransaction)."""
    plan = await charging.plan_remote_stop(session, user=user, transaction_id=body.transaction_id)
    await session.close()  # not held while the charger answers
    command = RemoteStop(transaction_id=plan.transaction_id, transaction_key=plan.transaction_key)
    answer = await runtime.commands.send_command(plan.charge_point_id, command)
    return ChargerAnswer.model_validate(answer)
