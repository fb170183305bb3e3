"""csms's calls to OCPI parties: the Token header in Base64, a new X-Request-ID per request, the caller's
X-Correlation-ID (or a new one), routing headers on functional modules, and the answer's envelope unwrapped."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from csms.ocpi.headers import CORRELATION_ID, REQUEST_ID, authorization_header
from csms.ocpi.routing import PartyRef, request_headers
from csms.services.webhook_targets import Purpose, TargetRefused, check_target

# csms calls parties at public addresses only, unless the operator allows others (services/webhook_targets.py).
PEERS = Purpose("OCPI party url", "csms calls OCPI parties at", "CSMS_OCPI_ALLOW_PRIVATE_PEERS")

logger = logging.getLogger(__name__)


class PeerError(Exception):
    """A party's API could not be used (unreachable, refused, not OCPI); the message is safe to show."""


class PeerUnreachable(PeerError):
    pass


class PeerNotAllowed(PeerError):
    """The party's URL names an address csms may not call (private, loopback, csms itself, ...)."""


class PeerRefused(PeerError):
    """The party answered with an HTTP error or an OCPI status code outside 1xxx."""

    def __init__(self, message: str, *, http_status: int, status_code: int | None) -> None:
        super().__init__(message)
        self.http_status, self.status_code = http_status, status_code


class OcpiClient:
    """One connection pool for every party; `call` is the one way csms sends an OCPI request."""

    def __init__(
        self,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        allow_private: Callable[[], bool] = lambda: False,
        own_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)
        self._allow_private, self._own_hosts = allow_private, own_hosts

    async def close(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        method: str,
        url: str,
        *,
        token: str,
        body: Any = None,
        correlation_id: str | None = None,
        routing: tuple[PartyRef, PartyRef] | None = None,
    ) -> Any:
        """The `data` of the party's answer. `routing` (sender, receiver) for functional modules only: requests to
        versions and credentials carry no routing headers (§4.1.8.2)."""
        headers = {
            "Authorization": authorization_header(token),
            REQUEST_ID: str(uuid.uuid4()),
            CORRELATION_ID: correlation_id or str(uuid.uuid4()),
        }
        if routing is not None:
            headers |= request_headers(sender=routing[0], receiver=routing[1])
        try:
            target = await check_target(
                url, allow_private=self._allow_private(), own_hosts=self._own_hosts, purpose=PEERS
            )
        except TargetRefused as refusal:
            raise PeerNotAllowed(f"{method} {url} not sent: {refusal}") from None
        # The connection goes to the address just checked, not to a second lookup (DNS rebinding).
        headers["Host"] = target.host_header()
        server_name = target.tls_server_name()
        extensions = {"sni_hostname": server_name} if server_name else {}
        logger.info("OCPI %s %s (request %s)", method, url, headers[REQUEST_ID])
        try:
            response = await self._http.request(
                method, target.pinned_url(), json=body, headers=headers, extensions=extensions
            )
        except httpx.HTTPError as error:
            raise PeerUnreachable(f"{method} {url} failed: {type(error).__name__} {error}".strip()) from None
        return _data_of(method, url, response)


def _data_of(method: str, url: str, response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("status_code"), int):
        raise PeerRefused(
            f"{method} {url} answered HTTP {response.status_code} without an OCPI response",
            http_status=response.status_code,
            status_code=None,
        )
    status_code = body["status_code"]
    if not response.is_success or not 1000 <= status_code < 2000:
        message = body.get("status_message") or "no status message"
        raise PeerRefused(
            f"{method} {url} answered HTTP {response.status_code}, OCPI {status_code}: {message}",
            http_status=response.status_code,
            status_code=status_code,
        )
    return body.get("data")
