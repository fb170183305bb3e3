"""Settings, read from ``CSMS_*`` environment variables."""

from __future__ import annotations

import secrets
import ssl
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///csms.db"


# The TLS 1.2 suites the OCPP 1.6 Security Whitepaper says a central system shall support, in OpenSSL's
# names: TLS_ECDHE_ECDSA_WITH_AES_128/256_GCM_SHA256/384 and TLS_RSA_WITH_AES_128/256_GCM_SHA256/384,
# with their ECDHE-RSA counterparts so an RSA server certificate keeps forward secrecy for chargers that
# offer it. The TLS_RSA suites have none; chargers that offer nothing else need them. CSMS_TLS_CIPHERS
# narrows the list.
WHITEPAPER_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
    )
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSMS_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # Seconds csms waits on PostgreSQL (db/engine.py DatabaseTimeouts): to connect, for each statement
    # (0: no limit; migrations never have one), for a pooled connection, and how long the server keeps a
    # transaction whose client went silent (0: no limit). A database that stops answering then fails
    # like one that refuses: chargers' writes are held, the API answers 503.
    database_connect_timeout: float = Field(default=5.0, gt=0)
    database_command_timeout: float = Field(default=10.0, ge=0)
    database_pool_timeout: float = Field(default=10.0, gt=0)
    database_idle_in_transaction_timeout: float = Field(default=60.0, ge=0)
    # all: REST, pages and the OCPP endpoint; api: REST and pages only; ocpp: the OCPP endpoint only.
    node_role: Literal["all", "api", "ocpp"] = "all"
    bus_url: str | None = None
    # Goes before every NATS subject, so deployments sharing one NATS server do not hear each other; every node
    # of one deployment needs the same. One subject token: letters, digits, '-' and '_'.
    bus_namespace: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")
    # Logging in to NATS (docs/scale-out.md): user and password, a token, an NKey seed file, or a .creds
    # file (JWT and seed); TLS to NATS with this CA (tls:// in bus_url or this set), and a client certificate.
    bus_user: str | None = None
    bus_password: str | None = None
    bus_token: str | None = None
    bus_nkey_seed_file: str | None = None
    bus_creds_file: str | None = None
    bus_tls_ca_file: str | None = None
    bus_tls_certfile: str | None = None
    bus_tls_keyfile: str | None = None
    # Commands between nodes are signed with this secret (HMAC); every node needs the same one.
    # Unset: derived from jwt_secret, which every node already shares.
    bus_secret: str | None = None
    jwt_secret: str | None = None
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 24 * 3600
    ocpp_call_timeout: float = 10.0
    heartbeat_interval: int = 300
    # Seconds a charger answered Pending or Rejected at boot waits before it boots again.
    boot_retry_interval: int = 60
    # Seconds at least between two CostUpdated calls telling a 2.0.1 station the running cost of a transaction.
    cost_update_interval: float = 60.0
    # OCPP-J frames larger than this are answered with a CallError instead of being parsed.
    ocpp_max_frame_bytes: int = 64 * 1024
    # permessage-deflate keeps zlib state for every socket; OCPP frames are small, so thousands of
    # chargers are better served without it.
    websocket_compression: bool = False
    # Frames a charger may send: `ocpp_message_rate` a second on average, bursts of `ocpp_message_burst`.
    # Every frame counts, calls or not; frames beyond the budget are not parsed or logged.
    ocpp_message_rate: float = 20.0
    ocpp_message_burst: int = 200
    # The message log keeps the first this-many bytes of a frame, and the whole frame's size.
    message_log_max_frame_bytes: int = 4096
    # Frames older than this many days are deleted (0: kept for ever), and each charger keeps at most its
    # newest `message_log_rows_per_charger` (0: no limit); a background pass every interval seconds.
    message_log_retention_days: float = 90.0
    message_log_rows_per_charger: int = 50_000
    message_log_retention_interval: float = 300.0
    # Refused and throttled connection attempts: one security event per kind, charger id and address
    # per period, with a count, instead of one per attempt.
    security_event_period: float = 60.0
    # Security events csms recorded more than this many days ago are deleted (0: kept for ever), by a
    # background pass every interval seconds.
    security_event_retention_days: float = 365.0
    security_event_retention_interval: float = 3600.0
    # Failed Basic-auth attempts in 5 minutes before a charger id from one address (or an address) must
    # wait; a charger id from every address together may fail ten times `per_id` (services/login_throttle.py).
    charger_auth_failures_per_id: int = 10
    charger_auth_failures_per_address: int = 50
    # Failed logins in 15 minutes before an account from one address, an address, or an account from
    # every address together (not counting addresses it logged in from before) must wait.
    login_failures_per_account_address: int = 5
    login_failures_per_address: int = 20
    login_failures_per_account: int = 100
    # Signups from one client address in an hour.
    signups_per_address: int = 10
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated addresses or
    # networks, as uvicorn's --forwarded-allow-ips, "*" for any); none: the peer's own address is the client's.
    forwarded_allow_ips: str | None = None
    # Reservations from the app (POST /api/reservations): how many one account may hold at once, how long.
    max_active_reservations_per_user: int = 1
    max_reservation_minutes: int = 60
    log_level: str = "info"
    # text for a terminal; json (one object per line, with request_id / charge_point_id) for log collectors.
    log_format: Literal["text", "json"] = "text"
    # Origins allowed to call the API from a browser (CORS); none unless configured.
    cors_origins: list[str] = []
    # Firmware images and diagnostics uploads; default: a `csms-files` folder beside the SQLite database.
    files_dir: str | None = None
    # Writes held while the database is unreachable, fsynced here before chargers are answered; default:
    # `<database>-held-writes` beside a SQLite file, else `held-writes` in the files directory. One per node.
    held_writes_journal: str | None = None
    # The address chargers reach this node at, for the signed firmware and diagnostics links.
    public_url: str = "http://127.0.0.1:8000"
    signed_url_ttl: int = 24 * 3600
    firmware_max_bytes: int = 256 * 1024 * 1024
    diagnostics_max_bytes: int = 64 * 1024 * 1024
    # The built-in FTP server for chargers that transfer files only over FTP (csms/ftp/); 0: off.
    ftp_port: int = 0
    # FTPS with implicit TLS on a port of its own (aioftp has no AUTH TLS); 0: off. Its certificate
    # and key: ftps_certfile / ftps_keyfile, else those `csms serve --ssl-certfile/--ssl-keyfile` got.
    ftps_port: int = 0
    ftps_certfile: str | None = None
    ftps_keyfile: str | None = None
    ftp_host: str = "127.0.0.1"
    # The host chargers reach the FTP server at, for ftp:// links; default: the host of public_url.
    ftp_public_host: str | None = None
    # Passive data ports, "60000-60099"; default: any free port. The IPv4 address PASV announces
    # (behind NAT); default: the address the charger connected to.
    ftp_passive_ports: str | None = None
    ftp_passive_address: str | None = None
    ftp_max_connections: int = 200
    # Chargers whose BootNotification vendor is one of these get ftp:// links when set to auto.
    ftp_only_vendors: list[str] = []
    # How often chargers' local authorization lists are compared with the idTags (catches expiry).
    local_list_sync_interval: float = 60.0
    # Site load management: how often a site is recomputed with nothing happening (windows of the day,
    # overrides that ran out, chargers that refused a limit are asked again), in seconds.
    site_allocation_tick: float = 30.0
    # Webhooks: a failed delivery is retried after base * 2**(attempts - 1) seconds, up to max attempts.
    webhook_retry_base: float = 10.0
    webhook_max_attempts: int = 8
    webhook_poll_interval: float = 5.0
    # Seconds a webhook endpoint has to answer one delivery (each webhook waits only on its own).
    webhook_timeout: float = 10.0
    # Webhooks post to public addresses only; true also allows loopback, private and link-local ones
    # (an endpoint on the operator's own network), which lets webhook admins reach internal services.
    webhook_allow_private_targets: bool = False
    # Seconds between keep-alive comments on an idle /api/events stream; each also re-checks the login.
    live_keepalive_interval: float = 15.0
    # Seconds a node's record of a charger's socket lasts unless renewed; each node renews its own every
    # presence_lease / 3. A node that dies (SIGKILL, a lost host) has its chargers announced offline
    # (charger_disconnected, the charger_offline webhook) by another node within 4/3 of it (docs/scale-out.md).
    presence_lease: float = 30.0
    # How often connected chargers are checked for missed heartbeats (charger_offline webhooks).
    offline_check_interval: float = 60.0
    # An open transaction with no message about it (start, meter values) for this many seconds is
    # flagged stale for staff to close; 0 turns the sweep off. It runs every stale_transaction_check_interval.
    stale_transaction_after: float = 24 * 3600.0
    stale_transaction_check_interval: float = 300.0
    # For tests of clock skew only: this node's own clock reads this many seconds ahead (negative: behind).
    # Leases, claims and due times shared by nodes are on the database's clock, so they do not move.
    clock_offset_seconds: float = 0.0
    # What a node keeps in memory of data any node may change (idTags, logins, tariffs, webhooks) is read
    # again once older than cache_max_age seconds; every cache_check_interval seconds each node reads the
    # database's change counters and drops a cache whose counter moved. A change on one node holds on every
    # other within cache_check_interval, even when that node missed its announcement on the bus (and within
    # cache_max_age if the database cannot be read for the check) (docs/scale-out.md).
    cache_max_age: float = Field(default=30.0, gt=0)
    cache_check_interval: float = Field(default=2.0, gt=0)

    # The operator's CA (PEM files) that signs chargers' CSRs (SignCertificate); unset: csms signs none.
    ca_certfile: str | None = None
    ca_keyfile: str | None = None
    charger_certificate_days: int = 365
    # The organizationName (O) of the certificates csms signs: the operator; unset, the CA's own O.
    certificate_organization: str | None = Field(
        default=None, min_length=1, max_length=64
    )  # X.520 ub-organization-name
    # The server certificate whose expiry is watched (log at start, /readyz, metrics): the one
    # `csms serve --ssl-certfile` serves, or a TLS-terminating proxy's. Warned about this many days ahead.
    server_certfile: str | None = None
    certificate_warning_days: int = 30
    # The TLS 1.2 suites csms serves (HTTPS, wss:// and FTPS), an OpenSSL cipher string; TLS 1.3 has its own.
    tls_ciphers: str = WHITEPAPER_CIPHERS
    # Seconds a renewed charger certificate's predecessor keeps working once the charger accepted the new one.
    certificate_renewal_grace: float = 24 * 3600.0
    # Seconds csms expects the CSR a charger owes after accepting ExtendedTriggerMessage(SignChargePointCertificate).
    certificate_request_window: float = 600.0
    # Security profile 3: what a charger's client certificate names as its common name.
    charger_certificate_identity: Literal["charge_point_id", "serial_number"] = "charge_point_id"

    # OCPI 2.2.1 (docs/ocpi.md): csms's own identity as a CPO towards eMSPs and hubs (ISO 3166 alpha-2 country
    # and ISO 15118 party id), the name it gives in its credentials, and the seconds a peer has to answer.
    # Its OCPI endpoints are under public_url + /ocpi.
    ocpi_country_code: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    ocpi_party_id: str | None = Field(default=None, pattern=r"^[A-Z0-9]{3}$")
    ocpi_business_name: str = Field(default="csms", min_length=1, max_length=100)
    ocpi_request_timeout: float = Field(default=10.0, gt=0, le=120)
    # csms calls OCPI parties at public addresses only (services/webhook_targets.py), unless this allows private
    # ones (a hub on the operator's own network, tests).
    ocpi_allow_private_peers: bool = False
    # Pushes to parties (Location, EVSE status, Tariff): retried after retry_base * 2^(attempt - 1) seconds, at
    # most max_attempts times; the outbox is looked at every poll_interval seconds and as soon as a push is queued.
    ocpi_push_retry_base: float = Field(default=10.0, gt=0, le=3600)
    ocpi_push_max_attempts: int = Field(default=10, ge=1, le=100)
    ocpi_push_poll_interval: float = Field(default=5.0, gt=0, le=600)
    # The most objects one page of a paginated OCPI GET carries (its X-Limit), whatever limit a party asks for.
    ocpi_page_limit: int = Field(default=100, ge=1, le=1000)
    # A roaming token's real-time authorization (docs/ocpi.md): the seconds its eMSP has to answer, well inside
    # a charger's call timeout; how long an answer is used again without asking (a 1.6 Authorize and the
    # StartTransaction after it); and how long the last answer stands in while the eMSP cannot be reached.
    ocpi_authorize_timeout: float = Field(default=5.0, gt=0, le=30)
    ocpi_authorize_reuse: float = Field(default=60.0, ge=0, le=3600)
    ocpi_authorize_outage_reuse: float = Field(default=900.0, ge=0, le=86_400)
    # A roaming charge's Session is PATCHed to its eMSP on meter values at most every this many seconds.
    ocpi_session_update_interval: float = Field(default=60.0, ge=0, le=3600)
    # How often csms looks for roaming charges that stopped without their CDR queued (a node stopped between the
    # stop and the queueing), and how long after its stop a charge counts as left so.
    ocpi_cdr_sweep_interval: float = Field(default=300.0, gt=0, le=86_400)
    # How often csms looks whether a tariff assignment started or ended since the last look (a dated window):
    # the published locations it changes are pushed then.
    ocpi_tariff_window_check_interval: float = Field(default=60.0, gt=0, le=3600)

    # ISO 15118 Plug & Charge (docs/security.md): who answers Get15118EVCertificate, GetCertificateStatus, the
    # contract certificates of Authorize and the stations' SECC certificate requests (SignCertificate
    # V2GCertificate). development: csms's own CA (no EXI, so Get15118EVCertificate is Failed); http: an
    # external PKI/OCSP service at iso15118_provider_url, given this many seconds.
    iso15118_provider: Literal["development", "http"] = "development"
    iso15118_provider_url: str | None = Field(default=None, pattern=r"^https?://")
    iso15118_provider_timeout: float = Field(default=5.0, gt=0, le=60)
    # Validity of the SECC certificates (SignCertificate V2GCertificate) the development provider signs, days:
    # a short-lived leaf the station renews, as ISO 15118-2's certificate profiles expect.
    v2g_certificate_days: int = Field(default=60, gt=0)

    @model_validator(mode="after")
    def _http_provider_has_url(self) -> Settings:
        if self.iso15118_provider == "http" and not self.iso15118_provider_url:
            raise ValueError("CSMS_ISO15118_PROVIDER=http needs CSMS_ISO15118_PROVIDER_URL")
        return self

    @field_validator("tls_ciphers")
    @classmethod
    def _is_cipher_string(cls, value: str) -> str:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(value)
        except ssl.SSLError:
            raise ValueError(f"an OpenSSL cipher string naming suites this OpenSSL knows, not {value!r}") from None
        return value

    @field_validator("ftp_passive_ports")
    @classmethod
    def _is_port_range(cls, value: str | None) -> str | None:
        if value is not None:
            first, _, last = value.partition("-")
            if not _is_port_span(first, last or first):
                raise ValueError(f"a port or a range of ports like 60000-60099, not {value!r}")
        return value

    def ftp_passive_port_range(self) -> range | None:
        """The passive ports as a range, or None for any free port."""
        if not self.ftp_passive_ports:
            return None
        first, _, last = self.ftp_passive_ports.partition("-")
        return range(int(first), int(last or first) + 1)

    def sqlite_path(self) -> Path | None:
        """The database file for a file-backed SQLite URL, else None."""
        prefix = "sqlite+aiosqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        path = self.database_url.removeprefix(prefix).split("?", 1)[0]
        return Path(path) if path and path != ":memory:" else None

    def resolved_files_dir(self) -> Path:
        if self.files_dir:
            return Path(self.files_dir)
        database_file = self.sqlite_path()
        return (database_file.parent if database_file else Path.cwd()) / "csms-files"

    def resolved_held_writes_journal(self) -> Path | None:
        """The journal of held writes; None for SQLite in memory, whose data ends with the process anyway."""
        if self.held_writes_journal:
            return Path(self.held_writes_journal)
        database_file = self.sqlite_path()
        if database_file is not None:
            return database_file.with_name(database_file.name + "-held-writes")
        if self.database_url.startswith("sqlite"):
            return None
        return self.resolved_files_dir() / "held-writes"

    def resolved_bus_secret(self) -> str:
        """The cluster secret commands on the bus are signed with."""
        return self.bus_secret or "derived from the JWT secret:" + self.resolved_jwt_secret()

    def jwt_secret_file(self) -> Path:
        """Where the development secret is kept when CSMS_JWT_SECRET is not set: beside the database."""
        database_file = self.sqlite_path()
        return (database_file.parent if database_file else Path.cwd()) / ".csms-jwt-secret"

    def resolved_jwt_secret(self) -> str:
        """The configured secret, or for development one generated once and kept beside the database."""
        if self.jwt_secret:
            return self.jwt_secret
        key_file = self.jwt_secret_file()
        if key_file.exists():
            return key_file.read_text().strip()
        secret = secrets.token_urlsafe(48)
        key_file.write_text(secret)
        key_file.chmod(0o600)
        return secret


def _is_port_span(first: str, last: str) -> bool:
    return first.isdigit() and last.isdigit() and 1 <= int(first) <= int(last) <= 65535
