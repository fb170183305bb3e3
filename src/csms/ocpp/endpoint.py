"""The OCPP-J WebSocket endpoint: authenticate before the upgrade, then run the charger's session."""

from __future__ import annotations

import base64
import binascii
import logging

from fastapi import WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from csms.bus import ResponderHandle
from csms.db.storable_text import unstorable_reason
from csms.observability import logs
from csms.observability.middleware import request_id_of
from csms.ocpp import tls
from csms.ocpp.rpc import RpcSession
from csms.ocpp.sessions import ChargerSessions
from csms.ocpp.takeover import CLOSE_REPLACED
from csms.ocpp.versions import negotiate, subprotocols
from csms.runtime import Runtime
from csms.services import certificate_revocation, chargers, security_profiles
from csms.services.errors import NotFound, PermissionDenied
from csms.services.login_throttle import TooManyAttempts

logger = logging.getLogger(__name__)

CLOSE_PROTOCOL_ERROR = 1002


class WebSocketConnection:
    """The receive/send/close face a session expects (rpc.Connection), over a Starlette WebSocket."""

    __slots__ = ("_websocket",)

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    async def recv(self) -> str:
        message = await self._websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        text = message.get("text")
        if text is not None:
            return str(text)
        return bytes(message.get("bytes") or b"").decode("utf-8", "replace")

    async def send(self, frame: str) -> None:
        await self._websocket.send_text(frame)

    async def close(self, code: int, reason: str) -> None:
        try:
            await self._websocket.close(code=code, reason=reason)
        except (RuntimeError, WebSocketDisconnect):
            pass  # already closed, or the peer is gone: either way the socket is closed


class ChargerSockets:
    """ASGI middleware: WebSocket upgrades of `/ocpp/{charge_point_id}` go straight to `ocpp_endpoint`.

    A charger's socket lives for days. Routed through FastAPI, a dozen coroutine frames of its routing,
    exception and exit-stack layers and of csms's HTTP middlewares stayed suspended under every socket
    (memory that adds up over tens of thousands of chargers), and each frame sent passed their send
    wrappers. None of them does anything for a charger, so this, the outermost middleware, hands the
    socket over first.
    Everything else, other WebSocket paths included, goes on to the app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        charge_point_id = _charge_point_id(scope) if scope["type"] == "websocket" else None
        if charge_point_id is None:
            await self.app(scope, receive, send)
            return
        websocket = WebSocket(scope, receive, send)
        reason = unstorable_reason(charge_point_id)
        if reason is not None:
            # Never a registered charger, and not text a security event could keep: refused before any.
            detail = f"the charge point id in the path contains {reason}"
            await websocket.send_denial_response(JSONResponse({"detail": detail}, status_code=400))
            return
        token = logs.request_id.set(request_id_of(scope))
        try:
            await ocpp_endpoint(websocket, charge_point_id)
        finally:
            logs.request_id.reset(token)


OCPP_PATH_PREFIX = "/ocpp/"


def _charge_point_id(scope: Scope) -> str | None:
    """The id in `/ocpp/{id}` (one path segment, as a route would match it), or None for any other path."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    charge_point_id = path.removeprefix(OCPP_PATH_PREFIX)
    if charge_point_id == path or not charge_point_id or "/" in charge_point_id:
        return None
    return charge_point_id


async def ocpp_endpoint(websocket: WebSocket, charge_point_id: str) -> None:
    runtime: Runtime = websocket.app.state.runtime
    logs.charge_point_id.set(charge_point_id)  # this task serves only this charger: every log line names it
    refusal = await _refuse_downgrade(websocket, runtime, charge_point_id)
    if refusal is None:
        refusal = await _authenticate(websocket, runtime, charge_point_id)
    if refusal is not None:
        await websocket.send_denial_response(refusal)
        return
    # The newest version both sides speak (OCPP-J 2.0.1 §3.1.2). Without one, finish the handshake and
    # close at once (OCPP-J 1.6 §3.1.2).
    version = negotiate(websocket.scope.get("subprotocols", []))
    if version is None:
        wanted = " or ".join(subprotocols())
        _security_event(runtime, "subprotocol_refused", charge_point_id, websocket, f"none of {wanted} offered")
        await websocket.accept()
        await websocket.close(code=CLOSE_PROTOCOL_ERROR, reason=f"subprotocol {wanted} required")
        return
    await websocket.accept(subprotocol=version.subprotocol)
    sessions: ChargerSessions = websocket.app.state.charger_sessions
    await _serve(sessions.open(charge_point_id, WebSocketConnection(websocket), version), runtime)


