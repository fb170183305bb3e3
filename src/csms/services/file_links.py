"""The links chargers get in UpdateFirmware and GetDiagnostics: signed http(s) links, or ftp(s) links
with a login for that one request (services/ftp_logins.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from csms.config import Settings
from csms.db.models import StoredFile
from csms.services import ftp_logins, signed_urls
from csms.services.file_transfer import FTP, FTPS, HTTP, Offered

# The file name in a firmware link is for chargers that name the download after it; kept URL-safe.
_URL_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_file_name(name: str) -> str:
    return _URL_UNSAFE.sub("_", name)


@dataclass
class FileLinks:
    """Reads the settings when a link is made (tests point public_url at the port they got)."""

    settings: Settings
    key: bytes
    # The ports the FTP and FTPS servers listen on, once they run (csms/ftp/server.py).
    ftp_ports: dict[str, int] = field(default_factory=dict)

    def offered(self) -> Offered:
        return Offered(
            ftp=FTP in self.ftp_ports,
            ftps=FTPS in self.ftp_ports,
            ftp_only_vendors=tuple(self.settings.ftp_only_vendors),
        )

    def firmware(self, image: StoredFile, *, scheme: str, update_id: int, valid_from: datetime, now: datetime) -> str:
        """A link valid from now until `signed_url_ttl` after the retrieve date, so retries still work."""
        expires_at = now + self._ttl() + max(valid_from - now, timedelta(0))
        if scheme == HTTP:
            return self._firmware_http(image, now=now, expires_at=expires_at)
        name = safe_file_name(image.name)
        login = ftp_logins.new_login(kind=ftp_logins.FIRMWARE, subject_id=update_id, expires_at=expires_at)
        return self._ftp(scheme, login, path=f"/firmware/{name}")

    def published_firmware(self, image: StoredFile, *, now: datetime) -> str:
        """The HTTP link a local controller fetches an image from to publish it (PublishFirmware)."""
        return self._firmware_http(image, now=now, expires_at=now + self._ttl())

    def _firmware_http(self, image: StoredFile, *, now: datetime, expires_at: datetime) -> str:
        return self._signed(f"/files/firmware/{image.id}/{safe_file_name(image.name)}", now=now, expires_at=expires_at)

    def diagnostics(self, request_id: int, *, scheme: str, now: datetime) -> str:
        """Where the charger uploads the diagnostics file of this request."""
        expires_at = now + self._ttl()
        if scheme == HTTP:
            return self._signed(f"/files/diagnostics/{request_id}", now=now, expires_at=expires_at)
        login = ftp_logins.new_login(kind=ftp_logins.DIAGNOSTICS, subject_id=request_id, expires_at=expires_at)
        return self._ftp(scheme, login, path="/")

    def _ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.signed_url_ttl)

    def _signed(self, path: str, *, now: datetime, expires_at: datetime) -> str:
        return signed_urls.signed_url(
            self.key, base_url=self.settings.public_url, path=path, now=now, ttl=expires_at - now
        )

    def _ftp(self, scheme: str, login: ftp_logins.FtpLogin, *, path: str) -> str:
        host = self.settings.ftp_public_host or urlsplit(self.settings.public_url).hostname or "127.0.0.1"
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        return f"{scheme}://{login.username}:{login.password(self.key)}@{host}:{self.ftp_ports[scheme]}{path}"
