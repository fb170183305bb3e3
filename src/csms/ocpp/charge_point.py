"""One connected charger: routing of its frames and the handlers of every charger-initiated action.

Requests are checked against the package's 1.6 schemas in `route_message` (see frames.py for why
not inside the package's router), so the handlers skip the package's own second check.

Handlers stay thin: they turn the payload into domain values, call a service function and build
the `call_result`. They never `await self.call(...)`: the receive loop is waiting on them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import ocpp.messages
from ocpp.charge_point import _raise_key_error, remove_nones
from ocpp.exceptions import InternalError, OCPPError, PropertyConstraintViolationError
from ocpp.messages import Call, CallError, CallResult
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, DataTransferStatus, GenericStatus, RegistrationStatus
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.batch_writer import DATABASE_UNREACHABLE
from csms.ids import unique_uuid
from csms.observability.metrics import CHARGER_CALL, CSMS_CALL, ocpp_result_label
from csms.ocpp.commands import CallNotSent
from csms.ocpp.frames import (
    FrameError,
    guess_call_unique_id,
    parse_frame,
    rate_limited,
    require_32_bit_integers,
    to_ocpp16_call_error,
    validate_call,
)
from csms.ocpp.keys import camel_case_keys, snake_case_keys
from csms.ocpp.limits import TokenBucket
from csms.runtime import Runtime
from csms.services import (
    certificate_revocation,
    certificates,
    chargers,
    diagnostics,
    firmware,
    open_transactions,
    reservations,
    security_log,
    transactions,
)
from csms.services.certificate_authority import CertificateRequestRefused, load_authority
from csms.services.certificate_requests import UnsolicitedRequest
from csms.services.clock import format_ocpp_timestamp, parse_ocpp_timestamp
from csms.services.id_tags import ACCEPTED, CONCURRENT_TX, IdTagInfo, authorize_id_tag
from csms.services.message_log import INCOMING, OUTGOING
from csms.services.outage_reserves import RememberedTag

logger = logging.getLogger(__name__)
MESSAGE_BUDGET_EXCEEDED = "ocpp_message_budget_exceeded"
# The package logs every frame at INFO; our message log keeps them instead.
logging.getLogger("ocpp").setLevel(logging.WARNING)
# By default the package validates each payload on the default thread pool; a schema check takes
# microseconds, and the hop to a thread and back costs more than the check itself.
ocpp.messages.ASYNC_VALIDATION = False


class Connection(Protocol):
    async def recv(self) -> str: ...

    async def send(self, frame: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class _SharedRoutes:
    """The package's `route_map`, built once per class instead of once per connection.

    The package gives every ChargePoint its own dict of per-action dicts of bound methods: some
    kilobytes a socket, which adds up with tens of thousands of chargers on a node. This descriptor
    ignores the per-instance map the package's __init__ assigns and answers lookups from a map of
    method names shared by the class, binding the handler only when a call arrives.
    """

    def __init__(self) -> None:
        self._names: dict[type, dict[str, str]] = {}

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self
        return _BoundRoutes(instance, self._names_for(owner))

    def __set__(self, instance: Any, value: Any) -> None:
        pass  # the package's own per-instance map is not kept

    def _names_for(self, owner: type) -> dict[str, str]:
        if owner not in self._names:
            self._names[owner] = {
                str(function._on_action): name
                for klass in reversed(owner.__mro__)
                for name, function in vars(klass).items()
                if hasattr(function, "_on_action")
            }
        return self._names[owner]


class _BoundRoutes:
    __slots__ = ("_instance", "_names")

    def __init__(self, instance: Any, names: dict[str, str]) -> None:
        self._instance = instance
        self._names = names

    def __contains__(self, action: object) -> bool:
        return action in self._names

    def __getitem__(self, action: str) -> dict[str, Any]:
        # Every handler here skips the package's schema check: route_message checks calls itself.
        return {"_on_action": getattr(self._instance, self._names[action]), "_skip_schema_validation": True}


class _MadeOnFirstUse:
    """A per-connection asyncio object of the package, made when first used rather than in __init__.

    The package's __init__ gives every ChargePoint an `asyncio.Lock` for its calls; most chargers go
    hours without a call from csms. The package's eager object is dropped (as `_SharedRoutes` drops its
    route map) and one is made on the first access, kept in the instance under a private name.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._attribute = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._attribute = f"_made{name}"

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self
        made = instance.__dict__.get(self._attribute)
        if made is None:
            made = instance.__dict__[self._attribute] = self._factory()
        return made

    def __set__(self, instance: Any, value: Any) -> None:
        pass  # the package's eager object is not kept


