"""create_app(): one FastAPI application serving the REST API, the OCPP endpoint and the pages."""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from csms import __version__
from csms.api import (
    account,
    admin,
    admin_stats,
    admin_users,
    audit,
    auth,
    charging,
    display_messages,
    errors,
    files,
    firmware_publications,
    headers,
    health,
    live,
    metrics_endpoint,
    ocpi_locations,
    ocpi_parties,
    ocpi_tokens,
    operations,
    pairing_codes,
    prices,
    records,
    reservations,
    sites,
    smart_charging,
    station_monitoring,
    tariffs,
    webhooks,
)
from csms.api import budgets as budget_routes
from csms.api import certificates as certificate_routes
from csms.api import contract_certificates as contract_certificate_routes
from csms.api import device_model as device_model_routes
from csms.api.commanding import checks_on_the_executing_node
from csms.api.storable_requests import StorableRequests
from csms.bus import Bus
from csms.bus.events import Events
from csms.bus.memory import MemoryBus
from csms.bus.nats import NatsBus, NatsLogin
from csms.config import Settings
from csms.db import change_counters
from csms.db.batch_writer import BatchWriter
from csms.db.cluster_clock import ClusterClock
from csms.db.database_file import DatabaseFile
from csms.db.database_identity import open_database_of
from csms.db.engine import DatabaseTimeouts, checkpoint_sqlite_periodically, create_engine, create_session_factory
from csms.db.write_journal import WriteJournal
from csms.ftp.logins import FileTransfers
from csms.ftp.server import FtpServers
from csms.observability.certificate_expiry import CertificateWatch
from csms.observability.metrics import Metrics
from csms.observability.middleware import ObservationMiddleware
from csms.ocpi import mount as ocpi
from csms.ocpi.client import OcpiClient
from csms.ocpi.push import OcpiPusher
from csms.ocpi.session_feed import RoamingSessionFeed
from csms.ocpi.tokens import attach_roaming
from csms.ocpp.command_envelope import CommandSeal, derive_secret
from csms.ocpp.commands import CommandRouter, OwnerLookup
from csms.ocpp.endpoint import ChargerSockets
from csms.ocpp.presence import PresenceKeeper, Transaction
from csms.ocpp.registry import ConnectionRegistry
from csms.ocpp.sessions import ChargerSessions
from csms.ocpp.takeover import TakeoverWatcher
from csms.runtime import Runtime
from csms.services import open_transactions, pairing, presence, signed_urls
from csms.services.accounts import TokenPolicy
from csms.services.background import BackgroundTasks
from csms.services.cache_freshness import CacheFreshness
from csms.services.certificate_authority import load_authority
from csms.services.clock import offset_clock
from csms.services.command_log import CommandLog
from csms.services.file_links import FileLinks
from csms.services.file_store import FileStore
from csms.services.iso15118 import CertificateProvider
from csms.services.iso15118_development import DevelopmentProvider
from csms.services.iso15118_http import HttpProvider
from csms.services.live_costs import LiveCosts
from csms.services.local_list import LocalListPusher
from csms.services.login_cache import LoginCache
from csms.services.login_throttle import LoginThrottle, SignupThrottle
from csms.services.message_log import MessageLog, MessageLogRetention
from csms.services.outage_reserves import RecentTags
from csms.services.security_log import RepeatedEvents, SecurityEventRetention
from csms.services.session_watch import SessionWatch
from csms.services.site_load import SiteLoadManager, Timing
from csms.services.tag_directory import TagDirectory, watch_commits
from csms.services.webhook_delivery import DeliveryPolicy, WebhookDispatcher
from csms.services.webhook_targets import own_hosts
from csms.web import pages

