"""ISO 15118 Plug & Charge for 1.6 chargers, as the OCA's application note "Using ISO 15118 Plug & Charge
with OCPP 1.6" (v1.0, 2020-09-16) has it: the 2.0.1 messages wrapped in DataTransfer, vendorId
`org.openchargealliance.iso15118pnc`, messageId the 2.0.1 action, `data` the 2.0.1 request as JSON text;
the answer's `data` is the 2.0.1 response as JSON text. They are answered by the same services as a
2.0.1 station's (v201/iso15118.py). The calls csms makes on this route (CertificateSigned for the SECC
certificate) go the same way: a DataTransfer whose `data` is the 2.0.1 request, answered by one whose `data`
is the 2.0.1 response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from csms.ocpp.rpc import Payload, RpcError
from csms.ocpp.v201 import OCPP201, iso15118
from csms.ocpp.v201.station import V2G_CERTIFICATE, id_token_info
from csms.services.calls import Send

if TYPE_CHECKING:
    from csms.runtime import Runtime

logger = logging.getLogger(__name__)

VENDOR_ID = "org.openchargealliance.iso15118pnc"

_Handler = Callable[["Runtime", str, Payload, datetime], Awaitable[Payload]]


async def answer(
    runtime: Runtime, charge_point_id: str, message_id: str | None, data: Any, *, now: datetime
) -> Payload:
    """The DataTransfer answer to one Plug & Charge message: Accepted with the 2.0.1 response, Rejected
    for data that is not the 2.0.1 request, UnknownMessageId for a message csms does not answer."""
    handler = _HANDLERS.get(message_id or "")
    if handler is None or message_id is None:
        return {"status": "UnknownMessageId"}
    try:
        request = _request(message_id, data)
    except ValueError as error:
        logger.warning("charger %s: Plug & Charge %s Rejected: %s", charge_point_id, message_id, error)
        return {"status": "Rejected"}
    response = await handler(runtime, charge_point_id, request, now)
    return {"status": "Accepted", "data": json.dumps(response, separators=(",", ":"))}


def _request(message_id: str, data: Any) -> Payload:
    """The 2.0.1 request the data carries, checked against its 2.0.1 schema; ValueError says what is wrong."""
    if not isinstance(data, str):
        raise ValueError("data is not the JSON text of the 2.0.1 request")
    try:
        request = json.loads(data)
    except ValueError:
        raise ValueError("data is not JSON") from None
    if not isinstance(request, dict):
        raise ValueError("data is not a JSON object")
    try:
        OCPP201.schemas.check_request(message_id, request)
    except RpcError as error:
        raise ValueError(f"data is no 2.0.1 {message_id}Request: {error.description}") from None
    return request


async def _get_15118_ev_certificate(runtime: Runtime, charge_point_id: str, request: Payload, now: datetime) -> Payload:
    return await iso15118.get_15118_ev_certificate(runtime.iso15118, request)


async def _get_certificate_status(runtime: Runtime, charge_point_id: str, request: Payload, now: datetime) -> Payload:
    return await iso15118.get_certificate_status(runtime.iso15118, request)


async def _authorize(runtime: Runtime, charge_point_id: str, request: Payload, now: datetime) -> Payload:
    return await iso15118.authorize_with_contract(
        runtime.iso15118, runtime.tags, request, now=now, spell_info=id_token_info
    )


async def _sign_certificate(runtime: Runtime, charge_point_id: str, request: Payload, now: datetime) -> Payload:
    """The charger's SECC certificate, as for a 2.0.1 station. Its OCPP certificate is not asked for here:
    that is the security whitepaper's own SignCertificate."""
    if request.get("certificateType") != V2G_CERTIFICATE:
        reason = "a CSR through DataTransfer is for a V2GCertificate; the charger's own certificate has SignCertificate"
        iso15118.refuse_v2g_request(runtime, charge_point_id, reason)
        return {"status": "Rejected"}
    send = _through_data_transfer(runtime.commands.send)
    return await iso15118.sign_v2g_certificate(runtime, charge_point_id, request, send=send)


_HANDLERS: dict[str, _Handler] = {
    "Authorize": _authorize,
    "Get15118EVCertificate": _get_15118_ev_certificate,
    "GetCertificateStatus": _get_certificate_status,
    "SignCertificate": _sign_certificate,
}


def _through_data_transfer(send: Send) -> Send:
    """`send` for a 2.0.1 call to a 1.6 charger on this route: wrapped in DataTransfer, its answer unwrapped."""

    async def send_wrapped(charge_point_id: str, action: str, payload: Payload) -> Payload:
        data = json.dumps(payload, separators=(",", ":"))
        answer = await send(charge_point_id, "DataTransfer", {"vendorId": VENDOR_ID, "messageId": action, "data": data})
        return _response(charge_point_id, action, answer)

    return send_wrapped


def _response(charge_point_id: str, action: str, answer: Payload) -> Payload:
    """The 2.0.1 response a DataTransfer answer carries: Rejected when the charger did not take the message;
    ValueError when its data is no 2.0.1 response."""
    if answer.get("status") != "Accepted":
        logger.warning("charger %s answered Plug & Charge %s with %s", charge_point_id, action, answer.get("status"))
        return {"status": "Rejected"}
    try:
        response = json.loads(answer.get("data") or "")
        OCPP201.schemas.check_response(action, response)
    except (ValueError, RpcError):
        raise ValueError(f"charger {charge_point_id} answered {action} with data that is no 2.0.1 response") from None
    return response  # type: ignore[no-any-return]
