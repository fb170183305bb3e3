"""A csms node under test: a fresh SQLite database of chargers, the server process and its gauges."""

from __future__ import annotations

import asyncio
import http.client
import os
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
CSMS_EXECUTABLE = Path(sys.executable).with_name("csms")


def use_csms_source(source: Path | None) -> dict[str, str]:
    """Run csms from `source` (a `src` directory) instead of the installed tree; the server's environment."""
    if source is None:
        return {}
    sys.path.insert(0, str(source))
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")]))}


def database_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


async def seed_chargers(url: str, charge_point_ids: list[str], password: str) -> None:
    """Migrate a fresh database and register every charger with one shared password hash.

    argon2 costs ~1.7 ms a hash; one salted hash reused for all rows is still valid and keeps the
    setup of 10,000 chargers under a second. csms is imported here, after `use_csms_source` ran.
    """
    from csms.db.engine import create_engine
    from csms.db.migrate import upgrade_to_head
    from csms.db.models import Charger
    from csms.security import CHARGER_PASSWORD_HASHER
    from csms.services.clock import utc_now

    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        password_hash = CHARGER_PASSWORD_HASHER.hash(password)
        now = utc_now()
        rows = [
            {
                "charge_point_id": cp_id,
                "password_hash": password_hash,
                "is_connected": False,
                "created_at": now,
            }
            for cp_id in charge_point_ids
        ]
        async with engine.begin() as connection:
            await connection.execute(insert(Charger), rows)
    finally:
        await engine.dispose()


@dataclass
class ServerProcess:
    """`csms serve` pinned to one core, with its file limit raised, logging to a file."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for process {self.pid}")

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def stop(self, timeout: float = 60.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(
    *,
    url: str,
    port: int,
    core: int,
    max_open_files: int,
    log_path: Path,
    log_level: str,
    environment: dict[str, str],
    role: str = "all",
) -> ServerProcess:
    command = [str(CSMS_EXECUTABLE), "serve", "--host", LOOPBACK, "--port", str(port), "--role", role]
    environment = {**environment, "CSMS_DATABASE_URL": url, "CSMS_LOG_LEVEL": log_level}
    return start_pinned(
        command, port=port, core=core, max_open_files=max_open_files, log_path=log_path, environment=environment
    )


def start_pinned(
    command: list[str],
    *,
    port: int,
    core: int,
    max_open_files: int,
    log_path: Path,
    environment: dict[str, str],
) -> ServerProcess:
    """Start a server process pinned to `core`, with its open-file limit raised, logging to `log_path`."""
    pinned = [
        "taskset", "-c", str(core),
        "prlimit", f"--nofile={max_open_files}:{max_open_files}", "--",
        *command,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(pinned, env={**os.environ, **environment}, stdout=log, stderr=subprocess.STDOUT)
    return ServerProcess(process=process, port=port, log_path=log_path)


def wait_until_ready(server: ServerProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = "\n".join(server.log_path.read_text(errors="replace").splitlines()[-15:])
            raise RuntimeError(f"csms exited with {server.process.returncode}:\n{tail}")
        if _answers_healthz(server.port):
            return
        time.sleep(0.1)
    raise TimeoutError(f"csms did not answer /healthz within {timeout:.0f} s; see {server.log_path}")


def _answers_healthz(port: int) -> bool:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=1)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def run_seed(url: str, charge_point_ids: list[str], password: str) -> None:
    asyncio.run(seed_chargers(url, charge_point_ids, password))
