"""FTP logins for one request each: the username names the request and the expiry, the password signs it.

A firmware login (`fw-<update id>-<expiry>`) reads the one image of that charger's firmware update, as
often as its retries need, until it expires. A diagnostics login (`diag-<request id>-<expiry>`) stores
one file for that request: once the request has its file the login stops working (the request row
is the claimed-once record, see `diagnostics.claim_upload`). Nothing is stored for a login, so every
csms node checks it with the same key, like the signed HTTP links (services/signed_urls.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from csms.services.errors import PermissionDenied

FIRMWARE = "fw"
DIAGNOSTICS = "diag"
_USERNAME = re.compile(r"(fw|diag)-([1-9][0-9]{0,18})-([0-9]{1,12})")
_PASSWORD_HEX_DIGITS = 32  # 128 bits


@dataclass(frozen=True, slots=True)
class FtpLogin:
    kind: str  # FIRMWARE or DIAGNOSTICS
    subject_id: int  # the firmware update's or the diagnostics request's id
    expires: int  # Unix time

    @property
    def username(self) -> str:
        return f"{self.kind}-{self.subject_id}-{self.expires}"

    def password(self, key: bytes) -> str:
        message = f"ftp login\0{self.username}".encode()  # never an HTTP link's path, which starts with "/"
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:_PASSWORD_HEX_DIGITS]


def new_login(*, kind: str, subject_id: int, expires_at: datetime) -> FtpLogin:
    return FtpLogin(kind, subject_id, int(expires_at.timestamp()))


def verify(key: bytes, *, username: str, password: str, now: datetime) -> FtpLogin:
    """The login csms made for this username, if the password is its signature and it has not expired."""
    match = _USERNAME.fullmatch(username)
    if match is None:
        raise PermissionDenied("unknown FTP user")
    login = FtpLogin(match[1], int(match[2]), int(match[3]))
    if not hmac.compare_digest(password.encode(), login.password(key).encode()):
        raise PermissionDenied("wrong FTP password")
    if login.expires < now.timestamp():
        raise PermissionDenied("this FTP login has expired")
    return login
