"""Prometheus metrics of one csms node, in a registry of its own (several apps may share a process).

Labels come from closed sets only: an action a charger sends or an error code it answers is kept
as itself when OCPP 1.6 knows it and as "other" otherwise, so a misbehaving charger cannot grow the
number of series. Nothing is labelled per charger or per user.
"""

from __future__ import annotations

from collections.abc import Callable

from ocpp.v16.enums import Action as Action16
from ocpp.v21.enums import Action as Action21
from ocpp.v201.enums import Action as Action201
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CALL_RESULT = "CallResult"
OTHER = "other"
UNKNOWN = "unknown"
# Actions of the versions csms speaks are labelled by name; anything else a charger sends is "other".
# NotifyPeriodicEventStream is 2.1's one SEND message, which the package's Action (its CALLs) leaves out.
_KNOWN_ACTIONS = frozenset(action.value for versions in (Action16, Action201, Action21) for action in versions) | {
    "NotifyPeriodicEventStream"
}
_CALL_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The node's counters, gauges and histograms; `render()` is what `/metrics` answers."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.ocpp_messages = Counter(
            "csms_ocpp_messages",
            "OCPP calls answered, by OCPP version, who called, the action and the answer (CallResult or the "
            "CallError code)",
            ["version", "origin", "action", "result"],
            registry=self.registry,
        )
        self.ocpp_unconfirmed = Counter(
            "csms_ocpp_unconfirmed_messages",
            "OCPP 2.1 messages that get no answer, by OCPP version, message type (send, callresulterror), the "
            "action and the result (handled or dropped for a SEND, the error code of a CALLRESULTERROR)",
            ["version", "message_type", "action", "result"],
            registry=self.registry,
        )
        self.ocpp_call_seconds = Histogram(
            "csms_ocpp_call_seconds",
            "Time a charger takes to answer a call csms sends it, by action and outcome",
            ["action", "outcome"],
            buckets=_CALL_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.connected_chargers = Gauge(
            "csms_connected_chargers", "Chargers holding a WebSocket on this node", registry=self.registry
        )
        self.active_transactions = Gauge(
            "csms_active_transactions", "Transactions started and not yet stopped (all nodes)", registry=self.registry
        )
        self.http_requests = Counter(
            "csms_http_requests",
            "HTTP requests served, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_request_seconds = Histogram(
            "csms_http_request_seconds", "HTTP request duration by route template", ["route"], registry=self.registry
        )
        self.refused_writes = Counter(
            "csms_db_refused_writes",
            "Writes the database refused for their data, by table; the rest of their batch was kept",
            ["table"],
            registry=self.registry,
        )
        self.certificate_expiry_days = Gauge(
            "csms_certificate_expiry_days",
            "Days until a certificate csms depends on expires, negative once it has: server (the one served) or ca",
            ["certificate"],
            registry=self.registry,
        )
        # `labels()` takes a lock and builds a key on every call; the label sets are closed, so their
        # children are looked up once and kept.
        self._http_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._call_children: dict[tuple[str, str], Histogram] = {}

    def watch_connected_chargers(self, count: Callable[[], int]) -> None:
        self.connected_chargers.set_function(lambda: float(count()))

    def count_ocpp_answer(self, *, version: str, origin: str, action: str | None, result: str) -> None:
        self.ocpp_messages.labels(version, origin, ocpp_action_label(action), result).inc()

    def count_ocpp_unconfirmed(self, *, version: str, message_type: str, action: str | None, result: str) -> None:
        self.ocpp_unconfirmed.labels(version, message_type, ocpp_action_label(action), result).inc()

    def observe_call(self, action: str, outcome: str, seconds: float) -> None:
        child = self._call_children.get((action, outcome))
        if child is None:
            child = self.ocpp_call_seconds.labels(ocpp_action_label(action), outcome)
            self._call_children[(action, outcome)] = child
        child.observe(seconds)

    def count_http_request(self, *, method: str, route: str, status: int, seconds: float) -> None:
        children = self._http_children.get((method, route, status))
        if children is None:
            children = (self.http_requests.labels(method, route, str(status)), self.http_request_seconds.labels(route))
            self._http_children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_refused_write(self, table: str) -> None:
        """Table names come from csms's own statements, a closed set."""
        self.refused_writes.labels(table).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def ocpp_action_label(action: str | None) -> str:
    if action is None:
        return UNKNOWN
    return action if action in _KNOWN_ACTIONS else OTHER


def ocpp_result_label(error_code: str | None, version_codes: frozenset[str]) -> str:
    """CallResult (no error code), a CallError code of the version, or "other" for a code it does not define."""
    if error_code is None:
        return CALL_RESULT
    return error_code if error_code in version_codes else OTHER
