"""TLS for chargers: the client certificate of security profile 3, TLS 1.2 or newer only, and the
whitepaper's cipher suites.

uvicorn does not put the client certificate in the ASGI scope; the WebSocket protocol below adds the
ASGI TLS extension (`scope["extensions"]["tls"]`) from the connection's SSL object, so the endpoint can
bind the certificate to the charger. The certificate itself is verified by the TLS layer against the
operator's CA (`--ssl-ca-certs`, CERT_OPTIONAL so profile 1 and 2 chargers still connect).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from typing import Any

from uvicorn.config import Config
from websockets.http11 import Request

from csms.config import WHITEPAPER_CIPHERS
from csms.ocpp.transport import LeanWebSockets

PROTOCOL = "csms.ocpp.tls:ClientCertificateWebSockets"
# The ASGI TLS extension spells versions as the protocol's numbers.
_TLS_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


class ClientCertificateWebSockets(LeanWebSockets):
    """csms's WebSocket protocol (transport.py), with the ASGI TLS extension in the scope."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope: dict[str, Any] | None = getattr(self, "scope", None)  # unset when the handshake was refused
        extension = tls_extension(self.transport.get_extra_info("ssl_object"))
        if scope is not None and extension is not None:
            # The application task is created but has not run yet: it sees the extension.
            scope["extensions"]["tls"] = extension


def tls_extension(ssl_object: ssl.SSLObject | None) -> dict[str, Any] | None:
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return {
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
    }


def client_certificate(scope: Mapping[str, Any]) -> str | None:
    """The PEM client certificate the TLS layer verified, or None (no TLS, or none presented)."""
    chain = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
    return str(chain[0]) if chain else None


def is_tls(scope: Mapping[str, Any]) -> bool:
    return scope.get("scheme") == "wss"


def server_context(
    config: Config, default: Callable[[], ssl.SSLContext], *, ciphers: str = WHITEPAPER_CIPHERS
) -> ssl.SSLContext:
    """uvicorn's SSL context, refusing anything older than TLS 1.2 (Security Whitepaper §2.4.1) and
    any TLS 1.2 suite but `ciphers` (CSMS_TLS_CIPHERS). TLS 1.3 suites are not affected."""
    context = default()
    restrict(context, ciphers=ciphers)
    return context


def restrict(context: ssl.SSLContext, *, ciphers: str) -> None:
    """TLS 1.2 or newer, and the TLS 1.2 suites of `ciphers` (an OpenSSL cipher string) only."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(ciphers)
