"""A soak run: a simulated fleet charging and reconnecting against a real `csms serve` process, while its
memory and open files are sampled; both must level off, not keep growing."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from csms.simulator.fleet import FleetOptions, register_chargers, run_fleet
from tests.support.processes import CSMS, free_port, wait_until_serving

ADMIN_PASSWORD = "a long admin password"


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture
def csms_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`csms serve` as an operator runs it, with an admin account to register the fleet."""
    env = {
        **os.environ,
        "CSMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}",
        "CSMS_LOG_LEVEL": "warning",
    }
    create_admin = [CSMS, "create-user", "--username", "soak-admin", "--password", ADMIN_PASSWORD, "--role", "admin"]
    subprocess.run(create_admin, env=env, cwd=tmp_path, check=True, capture_output=True, timeout=120)
    port = free_port()
    server = subprocess.Popen([CSMS, "serve", "--port", str(port)], env=env, cwd=tmp_path)
    yield server, f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(15)


ROUNDS = 3  # the first warms up (pools, caches, arenas); the last two are the steady-state window
# A leak grows at every round: a round makes ~80 connections and thousands of messages, so 40 KB kept per
# connection adds ~3 MiB a round and one file descriptor per connection ~80 (both checked by hand against
# this test). What noise adds (an allocator's high-water mark after a busy moment) does not repeat, so the
# smaller of the two steady-state growths must stay under the bound.
RSS_GROWTH_BOUND_KIB = 2 * 1024
OPEN_FILES_GROWTH_BOUND = 4


async def test_memory_and_open_files_level_off_under_a_charging_and_reconnecting_fleet(
    csms_process: tuple[subprocess.Popen[bytes], str],
) -> None:
    """The same fleet runs three rounds; between rounds the node is sampled at rest (every charger gone,
    open files steady), so how busy the machine is changes how long a round takes, not what is measured."""
    server, base_url = csms_process
    await asyncio.to_thread(wait_until_serving, base_url, server)
    options = FleetOptions(
        url=base_url,
        chargers=40,
        password="simulated-charger-pw",
        prefix="SOAK",
        duration=8,
        idle_seconds=0.3,
        session_seconds=1.0,
        meter_interval=0.1,
        heartbeat_interval=0.5,
        reconnect_probability=0.1,
    )
    await register_chargers(options, "soak-admin", ADMIN_PASSWORD)
    at_rest: list[tuple[int, int]] = []
    reconnects = 0
    for _ in range(ROUNDS):
        stats = await run_fleet(options)
        assert stats.errors == 0, "a charger saw an error"
        assert stats.messages >= 5 * options.chargers, "the fleet did not run"
        reconnects += stats.reconnects
        at_rest.append(await sample_at_rest(server.pid, base_url))
    assert reconnects > 0
    rss_growth_kib = [later[0] - earlier[0] for earlier, later in itertools.pairwise(at_rest)]
    file_growth = [later[1] - earlier[1] for earlier, later in itertools.pairwise(at_rest)]
    assert min(rss_growth_kib) < RSS_GROWTH_BOUND_KIB, f"memory grew at every round: {at_rest}"
    assert min(file_growth) <= OPEN_FILES_GROWTH_BOUND, f"open files grew at every round: {at_rest}"


async def sample_at_rest(pid: int, base_url: str) -> tuple[int, int]:
    """(resident KiB, open files) once csms sees no fleet charger connected and its open files hold still."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        login = await client.post("/api/login", json={"username": "soak-admin", "password": ADMIN_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        previous_files = -1
        async with asyncio.timeout(120):
            while True:
                chargers = (await client.get("/api/admin/chargers", headers=headers)).json()
                files = open_files(pid)
                if not any(charger["is_connected"] for charger in chargers) and files == previous_files:
                    return resident_kib(pid), files
                previous_files = files
                await asyncio.sleep(0.5)
