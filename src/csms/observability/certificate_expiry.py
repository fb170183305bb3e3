"""How long the certificates csms depends on stay valid: the server certificate it serves and the
operator's CA that signs chargers' certificates.

Python's TLS layer serves an expired certificate without a word, and chargers that check dates then
fail their handshakes. csms says so instead: a warning in the log at start, a warning in `/readyz`
and the days left as a Prometheus gauge, so an alert fires weeks before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509

from csms.config import Settings

logger = logging.getLogger(__name__)

SERVER, CA = "server", "ca"
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class CertificateExpiry:
    """When the soonest-expiring certificate of a PEM file ends, or why it could not be read."""

    name: str
    path: str
    not_after: datetime | None
    problem: str | None = None

    def days_left(self, now: datetime) -> float | None:
        """Days until it expires, negative once it has; None when unreadable."""
        return None if self.not_after is None else (self.not_after - now) / _DAY

    def warning(self, now: datetime, *, within: timedelta) -> str | None:
        """What an operator should hear about it, or None when it is valid for longer than `within`."""
        if self.not_after is None:
            return f"{self.name} certificate {self.path}: {self.problem}"
        left, ends = self.not_after - now, self.not_after.isoformat()
        if left <= timedelta(0):
            return f"{self.name} certificate {self.path} expired {(-left).days} days ago ({ends})"
        if left <= within:
            return f"{self.name} certificate {self.path} expires in {left.days} days ({ends})"
        return None


def read_expiry(name: str, path: str) -> CertificateExpiry:
    try:
        certificates = x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError) as error:
        return CertificateExpiry(name, path, None, f"unreadable ({type(error).__name__})")
    return CertificateExpiry(name, path, min(certificate.not_valid_after_utc for certificate in certificates))


class CertificateWatch:
    """The server certificate as read at start (what the TLS layer serves until a restart), and the CA
    as it is now (csms reads it for each CSR)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._server = read_expiry(SERVER, settings.server_certfile) if settings.server_certfile else None
        self.warn_within = timedelta(days=settings.certificate_warning_days)

    def expiries(self) -> list[CertificateExpiry]:
        found = [self._server] if self._server is not None else []
        ca_certfile = self._settings.ca_certfile
        return found + ([read_expiry(CA, ca_certfile)] if ca_certfile else [])

    def warnings(self, now: datetime) -> list[str]:
        found = (expiry.warning(now, within=self.warn_within) for expiry in self.expiries())
        return [warning for warning in found if warning is not None]

    def log_warnings(self, now: datetime) -> None:
        for warning in self.warnings(now):
            logger.warning("%s; renew it", warning)
