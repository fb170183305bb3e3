"""The servers scale_out.py measures: 1 to 3 csms nodes on one PostgreSQL database and NATS, or echo servers.

Every run gets a fresh PostgreSQL database (created with asyncpg, dropped afterwards) with its chargers
registered, and nodes that share it, the NATS bus and one JWT secret. Node i is pinned to
`server_cores[i % len(server_cores)]`, so with one server core all nodes share it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from csms_process import (
    LOOPBACK,
    ServerProcess,
    free_port,
    run_seed,
    start_pinned,
    start_server,
    wait_until_ready,
)
from machine import process_cpu_seconds
from remote_start_targets import SIGNUPS_PER_ADDRESS

POSTGRES_HOST = "postgres@127.0.0.1:5432"
ECHO_SCRIPT = Path(__file__).resolve().parent / "references" / "echo_websockets.py"
TARGETS = ("echo", "csms")


@dataclass(frozen=True)
class ClusterSpec:
    target: str
    nodes: int
    server_cores: tuple[int, ...]
    max_open_files: int
    bus_url: str
    workdir: Path


@dataclass
class Cluster:
    target: str
    servers: list[ServerProcess]
    database: str | None

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    def ocpp_urls(self) -> list[str]:
        return [f"ws://{LOOPBACK}:{port}/ocpp" for port in self.ports]

    def cpu_seconds(self) -> list[float]:
        return [server.cpu_seconds() for server in self.servers]

    def rss_bytes(self) -> list[int]:
        return [server.rss_bytes() for server in self.servers]


# -- the database ---------------------------------------------------------------------------------


def postgres_url(database: str) -> str:
    return f"postgresql+asyncpg://{POSTGRES_HOST}/{database}"


async def _administer(statement: str) -> None:
    connection = await asyncpg.connect(f"postgresql://{POSTGRES_HOST}/postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def fresh_database(charge_point_ids: list[str], password: str) -> Iterator[str]:
    """A new PostgreSQL database, migrated, with the chargers registered; dropped on exit."""
    name = f"csms_scale_out_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_administer(f'CREATE DATABASE "{name}"'))
    try:
        run_seed(postgres_url(name), charge_point_ids, password)
        yield name
    finally:
        asyncio.run(_administer(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _backend_pids(database: str) -> list[int]:
    connection = await asyncpg.connect(f"postgresql://{POSTGRES_HOST}/postgres")
    try:
        rows = await connection.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    finally:
        await connection.close()
    return [int(row["pid"]) for row in rows]


async def postgres_cpu_seconds(database: str | None) -> float:
    """CPU time of the PostgreSQL backends serving `database` (the nodes' pooled connections)."""
    if database is None:
        return 0.0
    total = 0.0
    for pid in await _backend_pids(database):
        try:
            total += process_cpu_seconds(pid)
        except OSError:
            continue  # a backend that ended since the query
    return total


# -- the nodes ------------------------------------------------------------------------------------


def _node_environment(
    spec: ClusterSpec, database: str, jwt_secret: str, csms_environment: dict[str, str]
) -> dict[str, str]:
    return {
        **csms_environment,
        "CSMS_BUS_URL": spec.bus_url,
        "CSMS_JWT_SECRET": jwt_secret,
        "CSMS_ACCESS_TOKEN_TTL": "3600",
        "CSMS_SIGNUPS_PER_ADDRESS": SIGNUPS_PER_ADDRESS,  # every bench user signs up from 127.0.0.1
        # Per database: a node keeps the identity of the database it ran on there and refuses another.
        "CSMS_FILES_DIR": str(spec.workdir / f"files-{database}"),
    }


def start_csms_nodes(spec: ClusterSpec, database: str, csms_environment: dict[str, str]) -> Cluster:
    """Start the nodes one after the other (each migrates on start), every one a full node (`--role all`)."""
    environment = _node_environment(spec, database, secrets.token_urlsafe(32), csms_environment)
    cluster = Cluster(spec.target, [], database)
    for index in range(spec.nodes):
        server = start_server(
            url=postgres_url(database),
            port=free_port(),
            core=spec.server_cores[index % len(spec.server_cores)],
            max_open_files=spec.max_open_files,
            log_path=spec.workdir / f"node{index}.log",
            log_level="warning",  # no access log
            environment=environment,
        )
        cluster.servers.append(server)
        wait_until_ready(server)
    return cluster


def start_echo_servers(spec: ClusterSpec) -> Cluster:
    cluster = Cluster(spec.target, [], None)
    for index in range(spec.nodes):
        port = free_port()
        server = start_pinned(
            [sys.executable, str(ECHO_SCRIPT), "--port", str(port)],
            port=port,
            core=spec.server_cores[index % len(spec.server_cores)],
            max_open_files=spec.max_open_files,
            log_path=spec.workdir / f"echo{index}.log",
            environment={},
        )
        cluster.servers.append(server)
        wait_until_ready(server)
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    for server in cluster.servers:
        server.stop()
