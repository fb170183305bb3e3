"""Lean chargers that only answer: hold N OCPP 1.6J connections and accept every call at once.

Raw `websockets` connections and a hand-built `[3, id, {"status": "Accepted"}]` answer, so the load
side spends almost nothing per call. Prints one line `ready N` when all N are connected, and a JSON
line with the answered and lost counts on SIGTERM. Run as a process of its own, pinned to the load core
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
from pathlib import Path

import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from machine import freeze_heap

OCPP16 = Subprotocol("ocpp1.6")
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


# What a charger says right after connecting (OCPP 1.6 §4.9): its connectors and their state.
_CONNECTOR_AVAILABLE = json.dumps(
    [2, "boot-status", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}]
)


async def connect_charger(url: str, charge_point_id: str, password: str) -> ClientConnection:
    credentials = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
    connection = await connect(
        f"{url}/{charge_point_id}",
        subprotocols=[OCPP16],
        additional_headers={"Authorization": f"Basic {credentials}"},
        compression=None,
        proxy=None,
        open_timeout=60,
        ping_interval=None,
        close_timeout=1,
    )
    await connection.send(_CONNECTOR_AVAILABLE)
    await connection.recv()  # the answer (a CallError from a reference that does not handle it is fine)
    return connection


async def connect_all(urls: list[str], ids: list[str], password: str) -> list[ClientConnection]:
    connections: list[ClientConnection] = []
    for start in range(0, len(ids), CONNECT_BATCH):
        batch = range(start, min(start + CONNECT_BATCH, len(ids)))
        connections += await asyncio.gather(
            *(connect_charger(urls[index % len(urls)], ids[index], password) for index in batch)
        )
    return connections


async def run(urls: list[str], ids: list[str], password: str) -> Tally:
    connections = await connect_all(urls, ids, password)
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
    *, urls: list[str], count: int, prefix: str, password: str, core: int, timeout: float = 120.0
) -> subprocess.Popen[str]:
    """Start this script pinned to `core` and wait until its `count` chargers are connected."""
    command = [
        "taskset", "-c", str(core), sys.executable, str(Path(__file__).resolve()),
        *(argument for url in urls for argument in ("--url", url)),
        "--chargers", str(count), "--prefix", prefix, "--password", password,
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
    args = parser.parse_args()
    ids = charge_point_ids(args.prefix, args.chargers)
    tally = uvloop.run(run(args.url, ids, args.password))
    print(json.dumps({"answered": tally.answered, "lost": tally.lost}), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