# How far beyond this node's call timeout a command's deadline may lie (another node may be configured
# with a longer timeout), and how often each node measures its offset from the database clock.
_DEADLINE_SLACK = 30.0
_CLOCK_MEASURE_INTERVAL = 30.0
# How long a stopping node lets the work in flight finish: a charge that stopped moments before gets its cost
# frozen and its CDR queued, which the CDR sweep would otherwise do only minutes after the next start.
_SHUTDOWN_GRACE = 5.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await start_runtime(settings, metrics=metrics)
        app.state.runtime = runtime
        app.state.charger_sessions = ChargerSessions(runtime)
        _tune_garbage_collector()
        try:
            yield
        finally:
            await stop_runtime(runtime)

    app = FastAPI(
        title="csms",
        version=__version__,
        summary="Charging Station Management System: OCPP 1.6J central system and REST API",
        lifespan=lifespan,
    )
    errors.install(app)
    # Innermost: its 422s carry the security and CORS headers, and the audit log records them.
    app.add_middleware(StorableRequests)
    headers.install(app, cors_origins=settings.cors_origins)
    if settings.node_role in ("all", "api"):
        # FastAPI tries included routers in order on every request: the app's hottest route first.
        app.include_router(charging.router)
    app.include_router(health.router)
    if settings.node_role in ("all", "api"):
        _include_api_and_pages(app)
        app.add_middleware(audit.AuditMiddleware)
    _observe(app, metrics)  # its middleware outermost but one: its request id is in every log line
    if settings.node_role in ("all", "ocpp"):
        app.add_middleware(ChargerSockets)  # chargers' sockets skip the HTTP stack
    if settings.forwarded_allow_ips:
        # Outermost, so every layer sees the client's address; only the configured proxies are believed.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    return app


def _observe(app: FastAPI, metrics: Metrics) -> None:
    app.include_router(metrics_endpoint.router)
    app.add_middleware(ObservationMiddleware, metrics=metrics)


def _include_api_and_pages(app: FastAPI) -> None:
    app.include_router(auth.router)
    app.include_router(audit.router)
    app.include_router(records.router)
    app.include_router(live.router)
    app.include_router(account.router)
    app.include_router(pairing_codes.router)
    app.include_router(prices.router)
    app.include_router(admin.router)
    app.include_router(admin_users.router)
    app.include_router(operations.router)
    app.include_router(device_model_routes.router)
    app.include_router(smart_charging.router)
    app.include_router(reservations.router)
    app.include_router(files.router)
    app.include_router(firmware_publications.router)
    app.include_router(certificate_routes.router)
    app.include_router(contract_certificate_routes.router)
    app.include_router(admin_stats.router)
    app.include_router(tariffs.router)
    app.include_router(budget_routes.router)
    app.include_router(webhooks.router)
    app.include_router(station_monitoring.router)
    app.include_router(display_messages.router)
    app.include_router(sites.router)
    app.include_router(ocpi_parties.router)
    app.include_router(ocpi_locations.router)
    app.include_router(ocpi_tokens.router)
    ocpi.install(app)
    app.include_router(pages.router)
    app.mount("/static", pages.static_files(), name="static")


def _certificate_provider(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
) -> CertificateProvider:
    """The ISO 15118 certificate provider the settings choose."""
    if settings.iso15118_provider == "http" and settings.iso15118_provider_url:
        return HttpProvider(settings.iso15118_provider_url, timeout=settings.iso15118_provider_timeout)
    return DevelopmentProvider(
        session_factory,
        authority=lambda: load_authority(settings.ca_certfile, settings.ca_keyfile),
        clock=clock,
        secc_valid_for=timedelta(days=settings.v2g_certificate_days),
    )


