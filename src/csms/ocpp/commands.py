"""Sending CSMS-initiated OCPP calls to a charger, wherever the caller is."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from csms.bus import Bus, BusUnavailable, Message, NoResponders, RequestTimeout, ResponderHandle, command_subject
from csms.domain.commands import ChargerCommand, command_action, command_fields, command_from, is_command_action
from csms.observability.metrics import Metrics
from csms.ocpp.command_envelope import REQUESTED_BY, Command, CommandSeal, EnvelopeRefused, new_command_id
from csms.ocpp.registry import ConnectionRegistry
from csms.ocpp.rpc import CallNotSent, ChargerCallError, RpcError, RpcSession
from csms.ocpp.versions import NEWEST_FIRST, SupportedVersion, supported
from csms.services.chargers import BOOT_REJECTED
from csms.services.command_log import NO_BUS_ANSWER, CommandOutcome, answer_status

# How much longer than a call's timeout a node waits for the holding node's answer over the bus, so
# that the holding node reports a timeout itself (the charger's silence, not a lost bus message).
_BUS_GRACE = 2.0


class CommandError(Exception):
    """A call that could not be carried out; the message is safe to show."""


class UnknownAction(CommandError):
    pass


class InvalidPayload(CommandError):
    pass


class ActionOfAnotherVersion(InvalidPayload):
    """A call of another OCPP version than the charger's: a request that is wrong for this charger."""


class ChargerNotConnected(CommandError):
    pass


class ChargerNotAccepted(ChargerNotConnected):
    """Connected, but its boot was answered Rejected: csms sends it nothing until it is accepted."""


class ChargerTimeout(CommandError):
    pass


class CommandExpired(ChargerTimeout):
    """A command that reached the node holding the charger after its deadline, and was never sent."""


class CommandRefused(CommandError):
    """A command the node holding the charger refused: a rule of csms forbids it."""


class MessageBusDown(CommandError):
    """The bus to the other nodes is unreachable, so a charger connected elsewhere cannot be reached."""


class ChargerRejected(CommandError):
    """The charger answered with a CallError."""

    def __init__(self, error_code: str, description: str) -> None:
        super().__init__(f"the charger answered {error_code}: {description}")
        self.error_code = error_code
        self.description = description


def check_call(version: SupportedVersion, action: str, payload: dict[str, Any]) -> None:
    """Refuse an action the central system does not send in `version`, or a payload that breaks its schema."""
    if action not in version.central_system_actions:
        others = [other.name for other in reversed(NEWEST_FIRST) if action in other.central_system_actions]
        if others:
            raise ActionOfAnotherVersion(
                f"{action} is an OCPP {' and '.join(others)} call; this charger speaks OCPP {version.name}"
            )
        raise UnknownAction(f"{action} is not an OCPP {version.name} call the central system sends")
    try:
        version.rpc.schemas.check_request(action, payload)
    except RpcError as error:
        raise InvalidPayload(f"invalid {action} payload: {error.description}") from None


# Checks a call must pass on the node that carries it out, whichever node it came from (the API's own
# rules, such as never lowering a charger's SecurityProfile); raising CommandRefused refuses it.
CallChecks = Callable[[str, str, dict[str, Any]], Awaitable[None]]


async def _no_checks(charge_point_id: str, action: str, payload: dict[str, Any]) -> None:
    return None


class _NoLog:
    def record(self, outcome: CommandOutcome) -> None:
        return None

    def refused(self, *, kind: str, charge_point_id: str, detail: str) -> None:
        return None


class CommandRecorder(Protocol):
    def record(self, outcome: CommandOutcome) -> None: ...

    def refused(self, *, kind: str, charge_point_id: str, detail: str) -> None: ...


OwnerLookup = Callable[[str], Awaitable[str | None]]


