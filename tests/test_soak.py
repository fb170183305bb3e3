"""A soak run: a simulated fleet charging and reconnecting against a real `csms serve` process, while its
memory and open files are sampled; both must level off, not keep growing."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from csms.simulator.fleet import FleetOptions, register_chargers, run_fleet
from tests.test_cli import free_port

CSMS = shutil.which("csms", path=str(Path(sys.executable).parent)) or "csms"
ADMIN_PASSWORD = "a long admin password"


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def wait_until_up(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(300):
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("csms serve did not come up")


@pytest.fixture
def csms_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`csms serve` as an operator runs it, with an admin account to register the fleet."""
    env = {
        **os.environ,
        "CSMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}",
        "CSMS_LOG_LEVEL": "warning",
    }
    create_admin = [CSMS, "create-user", "--username", "soak-admin", "--password", ADMIN_PASSWORD, "--role", "admin"]
    subprocess.run(create_admin, env=env, cwd=tmp_path, check=True, capture_output=True, timeout=60)
    port = free_port()
    server = subprocess.Popen([CSMS, "serve", "--port", str(port)], env=env, cwd=tmp_path)
    yield server, f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(15)


async def test_memory_and_open_files_level_off_under_a_charging_and_reconnecting_fleet(
    csms_process: tuple[subprocess.Popen[bytes], str],
) -> None:
    server, base_url = csms_process
    await wait_until_up(base_url)
    options = FleetOptions(
        url=base_url,
        chargers=40,
        password="simulated-charger-pw",
        prefix="SOAK",
        duration=24,
        idle_seconds=0.3,
        session_seconds=1.0,
        meter_interval=0.1,
        heartbeat_interval=0.5,
        reconnect_probability=0.05,
    )
    await register_chargers(options, "soak-admin", ADMIN_PASSWORD)
    samples: list[tuple[int, int]] = []

    async def sample() -> None:
        while True:
            samples.append((resident_kib(server.pid), open_files(server.pid)))
            await asyncio.sleep(1)

    sampler = asyncio.create_task(sample())
    stats = await run_fleet(options)
    sampler.cancel()
    assert stats.errors == 0 and stats.reconnects > 0 and stats.messages > 2000
    warm = samples[8:]  # after start-up and the first reconnects
    first, second = warm[: len(warm) // 2], warm[len(warm) // 2 :]
    rss_growth_kib = max(rss for rss, _ in second) - max(rss for rss, _ in first)
    assert rss_growth_kib < 8 * 1024, f"memory kept growing: {samples}"
    assert max(files for _, files in second) <= max(files for _, files in first) + 5, f"open files grew: {samples}"