async def _serve(session: RpcSession, runtime: Runtime) -> None:
    # This frame lives as long as the socket: what only the start needs is kept in helpers' frames, so a
    # replaced session or a database session is not held for the socket's life.
    previous = runtime.registry.register(session)
    responder: ResponderHandle | None = None
    try:  # from here on the registry holds this session: whatever happens, _forget must run
        # Served before the row exists, so a command routed to the row finds this socket listening.
        responder = await runtime.commands.serve(session.id, session.connection_id)
        try:
            await runtime.presence.connected(session)
        finally:
            if previous is not None:
                # Closed once the new row is in: the old socket's disconnect then finds the charger connected.
                await previous.close(code=CLOSE_REPLACED, reason="replaced by a new connection")
        await session.serve()
    except WebSocketDisconnect:
        pass
    finally:
        await _forget(session, runtime, responder)


async def _forget(session: RpcSession, runtime: Runtime, responder: ResponderHandle | None) -> None:
    if responder is not None:
        await responder.close()
    runtime.registry.unregister(session)
    # Only this socket's row goes: a newer socket of the charger, here or on another node, stays recorded.
    await runtime.presence.disconnected(session)


async def _authenticate(websocket: WebSocket, runtime: Runtime, charge_point_id: str) -> JSONResponse | None:
    try:
        # Counted before the credentials are checked, so concurrent guesses cannot slip past the limit.
        guess = await runtime.charger_auth_throttle.begin(account=charge_point_id, address=_address(websocket))
    except TooManyAttempts as error:
        wait = error.retry_after
        _security_event(runtime, "charger_auth_throttled", charge_point_id, websocket, f"retry after {wait} s")
        return JSONResponse(
            {"detail": "too many failed attempts; try again later"}, status_code=429, headers={"Retry-After": str(wait)}
        )
    certificate = tls.client_certificate(websocket.scope)
    with guess:
        if certificate is not None:
            refusal = await _refuse_certificate(websocket, runtime, charge_point_id, certificate)
        else:
            refusal = await _refuse_password(websocket, runtime, charge_point_id)
        if refusal is not None:
            return refusal
        guess.succeeded()
    return await _check_profile(websocket, runtime, charge_point_id, has_client_certificate=certificate is not None)


async def _refuse_password(websocket: WebSocket, runtime: Runtime, charge_point_id: str) -> JSONResponse | None:
    """Security profiles 1 and 2: the refusal for wrong Basic-auth credentials, None for right ones."""
    username, password = _basic_credentials(websocket.headers.get("authorization"))
    try:
        async with runtime.session_factory() as db:
            await chargers.authenticate_charger(
                db,
                charge_point_id=charge_point_id,
                username=username,
                password=password,
                verifier=runtime.charger_verifier,
            )
    except chargers.ChargerAuthFailure as failure:
        logger.warning("refused charger %s from %s: %s", charge_point_id, _peer(websocket), failure)
        _security_event(runtime, "charger_auth_refused", charge_point_id, websocket, str(failure))
        if failure.is_unknown:
            return JSONResponse({"detail": f"unknown charger {charge_point_id}"}, status_code=404)
        return JSONResponse(
            {"detail": "invalid charger credentials"},
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="csms", charset="UTF-8"'},
        )
    return None


async def _refuse_certificate(
    websocket: WebSocket, runtime: Runtime, charge_point_id: str, certificate: str
) -> JSONResponse | None:
    """Security profile 3: the TLS layer verified the chain against the operator's CA; here the certificate
    must name this charger, so a certificate of one charger never connects as another."""
    identity = runtime.settings.charger_certificate_identity
    try:
        async with runtime.session_factory() as db:
            expected = await security_profiles.certificate_identity(db, charge_point_id, identity=identity)
    except NotFound:
        return _certificate_refused(websocket, runtime, charge_point_id, "unknown charger", status_code=404)
    except PermissionDenied as error:
        return _certificate_refused(websocket, runtime, charge_point_id, str(error), status_code=403)
    named = security_profiles.common_name(certificate)
    if named != expected:
        detail = f"the client certificate names {named!r}, not this charger"
        return _certificate_refused(websocket, runtime, charge_point_id, detail, status_code=403)
    return await _refuse_unhonoured(websocket, runtime, charge_point_id, certificate)


