"""A nats-server of a test's own, started with the repo's configuration (deploy/nats-server.conf)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port
from tests.support.waiting import wait_until

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
REPO_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nats-server.conf"


@dataclass(frozen=True)
class NatsServer:
    url: str
    node_password: str  # of the user `csms`
    events_password: str  # of the user `events`


@contextlib.asynccontextmanager
async def nats_server_with_logins() -> AsyncIterator[NatsServer]:
    """nats-server on a free port with the repo's logins and permissions, and fresh passwords."""
    # A letter first: nats-server reads a value starting with a digit as a number (deploy/nats-server.conf).
    server = NatsServer(url="", node_password="p" + secrets.token_hex(16), events_password="p" + secrets.token_hex(16))
    environment = {"CSMS_NATS_PASSWORD": server.node_password, "CSMS_NATS_EVENTS_PASSWORD": server.events_password}
    async with nats_server("-c", str(REPO_CONFIG), environment=environment) as port:
        yield NatsServer(f"nats://127.0.0.1:{port}", server.node_password, server.events_password)


@contextlib.asynccontextmanager
async def nats_server(*options: str, environment: dict[str, str] | None = None) -> AsyncIterator[int]:
    """nats-server with these command-line options on a free port of 127.0.0.1; yields the port."""
    port = free_port()
    command = [NATS_SERVER, *options, "-a", "127.0.0.1", "-p", str(port)]
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(  # noqa: ASYNC220 (starting it does not block; it is waited for in a thread)
            command, env={**os.environ, **(environment or {})}, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            await wait_until(lambda: process.poll() is not None or _accepts(port), within=10)
            if process.poll() is not None:
                output.seek(0)
                said = output.read().decode(errors="replace")[-2000:]
                raise AssertionError(f"nats-server exited with {process.returncode}: {said}")
            yield port
        finally:
            process.terminate()
            await asyncio.to_thread(process.wait, 10)


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
