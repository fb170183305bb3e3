"""Fixtures: a real csms server on an ephemeral port, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession

from csms.app import create_app
from csms.config import Settings
from csms.ocpp import transport
from csms.runtime import Runtime
from csms.services import chargers
from csms.services.clock import utc_now
from tests.support.tcp_proxy import CuttableProxy

POSTGRES_ADMIN_URL = os.environ.get("CSMS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
NATS_URL = os.environ.get("CSMS_TEST_NATS_URL", "nats://127.0.0.1:4222")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHARGER_PASSWORD = "charger-secret-0123"


# The modules whose tests run longest (tens of seconds to two minutes each, `pytest --durations`), collected
# first: `make test`'s two workers take them at the start, and the suite ends on short tests instead of one
# worker finishing a long one while the other idles.
LONG_RUNNING_MODULES = (
    "test_schemathesis.py",
    "test_soak.py",
    "test_install.py",
    "test_security_profile_3.py",
    "test_cli.py",
    "test_presence.py",
    "test_outages.py",
    "test_durability.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def runs_long(item: pytest.Item) -> bool:
        return item.path.name in LONG_RUNNING_MODULES

    items[:] = [item for item in items if runs_long(item)] + [item for item in items if not runs_long(item)]


def dependency_missing(what: str) -> None:
    """Under CI a missing server fails the run; on a laptop it skips the tests that need it."""
    if IN_CI:
        pytest.fail(f"{what} is required under CI", pytrace=False)
    pytest.skip(f"{what} is not reachable")


@dataclass
class RunningServer:
    app_runtime: Runtime
    port: int

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def session(self) -> AsyncSession:
        return self.app_runtime.session_factory()

    def on_the_wire(self, subject: str) -> str:
        """`subject` as this node's NATS traffic names it (under its namespace), for a raw NATS client."""
        namespace = self.app_runtime.settings.bus_namespace
        return f"{namespace}.{subject}" if namespace else subject

    async def add_charger(self, charge_point_id: str | None = None, password: str = CHARGER_PASSWORD) -> str:
        charge_point_id = charge_point_id or new_charger_id()
        async with self.session() as session:
            await chargers.register_charger(session, charge_point_id=charge_point_id, password=password, now=utc_now())
        return charge_point_id

    async def flush_message_log(self) -> None:
        await self.app_runtime.message_log.flush()


def new_charger_id() -> str:
    return f"CP-{secrets.token_hex(4)}"


async def start_server(settings: Settings) -> tuple[uvicorn.Server, asyncio.Task[None], RunningServer]:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ws_ping_interval=None,
        lifespan="on",
        ws=transport.PROTOCOL,
        proxy_headers=False,  # as `csms serve` runs it: the app decides whom to believe
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    running = RunningServer(app.state.runtime, port)
    running.app_runtime.settings.public_url = running.http_url  # the links chargers get lead back here
    return server, task, running


async def stop_server(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await asyncio.wait_for(task, 15)


def create_postgres_database() -> str:
    """A fresh database on the real PostgreSQL server; returns its SQLAlchemy URL."""
    name = f"csms_test_{secrets.token_hex(4)}"

    async def create() -> None:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    try:
        asyncio.run(create())
    except (OSError, asyncpg.PostgresError) as error:
        dependency_missing(f"PostgreSQL at {POSTGRES_ADMIN_URL} ({error})")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]

    async def drop() -> None:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(drop())


def bus_namespace_for(database_url: str) -> str:
    """The NATS namespace of the nodes on `database_url`: tests running at once (make test runs two workers)
    share one NATS server, and without a namespace each would hear the other's events, takeovers and
    commands (a charger id or a site id both have). Nodes of one test share its database, so its namespace."""
    return "test-" + hashlib.sha256(database_url.encode()).hexdigest()[:16]


