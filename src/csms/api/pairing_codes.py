"""QR pairing: scanning a charger's sticker in the app, and drawing stickers for operators."""

from __future__ import annotations

import html
import io
from typing import Annotated, Any, Literal

import segno
from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse

from csms.api.deps import AdminUser, CurrentUser, RuntimeDep, SessionDep
from csms.api.schemas import ErrorBody, PairRequest, PairResult
from csms.domain.connectors import ConnectorState
from csms.services import chargers, charging, pairing
from csms.services.errors import NotFound

router = APIRouter(prefix="/api", tags=["pairing"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    404: {"model": ErrorBody, "description": "Unknown charger"},
    422: {"description": "Malformed code, wrong signature or unknown connector"},
}
_ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {**_ERRORS, 403: {"model": ErrorBody, "description": "Needs admin"}}


@router.post("/pair", responses=_ERRORS)
async def pair(body: PairRequest, user: CurrentUser, runtime: RuntimeDep, session: SessionDep) -> PairResult:
    """Read a scanned sticker code (link or ocpp://) and answer with the charger, the connector, its status and
    whether a start would be refused."""
    code = pairing.parse_code(body.qr, runtime.sticker_key)
    charger = await chargers.get_charger(session, code.charge_point_id)
    if charger is None:
        raise NotFound(f"unknown charger {code.charge_point_id}")
    await charging.require_known_connector(session, code.charge_point_id, code.connector_id)
    connector = await chargers.get_connector(session, code.charge_point_id, code.connector_id)
    state = ConnectorState(connector.status, connector.status_at) if connector else None
    return PairResult(
        charge_point_id=code.charge_point_id,
        connector_id=code.connector_id,
        status=connector.status if connector else "Unknown",
        is_connected=runtime.registry.is_connected(code.charge_point_id) or charger.is_connected,
        is_signed=code.is_signed,
        start_refused=await charging.start_refusal(
            session, user_id=user.id, charge_point_id=code.charge_point_id, connector_id=code.connector_id, state=state
        ),
    )


_IMAGE_TYPES = {"svg": "image/svg+xml", "png": "image/png"}


@router.get(
    "/admin/chargers/{charge_point_id}/connectors/{connector_id}/qr.{kind}",
    responses={
        **_ADMIN_ERRORS,
        200: {"content": {media: {} for media in _IMAGE_TYPES.values()}, "description": "The QR code"},
    },
    response_class=Response,
    tags=["admin"],
)
async def sticker_image(
    charge_point_id: str,
    connector_id: int,
    kind: Literal["svg", "png"],
    admin: AdminUser,
    runtime: RuntimeDep,
    session: SessionDep,
) -> Response:
    """The connector's signed QR code as SVG (qr.svg) or PNG (qr.png)."""
    code = await _sticker_code(session, runtime, charge_point_id, connector_id)
    return Response(_qr(code, kind=kind), media_type=_IMAGE_TYPES[kind])


@router.get(
    "/admin/chargers/{charge_point_id}/stickers", response_class=HTMLResponse, responses=_ADMIN_ERRORS, tags=["admin"]
)
async def sticker_sheet(
    charge_point_id: str,
    admin: AdminUser,
    runtime: RuntimeDep,
    session: SessionDep,
    connectors: Annotated[int | None, Query(ge=1, le=64, description="How many, if the charger never said")] = None,
) -> HTMLResponse:
    """A printable page with one signed sticker per connector."""
    if await chargers.get_charger(session, charge_point_id) is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    numbers = await _connector_numbers(session, charge_point_id, connectors)
    cells = "".join(_sticker_cell(_link(runtime, charge_point_id, n), charge_point_id, n) for n in numbers)
    return HTMLResponse(_STICKER_PAGE.format(title=html.escape(charge_point_id), cells=cells))


async def _sticker_code(session: SessionDep, runtime: RuntimeDep, charge_point_id: str, connector_id: int) -> str:
    if await chargers.get_charger(session, charge_point_id) is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    await charging.require_known_connector(session, charge_point_id, connector_id)
    return _link(runtime, charge_point_id, connector_id)


def _link(runtime: RuntimeDep, charge_point_id: str, connector_id: int) -> str:
    return pairing.sticker_link(runtime.sticker_key, runtime.settings.public_url, charge_point_id, connector_id)


async def _connector_numbers(session: SessionDep, charge_point_id: str, count: int | None) -> list[int]:
    if count is not None:
        return list(range(1, count + 1))
    known = [c.connector_id for c in await chargers.list_connectors(session, charge_point_id) if c.connector_id > 0]
    return known or [1]


def _qr(code: str, *, kind: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(code, error="m").save(buffer, kind=kind, scale=8, border=4)
    return buffer.getvalue()


def _sticker_cell(code: str, charge_point_id: str, connector_id: int) -> str:
    # Sized by the page, not in pixels: a viewBox (omitsize) lets CSS scale the whole symbol, its quiet zone
    # of 4 modules included, into the sticker's box.
    buffer = io.BytesIO()
    segno.make(code, error="m").save(buffer, kind="svg", scale=1, border=4, omitsize=True, xmldecl=False)
    svg = buffer.getvalue().decode()
    label = f"{html.escape(charge_point_id)} &middot; connector {connector_id}"
    return f"<figure>{svg}<figcaption>{label}</figcaption></figure>"


_STICKER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stickers for {title}</title>
<style>
@page {{ size: A4; margin: 1cm; }}
body {{ font-family: system-ui, sans-serif; margin: 0; }}
h1 {{ font-size: 16pt; }}
main {{ display: grid; grid-template-columns: repeat(auto-fill, 6cm); gap: .5cm; }}
figure {{ margin: 0; text-align: center; border: 1px dashed #999; padding: .4cm; break-inside: avoid; }}
figure svg {{ display: block; width: 5cm; height: 5cm; margin: 0 auto; shape-rendering: crispEdges; }}
figcaption {{ font-size: 12pt; }}
</style></head>
<body><h1>Scan to charge: {title}</h1><main>{cells}</main></body></html>
"""
