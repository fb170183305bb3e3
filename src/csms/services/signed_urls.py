"""Links that only chargers get: an HMAC over the path and its expiry, with a key of their own.

A charger downloading firmware or uploading diagnostics has no bearer token; the link it was sent
in UpdateFirmware or GetDiagnostics is its authorisation, and it stops working when it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from urllib.parse import urlencode

from csms.services.errors import PermissionDenied

# What csms itself puts in a link: Unix seconds and a hex SHA-256. Anything else is refused before
# it is parsed (str.isdigit() accepts '²', and int() refuses numbers of thousands of digits).
_EXPIRES = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def file_url_key(server_secret: str) -> bytes:
    """A key for file links only, derived from the server secret so it never doubles as a token key."""
    return hmac.new(server_secret.encode(), b"csms file links v1", hashlib.sha256).digest()


def signature(key: bytes, path: str, expires: int) -> str:
    return hmac.new(key, f"{path}\0{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(key: bytes, *, base_url: str, path: str, now: datetime, ttl: timedelta) -> str:
    expires = int((now + ttl).timestamp())
    query = urlencode({"expires": expires, "signature": signature(key, path, expires)})
    return f"{base_url.rstrip('/')}{path}?{query}"


def verify(key: bytes, *, path: str, expires: str | None, given: str | None, now: datetime) -> None:
    """Raise PermissionDenied unless the signature is the one csms made for this path, and still valid."""
    if not expires or not given:
        raise PermissionDenied("this link needs its expires and signature parameters")
    if not _EXPIRES.fullmatch(expires):
        raise PermissionDenied("this link's expiry is malformed")
    if not _SIGNATURE.fullmatch(given) or not hmac.compare_digest(given, signature(key, path, int(expires))):
        raise PermissionDenied("this link's signature is not valid")
    if int(expires) < now.timestamp():
        raise PermissionDenied("this link has expired")