async def start_runtime(settings: Settings, *, metrics: Metrics | None = None) -> Runtime:
    metrics = metrics or Metrics()
    engine = create_engine(settings.database_url, DatabaseTimeouts.of(settings))
    try:
        await open_database_of(settings, engine)
        database_file = DatabaseFile.of(settings.sqlite_path())
        writer = await _start_writer(settings, engine, database_file, metrics)
    except BaseException:
        await engine.dispose()
        raise
    bus = _create_bus(settings)
    await bus.start()
    session_factory = create_session_factory(engine)
    clock = offset_clock(settings.clock_offset_seconds)
    recent_tags = RecentTags()  # what starts while the database is away answer with; a changed tag is forgotten
    tags = TagDirectory(engine, bus, max_age=settings.cache_max_age, on_changed=recent_tags.forget)
    watch_commits(session_factory, tags)
    message_log = MessageLog(writer, clock=clock, max_frame_bytes=settings.message_log_max_frame_bytes)
    secret = settings.resolved_jwt_secret()
    node_id = uuid.uuid4().hex[:12]
    registry = ConnectionRegistry()
    security_events = RepeatedEvents(writer, clock=clock, period=settings.security_event_period)
    cluster_clock = ClusterClock(engine, local_clock=lambda: time.time() + settings.clock_offset_seconds)
    await cluster_clock.measure()
    commands = CommandRouter(
        registry,
        bus,
        call_timeout=settings.ocpp_call_timeout,
        owner_of=_owner_lookup(engine),
        seal=CommandSeal(
            derive_secret(settings.resolved_bus_secret()),
            clock=cluster_clock.now,
            max_lifetime=settings.ocpp_call_timeout + _DEADLINE_SLACK,
        ),
        node_id=node_id,
        metrics=metrics,
        checks=checks_on_the_executing_node(session_factory),
        log=CommandLog(writer, security_events, clock=clock),
    )
    metrics.watch_connected_chargers(registry.__len__)
    events = Events(bus, node_id=node_id, clock=clock)
    background = BackgroundTasks()
    file_url_key = signed_urls.file_url_key(secret)
    files = FileStore(settings.resolved_files_dir())
    takeover = TakeoverWatcher(registry, bus, node_id=node_id)
    session_watch = _session_watch(
        settings,
        session_factory,
        events,
        commands,
        background,
        bus,
        node_id=node_id,
        clock=clock,
        cluster_clock=cluster_clock,
    )
    ocpi_client = OcpiClient(
        timeout=settings.ocpi_request_timeout,
        allow_private=lambda: settings.ocpi_allow_private_peers,
        own_hosts=own_hosts(settings.public_url),
    )
    runtime = Runtime(
        settings=settings,
        engine=engine,
        database_file=database_file,
        session_factory=session_factory,
        message_log=message_log,
        writer=writer,
        token_policy=TokenPolicy(
            secret=secret,
            access_ttl=timedelta(seconds=settings.access_token_ttl),
            refresh_ttl=timedelta(seconds=settings.refresh_token_ttl),
        ),
        login_throttle=LoginThrottle(
            clock=clock,
            per_account_address=settings.login_failures_per_account_address,
            per_address=settings.login_failures_per_address,
            per_account=settings.login_failures_per_account,
        ),
        signup_throttle=SignupThrottle(clock=clock, limit=settings.signups_per_address),
        charger_auth_throttle=LoginThrottle(
            clock=clock,
            per_account_address=settings.charger_auth_failures_per_id,
            per_address=settings.charger_auth_failures_per_address,
            per_account=10 * settings.charger_auth_failures_per_id,
            window=timedelta(minutes=5),
        ),
        logins=LoginCache(bus, clock=clock, ttl=timedelta(seconds=settings.cache_max_age)),
        tags=tags,
        recent_tags=recent_tags,
        sticker_key=pairing.sticker_key(secret),
        file_url_key=file_url_key,
        files=files,
        file_links=FileLinks(settings, file_url_key),
        local_lists=LocalListPusher(session_factory, commands.send_command, clock=clock),
        bus=bus,
        events=events,
        background=background,
        session_watch=session_watch,
        commands=commands,
        registry=registry,
        takeover=takeover,
        node_id=node_id,
        metrics=metrics,
        security_events=security_events,
        certificates=CertificateWatch(settings),
        clock=clock,
        cluster_clock=cluster_clock,
        presence=PresenceKeeper(
            node_id=node_id,
            lease=settings.presence_lease,
            transaction=_presence_transaction(engine, writer),
            registry=registry,
            takeover=takeover,
            events=events,
            session_watch=session_watch,
            clock=clock,
        ),
        iso15118=_certificate_provider(settings, session_factory, clock),
        ocpi_client=ocpi_client,
        ocpi_push=OcpiPusher(session_factory, ocpi_client, settings, background=background, clock=clock),
    )
    session_watch.roaming = runtime.ocpi_push
    roaming_sessions = RoamingSessionFeed(
        session_factory, settings, background=background, clock=clock, wake=runtime.ocpi_push.wake
    )
    session_watch.roaming_sessions = roaming_sessions
    runtime.certificates.log_warnings(clock())
    await runtime.takeover.start()
    await runtime.logins.start()
    attach_roaming(runtime)
    await runtime.tags.start()
    await runtime.session_watch.start()
    runtime.background.spawn(runtime.refill_transaction_ids(), name="transaction-id-reserve")
    runtime.background.run_until_stopped(runtime.ocpi_push.run(), name="ocpi-pushes")
    runtime.background.run_until_stopped(
        runtime.ocpi_push.follow_assignment_windows(settings.ocpi_tariff_window_check_interval),
        name="ocpi-tariff-windows",
    )
    runtime.background.run_until_stopped(
        roaming_sessions.sweep_periodically(settings.ocpi_cdr_sweep_interval), name="ocpi-cdr-sweep"
    )
    runtime.background.run_until_stopped(runtime.presence.run(), name="presence-leases")
    bus.on_reconnect(runtime.presence.reconcile_soon)
    await _keep_caches_fresh(runtime)
    if engine.dialect.name == "sqlite":
        runtime.background.run_until_stopped(checkpoint_sqlite_periodically(engine), name="sqlite-checkpoints")
    runtime.background.run_until_stopped(
        runtime.local_lists.run_periodically(settings.local_list_sync_interval), name="local-list-sync"
    )
    runtime.background.run_until_stopped(runtime.security_events.run_periodically(), name="security-event-counts")
    runtime.background.run_until_stopped(cluster_clock.run_periodically(_CLOCK_MEASURE_INTERVAL), name="cluster-clock")
    _start_message_log_retention(runtime)
    _start_security_event_retention(runtime)
    if settings.stale_transaction_after > 0:
        sweep = open_transactions.sweep_stale_periodically(
            session_factory,
            silent_for=settings.stale_transaction_after,
            check_interval=settings.stale_transaction_check_interval,
            clock=clock,
        )
        runtime.background.run_until_stopped(sweep, name="stale-transactions")
    _start_session_watch(runtime)
    if settings.node_role != "ocpp":  # it serves chargers' files, as the /files routes do
        await _start_ftp(runtime)
    return runtime


