"""The NATS bus: several csms nodes share events and route charger commands through a NATS server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsNativeSubscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from csms.bus import BusUnavailable, Message, NoResponders, RequestTimeout, Responder

logger = logging.getLogger(__name__)


async def _ignore(error: Exception) -> None:
    return None


async def _close_quietly(client: Client) -> None:
    """Close a client whatever state a failed connect left it in (closing one that never connected can hang)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(2):
            await client.close()


def _is_refusal(error: Exception) -> bool:
    """NATS refused this node's login, or its certificate failed the configured CA: retrying cannot help."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return True
    text = str(error).lower()
    return "authorization violation" in text or "authentication" in text


async def _echo(message: Message) -> Message:
    return message


def _encode(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":"), default=str).encode()


def _decode(data: bytes) -> Message:
    decoded: Any = json.loads(data) if data else {}
    return decoded if isinstance(decoded, dict) else {"value": decoded}


class NatsSubscription:
    def __init__(self, native: NatsNativeSubscription, *, prefix: str = "") -> None:
        self._native = native
        self._prefix = prefix

    async def __aiter__(self) -> AsyncIterator[tuple[str, Message]]:
        async for message in self._native.messages:
            yield message.subject.removeprefix(self._prefix), _decode(message.data)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._native.unsubscribe()


class NatsResponder:
    def __init__(self, native: NatsNativeSubscription) -> None:
        self._native = native

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._native.unsubscribe()


@dataclass(frozen=True, slots=True)
class NatsLogin:
    """How a node logs in to NATS: one of user and password, token, NKey seed or .creds file; TLS with a CA."""

    user: str | None = None
    password: str | None = None
    token: str | None = None
    nkey_seed_file: str | None = None
    creds_file: str | None = None
    tls_ca_file: str | None = None
    tls_certfile: str | None = None
    tls_keyfile: str | None = None

    def options(self) -> dict[str, Any]:
        """Keyword arguments for `nats.connect`."""
        options: dict[str, Any] = {
            "user": self.user,
            "password": self.password,
            "token": self.token,
            "nkeys_seed": self.nkey_seed_file,
            "user_credentials": self.creds_file,
        }
        if self.tls_ca_file or self.tls_certfile:
            options["tls"] = self._tls_context()
        return {name: value for name, value in options.items() if value is not None}

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.tls_ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.tls_certfile:
            context.load_cert_chain(self.tls_certfile, self.tls_keyfile)
        return context


# The round trip /readyz makes through NATS: how long it may take, and how long its result is kept, so
# probes from several load balancers cost one request every few seconds.
_PROBE_TIMEOUT = 1.0
_PROBE_KEPT_FOR = 2.0
# How long a node waits at start for NATS before giving up (its supervisor starts it again).
_START_TIMEOUT = 30.0
_DRAIN_TIMEOUT = 5.0


class NatsBus:
    """The bus over a NATS server.

    `namespace` goes before every subject this node sends or listens on, so several csms deployments
    (production and staging, say) can share one NATS server without hearing each other; nodes of one
    deployment need the same namespace. Without one, subjects are csms's own (`csms.events.>`, ...).
    """

    def __init__(
        self, url: str, *, name: str = "csms", login: NatsLogin | None = None, namespace: str | None = None
    ) -> None:
        self._url = url
        self._name = name
        self._login = login or NatsLogin()
        self._prefix = f"{namespace}." if namespace else ""
        self._client: Client | None = None
        self._answering: set[asyncio.Task[None]] = set()
        self._probe_subject = f"csms.probe.{secrets.token_hex(8)}"
        self._probed: tuple[float, bool] | None = None  # when (monotonic), and whether it came back
        self._probing: asyncio.Lock = asyncio.Lock()
        self._reconnect_callbacks: list[Callable[[], None]] = []

    async def start(self) -> None:
        """Connect, or BusUnavailable: at once when NATS refuses the login or its certificate, else after
        `_START_TIMEOUT` without reaching it."""
        await self._first_contact()
        try:
            self._client = await nats.connect(
                self._url,
                name=self._name,
                connect_timeout=5,
                max_reconnect_attempts=-1,  # keep trying for ever: NATS restarts must not need a csms restart
                reconnect_time_wait=1,
                error_cb=self._log_error,
                disconnected_cb=self._log_disconnected,
                reconnected_cb=self._log_reconnected,
                **self._login.options(),
            )
        except (OSError, nats.errors.Error) as error:
            raise BusUnavailable(f"cannot reach NATS at {self._url}: {error}") from error
        await self.serve(self._probe_subject, _echo)

    async def _first_contact(self) -> None:
        """One connection that never retries by itself: a refusal ends the start at once with its reason
        (retrying for ever would leave the node hanging with no word why); an unreachable NATS is tried
        again every second until `_START_TIMEOUT`."""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + _START_TIMEOUT
        while True:
            contact = Client()
            try:
                await contact.connect(
                    self._url, connect_timeout=5, allow_reconnect=False, error_cb=_ignore, **self._login.options()
                )
            except (OSError, TimeoutError, nats.errors.Error) as error:
                await _close_quietly(contact)
                if _is_refusal(error):
                    raise BusUnavailable(f"NATS at {self._url} refused this node: {error}") from error
                if loop.time() >= give_up_at:
                    raise BusUnavailable(f"cannot reach NATS at {self._url}: {error}") from error
                await asyncio.sleep(1)
                continue
            await _close_quietly(contact)
            return

    async def close(self) -> None:
        if self._client is not None:
            try:
                # A link that drops traffic would hold a drain for its whole timeout (30 s).
                async with asyncio.timeout(_DRAIN_TIMEOUT):
                    await self._client.drain()
            except Exception:
                with contextlib.suppress(Exception):
                    await self._client.close()
            self._client = None

    async def publish(self, subject: str, message: Message) -> None:
        try:
            await self._connected().publish(self._prefix + subject, _encode(message))
        except nats.errors.Error as error:
            logger.warning("could not publish %s: %s", subject, error)

    async def subscribe(self, pattern: str) -> NatsSubscription:
        client = self._connected()
        native = await client.subscribe(self._prefix + pattern, pending_msgs_limit=10_000)
        subscription = NatsSubscription(native, prefix=self._prefix)
        # The SUB travels on this node's connection; an event another node publishes right after
        # subscribe() returns must not be missed, so wait for the server's PONG. During an outage the
        # client registers the subscription on reconnect instead.
        try:
            await client.flush(timeout=2)
        except nats.errors.Error as error:
            logger.warning("subscribed to %s while NATS is unreachable: %s", pattern, error)
        return subscription

    async def request(self, subject: str, message: Message, *, within: float) -> Message:
        if not self._is_connected():
            raise BusUnavailable("not connected to NATS")
        try:
            reply = await self._connected().request(self._prefix + subject, _encode(message), timeout=within)
        except NoRespondersError:
            raise NoResponders(subject) from None
        except NatsTimeout:
            raise RequestTimeout(subject) from None
        except nats.errors.Error as error:
            raise BusUnavailable(str(error)) from error
        return _decode(reply.data)

    async def serve(self, subject: str, responder: Responder) -> NatsResponder:
        async def answer(request: Msg) -> None:
            # Answered in a task: a slow charger must not hold up this subscription's other requests.
            task = asyncio.get_running_loop().create_task(self._answer(request, responder))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

        return NatsResponder(await self._connected().subscribe(self._prefix + subject, cb=answer))

    async def is_healthy(self) -> bool:
        """Connected, and a request to this node itself comes back through NATS in time.

        A link that silently drops traffic (no reset) keeps the client "connected" for minutes, until
        its pings go unanswered; only a round trip shows it. The result is kept for a few seconds.
        """
        if not self._is_connected():
            return False
        async with self._probing:
            now = time.monotonic()
            if self._probed is None or now - self._probed[0] > _PROBE_KEPT_FOR:
                self._probed = (now, await self._round_trip())
            return self._probed[1]

    async def _round_trip(self) -> bool:
        try:
            reply = await self._connected().request(self._prefix + self._probe_subject, b"{}", timeout=_PROBE_TIMEOUT)
        except nats.errors.Error:
            return False
        return reply.data == b"{}"

    def _is_connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        self._reconnect_callbacks.append(callback)

    async def _answer(self, request: Msg, responder: Responder) -> None:
        try:
            reply = await responder(_decode(request.data))
        except Exception as error:
            logger.exception("responder for %s failed", request.subject)
            reply = {"error": {"kind": "internal", "detail": type(error).__name__}}
        with contextlib.suppress(nats.errors.Error):
            await request.respond(_encode(reply))

    def _connected(self) -> Client:
        if self._client is None:
            raise BusUnavailable("the NATS bus is not started")
        return self._client

    async def _log_error(self, error: Exception) -> None:
        logger.warning("NATS error: %s", error)

    async def _log_disconnected(self) -> None:
        logger.warning("disconnected from NATS; reconnecting")

    async def _log_reconnected(self) -> None:
        logger.info("reconnected to NATS")
        for callback in self._reconnect_callbacks:
            callback()
