"""Lean chargers that only answer: hold N OCPP connections and accept every call at once.

Raw `websockets` connections and a hand-built `[3, id, {"status": "Accepted"}]` answer, so the load
side spends almost nothing per call (the same answer accepts a 1.6 RemoteStartTransaction and a 2.0.1
RequestStartTransaction). Each charger boots and reports its connector as Available, or with
`--no-status` only boots. Prints one line `ready N` when all N are connected, and a JSON line with the
answered and lost counts on SIGTERM. Run as a process of its own, pinned to the load core
(`spawn_answering_chargers` does that); with several `--url`s, the chargers are dealt round robin:

    python bench/answering_chargers.py --url ws://127.0.0.1:8000/ocpp --chargers 500 --password ...
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import select
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from machine import freeze_heap

CONNECT_BATCH = 100
_CALL = 2


@dataclass
class Tally:
    answered: int = 0
    lost: int = 0


def charge_point_ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{number:05d}" for number in range(1, count + 1)]


def accepted_frame(raw: str | bytes) -> str | None:
    """The CallResult that accepts a Call; None for anything else (results, errors)."""
    message = json.loads(raw)
    if message[0] != _CALL:
        return None
    return f'[3,{json.dumps(message[1])},{{"status":"Accepted"}}]'


async def answer_calls(connection: ClientConnection, tally: Tally) -> None:
    try:
        async for raw in connection:
            answer = accepted_frame(raw)
            if answer is not None:
                await connection.send(answer)
                tally.answered += 1
    except ConnectionClosed:
        pass
    tally.lost += 1


@dataclass(frozen=True)
class Greeting:
    """What a charger of one OCPP version says right after connecting: BootNotification, then its
    connector's state (OCPP 1.6 §4.9; 2.0.1 B01, per EVSE and connector)."""

    subprotocol: Subprotocol
    boot: dict[str, object]
    status: dict[str, object]

    def frames(self, *, with_status: bool) -> list[str]:
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        calls = [("boot", "BootNotification", self.boot)]
        if with_status:
            calls.append(("status", "StatusNotification", {**self.status, "timestamp": now}))
        return [json.dumps([_CALL, unique_id, action, payload]) for unique_id, action, payload in calls]


GREETINGS = {
    "1.6": Greeting(
        Subprotocol("ocpp1.6"),
        boot={"chargePointVendor": "csms-bench", "chargePointModel": "AnsweringCharger"},
        status={"connectorId": 1, "errorCode": "NoError", "status": "Available"},
    ),
    "2.0.1": Greeting(
        Subprotocol("ocpp2.0.1"),
        boot={"chargingStation": {"vendorName": "csms-bench", "model": "AnsweringCharger"}, "reason": "PowerUp"},
        status={"connectorStatus": "Available", "evseId": 1, "connectorId": 1},
    ),
}


async def connect_charger(
    url: str, charge_point_id: str, password: str, *, greeting: Greeting, with_status: bool
) -> ClientConnection:
    credentials = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
    connection = await connect(
        f"{url}/{charge_point_id}",
        subprotocols=[greeting.subprotocol],
        additional_headers={"Authorization": f"Basic {credentials}"},
        compression=None,
        proxy=None,
        open_timeout=60,
        ping_interval=None,
        close_timeout=1,
    )
    if connection.subprotocol != greeting.subprotocol:
        raise RuntimeError(f"{url} did not accept {greeting.subprotocol} (got {connection.subprotocol})")
    for frame in greeting.frames(with_status=with_status):
        await connection.send(frame)
        await _await_answer(connection)
    return connection


async def _await_answer(connection: ClientConnection) -> None:
    """Wait for the answer to the charger's call, accepting any call the server sends meanwhile.

    The answer may be a CallError: a reference that does not handle BootNotification is fine.
    """
    while True:
        raw = await connection.recv()
        answer = accepted_frame(raw)
        if answer is None:
            return
        await connection.send(answer)


async def connect_all(
    urls: list[str], ids: list[str], password: str, *, greeting: Greeting, with_status: bool
) -> list[ClientConnection]:
    connections: list[ClientConnection] = []
    for start in range(0, len(ids), CONNECT_BATCH):
        batch = range(start, min(start + CONNECT_BATCH, len(ids)))
        connections += await asyncio.gather(
            *(
                connect_charger(
                    urls[index % len(urls)], ids[index], password, greeting=greeting, with_status=with_status
                )
                for index in batch
            )
        )
    return connections


async def run(urls: list[str], ids: list[str], password: str, *, greeting: Greeting, with_status: bool) -> Tally:
    connections = await connect_all(urls, ids, password, greeting=greeting, with_status=with_status)
    tally = Tally()
    tasks = [asyncio.create_task(answer_calls(connection, tally)) for connection in connections]
    freeze_heap()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"ready {len(connections)}", flush=True)
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(connection.close() for connection in connections), return_exceptions=True)
    return tally


# -- as a child process of a benchmark ----------------------------------------------------------


def spawn_answering_chargers(
    *,
    urls: list[str],
    count: int,
    prefix: str,
    password: str,
    core: int,
    ocpp: str = "1.6",
    with_status: bool = True,
    timeout: float = 120.0,
) -> subprocess.Popen[str]:
    """Start this script pinned to `core` and wait until its `count` chargers are connected."""
    command = [
        "taskset", "-c", str(core), sys.executable, str(Path(__file__).resolve()),
        *(argument for url in urls for argument in ("--url", url)),
        "--chargers", str(count), "--prefix", prefix, "--password", password, "--ocpp", ocpp,
        *([] if with_status else ["--no-status"]),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if line.strip() != f"ready {count}":
        process.kill()
        raise RuntimeError(f"answering chargers did not all connect to {urls} ({line.strip() or 'no answer'})")
    return process


def stop_answering_chargers(process: subprocess.Popen[str]) -> tuple[int, int]:
    """Stop the chargers; how many calls they answered and how many connections they lost."""
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return 0, -1
    tally = json.loads(output.strip().splitlines()[-1])
    return int(tally["answered"]), int(tally["lost"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", action="append", required=True, help="an OCPP endpoint without the charge point id (repeatable)"
    )
    parser.add_argument("--chargers", type=int, required=True)
    parser.add_argument("--prefix", default="CP")
    parser.add_argument("--password", required=True)
    parser.add_argument("--ocpp", choices=sorted(GREETINGS), default="1.6", help="the chargers' OCPP version")
    parser.add_argument("--no-status", action="store_true", help="boot only: never send StatusNotification")
    args = parser.parse_args()
    ids = charge_point_ids(args.prefix, args.chargers)
    greeting = GREETINGS[args.ocpp]
    tally = uvloop.run(run(args.url, ids, args.password, greeting=greeting, with_status=not args.no_status))
    print(json.dumps({"answered": tally.answered, "lost": tally.lost}), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
