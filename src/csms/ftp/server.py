"""csms's built-in FTP server, for chargers that fetch firmware and upload diagnostics only over FTP.

It is aioftp's server on csms's own event loop (one asyncio process, no threads bridging loops;
pyftpdlib would need a thread of its own for its blocking IO loop). aioftp offers TLS only on accept,
so FTPS is implicit TLS (`ftps://`, customarily port 990) on a port of its own; it has no AUTH TLS.
Logins, permissions and storage are csms's own (logins.py, files.py).
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field

import aioftp

from csms.config import Settings
from csms.ftp.files import GrantedFiles
from csms.ftp.logins import ChargerLogins, FileTransfers
from csms.services.file_links import FileLinks
from csms.services.file_transfer import FTP, FTPS

logger = logging.getLogger(__name__)

# A charger silent this long on the control connection, or a stalled data transfer, is cut off.
IDLE_SECONDS = 300
SOCKET_SECONDS = 120
# How long aioftp waits for the data connection after PASV and RETR/STOR.
DATA_CONNECTION_SECONDS = 30


@dataclass
class FtpServers:
    """The FTP and FTPS listeners that the settings ask for; their ports go into the ftp:// links."""

    settings: Settings
    transfers: FileTransfers
    links: FileLinks
    _servers: list[aioftp.Server] = field(default_factory=list)

    async def start(self) -> None:
        settings = self.settings
        if settings.ftp_port:
            await self._listen(FTP, settings.ftp_port, tls=None)
        if settings.ftps_port:
            await self._listen(FTPS, settings.ftps_port, tls=_tls_context(settings))

    async def close(self) -> None:
        for server in self._servers:
            await server.close()
        self._servers.clear()
        self.links.ftp_ports.clear()

    async def _listen(self, scheme: str, port: int, *, tls: ssl.SSLContext | None) -> None:
        settings = self.settings
        server = _Server(
            idle_timeout=IDLE_SECONDS,
            socket_timeout=SOCKET_SECONDS,
            wait_future_timeout=DATA_CONNECTION_SECONDS,
            path_io_factory=GrantedFiles,
            maximum_connections=settings.ftp_max_connections,
            ipv4_pasv_forced_response_address=settings.ftp_passive_address,
            data_ports=settings.ftp_passive_port_range(),
            ssl=tls,
            welcome_message="csms file transfers",
        )
        server.user_manager = ChargerLogins(self.transfers, forget=lambda user: _forget(server, user))
        await server.start(settings.ftp_host, port)
        self._servers.append(server)
        self.links.ftp_ports[scheme] = server.address[1]
        logger.info("%s server listening on %s:%s", scheme.upper(), settings.ftp_host, server.address[1])


class _Server(aioftp.Server):
    async def parse_command(  # type: ignore[override]
        self, stream: aioftp.StreamIO, censor_commands: tuple[str] = ("pass",)
    ) -> tuple[str, str] | bool:
        """A control connection the charger closed ends its session: False tells aioftp's dispatcher
        so, where aioftp's own ConnectionResetError is logged as an error for every session."""
        try:
            return await super().parse_command(stream, censor_commands)
        except ConnectionResetError:
            return False


def _forget(server: aioftp.Server, user: aioftp.User) -> None:
    server.throttle_per_user.pop(user, None)


def _tls_context(settings: Settings) -> ssl.SSLContext:
    if not settings.ftps_certfile:
        raise ValueError("CSMS_FTPS_PORT needs a certificate: CSMS_FTPS_CERTFILE (or csms serve --ssl-certfile)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # As for wss:// (ocpp/tls.py): TLS 1.2 or newer (Security Whitepaper §2.4.1), the whitepaper's suites.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(settings.tls_ciphers)
    context.load_cert_chain(settings.ftps_certfile, settings.ftps_keyfile)
    return context