async def _refuse_unhonoured(
    websocket: WebSocket, runtime: Runtime, charge_point_id: str, certificate: str
) -> JSONResponse | None:
    """With csms as the chargers' CA, only a certificate it issued to this charger and has not revoked
    (superseded ones after their grace) connects; without it csms issued none and has nothing to check."""
    if not (runtime.settings.ca_certfile and runtime.settings.ca_keyfile):
        return None
    try:
        async with runtime.session_factory() as db:
            await certificate_revocation.check_presented(db, charge_point_id, certificate, now=runtime.clock())
    except certificate_revocation.CertificateNotHonoured as refused:
        return _certificate_refused(websocket, runtime, charge_point_id, str(refused), status_code=403)
    return None


def _certificate_refused(
    websocket: WebSocket, runtime: Runtime, charge_point_id: str, detail: str, *, status_code: int
) -> JSONResponse:
    logger.warning("refused charger %s from %s: %s", charge_point_id, _peer(websocket), detail)
    _security_event(runtime, "client_certificate_refused", charge_point_id, websocket, detail)
    return JSONResponse({"detail": detail}, status_code=status_code)


async def _refuse_downgrade(websocket: WebSocket, runtime: Runtime, charge_point_id: str) -> JSONResponse | None:
    """A connection below the charger's profile is refused before its credentials are looked at, so the
    answer is the same for a right password and a wrong one: no password oracle at profile 3."""
    profile = _connection_profile(websocket, has_client_certificate=tls.client_certificate(websocket.scope) is not None)
    if profile == security_profiles.TLS_CLIENT_CERTIFICATE:
        return None  # the highest profile: nothing to refuse, and no query to make
    try:
        async with runtime.session_factory() as db:
            await security_profiles.refuse_below_recorded(db, charge_point_id, profile)
    except security_profiles.ProfileDowngrade as refused:
        return _profile_refused(websocket, runtime, charge_point_id, refused)
    return None


async def _check_profile(
    websocket: WebSocket, runtime: Runtime, charge_point_id: str, *, has_client_certificate: bool
) -> JSONResponse | None:
    """A charger never connects below the security profile it has reached (Security Whitepaper §2.1)."""
    profile = _connection_profile(websocket, has_client_certificate=has_client_certificate)
    try:
        async with runtime.session_factory() as db:
            await security_profiles.record_connection(db, charge_point_id, profile)
    except security_profiles.ProfileDowngrade as refused:
        return _profile_refused(websocket, runtime, charge_point_id, refused)
    return None


def _connection_profile(websocket: WebSocket, *, has_client_certificate: bool) -> int:
    return security_profiles.connection_profile(
        is_tls=tls.is_tls(websocket.scope), has_client_certificate=has_client_certificate
    )


def _profile_refused(
    websocket: WebSocket, runtime: Runtime, charge_point_id: str, refused: security_profiles.ProfileDowngrade
) -> JSONResponse:
    _security_event(runtime, "security_profile_refused", charge_point_id, websocket, str(refused))
    return JSONResponse({"detail": str(refused)}, status_code=403)


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    username, separator, password = decoded.partition(":")
    return (username, password) if separator else (None, None)


def _security_event(runtime: Runtime, kind: str, charge_point_id: str, websocket: WebSocket, detail: str) -> None:
    """A refused connection attempt: anyone may repeat these at will, so repeats are counted per period."""
    runtime.security_events.record(
        kind=kind, charge_point_id=charge_point_id[:64], remote_address=_address(websocket), detail=detail
    )


def _address(websocket: WebSocket) -> str:
    return websocket.client.host if websocket.client else "unknown"


def _peer(websocket: WebSocket) -> str:
    return f"{websocket.client.host}:{websocket.client.port}" if websocket.client else "unknown"
