"""One charger's OCPP-J session: its frames in and out, its calls, and csms's calls to it.

Version-neutral: the OCPP version (schemas, error spelling, actions) and the station object that
handles the charger's calls are given; this module never reads a payload's fields.

- Every frame counts against the charger's budget before it is parsed or logged.
- A CALL is checked against its request schema and its integers, then handed to the version's
  handler for its action; the handler's answer goes back as a CALLRESULT, its RpcError as a CALLERROR
  spelled for the version, anything else as InternalError.
- csms's own calls go one at a time (OCPP-J §4.1.1 / 2.0.1 §4.1.1), and each one's timeout counts
  from the caller's request, the wait for earlier calls included.
- A version that defines them (2.1) also gets SEND messages, handled like a CALL but never answered,
  and CALLRESULTERRORs about csms's answers, logged and counted, never answered either.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from csms.ids import unique_uuid
from csms.ocpp.limits import TokenBucket
from csms.ocpp.rpc.errors import ErrorKind, ErrorSpelling, RpcError
from csms.ocpp.rpc.frames import FrameError, guess_call_unique_id, parse_frame
from csms.ocpp.rpc.messages import (
    CORE_MESSAGE_TYPES,
    Call,
    CallError,
    CallResult,
    CallResultError,
    MessageType,
    Payload,
    Send,
)
from csms.ocpp.rpc.schemas import SchemaSet

if TYPE_CHECKING:
    from csms.domain.connectors import ConnectorState

logger = logging.getLogger(__name__)

INCOMING = "in"
OUTGOING = "out"
# Who sent the call that an answer belongs to, as metrics count them.
CHARGER_CALL = "charger"
CSMS_CALL = "csms"

# A handler of one action: the station of the connection and the CALL's payload, to the answer's payload.
Handler = Callable[[Any, Payload], Awaitable[Payload]]
# What became of a SEND (2.1), as metrics count it.
SEND_HANDLED = "handled"
SEND_DROPPED = "dropped"


class Connection(Protocol):
    async def recv(self) -> str: ...

    async def send(self, frame: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class Station(Protocol):
    """The version's handlers' state for one connection, as the session and csms's calls see it."""

    registration: str | None  # what csms answered the connection's last BootNotification

    async def known_connectors(self) -> Collection[int]:
        """Connectors (1 and up) a remote start may name: those the charger reported on this connection,
        else those csms stored before."""

    def connector_state(self, connector_id: int) -> ConnectorState | None:
        """The connector's newest status reported on this connection, None before one."""

    def refuse_before_acceptance(self, action: str) -> None:
        """Raise RpcError for a call the charger may not send yet."""

    def answer_to_failure(self, error: Exception) -> RpcError | None:
        """The CALLERROR for a handler's failure the station knows (the database away: send it again later);
        None for an unexpected one."""


class CallNotSent(TimeoutError):
    """A call that waited for the charger's earlier calls until its deadline, and was never sent."""


@dataclass(frozen=True, slots=True)
class OcppVersion:
    """What the session needs to know of one OCPP version."""

    name: str  # "1.6", "2.0.1", "2.1"
    subprotocol: str  # "ocpp1.6"
    schemas: SchemaSet
    errors: ErrorSpelling
    actions: frozenset[str]  # every action the version defines, either way
    handlers: Mapping[str, Handler]  # the charger's calls csms answers
    # The charger's SEND messages csms takes (2.1); their handlers' answers are dropped.
    send_handlers: Mapping[str, Handler] = field(default_factory=dict)
    message_types: frozenset[int] = CORE_MESSAGE_TYPES  # 2.1 adds CALLRESULTERROR and SEND


@dataclass(frozen=True, slots=True)
class RpcLimits:
    call_timeout: float
    max_frame_bytes: int
    message_rate: float
    message_burst: int


