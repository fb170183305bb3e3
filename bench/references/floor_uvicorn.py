"""Reference (b), the transport floor: the remote-start flow with only uvicorn and the `ocpp` package.

No auth, no database, no framework: a Starlette app with one WebSocket route that runs the package's
ChargePoint per charger, and a POST /api/start_charging that sends RemoteStartTransaction to it.
Run with the same uvicorn options as `csms serve`, so the distance to csms is what csms adds on top.
/api/signup hands out a dummy token, so the same load generator drives all targets.

    python bench/references/floor_uvicorn.py --port 8000
"""

from __future__ import annotations

import argparse
from typing import Any

import ocpp.messages
import uvicorn
from ocpp.v16 import ChargePoint, call
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

ID_TAG = "FLOOR-TAG"
# Schema checks stay on, but inline: the package's default hops to a thread pool for each one.
ocpp.messages.ASYNC_VALIDATION = False

charge_points: dict[str, ChargePoint] = {}


class StarletteConnection:
    """The recv/send face the `ocpp` package expects, over a Starlette WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    async def recv(self) -> str:
        return await self._websocket.receive_text()

    async def send(self, frame: str) -> None:
        await self._websocket.send_text(frame)


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def signup(_request: Request) -> JSONResponse:
    tokens = {"access_token": "floor", "refresh_token": "floor", "token_type": "bearer"}
    return JSONResponse({**tokens, "expires_in": 3600, "idTag": ID_TAG}, status_code=201)


async def start_charging(request: Request) -> JSONResponse:
    body: dict[str, Any] = await request.json()
    charge_point = charge_points.get(body["evse_id"])
    if charge_point is None:
        return JSONResponse({"detail": f"charger {body['evse_id']} is not connected"}, status_code=409)
    result = await charge_point.call(call.RemoteStartTransaction(id_tag=ID_TAG, connector_id=body["connector_id"]))
    return JSONResponse({"status": result.status})


async def ocpp_endpoint(websocket: WebSocket) -> None:
    charge_point_id = websocket.path_params["charge_point_id"]
    await websocket.accept(subprotocol="ocpp1.6")
    charge_point = ChargePoint(charge_point_id, StarletteConnection(websocket))
    charge_points[charge_point_id] = charge_point
    try:
        await charge_point.start()
    except WebSocketDisconnect:
        pass
    finally:
        if charge_points.get(charge_point_id) is charge_point:
            del charge_points[charge_point_id]


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/api/signup", signup, methods=["POST"]),
        Route("/api/start_charging", start_charging, methods=["POST"]),
        WebSocketRoute("/ocpp/{charge_point_id}", ocpp_endpoint),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        ws_max_size=1024 * 1024,
        ws_ping_interval=None,
    )


if __name__ == "__main__":
    main()
