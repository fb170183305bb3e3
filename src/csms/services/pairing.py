"""QR pairing codes on charger stickers, optionally signed by csms.

csms prints a link to its app, `https://csms.example/app/pair?cp=CP001&connector=1&sig=...`, which a
phone's camera opens; the seed's `ocpp://CP001?connector=1` is read as well, typed or scanned. A signed
code (`sig`) proves csms printed that sticker for that connector, so a sticker moved onto another charger
is caught; both forms carry the same signature. Unsigned codes printed elsewhere are still accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from csms.services.chargers import CHARGE_POINT_ID_PATTERN
from csms.services.errors import InvalidInput

SCHEME = "ocpp"
# The app's page a sticker link opens, under the public URL (which may have a path of its own).
PAIR_PATH = "/app/pair"
_WEB_SCHEMES = ("https", "http")
MAX_CODE_LENGTH = 512
_SIGNATURE_LENGTH = 22  # 132 bits of an HMAC-SHA256, base64url
# ASCII digits only: str.isdigit() also accepts '²', which int() refuses.
_CONNECTOR = re.compile(r"[0-9]{1,4}")


@dataclass(frozen=True, slots=True)
class PairingCode:
    charge_point_id: str
    connector_id: int
    is_signed: bool


def sticker_key(server_secret: str) -> bytes:
    """A key for stickers only, derived from the server secret so it never doubles as a token key."""
    return hmac.new(server_secret.encode(), b"csms qr sticker v1", hashlib.sha256).digest()


def sign(key: bytes, charge_point_id: str, connector_id: int) -> str:
    digest = hmac.new(key, f"{charge_point_id}\0{connector_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:_SIGNATURE_LENGTH]


def signed_code(key: bytes, charge_point_id: str, connector_id: int) -> str:
    return f"{SCHEME}://{charge_point_id}?connector={connector_id}&sig={sign(key, charge_point_id, connector_id)}"


def sticker_link(key: bytes, public_url: str, charge_point_id: str, connector_id: int) -> str:
    """The signed link a sticker prints: the app's pairing page under csms's public URL."""
    signature = sign(key, charge_point_id, connector_id)
    query = urlencode({"cp": charge_point_id, "connector": connector_id, "sig": signature})
    return f"{public_url.rstrip('/')}{PAIR_PATH}?{query}"


def parse_code(code: str, key: bytes) -> PairingCode:
    """Read a scanned code (a sticker link or ocpp://); a malformed code or a wrong signature raises InvalidInput."""
    if len(code) > MAX_CODE_LENGTH:
        raise InvalidInput("this is not a csms charger code: too long")
    parts = urlsplit(code.strip())
    query = parse_qs(parts.query, keep_blank_values=True)
    if parts.scheme in _WEB_SCHEMES and parts.path.endswith(PAIR_PATH):
        charge_point_id = _single(query.get("cp", []))
    elif parts.scheme == SCHEME and parts.netloc and parts.path in ("", "/"):
        charge_point_id = parts.netloc
    else:
        raise InvalidInput("this is not a charger code: expected a csms sticker link or ocpp://CHARGER?connector=N")
    if not CHARGE_POINT_ID_PATTERN.fullmatch(charge_point_id):
        raise InvalidInput("this charger code names an invalid charge point id")
    connector_id = _connector(query.get("connector", []))
    signatures = query.get("sig", [])
    if len(signatures) > 1:
        raise InvalidInput("this charger code has more than one signature")
    # Compared as bytes: compare_digest refuses str holding non-ASCII characters.
    expected = sign(key, charge_point_id, connector_id).encode()
    if signatures and not hmac.compare_digest(signatures[0].encode(), expected):
        raise InvalidInput("this sticker does not belong to this charger and connector; it may have been swapped")
    return PairingCode(charge_point_id, connector_id, is_signed=bool(signatures))


def _single(values: list[str]) -> str:
    if len(values) != 1:
        raise InvalidInput("this charger link needs exactly one cp=CHARGER")
    return values[0]


def _connector(values: list[str]) -> int:
    if len(values) != 1 or not _CONNECTOR.fullmatch(values[0]) or not 1 <= int(values[0]) <= 1000:
        raise InvalidInput("this charger code needs exactly one connector=N with N from 1 to 1000")
    return int(values[0])
