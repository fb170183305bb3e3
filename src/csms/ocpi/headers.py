"""OCPI's own headers: the credentials token in Authorization (§4.1.2), and the message ids (§4.2)."""

from __future__ import annotations

import base64
import binascii
import re

REQUEST_ID, CORRELATION_ID = "X-Request-ID", "X-Correlation-ID"

_PRINTABLE_TOKEN = re.compile(r"^[!-~]{1,64}$")


def token_candidates(header: str | None) -> list[str]:
    """The credentials token an Authorization header may mean: Base64-decoded as 2.2.1 requires, and as sent,
    since many 2.1.1 and 2.2 implementations do not encode it (§4.1.2 NOTE). Tokens are random, so at most
    one of the two matches a party."""
    scheme, _, value = (header or "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        return []
    decoded = _base64_decoded(value)
    return [decoded, value] if decoded and decoded != value else [value]


def _base64_decoded(value: str) -> str | None:
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8").strip()
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    return text if _PRINTABLE_TOKEN.match(text) else None


def authorization_header(token: str) -> str:
    """The header csms sends: the token's UTF-8 bytes in Base64 (RFC 4648)."""
    return "Token " + base64.b64encode(token.encode()).decode("ascii")