class RpcObserver(Protocol):
    """Where a session reports what it sees: the message log, metrics, security events. One per node."""

    def frame(
        self,
        charge_point_id: str,
        version: str,
        direction: str,
        frame: str,
        *,
        message_type: int | None,
        unique_id: str | None,
        action: str | None,
    ) -> None: ...

    def answer(self, version: OcppVersion, *, origin: str, action: str | None, error_code: str | None) -> None:
        """An answer sent or received; `error_code` None for a CALLRESULT."""

    def unconfirmed(self, version: OcppVersion, *, message_type: int, action: str | None, result: str) -> None:
        """A message that gets no answer (2.1): a SEND handled or dropped, or a CALLRESULTERROR's code."""

    def over_budget(self, charge_point_id: str) -> None: ...


class RpcSession:
    __slots__ = (
        "_actions_in_flight",
        "_awaited_answer",
        "_call_lock",
        "_connection",
        "_frame_budget",
        "_last_heard",
        "_limits",
        "_observer",
        "connection_id",
        "id",
        "rival_sequence",
        "sequence",
        "station",
        "version",
    )

    def __init__(
        self,
        charge_point_id: str,
        connection: Connection,
        *,
        version: OcppVersion,
        station: Station,
        limits: RpcLimits,
        observer: RpcObserver,
    ) -> None:
        self.id = charge_point_id
        self.version = version
        self.station = station  # the version's handlers' state for this connection
        # Tells this socket apart from an older or newer one of the same charger, across nodes.
        self.connection_id = unique_uuid().hex
        # This socket's sequence from the database once recorded (ocpp/presence.py): the highest owns the
        # charger. And the highest sequence another node announced for it while this one was being recorded.
        self.sequence: int | None = None
        self.rival_sequence = 0
        self._connection = connection
        self._limits = limits
        self._observer = observer
        # When the last frame arrived (time.monotonic): any message is a sign of life (OCPP 1.6 §4.6).
        self._last_heard = time.monotonic()
        self._frame_budget = TokenBucket(rate=limits.message_rate, burst=limits.message_burst)
        # The action of each message id in flight, so the log can name the action of an answer.
        self._actions_in_flight: dict[str, str] = {}
        # Made on csms's first call: most chargers go hours without one.
        self._call_lock: asyncio.Lock | None = None
        # The message id of csms's call in flight and the future its answer goes to.
        self._awaited_answer: tuple[str, asyncio.Future[CallResult | CallError]] | None = None

    async def serve(self) -> None:
        """Read and handle frames until the connection ends (its recv raises)."""
        while True:
            await self.route_message(await self._connection.recv())

    async def close(self, *, code: int = 1000, reason: str = "") -> None:
        await self._connection.close(code, reason)

    def seconds_silent(self) -> float:
        """Seconds since the charger's last frame, or since it connected."""
        return time.monotonic() - self._last_heard

    # -- frames in ----------------------------------------------------------------------------

    async def route_message(self, raw: str) -> None:
        self._last_heard = time.monotonic()
        if not self._frame_budget.take():
            await self._refuse_over_budget(raw)
            return
        try:
            message = parse_frame(raw, max_bytes=self._limits.max_frame_bytes, message_types=self.version.message_types)
        except FrameError as error:
            self._log(INCOMING, raw, message_type=None, unique_id=None, action=None)
            if error.answerable:
                await self._send_error(error.unique_id, error.error, action=None)
            else:
                logger.warning("dropped an unanswerable frame from %s: %s", self.id, error)
            return
        if isinstance(message, Call):
            self._log(INCOMING, raw, message_type=2, unique_id=message.unique_id, action=message.action)
            self._remember_action(message.unique_id, message.action)
            await self._answer(message)
            return
        if isinstance(message, Send):
            self._log(INCOMING, raw, message_type=6, unique_id=message.unique_id, action=message.action)
            await self._take(message)
            return
        if isinstance(message, CallResultError):
            self._log(INCOMING, raw, message_type=5, unique_id=message.unique_id, action=None)
            self._note_refused_answer(message)
            return
        action = self._actions_in_flight.pop(message.unique_id, None)
        self._log(INCOMING, raw, message_type=int(message.message_type), unique_id=message.unique_id, action=action)
        error_code = message.error_code if isinstance(message, CallError) else None
        self._observer.answer(self.version, origin=CSMS_CALL, action=action, error_code=error_code)
        self._deliver_answer(message)

    async def _refuse_over_budget(self, raw: str) -> None:
        """A frame beyond the charger's budget is neither parsed nor logged, whatever it holds: a flood
        of answers nobody asked for or of garbage costs no more than a flood of calls. A CALL is told to
        send it again later."""
        self._observer.over_budget(self.id)
        unique_id = guess_call_unique_id(raw)
        if unique_id is not None:
            error = RpcError(ErrorKind.SECURITY, "too many messages; slow down and send this again later")
            code = self.version.errors.code(error.kind)
            self._observer.answer(self.version, origin=CHARGER_CALL, action=None, error_code=code)
            await self._connection.send(CallError(unique_id, code, error.description, {}).to_json())

    async def _answer(self, call: Call) -> None:
        handler = self.version.handlers.get(call.action)
        try:
            if handler is None:
                raise self._unknown_action(call.action)
            self.station.refuse_before_acceptance(call.action)
            self.version.schemas.check_request(call.action, call.payload)
            answer = await handler(self.station, call.payload)
        except FrameError as error:
            await self._send_error(call.unique_id, error.error, action=call.action)
        except RpcError as error:
            await self._send_error(call.unique_id, error, action=call.action)
        except Exception as failure:
            known = self.station.answer_to_failure(failure)
            if known is None:
                logger.exception("could not handle %s from %s", call.action, self.id)
                known = RpcError(ErrorKind.INTERNAL, "An unexpected error occurred.")
            else:
                logger.warning(
                    "%s from %s not handled: %s (%s)", call.action, self.id, known.description, type(failure).__name__
                )
            await self._send_error(call.unique_id, known, action=call.action)
        else:
            result = CallResult(call.unique_id, answer)
            self._observer.answer(self.version, origin=CHARGER_CALL, action=call.action, error_code=None)
            await self._send_frame(result.to_json(), 3, call.unique_id)

    async def _take(self, send: Send) -> None:
        """A SEND (OCPP-J 2.1 §4.2.5) goes to its handler like a CALL, and nothing is ever answered: one
        csms does not take (no SEND action csms knows, a broken schema, a charger whose boot was answered
        Pending or Rejected) is dropped, logged and counted."""
        handler = self.version.send_handlers.get(send.action)
        result = SEND_HANDLED
        try:
            if handler is None:
                raise RpcError.because(ErrorKind.NOT_IMPLEMENTED, f"{send.action} is no SEND message csms takes")
            self.station.refuse_before_acceptance(send.action)
            self.version.schemas.check_send(send.action, send.payload)
            await handler(self.station, send.payload)
        except FrameError as error:
            result = SEND_DROPPED
            logger.warning("dropped %s SEND %s from %s: %s", send.action, send.unique_id, self.id, error)
        except RpcError as error:
            result = SEND_DROPPED
            cause = error.details.get("cause", error.description)
            logger.warning("dropped %s SEND %s from %s: %s", send.action, send.unique_id, self.id, cause)
        except Exception:
            result = SEND_DROPPED
            logger.exception("could not handle %s SEND from %s", send.action, self.id)
        self._observer.unconfirmed(self.version, message_type=MessageType.SEND, action=send.action, result=result)

    def _note_refused_answer(self, error: CallResultError) -> None:
        """The charger found csms's CALLRESULT `error.unique_id` wrong (OCPP-J 2.1 §4.2.4): there is nothing
        to retry and nothing to answer, only to tell whoever reads the logs and metrics."""
        logger.warning(
            "charger %s refused csms's answer %s: %s %s %s",
            self.id, error.unique_id, error.error_code, error.error_description, error.error_details or "",
        )  # fmt: skip
        self._observer.unconfirmed(
            self.version, message_type=MessageType.CALL_RESULT_ERROR, action=None, result=error.error_code
        )

    def _unknown_action(self, action: str) -> RpcError:
        """OCPP-J (1.6 §4.2.3, 2.0.1 §4.3): NotImplemented for an action the version does not know,
        NotSupported for one it knows but csms does not answer (a call only the central system sends)."""
        version = self.version
        if action in version.actions:
            return RpcError.because(ErrorKind.NOT_SUPPORTED, f"csms does not answer {action} from a charger.")
        return RpcError.because(ErrorKind.NOT_IMPLEMENTED, f"{action} is not an OCPP {version.name} action.")

    async def _send_error(self, unique_id: str, error: RpcError, *, action: str | None) -> None:
        code = self.version.errors.code(error.kind)
        cause = error.details.get("cause")
        details = {"cause": str(cause)} if cause else {}
        self._observer.answer(self.version, origin=CHARGER_CALL, action=action, error_code=code)
        await self._send_frame(CallError(unique_id, code, error.description, details).to_json(), 4, unique_id)

    # -- csms's calls -------------------------------------------------------------------------

    async def request(self, action: str, payload: Payload, *, within: float | None = None) -> Payload:
        """Send a call of the central system and return the charger's answer payload, camelCase as sent.

        The caller checks the payload and the answer against the schemas. The timeout (`within`
        seconds, the node's call timeout unless given) counts from now, the waiting for earlier calls
        to this charger included: a call still waiting its turn at the deadline raises CallNotSent and
        is never sent. Raises TimeoutError, or ChargerCallError for the charger's CallError.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._limits.call_timeout if within is None else within)
        unique_id = str(unique_uuid())
        frame = Call(unique_id, action, payload).to_json()
        lock = await self._wait_for_turn(action, deadline)
        try:
            answer_arrives: asyncio.Future[CallResult | CallError] = loop.create_future()
            self._awaited_answer = (unique_id, answer_arrives)
            timer = loop.call_at(deadline, _time_out, answer_arrives)
            try:
                self._remember_action(unique_id, action)
                await self._send_frame(frame, 2, unique_id, action=action)
                answer = await answer_arrives
            finally:
                timer.cancel()
                self._awaited_answer = None
        finally:
            lock.release()
        if isinstance(answer, CallError):
            raise ChargerCallError(answer.error_code, answer.error_description, answer.error_details)
        return answer.payload

    async def _wait_for_turn(self, action: str, deadline: float) -> asyncio.Lock:
        """Take the call lock before `deadline`, or raise CallNotSent."""
        lock = self._call_lock
        if lock is None:
            lock = self._call_lock = asyncio.Lock()
        if lock.locked():
            try:
                async with asyncio.timeout_at(deadline):
                    await lock.acquire()
            except TimeoutError:
                raise CallNotSent(f"{action} waited for earlier calls to {self.id} until its timeout") from None
        else:
            await lock.acquire()  # free: taken without suspending
        if asyncio.get_running_loop().time() >= deadline:
            # Given the lock as the call ahead timed out at the same moment, or come from another node
            # with no time left: too late to send.
            lock.release()
            raise CallNotSent(f"{action} waited for earlier calls to {self.id} until its timeout")
        return lock

    def _deliver_answer(self, answer: CallResult | CallError) -> None:
        """Hand an answer to the call awaiting it; an answer nobody awaits (never asked, or after its
        call timed out) is dropped."""
        awaited = self._awaited_answer
        if awaited is not None and awaited[0] == answer.unique_id and not awaited[1].done():
            awaited[1].set_result(answer)

    # -- frames out ---------------------------------------------------------------------------

    async def _send_frame(self, frame: str, message_type: int, unique_id: str, *, action: str | None = None) -> None:
        if message_type != MessageType.CALL:
            action = self._actions_in_flight.pop(unique_id, None)
        self._log(OUTGOING, frame, message_type=message_type, unique_id=unique_id, action=action)
        await self._connection.send(frame)

    def _remember_action(self, unique_id: str, action: str) -> None:
        if len(self._actions_in_flight) > 32:  # a peer that never answers must not grow this
            self._actions_in_flight.clear()
        self._actions_in_flight[unique_id] = action

    def _log(
        self, direction: str, frame: str, *, message_type: int | None, unique_id: str | None, action: str | None
    ) -> None:
        self._observer.frame(
            self.id,
            self.version.name,
            direction,
            frame,
            message_type=message_type,
            unique_id=unique_id,
            action=action,
        )


class ChargerCallError(Exception):
    """The charger answered csms's call with a CALLERROR."""

    def __init__(self, code: str, description: str, details: Payload) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.details = details


def _time_out(answer: asyncio.Future[Any]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError())