async def _keep_caches_fresh(runtime: Runtime) -> None:
    """Drop the caches of what other nodes change when their change counter moves or the bus comes back:
    an announcement this node missed holds here in bounded time (services/cache_freshness.py)."""
    freshness = CacheFreshness(runtime.engine, check_interval=runtime.settings.cache_check_interval)
    freshness.follow(change_counters.TAGS, runtime.tags.forget_all)
    freshness.follow(change_counters.LOGINS, runtime.logins.forget_all)
    freshness.follow(change_counters.TARIFFS, runtime.session_watch.live.tariff_book.forget)
    freshness.follow(change_counters.WEBHOOKS, runtime.session_watch.webhook_list.forget)
    if runtime.tags.roaming is not None:
        freshness.follow(change_counters.OCPI_TOKENS, runtime.tags.roaming.forget_all)
    await freshness.check()  # the counters every later check compares with
    runtime.bus.on_reconnect(freshness.forget_all)
    runtime.background.run_until_stopped(freshness.run(), name="cache-freshness")


def _owner_lookup(engine: AsyncEngine) -> OwnerLookup:
    async def owner_of(charge_point_id: str) -> str | None:
        async with engine.connect() as connection:
            return await presence.owner(connection, charge_point_id)

    return owner_of


def _presence_transaction(engine: AsyncEngine, writer: BatchWriter) -> Transaction:
    """On SQLite the writer's turn (one writer at a time); elsewhere a pooled connection of its own, so a
    reconnecting fleet's connects do not queue behind each other and the group commit."""
    return writer.transaction if engine.dialect.name == "sqlite" else engine.begin


async def _start_ftp(runtime: Runtime) -> None:
    settings = runtime.settings
    transfers = FileTransfers(
        session_factory=runtime.session_factory,
        files=runtime.files,
        key=runtime.file_url_key,
        diagnostics_max_bytes=settings.diagnostics_max_bytes,
        clock=lambda: runtime.clock(),
    )
    runtime.ftp = FtpServers(settings, transfers, runtime.file_links)
    try:
        await runtime.ftp.start()
    except BaseException:
        await stop_runtime(runtime)
        raise


def _start_message_log_retention(runtime: Runtime) -> None:
    settings = runtime.settings
    days, rows = settings.message_log_retention_days, settings.message_log_rows_per_charger
    if days <= 0 and rows <= 0:
        return
    retention = MessageLogRetention(
        runtime.writer,
        runtime.message_log,
        clock=runtime.clock,
        max_age=timedelta(days=days) if days > 0 else None,
        rows_per_charger=rows if rows > 0 else None,
    )
    runtime.background.run_until_stopped(
        retention.run_periodically(settings.message_log_retention_interval), name="message-log-retention"
    )


def _start_security_event_retention(runtime: Runtime) -> None:
    settings = runtime.settings
    if settings.security_event_retention_days <= 0:
        return
    retention = SecurityEventRetention(
        runtime.writer, clock=runtime.clock, max_age=timedelta(days=settings.security_event_retention_days)
    )
    runtime.background.run_until_stopped(
        retention.run_periodically(settings.security_event_retention_interval), name="security-event-retention"
    )


