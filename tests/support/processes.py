"""`csms` as a real process: the command, a free port, waiting until it serves."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
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
