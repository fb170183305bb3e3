"""The strict peer: tests/support/strict_station.mjs (ocpp-rpc in strict mode, `make tools`) as a station
process connected to a running csms, and what it reports: the calls it received and every message, either
way, that broke its schemas."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import websockets
from websockets.exceptions import InvalidStatus

from tests.conftest import CHARGER_PASSWORD, RunningServer, dependency_missing
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "tests" / "support" / "strict_station.mjs"
OCPP_RPC = ROOT / ".tools" / "node_modules" / "ocpp-rpc"
READY_SECONDS = 30.0  # node's start-up and the station's own life, on a busy machine


class StrictStation:
    """The running script: `ready()` once its own life is done, `received` as calls arrive, `stop()` for the summary."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.received: list[str] = []
        self._ready = asyncio.get_running_loop().create_future()
        self._summary = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._process.stdout is not None
        async for line in self._process.stdout:
            event = json.loads(line)
            if event["event"] == "call":
                self.received.append(event["action"])
            elif event["event"] in {"ready", "refused"} and not self._ready.done():
                self._ready.set_result(event)
            elif event["event"] == "summary":
                self._summary.set_result(event)
        for future in (self._ready, self._summary):
            if not future.done():
                future.set_exception(AssertionError(f"the strict station exited: {await self._stderr()}"))

    async def _stderr(self) -> str:
        assert self._process.stderr is not None
        return (await self._process.stderr.read()).decode(errors="replace")[-3000:]

    async def ready(self) -> dict[str, Any]:
        event: dict[str, Any] = await asyncio.wait_for(self._ready, READY_SECONDS)
        assert event["event"] == "ready", event
        return event

    async def wait_for_call(self, action: str) -> None:
        await wait_until(lambda: action in self.received)

    async def stop(self) -> dict[str, Any]:
        """Tell the station to stop; its summary once its pending follow-ups are sent and it has closed."""
        assert self._process.stdin is not None
        if self._process.returncode is None:
            self._process.stdin.write(b"stop\n")
            with contextlib.suppress(ConnectionError):
                await self._process.stdin.drain()
        return await self.summary()

    async def summary(self) -> dict[str, Any]:
        """The summary the station prints when it stops (told to, or its connection closed), once it has exited."""
        summary: dict[str, Any] = await asyncio.wait_for(self._summary, READY_SECONDS)
        await asyncio.wait_for(self._process.wait(), READY_SECONDS)
        await self._reader
        return summary

    async def close(self) -> None:
        """Kill the process if it still runs (a test that failed before stopping it)."""
        if self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        await self._reader
        for future in (self._ready, self._summary):
            if future.done() and not future.cancelled():
                future.exception()  # seen: a test that failed first need not hear that the station exited too

    @property
    def exit_code(self) -> int | None:
        return self._process.returncode


def node() -> str:
    found = shutil.which("node")
    if found is None or not OCPP_RPC.exists():
        dependency_missing("node and ocpp-rpc (`make tools` installs ocpp-rpc into .tools/)")
    assert found is not None
    return found


@contextlib.asynccontextmanager
async def strict_station(
    ws_url: str, charge_point_id: str, protocol: str, *, id_tag: str, csr: Path | None = None
) -> AsyncIterator[StrictStation]:
    """The strict station connected to `ws_url`/ocpp as `charge_point_id` over `protocol`, presenting `id_tag` in its own life and
    sending the CSR in `csr` when asked for one; killed afterwards if still running."""
    process = await asyncio.create_subprocess_exec(
        node(),
        str(SCRIPT),
        f"--url={ws_url}/ocpp",
        f"--identity={charge_point_id}",
        f"--password={CHARGER_PASSWORD}",
        f"--protocol={protocol}",
        f"--id-tag={id_tag}",
        *([f"--csr={csr}"] if csr is not None else []),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    station = StrictStation(process)
    try:
        yield station
    finally:
        await station.close()


async def offers_subprotocol(server: RunningServer, charge_point_id: str, subprotocol: str) -> bool:
    """Whether csms accepts a registered charger that offers only `subprotocol`."""
    credentials = base64.b64encode(f"{charge_point_id}:{CHARGER_PASSWORD}".encode()).decode()
    try:
        async with websockets.connect(
            f"{server.ws_url}/ocpp/{charge_point_id}",
            subprotocols=[subprotocol],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Basic {credentials}"},
        ) as websocket:
            return websocket.subprotocol == subprotocol
    except InvalidStatus:
        return False
