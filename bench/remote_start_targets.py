"""The three servers remote_start.py compares, each started pinned to the server core on loopback.

csms runs as `csms serve` on a fresh SQLite file with the chargers registered; the references run from
bench/references/. Every target answers /healthz, /api/signup and /api/start_charging alike.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert

from machine import process_cpu_seconds

LOOPBACK = "127.0.0.1"
PYTHON = Path(sys.executable)
REFERENCES = Path(__file__).resolve().parent / "references"
# csms limits signups per client address; the benchmark's users all sign up from loopback.
SIGNUPS_PER_ADDRESS = "100000"
CHARGER_PASSWORD = "remote-start-bench-0123"  # a throwaway database; 16-40 characters
TARGET_LABELS = {
    "tutorial": "(a) Flask + flask-jwt-extended + websockets thread",
    "floor": "(b) floor: uvicorn + ocpp, no auth, no DB",
    "csms": "csms",
}


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    http_port: int
    ocpp_port: int
    log_path: Path

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def ocpp_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.ocpp_port}/ocpp"

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def use_csms_source(source: Path | None) -> dict[str, str]:
    """Run csms from `source` (a `src` directory, say a snapshot of HEAD) instead of the installed tree.

    Returns the server's extra environment; imports of csms in this process see the same tree.
    """
    if source is None:
        return {}
    sys.path.insert(0, str(source))
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")]))}


def start_target(
    name: str, *, workdir: Path, core: int, charge_point_ids: list[str], csms_environment: dict[str, str]
) -> Server:
    http_port = free_port()
    ocpp_port = http_port
    environment = dict(os.environ)
    if name == "csms":
        database = workdir / "csms.db"
        database.unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{database}"
        asyncio.run(_register_chargers(url, charge_point_ids))
        command = [str(PYTHON), "-m", "csms.cli", "serve", "--host", LOOPBACK, "--port", str(http_port)]
        environment |= csms_environment | {
            "CSMS_DATABASE_URL": url,
            "CSMS_JWT_SECRET": secrets.token_urlsafe(32),
            "CSMS_ACCESS_TOKEN_TTL": "3600",
            "CSMS_LOG_LEVEL": "warning",  # no access log, as for the references
            "CSMS_SIGNUPS_PER_ADDRESS": SIGNUPS_PER_ADDRESS,  # every bench user signs up from 127.0.0.1
        }
    elif name == "tutorial":
        ocpp_port = free_port()
        script = REFERENCES / "tutorial_flask.py"
        command = [str(PYTHON), str(script), "--http-port", str(http_port), "--ocpp-port", str(ocpp_port)]
    elif name == "floor":
        command = [str(PYTHON), str(REFERENCES / "floor_uvicorn.py"), "--port", str(http_port)]
    else:
        raise ValueError(f"unknown target {name}")
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["taskset", "-c", str(core), *command], env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    return Server(name, process, http_port, ocpp_port, log_path)


async def _register_chargers(url: str, charge_point_ids: list[str]) -> None:
    """Migrate a fresh database and register the chargers, all with one hash (argon2 costs ~2 ms each)."""
    from csms.db.engine import create_engine
    from csms.db.migrate import upgrade_to_head
    from csms.db.models import Charger
    from csms.security import CHARGER_PASSWORD_HASHER
    from csms.services.clock import utc_now

    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        password_hash, now = CHARGER_PASSWORD_HASHER.hash(CHARGER_PASSWORD), utc_now()
        rows = [
            {"charge_point_id": cp_id, "password_hash": password_hash, "is_connected": False} | {"created_at": now}
            for cp_id in charge_point_ids
        ]
        async with engine.begin() as connection:
            await connection.execute(insert(Charger), rows)
    finally:
        await engine.dispose()


def wait_until_ready(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = "\n".join(server.log_path.read_text(errors="replace").splitlines()[-15:])
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{tail}")
        try:
            if _request(server.http_port, "GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{server.name} did not answer /healthz within {timeout:.0f} s; see {server.log_path}")


def sign_up_users(server: Server, count: int) -> list[str]:
    """Sign up `count` app users through the API; their access tokens."""
    return sign_up_users_at(server.http_port, count, name=server.name)


def sign_up_users_at(port: int, count: int, *, name: str = "server") -> list[str]:
    """Sign up `count` app users through the API of the server at `port`; their access tokens."""
    tokens = []
    for number in range(1, count + 1):
        body = {"username": f"driver{number:05d}", "password": f"bench-password-{number}"}
        status, answer = _request(port, "POST", "/api/signup", body)
        if status != 201:
            raise RuntimeError(f"{name}: signup answered {status}: {answer}")
        tokens.append(str(answer["access_token"]))
    return tokens


def _request(port: int, method: str, path: str, body: object = None) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    try:
        payload = json.dumps(body) if body is not None else None
        connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()