class CommandRouter:
    """The one place that sends a call to a charger, on this node or through the bus to the node holding it.

    Every call is a `Command` with an id, who asked, the node it came from and its deadline in the
    cluster clock. The node holding the charger's socket runs the checks, never sends a command whose
    deadline has passed, and records what it did (`CommandRecorder`); across the bus commands and
    answers are sealed with the cluster secret (`command_envelope`).
    """

    def __init__(
        self,
        registry: ConnectionRegistry,
        bus: Bus,
        *,
        call_timeout: float,
        seal: CommandSeal,
        node_id: str,
        owner_of: OwnerLookup,
        metrics: Metrics | None = None,
        checks: CallChecks = _no_checks,
        log: CommandRecorder | None = None,
    ) -> None:
        self._registry = registry
        self._bus = bus
        self._call_timeout = call_timeout
        self._seal = seal
        self._node_id = node_id
        # The connection id of the socket that owns a charger, per the database (services/presence.py).
        self._owner_of = owner_of
        self._metrics = metrics or Metrics()
        self._checks = checks
        self._log: CommandRecorder = log or _NoLog()

    async def send(self, charge_point_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send one OCPP call and return the charger's answer (camelCase), or raise a CommandError.

        The call is checked against the charger's own version, on the node that holds it. The call
        timeout counts from here, on whichever node holds the charger: ChargerTimeout comes within it
        even when earlier calls to the same charger are still waiting for their answers.
        """
        local = self._registry.get(charge_point_id)
        if local is not None:
            check_call(_version_of(local), action, payload)  # refused before a command is made
        return await self._route(charge_point_id, action, payload)

    async def send_command(self, charge_point_id: str, command: ChargerCommand) -> dict[str, Any]:
        """Carry out a version-neutral command; the node holding the charger spells it for its version."""
        return await self._route(charge_point_id, command_action(command), command_fields(command), neutral=command)

    async def _route(
        self, charge_point_id: str, action: str, payload: dict[str, Any], *, neutral: ChargerCommand | None = None
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        command = Command(
            command_id=new_command_id(),
            action=action,
            payload=payload,
            deadline=self._seal.now() + self._call_timeout,
            origin_node=self._node_id,
            requested_by=REQUESTED_BY.get(),
        )
        if self._registry.get(charge_point_id) is not None:
            return await self._execute(charge_point_id, command, neutral)
        # Addressed to the owning socket's own subject, never to the charger's: while two nodes still
        # hold a socket of it (before they reconcile), a request to both would be carried out twice.
        connection_id = await self._owner_of(charge_point_id)
        if connection_id is None:
            raise ChargerNotConnected(f"charger {charge_point_id} is not connected")
        subject = command_subject(charge_point_id, connection_id)
        try:
            # A little longer than the call's own timeout, so the holding node reports it first.
            within = started + self._call_timeout + _BUS_GRACE - loop.time()
            reply = await self._bus.request(subject, self._seal.seal(subject, command), within=within)
        except NoResponders:
            raise ChargerNotConnected(f"charger {charge_point_id} is not connected") from None
        except RequestTimeout:
            self._record(charge_point_id, command, NO_BUS_ANSWER)
            raise ChargerTimeout(
                f"charger {charge_point_id}: no answer to {action} came through the bus in time; it may still"
                f" have been carried out (command {command.command_id} in the charger's command record)"
            ) from None
        except BusUnavailable as error:
            raise MessageBusDown(f"the message bus is unavailable ({error}); try again shortly") from error
        try:
            opened = self._seal.open_reply(command.command_id, reply)
        except EnvelopeRefused:
            raise _unsigned_answer(charge_point_id, reply) from None
        return _unpack(opened)

    async def serve(self, charge_point_id: str, connection_id: str) -> ResponderHandle:
        """Answer other nodes' calls for a charger connected here, on this socket's own subject."""
        subject = command_subject(charge_point_id, connection_id)

        async def answer(message: Message) -> Message:
            try:
                command = self._seal.open(subject, message)
            except EnvelopeRefused as refused:
                detail = _describe(message, refused)
                self._log.refused(kind=refused.kind, charge_point_id=charge_point_id, detail=detail)
                return {"error": {"kind": "refused", "detail": str(refused)}}
            try:
                reply: Message = {"result": await self._execute(charge_point_id, command)}
            except CommandError as error:
                reply = {"error": _pack(error)}
            return self._seal.seal_reply(command.command_id, reply)

        return await self._bus.serve(subject, answer)

    async def _execute(
        self, charge_point_id: str, command: Command, neutral: ChargerCommand | None = None
    ) -> dict[str, Any]:
        """Carry out a command on this node, and record what came of it. `neutral`: the command itself,
        when it was made on this node (else it is read from the message)."""
        sent: list[str] = []  # the OCPP action it went out as, once spelled
        try:
            answer = await self._carry_out(charge_point_id, command, neutral, sent)
        except CommandError as error:
            self._record(charge_point_id, command, _outcome_of(error), detail=str(error), sent_as=sent)
            raise
        self._record(charge_point_id, command, "answered", answer_status=answer_status(answer), sent_as=sent)
        return answer

    async def _carry_out(
        self, charge_point_id: str, command: Command, neutral: ChargerCommand | None, sent: list[str]
    ) -> dict[str, Any]:
        remaining = min(command.deadline - self._seal.now(), self._call_timeout)
        if remaining <= 0:
            # Held up on the way (a bus link that dropped traffic and came back): the caller has had its
            # answer, so sending it now would do what the caller was told failed.
            raise CommandExpired(
                f"{command.action} for charger {charge_point_id} reached node {self._node_id}"
                f" {-remaining:.1f} s after its deadline; it was not sent"
            )
        session = self._registry.get(charge_point_id)
        if session is None:
            raise ChargerNotConnected(f"charger {charge_point_id} is not connected")
        if session.station.registration == BOOT_REJECTED:  # 1.6 §4.2, 2.0.1 B03: it only boots again
            raise ChargerNotAccepted(f"charger {charge_point_id} is connected, but its boot was answered Rejected")
        version = _version_of(session)
        if not is_command_action(command.action):
            check_call(version, command.action, command.payload)
            await self._checks(charge_point_id, command.action, command.payload)
            return await self._send_here(session, version, command.action, command.payload, within=remaining)
        if neutral is None:
            neutral = _neutral_command(command)
        action, payload = _spelled(version, neutral)
        sent.append(action)
        check_call(version, action, payload)
        await self._checks(charge_point_id, action, payload)
        answer = await self._send_here(session, version, action, payload, within=remaining)
        return version.read_answer(neutral, answer)

    def _record(
        self,
        charge_point_id: str,
        command: Command,
        outcome: str,
        *,
        answer_status: str | None = None,
        detail: str | None = None,
        sent_as: list[str] | None = None,
    ) -> None:
        self._log.record(
            CommandOutcome(
                command_id=command.command_id,
                charge_point_id=charge_point_id,
                action=sent_as[0] if sent_as else self._logged_action(charge_point_id, command),
                requested_by=command.requested_by,
                origin_node=command.origin_node,
                node=self._node_id,
                outcome=outcome,
                answer_status=answer_status,
                detail=detail,
            )
        )

    def _logged_action(self, charge_point_id: str, command: Command) -> str:
        """The OCPP action a command is (or would be) sent as, when this node holds the charger."""
        session = self._registry.get(charge_point_id)
        if not is_command_action(command.action) or session is None:
            return command.action
        try:
            return _spelled(_version_of(session), _neutral_command(command))[0]
        except CommandError:
            return command.action

    async def _send_here(
        self, session: RpcSession, version: SupportedVersion, action: str, payload: dict[str, Any], *, within: float
    ) -> dict[str, Any]:
        charge_point_id = session.id
        started = time.perf_counter()
        try:
            answer = await session.request(action, payload, within=within)
        except CallNotSent:
            self._metrics.observe_call(action, "timeout", time.perf_counter() - started)
            raise ChargerTimeout(
                f"charger {charge_point_id} was still busy with earlier calls; {action} was not sent in time"
            ) from None
        except TimeoutError:
            self._metrics.observe_call(action, "timeout", time.perf_counter() - started)
            raise ChargerTimeout(f"charger {charge_point_id} did not answer {action} in time") from None
        except ChargerCallError as error:
            self._metrics.observe_call(action, "call_error", time.perf_counter() - started)
            raise ChargerRejected(error.code, error.description) from None
        self._metrics.observe_call(action, "answered", time.perf_counter() - started)
        _check_answer(version, action, answer)
        return answer


def _version_of(session: RpcSession) -> SupportedVersion:
    return supported(session.version.name)


def _neutral_command(command: Command) -> ChargerCommand:
    try:
        return command_from(command.action, command.payload)
    except ValueError as error:
        raise InvalidPayload(str(error)) from None


def _spelled(version: SupportedVersion, command: ChargerCommand) -> tuple[str, dict[str, Any]]:
    try:
        return version.spell(command)
    except RpcError as error:
        cause = error.details.get("cause", error.description)
        raise InvalidPayload(f"{command.kind} cannot be sent to an OCPP {version.name} charger: {cause}") from None


def _outcome_of(error: CommandError) -> str:
    if isinstance(error, CommandExpired):
        return "expired"
    if isinstance(error, ChargerRejected):
        return "rejected"
    if isinstance(error, ChargerTimeout):
        return "timeout"
    if isinstance(error, ChargerNotConnected):
        return "not_connected"
    return "refused"


def _unsigned_answer(charge_point_id: str, reply: Message) -> CommandError:
    """An answer no csms node sealed: most likely the holding node could not open our command either."""
    error = reply.get("error")
    if isinstance(error, dict) and error.get("kind") == "refused":
        return CommandRefused(
            f"the node holding charger {charge_point_id} refused the command ({error.get('detail')});"
            " every node needs the same CSMS_BUS_SECRET"
        )
    return MessageBusDown("an answer on the bus was not signed by a csms node")


def _describe(message: Message, refused: EnvelopeRefused) -> str:
    """What a refused message asked for, for the security event (never trusted, only shown)."""
    action = str(message.get("action", "?"))[:64]
    origin = str(message.get("origin_node", "?"))[:32]
    return f"{refused}: {action} claiming to come from node {origin}"


def _check_answer(version: SupportedVersion, action: str, answer: dict[str, Any]) -> None:
    try:
        version.rpc.schemas.check_response(action, answer)
    except RpcError as error:
        code = version.rpc.errors.code(error.kind)
        raise ChargerRejected(code, f"the charger's {action} answer breaks the schema") from None


_ERROR_KINDS: dict[str, type[CommandError]] = {
    "expired": CommandExpired,
    "refused": CommandRefused,
    "not_connected": ChargerNotConnected,
    "timeout": ChargerTimeout,
    "invalid_payload": InvalidPayload,
    "unknown_action": UnknownAction,
}


def _pack(error: CommandError) -> dict[str, str]:
    if isinstance(error, ChargerRejected):
        return {"kind": "rejected", "code": error.error_code, "detail": error.description}
    kind = next((name for name, kind in _ERROR_KINDS.items() if isinstance(error, kind)), "failed")
    return {"kind": kind, "detail": str(error)}


def _unpack(reply: Message) -> dict[str, Any]:
    if "result" in reply:
        return dict(reply["result"])
    error = reply.get("error", {})
    if error.get("kind") == "rejected":
        raise ChargerRejected(str(error.get("code")), str(error.get("detail")))
    raise _ERROR_KINDS.get(str(error.get("kind")), CommandError)(str(error.get("detail", "the command failed")))
