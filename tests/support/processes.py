"""`csms` as a real process: the command, a free port, waiting until it serves."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

CSMS = shutil.which("csms", path=str(Path(sys.executable).parent)) or "csms"
# Start-up imports and migrates; on a machine busy with other work that can take many times its idle time.
START_DEADLINE_SECONDS = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sqlite_env(directory: Path) -> dict[str, str]:
    """The environment of a csms process on its own SQLite file in `directory`."""
    return {**os.environ, "CSMS_DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'csms.db'}"}


def run_csms(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One `csms` command on `directory`'s database, as an operator runs it."""
    return subprocess.run(
        [CSMS, *args],
        capture_output=True,
        text=True,
        env=sqlite_env(directory),
        cwd=directory,
        timeout=120,
        check=False,
    )


def wait_until_serving(
    base_url: str,
    process: subprocess.Popen[bytes] | subprocess.Popen[str] | None = None,
    *,
    verify: ssl.SSLContext | bool = True,
) -> None:
    """Waits for `/healthz` to answer; fails at once if the process exits first."""
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"csms exited with {process.returncode} before serving {base_url}")
        try:
            if httpx.get(f"{base_url}/healthz", verify=verify, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"csms did not serve {base_url} within {START_DEADLINE_SECONDS} s")


@contextlib.asynccontextmanager
async def csms_serve(directory: Path, *args: str, **settings: str) -> AsyncIterator[str]:
    """`csms serve --port P *args` on `directory`'s database, with `settings` as CSMS_<NAME> variables,
    until the block ends; yields its base URL once it serves."""
    async with csms_serve_process(directory, *args, **settings) as served:
        yield served.base_url


@dataclass
class ServingCsms:
    """A `csms serve` process that serves `base_url`; `kill()` ends it with SIGKILL, as a crash would."""

    base_url: str
    process: asyncio.subprocess.Process

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1)

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await asyncio.wait_for(self.process.wait(), 30)


@contextlib.asynccontextmanager
async def csms_serve_process(directory: Path, *args: str, **settings: str) -> AsyncIterator[ServingCsms]:
    """Like csms_serve, yielding the process too, for tests that kill it."""
    port = free_port()
    env = sqlite_env(directory) | {f"CSMS_{name.upper()}": value for name, value in settings.items()}
    process = await asyncio.create_subprocess_exec(
        CSMS,
        "serve",
        "--port",
        str(port),
        *args,
        env=env,
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_serving_async(base_url, process)
        yield ServingCsms(base_url, process)
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), 30)


async def _wait_until_serving_async(base_url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                pytest.fail(f"csms exited with {process.returncode} before serving {base_url}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    pytest.fail(f"csms did not serve {base_url} within {START_DEADLINE_SECONDS} s")
