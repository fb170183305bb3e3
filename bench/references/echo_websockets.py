"""The transport floor for scale_out.py: a bare `websockets` server that answers every OCPP Call frame.

No auth, no database, no schema: each Call is parsed (csms must parse it too) and answered at once with
a canned CallResult for its action, so the lean chargers' frames, answers and bookkeeping are the same as
against csms. Same port setup as `csms serve` (`ws://HOST:PORT/ocpp/{id}`, subprotocol `ocpp1.6`, no
permessage-deflate, uvloop); GET /healthz answers 200 so the benchmark can wait for it alike.

    python bench/references/echo_websockets.py --port 8000
"""

from __future__ import annotations

import argparse
import http
import json

import uvloop
from websockets.asyncio.server import Request, Response, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

_CALL = 2
_NOW = "2026-01-01T00:00:00.000Z"
_ACCEPTED = {"status": "Accepted"}
_ANSWERS: dict[str, str] = {
    action: json.dumps(payload, separators=(",", ":"))
    for action, payload in {
        "BootNotification": {"status": "Accepted", "currentTime": _NOW, "interval": 300},
        "Heartbeat": {"currentTime": _NOW},
        "Authorize": {"idTagInfo": _ACCEPTED},
        "StartTransaction": {"transactionId": 1, "idTagInfo": _ACCEPTED},
        "StopTransaction": {},
    }.items()
}
_EMPTY = "{}"  # StatusNotification, MeterValues and the rest


def answer_frame(raw: str | bytes) -> str | None:
    """The CallResult for a Call frame; None for anything else."""
    message = json.loads(raw)
    if message[0] != _CALL:
        return None
    return f"[3,{json.dumps(message[1])},{_ANSWERS.get(message[2], _EMPTY)}]"


async def answer_calls(connection: ServerConnection) -> None:
    try:
        async for raw in connection:
            answer = answer_frame(raw)
            if answer is not None:
                await connection.send(answer)
    except ConnectionClosed:
        pass


def healthz(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "ok\n")
    return None


async def serve_forever(host: str, port: int) -> None:
    async with serve(
        answer_calls,
        host,
        port,
        subprotocols=[Subprotocol("ocpp1.6")],
        compression=None,
        process_request=healthz,
        ping_interval=None,
        backlog=4096,
    ) as server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve_forever(args.host, args.port))


if __name__ == "__main__":
    main()