async def _start_writer(
    settings: Settings, engine: AsyncEngine, database_file: DatabaseFile | None, metrics: Metrics
) -> BatchWriter:
    """The group-commit writer, with the writes a node held when it stopped during an outage written
    first (or held again, if the database went away meanwhile) before any charger is served."""
    if database_file is not None:
        database_file.guard(engine.sync_engine)
    journal_path = settings.resolved_held_writes_journal()
    writer = BatchWriter(
        engine,
        on_refused=metrics.count_refused_write,
        journal=WriteJournal(journal_path) if journal_path else None,
        database_file=database_file,
    )
    writer.start()
    await writer.flush()
    return writer


def _session_watch(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    events: Events,
    commands: CommandRouter,
    background: BackgroundTasks,
    bus: Bus,
    *,
    node_id: str,
    clock: Callable[[], datetime],
    cluster_clock: ClusterClock,
) -> SessionWatch:
    live = LiveCosts(
        session_factory,
        send=commands.send_command,
        publish=events.publish,
        background=background,
        clock=clock,
        bus=bus,
        cache_max_age=settings.cache_max_age,
    )
    policy = DeliveryPolicy(
        retry_base=settings.webhook_retry_base,
        max_attempts=settings.webhook_max_attempts,
        request_timeout=settings.webhook_timeout,
        allow_private=lambda: settings.webhook_allow_private_targets,
        own_hosts=lambda: own_hosts(settings.public_url),
    )
    # Signatures carry the cluster's time, which receivers compare with theirs, not a skewed node's.
    dispatcher = WebhookDispatcher(session_factory, signing_clock=cluster_clock.now, policy=policy, node_id=node_id)
    site_load = SiteLoadManager(
        session_factory,
        commands.send_command,
        bus,
        node_id=node_id,
        background=background,
        clock=clock,
        timing=Timing(tick_seconds=settings.site_allocation_tick),
    )
    return SessionWatch(
        session_factory,
        live=live,
        dispatcher=dispatcher,
        publish=events.publish,
        background=background,
        clock=clock,
        bus=bus,
        site_load=site_load,
        cache_max_age=settings.cache_max_age,
    )


def _start_session_watch(runtime: Runtime) -> None:
    settings, watch = runtime.settings, runtime.session_watch
    runtime.background.run_until_stopped(
        watch.dispatcher.run(settings.webhook_poll_interval), name="webhook-deliveries"
    )
    runtime.background.run_until_stopped(
        watch.watch_heartbeats(
            check_interval=settings.offline_check_interval,
            heartbeat_interval=settings.heartbeat_interval,
            connected=lambda: [(session.id, session.seconds_silent()) for session in runtime.registry.all()],
        ),
        name="heartbeat-watch",
    )


def _tune_garbage_collector() -> None:
    """Keep full collections rare and short on a node holding thousands of sockets.

    Everything alive after start-up (modules, app, metadata) is frozen out of the collector's scans,
    and the young generation is collected less often: each charger keeps a few hundred long-lived
    objects, and with the default thresholds full collections rescanned them every few seconds,
    pausing every charger on the node while they ran.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)


def _create_bus(settings: Settings) -> Bus:
    if settings.bus_url:
        return NatsBus(settings.bus_url, login=_nats_login(settings), namespace=settings.bus_namespace)
    return MemoryBus()


def _nats_login(settings: Settings) -> NatsLogin:
    return NatsLogin(
        user=settings.bus_user,
        password=settings.bus_password,
        token=settings.bus_token,
        nkey_seed_file=settings.bus_nkey_seed_file,
        creds_file=settings.bus_creds_file,
        tls_ca_file=settings.bus_tls_ca_file,
        tls_certfile=settings.bus_tls_certfile,
        tls_keyfile=settings.bus_tls_keyfile,
    )


async def stop_runtime(runtime: Runtime) -> None:
    if runtime.ftp is not None:
        await runtime.ftp.close()
    for session in runtime.registry.all():
        await session.close(code=1001, reason="csms is shutting down")
    await runtime.background.close(grace=_SHUTDOWN_GRACE)
    runtime.security_events.flush()  # the counts of the last period, before the writer stops
    await runtime.takeover.close()
    await runtime.logins.close()
    await runtime.tags.close()
    await runtime.session_watch.close()
    await runtime.ocpi_client.close()
    await runtime.writer.close()
    await runtime.bus.close()
    await runtime.engine.dispose()
