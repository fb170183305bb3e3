"""The `csms` command: serve, migrate, create-user, add-charger, simulate, ocpi."""

from __future__ import annotations

import argparse
import asyncio
import functools
import ssl
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from csms.config import Settings
from csms.db.storable_text import unstorable_reason

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace, Settings], int] = args.command
    return command(args, Settings())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csms", description="Charging Station Management System")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the REST API, the OCPP endpoint and the pages")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--ssl-certfile", help="serve HTTPS and wss:// (OCPP security profile 2) with this certificate")
    serve.add_argument("--ssl-keyfile", help="the certificate's private key")
    serve.add_argument(
        "--ssl-ca-certs",
        help="the operator's CA (PEM): chargers presenting a client certificate it signed connect with "
        "security profile 3; chargers without one still use Basic auth",
    )
    serve.add_argument(
        "--role",
        choices=["all", "api", "ocpp"],
        default=None,
        help="what this node serves: all (default), api (REST and pages) or ocpp (the charger endpoint)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxies (comma-separated addresses or networks, * for any) whose X-Forwarded-For names the client; "
        "default CSMS_FORWARDED_ALLOW_IPS, unset: none, the peer's own address is the client's",
    )
    serve.set_defaults(command=_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.add_argument(
        "--new",
        action="store_true",
        help="accept an empty (or another) database though this node has run before on one of its own",
    )
    migrate.set_defaults(command=_migrate)

    create_user = commands.add_parser("create-user", help="create an account")
    create_user.add_argument("--username", required=True, type=_storable)
    create_user.add_argument("--password", required=True, type=_storable)
    create_user.add_argument("--role", choices=["user", "admin", "root"], default="user")
    create_user.set_defaults(command=_create_user)

    simulate = commands.add_parser("simulate", help="run simulated chargers against a csms (demos and load)")
    simulate.add_argument("--url", default="http://127.0.0.1:8000", help="the csms to connect to")
    simulate.add_argument("--chargers", type=int, default=10)
    simulate.add_argument("--password", default="simulated-charger-pw", help="every simulated charger's password")
    simulate.add_argument("--prefix", default="SIM", help="charge point ids are PREFIX00001, PREFIX00002, ...")
    simulate.add_argument(
        "--ocpp",
        type=_ocpp_versions,
        default=("1.6",),
        metavar="VERSIONS",
        help="the OCPP version the chargers speak, 1.6, 2.0.1 or 2.1, or a comma-separated list the fleet takes in"
        " turn: with 1.6,2.0.1 PREFIX00001 speaks 1.6, PREFIX00002 2.0.1, PREFIX00003 1.6, ... (default 1.6)",
    )
    simulate.add_argument("--connectors", type=int, default=2, help="connectors per charger (EVSEs for 2.x)")
    simulate.add_argument("--duration", type=float, default=0, help="seconds to run (0: until Ctrl-C)")
    simulate.add_argument("--meter-interval", type=float, default=5.0)
    simulate.add_argument("--session-seconds", type=float, default=60.0)
    simulate.add_argument("--idle-seconds", type=float, default=30.0)
    simulate.add_argument("--heartbeat-interval", type=float, default=30.0)
    simulate.add_argument("--id-tag", default="SIMTAG", help="the RFID tag sessions started at the charger use")
    simulate.add_argument(
        "--max-current-a",
        type=_positive_amps,
        default=32.0,
        help="what each connector (EVSE) gives at most, in A per phase on 3 phases, without a charging profile"
        " (default 32)",
    )
    simulate.add_argument(
        "--car-max-current-a", type=_positive_amps, default=32.0, help="what a car draws at most (default 32 A)"
    )
    simulate.add_argument(
        "--low-draw-share",
        type=_share,
        default=0.0,
        help="the share of sessions (0 to 1) whose car draws at most --low-draw-current-a (default 0)",
    )
    simulate.add_argument("--low-draw-current-a", type=_positive_amps, default=10.0, help="(default 10 A)")
    simulate.add_argument(
        "--register-as", metavar="USER:PASSWORD", help="an admin account to register missing chargers with first"
    )
    simulate.add_argument(
        "--site",
        type=_site,
        metavar="NAME:AMPS",
        help="put the fleet's chargers on site NAME, limited to AMPS per phase (created, or given these chargers"
        " and that limit), so csms shares its current among the cars; needs --register-as",
    )
    simulate.set_defaults(command=_simulate)

    add_charger = commands.add_parser("add-charger", help="register a charger and its Basic-auth password")
    add_charger.add_argument("charge_point_id", metavar="CP_ID", type=_storable)
    add_charger.add_argument("--password", required=True, type=_storable)
    add_charger.add_argument(
        "--serial-number", type=_storable, help="its serial, what its certificate names in serial_number identity mode"
    )
    add_charger.set_defaults(command=_add_charger)
    _ocpi_parser(commands)
    return parser


def _ocpi_parser(commands: Any) -> None:
    ocpi = commands.add_parser("ocpi", help="OCPI roaming: the eMSPs and hubs csms connects to (docs/ocpi.md)")
    actions = ocpi.add_subparsers(required=True, metavar="ACTION")
    add_party = actions.add_parser(
        "add-party", help="register a party that will connect to csms, and print the token A it registers with"
    )
    add_party.add_argument("--country-code", required=True, type=_ocpi_country_code)
    add_party.add_argument("--party-id", required=True, type=_ocpi_party_id)
    add_party.add_argument("--role", choices=["EMSP", "HUB", "NSP", "NAP", "SCSP", "OTHER", "CPO"], default="EMSP")
    add_party.set_defaults(command=_add_ocpi_party)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _positive_amps(text: str) -> float:
    amps = _number(text)
    if not 0 < amps <= 1000:
        raise argparse.ArgumentTypeError(f"{text} A is not a current between 0 and 1000 A")
    return amps


def _share(text: str) -> float:
    share = _number(text)
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return share


def _storable(text: str) -> str:
    """An argument that is text the database can store: bytes that are not UTF-8 reach Python's argv
    as lone surrogates (PEP 383), which no database encodes."""
    reason = unstorable_reason(text)
    if reason is not None:
        raise argparse.ArgumentTypeError(f"contains {reason} (is the terminal's encoding UTF-8?)")
    return text


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from csms.app import create_app
    from csms.observability.logs import configure_logging
    from csms.ocpp import transport

    if args.role is not None:
        settings = settings.model_copy(update={"node_role": args.role})
    if args.ssl_certfile:  # the certificate served is the one whose expiry is watched
        settings = settings.model_copy(update={"server_certfile": args.ssl_certfile})
    if args.ssl_certfile and not settings.ftps_certfile:  # FTPS reuses the HTTPS certificate
        settings = settings.model_copy(update={"ftps_certfile": args.ssl_certfile, "ftps_keyfile": args.ssl_keyfile})
    if args.forwarded_allow_ips is not None:
        settings = settings.model_copy(update={"forwarded_allow_ips": args.forwarded_allow_ips})
    if (refused := _open_database(settings, is_new=False)) is not None:
        return refused
    configure_logging(level=settings.log_level, log_format=settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=settings.log_level,
        # In JSON mode uvicorn's own loggers go through the root handler too, so every line is JSON.
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        ws_max_size=settings.ocpp_max_frame_bytes * 16,
        ws_ping_interval=None,
        ws_per_message_deflate=settings.websocket_compression,
        # uvicorn would believe X-Forwarded-For from any loopback peer; the app believes only the
        # proxies of `forwarded_allow_ips` (app.py), however it is served.
        proxy_headers=False,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        **({"ws": transport.PROTOCOL} | _tls_options(args, settings)),
    )
    return 0


def _tls_options(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """TLS 1.2 or newer only, with the suites of CSMS_TLS_CIPHERS; with a client CA, client certificates
    are verified when presented and reach the OCPP endpoint through the ASGI TLS extension (ocpp/tls.py)."""
    if not args.ssl_certfile:
        return {}
    from csms.ocpp import tls

    context_factory = functools.partial(tls.server_context, ciphers=settings.tls_ciphers)
    options: dict[str, Any] = {"ssl_context_factory": context_factory, "ws": tls.PROTOCOL}
    if args.ssl_ca_certs:
        options |= {"ssl_ca_certs": args.ssl_ca_certs, "ssl_cert_reqs": ssl.CERT_OPTIONAL}
    return options


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    if (refused := _open_database(settings, is_new=args.new)) is not None:
        return refused
    print("database is up to date")
    return 0


def _open_database(settings: Settings, *, is_new: bool) -> int | None:
    """Migrate the database once it is known to be this node's; the exit status if it is refused."""
    from csms.db.database_identity import DatabaseNotRecognised, open_database_of
    from csms.db.engine import DatabaseTimeouts, create_engine

    async def run() -> None:
        engine = create_engine(settings.database_url, DatabaseTimeouts.of(settings))
        try:
            await open_database_of(settings, engine, is_new=is_new)
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except DatabaseNotRecognised as error:
        print(f"csms: {error}", file=sys.stderr)
        return 1
    return None


def _create_user(args: argparse.Namespace, settings: Settings) -> int:
    from csms.services import accounts

    async def run(session: AsyncSession) -> str:
        user = await accounts.create_account(
            session,
            username=args.username,
            password=args.password,
            role=args.role,
            now=_now(),
        )
        return f"created {user.role} {user.username} (id {user.id})"

    return _run_with_session(settings, run)


def _add_charger(args: argparse.Namespace, settings: Settings) -> int:
    from csms.services import chargers

    async def run(session: AsyncSession) -> str:
        charger = await chargers.register_charger(
            session,
            charge_point_id=args.charge_point_id,
            password=args.password,
            registered_serial_number=args.serial_number,
            now=_now(),
        )
        return f"registered charger {charger.charge_point_id}"

    return _run_with_session(settings, run)


def _ocpi_country_code(text: str) -> str:
    if len(text) != 2 or not text.isascii() or not text.isalpha():
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 3166 alpha-2 country code like NL")
    return text.upper()


def _ocpi_party_id(text: str) -> str:
    if len(text) != 3 or not text.isascii() or not text.isalnum():
        raise argparse.ArgumentTypeError(f"{text!r} is not a party id of 3 letters or digits like EMS")
    return text.upper()


def _add_ocpi_party(args: argparse.Namespace, settings: Settings) -> int:
    from csms.ocpi.identity import versions_url
    from csms.services import ocpi_parties

    async def run(session: AsyncSession) -> str:
        party, token_a = await ocpi_parties.create_party(
            session, country_code=args.country_code, party_id=args.party_id, role=args.role, now=_now()
        )
        return (
            f"added OCPI party {party.country_code} {party.party_id} ({party.role}, id {party.id})\n"
            f"versions URL: {versions_url(settings)}\ntoken A: {token_a}"
        )

    return _run_with_session(settings, run)


def _ocpp_versions(text: str) -> tuple[str, ...]:
    from csms.simulator.fleet import OCPP_VERSIONS

    versions = tuple(part.strip() for part in text.split(","))
    unknown = [version for version in versions if version not in OCPP_VERSIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown OCPP version {unknown[0]!r} (choose from {', '.join(OCPP_VERSIONS)})"
        )
    return versions


def _site(text: str) -> tuple[str, float]:
    name, _, amps = text.rpartition(":")
    if not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME:AMPS (e.g. Depot:63)")
    return name, _positive_amps(amps)


def _simulate(args: argparse.Namespace, _settings: Settings) -> int:
    from csms.simulator.fleet import FleetOptions, FleetStats, put_on_site, register_chargers, run_fleet

    if args.site and not args.register_as:
        print("--site needs --register-as: an admin account puts the chargers on the site", file=sys.stderr)
        return 2

    options = FleetOptions(
        url=args.url,
        chargers=args.chargers,
        password=args.password,
        prefix=args.prefix,
        connectors=args.connectors,
        duration=args.duration,
        heartbeat_interval=args.heartbeat_interval,
        meter_interval=args.meter_interval,
        session_seconds=args.session_seconds,
        idle_seconds=args.idle_seconds,
        id_tag=args.id_tag,
        ocpp_versions=args.ocpp,
        max_current_a=args.max_current_a,
        car_max_current_a=args.car_max_current_a,
        low_draw_share=args.low_draw_share,
        low_draw_current_a=args.low_draw_current_a,
    )

    stats = FleetStats()

    async def run() -> None:
        if args.register_as:
            username, _, password = args.register_as.partition(":")
            print(f"registered {await register_chargers(options, username, password)} new chargers")
        if args.site:
            name, max_current_a = args.site
            site_id = await put_on_site(options, username, password, name=name, max_current_a=max_current_a)
            print(f"the chargers are on site {name} (id {site_id}), at most {max_current_a:g} A per phase")
        await run_fleet(options, stats=stats)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass  # Ctrl-C ends a fleet run without --duration: its summary all the same
    print("\n" + stats.line(options.chargers))
    return 0


def _run_with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[str]]) -> int:
    from csms.db.database_identity import DatabaseNotRecognised, open_database_of
    from csms.db.engine import DatabaseTimeouts, create_engine, create_session_factory
    from csms.services.errors import DomainError

    async def run() -> str:
        engine = create_engine(settings.database_url, DatabaseTimeouts.of(settings))
        try:
            await open_database_of(settings, engine)
            async with create_session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        print(asyncio.run(run()))
    except (DomainError, DatabaseNotRecognised) as error:
        print(f"csms: {error}", file=sys.stderr)
        return 1
    return 0


def _now() -> datetime:
    from csms.services.clock import utc_now

    return utc_now()


if __name__ == "__main__":
    sys.exit(main())
