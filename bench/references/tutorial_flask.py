"""Reference (a): remote start the way tutorials build it.

Flask with flask-jwt-extended for the app's REST API, a `websockets` OCPP server on a second thread
with its own event loop, and `asyncio.run_coroutine_threadsafe(...).result(timeout=10)` to send
RemoteStartTransaction through the `ocpp` package's ChargePoint from a request thread.

Served by waitress, the WSGI server Flask's deployment docs list first for a single process: the
design needs exactly one process, because the chargers' sockets live in it (gunicorn's usual
several sync workers would each run their own OCPP server). Given the benefit of the doubt: users
live in a dict instead of a database, tokens are checked statelessly, and chargers are not
authenticated, as in most tutorials.

    python bench/references/tutorial_flask.py --http-port 5000 --ocpp-port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import threading
from datetime import timedelta
from typing import Any

from flask import Flask, jsonify, request
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    get_jwt_identity,
    jwt_required,
)
from ocpp.v16 import ChargePoint, call
from waitress import serve as serve_wsgi
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as serve_websockets
from werkzeug.security import check_password_hash, generate_password_hash

ACCESS_TOKEN_TTL = timedelta(hours=1)

app = Flask(__name__)
app.config["JWT_SECRET_KEY"] = secrets.token_urlsafe(32)
app.config["JWT_ACCESS_TOKEN_EXPIRES"] = ACCESS_TOKEN_TTL
jwt = JWTManager(app)

users: dict[str, dict[str, str]] = {}
charge_points: dict[str, ChargePoint] = {}
ocpp_loop = asyncio.new_event_loop()


@app.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


@app.post("/api/signup")
def signup() -> Any:
    body = request.get_json()
    username, password = body["username"], body["password"]
    if username in users:
        return jsonify(detail="username taken"), 409
    id_tag = secrets.token_hex(10).upper()
    users[username] = {"password_hash": generate_password_hash(password), "id_tag": id_tag}
    tokens = {
        "access_token": create_access_token(identity=username),
        "refresh_token": create_refresh_token(identity=username),
        "token_type": "bearer",
        "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
        "idTag": id_tag,
    }
    return jsonify(tokens), 201


@app.post("/api/login")
def login() -> Any:
    body = request.get_json()
    user = users.get(body["username"])
    if user is None or not check_password_hash(user["password_hash"], body["password"]):
        return jsonify(detail="wrong username or password"), 401
    return jsonify(access_token=create_access_token(identity=body["username"]), token_type="bearer")


@app.post("/api/start_charging")
@jwt_required()
def start_charging() -> Any:
    body = request.get_json()
    charge_point = charge_points.get(body["evse_id"])
    if charge_point is None:
        return jsonify(detail=f"charger {body['evse_id']} is not connected"), 409
    id_tag = users[get_jwt_identity()]["id_tag"]
    remote_start = call.RemoteStartTransaction(id_tag=id_tag, connector_id=body["connector_id"])
    future = asyncio.run_coroutine_threadsafe(charge_point.call(remote_start), ocpp_loop)
    try:
        result = future.result(timeout=10)
    except TimeoutError:
        return jsonify(detail="the charger did not answer in time"), 504
    return jsonify(status=result.status)


async def on_connect(websocket: ServerConnection) -> None:
    charge_point_id = websocket.request.path.rstrip("/").split("/")[-1] if websocket.request else ""
    charge_point = ChargePoint(charge_point_id, websocket)
    charge_points[charge_point_id] = charge_point
    try:
        await charge_point.start()
    except Exception:  # noqa: S110 - tutorials end the session on any socket error
        pass
    finally:
        if charge_points.get(charge_point_id) is charge_point:
            del charge_points[charge_point_id]


async def serve_ocpp(host: str, port: int) -> None:
    async with serve_websockets(on_connect, host, port, subprotocols=["ocpp1.6"]) as server:
        await server.serve_forever()


def start_ocpp_thread(host: str, port: int) -> threading.Thread:
    def run() -> None:
        asyncio.set_event_loop(ocpp_loop)
        ocpp_loop.run_until_complete(serve_ocpp(host, port))

    thread = threading.Thread(target=run, name="ocpp-server", daemon=True)
    thread.start()
    return thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=5000)
    parser.add_argument("--ocpp-port", type=int, default=9000)
    parser.add_argument("--threads", type=int, default=4, help="waitress worker threads (its default: 4)")
    args = parser.parse_args()
    start_ocpp_thread(args.host, args.ocpp_port)
    serve_wsgi(app, host=args.host, port=args.http_port, threads=args.threads, _quiet=True)


if __name__ == "__main__":
    main()