def settings_for(database_url: str, **overrides: Any) -> Settings:
    """A node's settings on `database_url`; nodes given a bus get their database's namespace on it."""
    if overrides.get("bus_url"):
        overrides.setdefault("bus_namespace", bus_namespace_for(database_url))
    overrides.setdefault("files_dir", tempfile.mkdtemp(prefix="csms-test-files-"))
    # Every test signs up and connects chargers from 127.0.0.1: on a shared node, the per-address limits would
    # count one test's signups and refused charger passwords against the next. The tests of each limit start a
    # node with a low one.
    overrides.setdefault("signups_per_address", 1_000_000)
    overrides.setdefault("charger_auth_failures_per_address", 1_000_000)
    return Settings(database_url=database_url, jwt_secret="test-secret-" + "x" * 40, **overrides)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextlib.contextmanager
def fresh_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new, empty database on `backend` ("sqlite" or "postgres"), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'csms.db'}"
        return
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def own_database() -> Iterator[str]:
    """A PostgreSQL database of the test's own, dropped afterwards."""
    url = create_postgres_database()
    yield url
    drop_postgres_database(url)


@pytest.fixture
async def database_proxy() -> AsyncIterator[CuttableProxy]:
    """A TCP proxy in front of PostgreSQL (`in_front_of(url)`) the test cuts or blackholes; closed afterwards."""
    proxy = CuttableProxy()
    await proxy.start()
    yield proxy
    proxy.heal()
    await proxy.cut()


@pytest.fixture(scope="module")
def shared_database() -> Iterator[str]:
    """A PostgreSQL database of the module's own, which the nodes of its cluster tests share."""
    url = create_postgres_database()
    yield url
    drop_postgres_database(url)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Each storage backend in turn; tests that use it run once per backend."""
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="session")
async def server(database_url: str) -> AsyncIterator[RunningServer]:
    """A csms node on each storage backend."""
    handle, task, running = await start_server(settings_for(database_url, ocpp_call_timeout=2))
    yield running
    await stop_server(handle, task)


@pytest.fixture(scope="session")
async def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    """A csms node on SQLite, for tests of behaviour that does not depend on the database."""
    path: Path = tmp_path_factory.mktemp("db-api") / "csms.db"
    handle, task, running = await start_server(settings_for(f"sqlite+aiosqlite:///{path}", ocpp_call_timeout=2))
    yield running
    await stop_server(handle, task)


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as client:
        yield client


USER_PASSWORD = "a-long-user-password"


def new_username(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def signup(
    client: httpx.AsyncClient, username: str | None = None, password: str = USER_PASSWORD
) -> dict[str, Any]:
    response = await client.post("/api/signup", json={"username": username or new_username(), "password": password})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def create_account_with_role(server: RunningServer, role: str) -> tuple[str, str]:
    """An account made the way an operator makes one (`csms create-user --role ...`)."""
    from csms.services import accounts

    username = new_username(role)
    async with server.session() as session:
        await accounts.create_account(session, username=username, password=USER_PASSWORD, role=role, now=utc_now())
    return username, USER_PASSWORD


async def login_as(client: httpx.AsyncClient, username: str, password: str = USER_PASSWORD) -> dict[str, Any]:
    response = await client.post("/api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@contextlib.asynccontextmanager
async def node_with(tmp_path: Path, **overrides: Any) -> AsyncIterator[RunningServer]:
    """A node of its own on SQLite with these settings, so tripping its limits disturbs no other test."""
    handle, task, running = await start_server(settings_for(f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}", **overrides))
    try:
        yield running
    finally:
        await stop_server(handle, task)


Node = tuple[uvicorn.Server, asyncio.Task[None], RunningServer]


@contextlib.asynccontextmanager
async def cluster_of(*node_settings: Settings) -> AsyncIterator[list[Node]]:
    """Nodes on one bus, started in order (NATS away: `dependency_missing`) and stopped afterwards, except
    those a test stopped itself."""
    started: list[Node] = []
    try:
        for settings in node_settings:
            started.append(await start_server(settings))
    except Exception as error:
        for handle, task, _running in started:
            await stop_server(handle, task)
        dependency_missing(f"NATS at {NATS_URL} ({error})")
    try:
        yield started
    finally:
        for handle, task, _running in started:
            if not task.done():
                await stop_server(handle, task)


def client_from(server: RunningServer, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """An HTTP client whose connections come from `address` (any of 127.0.0.0/8): another client machine."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=server.http_url, timeout=30, transport=transport)


@pytest.fixture
async def api(sqlite_server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sqlite_server.http_url, timeout=10) as client:
        yield client