class _NotKept:
    """An attribute the package's __init__ assigns and csms never uses: the assignment is dropped.

    The package's answer queue (four deques for every socket) is one: csms waits for an answer with
    a future of its own (`ChargePointSession.request`).
    """

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self
        raise AttributeError("csms does not keep the package's answer queue; use ChargePointSession.request")

    def __set__(self, instance: Any, value: Any) -> None:
        pass


class ChargePointSession(ChargePoint):  # type: ignore[misc]
    route_map = _SharedRoutes()
    _response_queue = _NotKept()
    _call_lock = _MadeOnFirstUse(asyncio.Lock)
    # The message id of csms's call in flight and the future its answer goes to (one at a time, OCPP
    # 1.6 §4.1.1); a class-level None until the first call, so an idle socket carries nothing for it.
    _awaited_answer: tuple[str, asyncio.Future[CallResult | CallError]] | None = None
    # This socket's sequence from the database once recorded (ocpp/presence.py): the highest owns the
    # charger. And the highest sequence another node announced for it while this one was being recorded.
    sequence: int | None = None
    rival_sequence: int = 0

    def __init__(self, charge_point_id: str, connection: Connection, runtime: Runtime) -> None:
        super().__init__(charge_point_id, connection, response_timeout=runtime.settings.ocpp_call_timeout)
        self._runtime = runtime
        self._connection: Connection = connection
        # The action of each message id in flight, so the log can name the action of a result.
        self._actions_in_flight: dict[str, str] = {}
        # Tells this socket apart from an older or newer one of the same charger, across nodes.
        self.connection_id = unique_uuid().hex
        # This charger's transactions seen on this connection: MeterValues link to them without a read.
        self._transactions: dict[int, transactions.TransactionRef] = {}
        # Connectors (all of them after a boot) where csms has ended what was open before, on this
        # connection: every transaction open on them since is in `_transactions`, so a status Available
        # or a start there needs no read unless one is.
        self._settled_connectors: set[int] = set()
        self._all_connectors_settled = False
        # Connectors (1 and up) the charger reported on this connection: remote starts check them here.
        self.reported_connectors: set[int] = set()
        # When the last frame arrived (time.monotonic): any message is a sign of life (OCPP 1.6 §4.6).
        self._last_heard = time.monotonic()
        settings = runtime.settings
        # Every frame counts against it, calls or not, before it is parsed or logged.
        self._frame_budget = TokenBucket(rate=settings.ocpp_message_rate, burst=settings.ocpp_message_burst)

    async def close(self, *, code: int = 1000, reason: str = "") -> None:
        await self._connection.close(code, reason)

    def seconds_silent(self) -> float:
        """Seconds since the charger's last frame, or since it connected."""
        return time.monotonic() - self._last_heard

    # -- framing ---------------------------------------------------------------------------

    async def route_message(self, raw_msg: str) -> None:
        self._last_heard = time.monotonic()
        if not self._frame_budget.take():
            await self._refuse_over_budget(raw_msg)
            return
        try:
            parsed = parse_frame(raw_msg, max_bytes=self._runtime.settings.ocpp_max_frame_bytes)
        except FrameError as error:
            self._log(INCOMING, raw_msg, message_type=None, unique_id=None, action=None)
            await self._send_error(error.call_error)
            return
        message = parsed.message
        action = message.action if isinstance(message, Call) else self._actions_in_flight.pop(message.unique_id, None)
        self._log(INCOMING, raw_msg, message_type=parsed.message_type, unique_id=message.unique_id, action=action)
        if not isinstance(message, Call):
            self._count_answer(CSMS_CALL, action, parsed.message_type, getattr(message, "error_code", None))
            self._deliver_answer(message)
            return
        self._remember_action(message.unique_id, message.action)
        try:
            if message.action in self.route_map:
                validate_call(message)
                require_32_bit_integers(message)
            await self._handle_call(message)
        except FrameError as error:
            await self._send_error(error.call_error)
        except OCPPError as error:
            await self._send_error(to_ocpp16_call_error(message.unique_id, error))

    async def _refuse_over_budget(self, raw_msg: str) -> None:
        """A frame beyond the charger's budget is neither parsed nor logged, whatever it holds: a flood
        of answers nobody asked for or of garbage costs no more than a flood of calls. A CALL is told to
        send it again later; the refusals are counted in one security event per period."""
        self._runtime.security_events.record(
            kind=MESSAGE_BUDGET_EXCEEDED,
            charge_point_id=self.id,
            remote_address=None,
            detail=f"frames beyond {self._runtime.settings.ocpp_message_rate:g} a second were refused unread",
        )
        unique_id = guess_call_unique_id(raw_msg)
        if unique_id is not None:
            self._count_answer(CHARGER_CALL, None, 4, "SecurityError")
            await self._connection.send(rate_limited(unique_id).to_json())

    async def _handle_call(self, message: Call) -> None:
        """Run the handler of a CALL and answer it: the package's own steps, minus its per-call costs.

        The package inspects the handler's signature, converts every key with regular expressions and
        deep-copies the answer on every call. csms's handlers are all coroutines without
        `call_unique_id` or `@after` hooks, keys are converted once per process (keys.py), and the
        answer dataclasses are flat, so a shallow read of their fields is enough.
        """
        try:
            handler = self.route_map[message.action]["_on_action"]
        except KeyError:
            _raise_key_error(message.action, self._ocpp_version)
            return
        try:
            response = await handler(**snake_case_keys(message.payload))
        except Exception as error:
            logger.exception("could not handle %s from %s", message.action, self.id)
            await self._send_error(message.create_call_error(error))
            return
        fields = {field.name: getattr(response, field.name) for field in dataclasses.fields(response)}
        answer = message.create_call_result(camel_case_keys(remove_nones(fields)))
        await self._send_frame(answer.to_json(), 3, answer.unique_id, None)

    async def request(self, action: str, payload: dict[str, Any], *, within: float | None = None) -> dict[str, Any]:
        """Send a call of the central system and return the charger's answer payload, camelCase as sent.

        The package's `call` turns the payload into snake_case dataclasses and the answer back, and
        waits on a queue with `wait_for`; csms holds both in camelCase already and waits on one future
        with one timer, which is cheaper on the remote-start path. The caller checks the payload and
        the answer against the schemas.

        The timeout (`within` seconds, the node's call timeout unless given) counts from now, the
        waiting for earlier calls to this charger included: a call still waiting its turn at the
        deadline raises CallNotSent and is never sent. Raises TimeoutError, or the OCPPError of a CallError.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._response_timeout if within is None else within)
        unique_id = str(unique_uuid())
        frame = Call(unique_id, action, payload).to_json()
        await self._wait_for_turn(action, deadline)
        try:
            answer_arrives: asyncio.Future[CallResult | CallError] = loop.create_future()
            self._awaited_answer = (unique_id, answer_arrives)
            timer = loop.call_at(deadline, _time_out, answer_arrives)
            try:
                await self._send_frame(frame, 2, unique_id, action)
                answer = await answer_arrives
            finally:
                timer.cancel()
                del self._awaited_answer  # back to the class's None
        finally:
            self._call_lock.release()
        if isinstance(answer, CallError):
            raise answer.to_exception()
        return dict(answer.payload)

    async def _wait_for_turn(self, action: str, deadline: float) -> None:
        """Take the call lock (one call in flight, OCPP-J 1.6 §4.1.1) before `deadline`, or raise CallNotSent."""
        lock = self._call_lock
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

    async def call(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("csms sends its calls with ChargePointSession.request")

    def _deliver_answer(self, answer: CallResult | CallError) -> None:
        """Hand an answer to the call awaiting it; an answer nobody awaits (never asked, or after its
        call timed out) is dropped."""
        awaited = self._awaited_answer
        if awaited is not None and awaited[0] == answer.unique_id and not awaited[1].done():
            awaited[1].set_result(answer)

    async def _send(self, message: str) -> None:
        """The package's way out; csms's own frames go through _send_frame, which need not parse them."""
        await self._send_frame(message, *_describe_outgoing(message))

    async def _send_error(self, error: CallError) -> None:
        await self._send_frame(error.to_json(), 4, error.unique_id, error.error_code)

    async def _send_frame(
        self, message: str, message_type: int | None, unique_id: str | None, action_or_code: str | None
    ) -> None:
        action = action_or_code if message_type == 2 else None
        if message_type == 2 and unique_id is not None and action is not None:
            self._remember_action(unique_id, action)
        elif unique_id is not None:
            action = self._actions_in_flight.pop(unique_id, None)
        if message_type in (3, 4):
            self._count_answer(CHARGER_CALL, action, message_type, action_or_code)
        self._log(OUTGOING, message, message_type=message_type, unique_id=unique_id, action=action)
        await self._connection.send(message)

    def _count_answer(self, origin: str, action: str | None, message_type: int | None, error_code: object) -> None:
        result = ocpp_result_label(message_type, error_code)
        self._runtime.metrics.count_ocpp_answer(origin=origin, action=action, result=result)

    def _remember_action(self, unique_id: str, action: str) -> None:
        if len(self._actions_in_flight) > 32:  # a peer that never answers must not grow this
            self._actions_in_flight.clear()
        self._actions_in_flight[unique_id] = action

    def _log(
        self,
        direction: str,
        frame: str,
        *,
        message_type: int | None,
        unique_id: str | None,
        action: str | None,
    ) -> None:
        self._runtime.message_log.record(
            self.id, direction, frame, message_type=message_type, unique_id=unique_id, action=action
        )

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        async with self._runtime.session_factory() as session:
            yield session

    def _now(self) -> datetime:
        return self._runtime.clock()

    async def _publish(self, kind: str, **fields: Any) -> None:
        await self._runtime.events.publish(kind, charge_point_id=self.id, **fields)

    # -- Core profile ----------------------------------------------------------------------

    @on(Action.boot_notification, skip_schema_validation=True)
    async def on_boot_notification(
        self,
        charge_point_vendor: str,
        charge_point_model: str,
        charge_point_serial_number: str | None = None,
        charge_box_serial_number: str | None = None,
        firmware_version: str | None = None,
        iccid: str | None = None,
        imsi: str | None = None,
        meter_type: str | None = None,
        meter_serial_number: str | None = None,
    ) -> call_result.BootNotification:
        boot = chargers.BootInfo(
            vendor=charge_point_vendor,
            model=charge_point_model,
            serial_number=charge_point_serial_number,
            charge_box_serial_number=charge_box_serial_number,
            firmware_version=firmware_version,
            iccid=iccid,
            imsi=imsi,
            meter_type=meter_type,
            meter_serial_number=meter_serial_number,
        )
        now = self._now()
        await chargers.record_boot(self._runtime.writer, self.id, boot, now=now)
        async with self._session() as session:
            await firmware.confirm_version(session, self.id, boot.firmware_version, now=now)
        self._end_superseded(connector_id=None, recorded_before=now)
        await self._publish(
            "charger_booted", vendor=boot.vendor, model=boot.model, firmware_version=boot.firmware_version
        )
        return call_result.BootNotification(
            current_time=format_ocpp_timestamp(now),
            interval=self._runtime.settings.heartbeat_interval,
            status=RegistrationStatus.accepted,
        )

    @on(Action.heartbeat, skip_schema_validation=True)
    async def on_heartbeat(self) -> call_result.Heartbeat:
        now = self._now()
        chargers.record_heartbeat(self._runtime.writer, self.id, now=now)
        return call_result.Heartbeat(current_time=format_ocpp_timestamp(now))

    @on(Action.status_notification, skip_schema_validation=True)
    async def on_status_notification(
        self,
        connector_id: int,
        error_code: str,
        status: str,
        timestamp: str | None = None,
        info: str | None = None,
        vendor_id: str | None = None,
        vendor_error_code: str | None = None,
    ) -> call_result.StatusNotification:
        _require_connector(connector_id, allow_zero=True)
        now = self._now()
        report = chargers.StatusReport(
            connector_id=connector_id,
            status=status,
            error_code=error_code,
            timestamp=_timestamp(timestamp) if timestamp else now,
            info=info,
            vendor_id=vendor_id,
            vendor_error_code=vendor_error_code,
        )
        await chargers.record_status(self._runtime.writer, self.id, report, now=now)
        if connector_id > 0:
            self.reported_connectors.add(connector_id)
            if status == "Available":
                self._end_superseded(connector_id=connector_id, recorded_before=now)
        self._runtime.session_watch.status_changed(self.id, report)
        await self._publish("connector_status", connector_id=connector_id, status=status, error_code=error_code)
        return call_result.StatusNotification()

    @on(Action.authorize, skip_schema_validation=True)
    async def on_authorize(self, id_tag: str) -> call_result.Authorize:
        info = await authorize_id_tag(self._runtime.tags, id_tag, now=self._now())
        return call_result.Authorize(id_tag_info=_id_tag_info(info))

    @on(Action.start_transaction, skip_schema_validation=True)
    async def on_start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        timestamp: str,
        reservation_id: int | None = None,
    ) -> call_result.StartTransaction:
        _require_connector(connector_id, allow_zero=False)
        start = {
            "charge_point_id": self.id,
            "connector_id": connector_id,
            "id_tag": id_tag,
            "meter_start": meter_start,
            "timestamp": _timestamp(timestamp),
            "reservation_id": reservation_id,
            "now": self._now(),
        }
        runtime = self._runtime
        try:
            transaction_id = await runtime.next_transaction_id()
            started = await transactions.start_transaction(
                runtime.engine, runtime.writer, runtime.tags, transaction_id=transaction_id, **start
            )
            if reservation_id is not None:
                await self._consume_reservation(reservation_id, started.transaction.id)
        except DATABASE_UNREACHABLE:
            return await self._start_while_the_database_is_away(start)
        self._remember_start(id_tag, started)
        if not started.is_repeat:
            self._end_superseded(
                connector_id=connector_id, recorded_before=start["now"], keep_id=started.transaction.id
            )
        return await self._started(started.transaction, started.id_tag_info, start, is_repeat=started.is_repeat)

    def _end_superseded(
        self, *, connector_id: int | None, recorded_before: datetime, keep_id: int | None = None
    ) -> None:
        """End, in the background, what is still open on a connector the charger has shown free."""
        if connector_id is not None and self._is_settled(connector_id, keep_id):
            return
        work = self._close_superseded(connector_id=connector_id, recorded_before=recorded_before, keep_id=keep_id)
        self._runtime.background.spawn(work, name=f"superseded-{self.id}")

    async def _close_superseded(
        self, *, connector_id: int | None, recorded_before: datetime, keep_id: int | None
    ) -> None:
        try:
            async with self._session() as session:
                closed = await open_transactions.close_superseded(
                    session,
                    charge_point_id=self.id,
                    connector_id=connector_id,
                    recorded_before=recorded_before,
                    keep_id=keep_id,
                )
        except DATABASE_UNREACHABLE as error:
            logger.warning("could not end superseded transactions of %s: %s", self.id, error)
            return
        if connector_id is None:
            self._all_connectors_settled = True
        else:
            self._settled_connectors.add(connector_id)
        for transaction in closed:
            # Forgotten here, so the charger's own StopTransaction, should it come, corrects the record.
            self._transactions.pop(transaction.id, None)
            await self._stopped(transaction)

    def _is_settled(self, connector_id: int, keep_id: int | None) -> bool:
        """Nothing can be open on the connector but what this connection knows, and it knows none open."""
        if not (self._all_connectors_settled or connector_id in self._settled_connectors):
            return False
        return not any(
            ref.is_open and ref.connector_id == connector_id and ref.id != keep_id
            for ref in self._transactions.values()
        )

    async def _consume_reservation(self, reservation_id: int, transaction_id: int) -> None:
        async with self._session() as session:
            await reservations.consume_reservation(
                session,
                charge_point_id=self.id,
                reservation_id=reservation_id,
                transaction_id=transaction_id,
                now=self._now(),
            )

    async def _started(
        self, ref: transactions.TransactionRef, info: IdTagInfo, start: dict[str, Any], *, is_repeat: bool = False
    ) -> call_result.StartTransaction:
        self._transactions[ref.id] = ref
        watch = self._runtime.session_watch
        # A refused start (ConcurrentTx, Blocked...) is no charging session to price, budget or announce.
        if ref.is_accepted and is_repeat:
            watch.transaction_seen(ref)
        elif ref.is_accepted:
            watch.transaction_started(ref, id_tag=start["id_tag"], started_at=start["timestamp"])
        await self._publish(
            "transaction_started",
            connector_id=ref.connector_id,
            transaction_id=ref.id,
            user_id=ref.user_id,
            id_tag_status=info.status,
        )
        return call_result.StartTransaction(transaction_id=ref.id, id_tag_info=_id_tag_info(info))

    def _remember_start(self, id_tag: str, started: transactions.StartedTransaction) -> None:
        """Keep what this start taught us, for starts while the database is away."""
        info = started.id_tag_info
        valid = replace(info, status=ACCEPTED) if info.status == CONCURRENT_TX else info
        remembered = RememberedTag(valid, started.transaction.user_id, started.vehicle_id, self._now())
        self._runtime.recent_tags.remember(id_tag, remembered)

    async def _start_while_the_database_is_away(self, start: dict[str, Any]) -> call_result.StartTransaction:
        """Answer a start with a reserved id when this node saw the tag recently; otherwise the charger
        gets InternalError and sends the start again later (OCPP 1.6 §4.10)."""
        remembered = self._runtime.recent_tags.recall(start["id_tag"], now=start["now"])
        transaction_id = self._runtime.transaction_ids.take() if remembered is not None else None
        if remembered is None or transaction_id is None:
            raise InternalError(details={"cause": "the database is unreachable; send this again later"})
        ref = await transactions.record_start(
            self._runtime.writer,
            transaction_id=transaction_id,
            id_tag_status=remembered.info.status,
            user_id=remembered.user_id,
            vehicle_id=remembered.vehicle_id,
            **start,
        )
        return await self._started(ref, remembered.info, start)

    @on(Action.stop_transaction, skip_schema_validation=True)
    async def on_stop_transaction(
        self,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        reason: str | None = None,
        id_tag: str | None = None,
        transaction_data: list[dict[str, Any]] | None = None,
    ) -> call_result.StopTransaction:
        stop = {
            "charge_point_id": self.id,
            "transaction_id": transaction_id,
            "meter_stop": meter_stop,
            "timestamp": _timestamp(timestamp),
            "reason": reason,
            "id_tag": id_tag,
            "transaction_data": _meter_samples(transaction_data or []),
        }
        known = self._transactions.pop(transaction_id, None)
        try:
            info = await self._stop_tag_info(id_tag, transaction_id) if id_tag else None
            closed = await self._close(known, stop)
        except DATABASE_UNREACHABLE:
            # The charger must get its answer (OCPP 1.6 §6.51) and the stop must not be lost: it is
            # written when the database returns; the answer carries no idTagInfo, which needs a read.
            await transactions.record_stop(self._runtime.writer, **stop, known=known)
            return call_result.StopTransaction()
        if closed is not None:
            await self._stopped(closed)
        return call_result.StopTransaction(id_tag_info=_id_tag_info(info) if info else None)

    async def _stopped(self, closed: transactions.ClosedTransaction) -> None:
        self._runtime.session_watch.transaction_stopped(closed)
        await self._publish(
            "transaction_stopped",
            connector_id=closed.connector_id,
            transaction_id=closed.id,
            user_id=closed.user_id,
            energy_wh=closed.energy_wh,
            closed_by=closed.closed_by,
        )

    async def _stop_tag_info(self, id_tag: str, transaction_id: int) -> IdTagInfo:
        """The tag's status as if this transaction were closed already: ConcurrentTx only for another one."""
        return await authorize_id_tag(self._runtime.tags, id_tag, now=self._now(), ignore_transaction_id=transaction_id)

    async def _close(
        self, known: transactions.TransactionRef | None, stop: dict[str, Any]
    ) -> transactions.ClosedTransaction | None:
        """Close without a read a transaction this connection knows open; read first for any other."""
        if known is not None and known.is_open:
            return await transactions.record_stop(self._runtime.writer, **stop, known=known)
        async with self._session() as session:
            return await transactions.stop_transaction(session, **stop)

    @on(Action.meter_values, skip_schema_validation=True)
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], transaction_id: int | None = None
    ) -> call_result.MeterValues:
        _require_connector(connector_id, allow_zero=True)
        samples = _meter_samples(meter_value)
        transaction = await self._transaction(transaction_id) if transaction_id is not None else None
        await transactions.add_meter_values(
            self._runtime.writer,
            charge_point_id=self.id,
            connector_id=connector_id,
            transaction=transaction,
            samples=samples,
        )
        if transaction is not None and transaction.charge_point_id == self.id:
            watch = self._runtime.session_watch
            cost_so_far = await watch.meter_values(transaction, samples) if transaction.is_accepted else None
            await self._publish(
                "meter_values",
                connector_id=connector_id,
                transaction_id=transaction.id,
                user_id=transaction.user_id,
                energy_wh=transaction.energy_wh,
                power_w=transactions.latest_power_w(samples),
                cost_so_far=cost_so_far,
            )
        return call_result.MeterValues()

    async def _transaction(self, transaction_id: int) -> transactions.TransactionRef | None:
        ref = self._transactions.get(transaction_id)
        if ref is None:
            ref = await transactions.find_transaction_ref(self._runtime.engine, transaction_id)
            if ref is not None and ref.charge_point_id == self.id:
                self._transactions[transaction_id] = ref
        return ref

    @on(Action.data_transfer, skip_schema_validation=True)
    async def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> call_result.DataTransfer:
        async with self._session() as session:
            await chargers.record_data_transfer(
                session, self.id, vendor_id=vendor_id, message_id=message_id, data=data, now=self._now()
            )
        # Kept for the operator, but csms implements no vendor extension (OCPP 1.6 §4.3).
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    # -- Firmware Management profile -------------------------------------------------------

    @on(Action.firmware_status_notification, skip_schema_validation=True)
    async def on_firmware_status_notification(self, status: str) -> call_result.FirmwareStatusNotification:
        async with self._session() as session:
            await chargers.record_charger_event(session, self.id, kind="firmware", status=status, now=self._now())
            await firmware.record_progress(session, self.id, status, now=self._now())
        await self._publish("firmware_status", status=status)
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification, skip_schema_validation=True)
    async def on_diagnostics_status_notification(self, status: str) -> call_result.DiagnosticsStatusNotification:
        async with self._session() as session:
            await chargers.record_charger_event(session, self.id, kind="diagnostics", status=status, now=self._now())
            await diagnostics.record_progress(session, self.id, status, now=self._now())
        await self._publish("diagnostics_status", status=status)
        return call_result.DiagnosticsStatusNotification()

    # -- Security extensions (OCPP 1.6 Security Whitepaper) ---------------------------------

    @on(Action.security_event_notification, skip_schema_validation=True)
    async def on_security_event_notification(
        self, type: str, timestamp: str, tech_info: str | None = None
    ) -> call_result.SecurityEventNotification:
        is_critical = await security_log.record_charger_event(
            self._runtime.writer,
            charge_point_id=self.id,
            kind=type,
            tech_info=tech_info,
            timestamp=_timestamp(timestamp),
            now=self._now(),
        )
        if is_critical:
            logger.warning("critical security event from charger %s: %s (%s)", self.id, type, tech_info)
        await self._publish("security_event", type=type, tech_info=tech_info, critical=is_critical)
        return call_result.SecurityEventNotification()

    @on(Action.signed_firmware_status_notification, skip_schema_validation=True)
    async def on_signed_firmware_status_notification(
        self, status: str, request_id: int | None = None
    ) -> call_result.SignedFirmwareStatusNotification:
        await self._record_request_progress("firmware", status, request_id)
        return call_result.SignedFirmwareStatusNotification()

    @on(Action.log_status_notification, skip_schema_validation=True)
    async def on_log_status_notification(
        self, status: str, request_id: int | None = None
    ) -> call_result.LogStatusNotification:
        await self._record_request_progress("diagnostics", status, request_id)
        return call_result.LogStatusNotification()

    async def _record_request_progress(self, kind: str, status: str, request_id: int | None) -> None:
        """Signed firmware or log progress: the charger's status, and the rollout or request it names."""
        record_progress = firmware.record_progress if kind == "firmware" else diagnostics.record_progress
        async with self._session() as session:
            await chargers.record_charger_event(session, self.id, kind=kind, status=status, now=self._now())
            await record_progress(session, self.id, status, now=self._now(), request_id=request_id)
        await self._publish(f"{kind}_status", status=status, request_id=request_id)

    @on(Action.sign_certificate, skip_schema_validation=True)
    async def on_sign_certificate(self, csr: str) -> call_result.SignCertificate:
        runtime = self._runtime
        try:
            async with self._session() as session:
                certificate_id = await certificates.sign_for_charger(
                    session,
                    self.id,
                    csr,
                    authority=load_authority(runtime.settings.ca_certfile, runtime.settings.ca_keyfile),
                    identity=runtime.settings.charger_certificate_identity,
                    organization=runtime.settings.certificate_organization,
                    valid_for=timedelta(days=runtime.settings.charger_certificate_days),
                    now=self._now(),
                )
        except CertificateRequestRefused as refused:
            # Counted per period: a charger (or whoever has its password) can send these at will.
            kind = "csr_unsolicited" if isinstance(refused, UnsolicitedRequest) else "csr_refused"
            runtime.security_events.record(kind=kind, charge_point_id=self.id, remote_address=None, detail=str(refused))
            return call_result.SignCertificate(status=GenericStatus.rejected)
        # Sent once this answer is on its way: never awaited here, where the receive loop waits.
        delivery = certificate_revocation.deliver_renewal(
            runtime.session_factory,
            runtime.commands.send,
            self.id,
            certificate_id,
            grace=timedelta(seconds=runtime.settings.certificate_renewal_grace),
            clock=runtime.clock,
        )
        runtime.background.spawn(delivery, name=f"certificate-signed-{self.id}")
        return call_result.SignCertificate(status=GenericStatus.accepted)


