"""The `csms` command as an operator runs it: a real process on a fresh database."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CSMS = shutil.which("csms", path=str(Path(sys.executable).parent)) or "csms"


def run_csms(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CSMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"}
    return subprocess.run([CSMS, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    result = run_csms(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "csms.db").exists()


def test_add_charger_registers_and_refuses_duplicates_and_short_passwords(tmp_path: Path) -> None:
    assert run_csms(tmp_path, "add-charger", "CP001", "--password", "0123456789abcdef").returncode == 0
    duplicate = run_csms(tmp_path, "add-charger", "CP001", "--password", "0123456789abcdef")
    short = run_csms(tmp_path, "add-charger", "CP002", "--password", "short")
    assert duplicate.returncode == 1 and "already registered" in duplicate.stderr
    assert short.returncode == 1 and "16 to 40" in short.stderr


def test_create_user_with_a_role(tmp_path: Path) -> None:
    result = run_csms(
        tmp_path, "create-user", "--username", "Root", "--password", "a long root password", "--role", "root"
    )
    assert result.returncode == 0, result.stderr
    assert "created root root" in result.stdout


def test_serve_answers_health_and_keeps_secrets_out_of_its_log(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CSMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"}
    process = subprocess.Popen(
        [CSMS, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = _wait_for_health(f"http://127.0.0.1:{port}")
        assert body == {"status": "ok"}
        signup = httpx.post(
            f"http://127.0.0.1:{port}/api/signup",
            json={"username": "logcheck", "password": "secret-password-42"},
        )
        assert signup.status_code == 201
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json()["database"] == "ok"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so supervisors see why it stopped.
    assert process.returncode in (0, -15)
    assert "Application shutdown complete" in output
    assert "secret-password-42" not in output
    assert (tmp_path / ".csms-jwt-secret").exists()


def _wait_for_health(base_url: str) -> object:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return httpx.get(f"{base_url}/healthz", timeout=1).json()
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("csms serve did not come up")