def _time_out(answer: asyncio.Future[Any]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError())


def _describe_outgoing(frame: str) -> tuple[int | None, str | None, str | None]:
    """The message type, id, and the action of a CALL or the error code of a CallError."""
    try:
        decoded = json.loads(frame)
    except ValueError:
        return None, None, None
    action_or_code = decoded[2] if decoded[0] in (2, 4) else None
    return decoded[0], decoded[1], action_or_code


def _id_tag_info(info: IdTagInfo) -> dict[str, Any]:
    return {
        "status": info.status,
        "expiry_date": format_ocpp_timestamp(info.expiry_date) if info.expiry_date else None,
        "parent_id_tag": info.parent_id_tag,
    }


def _timestamp(value: str) -> datetime:
    try:
        return parse_ocpp_timestamp(value)
    except ValueError:
        raise PropertyConstraintViolationError(details={"cause": f"{value!r} is not an RFC 3339 dateTime"}) from None


def _require_connector(connector_id: int, *, allow_zero: bool) -> None:
    lowest = 0 if allow_zero else 1
    if connector_id < lowest:
        raise PropertyConstraintViolationError(details={"cause": f"connectorId must be {lowest} or more"})


def _meter_samples(meter_value: list[dict[str, Any]]) -> list[transactions.MeterSample]:
    return [
        transactions.MeterSample(
            timestamp=_timestamp(sample["timestamp"]),
            sampled_values=[_sampled_value(value) for value in sample["sampled_value"]],
        )
        for sample in meter_value
    ]


def _sampled_value(value: dict[str, Any]) -> transactions.SampledValue:
    return transactions.SampledValue(
        value=value["value"],
        measurand=value.get("measurand", transactions.ENERGY_REGISTER),
        unit=value.get("unit"),
        phase=value.get("phase"),
        context=value.get("context"),
        location=value.get("location"),
        format=value.get("format"),
    )
