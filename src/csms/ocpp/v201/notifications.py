"""The 2.0.1 station notifications of blocks N and O read as domain values: NotifyEvent's events,
NotifyMonitoringReport's monitors, NotifyDisplayMessages' messages (payloads already checked against
their schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.ocpp.rpc import ErrorKind, RpcError
from csms.services import display_messages, monitoring, station_events
from csms.services.clock import parse_ocpp_timestamp


def component_variable(component: dict[str, Any], variable: dict[str, Any]) -> monitoring.ComponentVariable:
    evse = component.get("evse") or {}
    return monitoring.ComponentVariable(
        component_name=component["name"],
        component_instance=component.get("instance", ""),
        evse_id=evse.get("id", 0),
        evse_connector_id=evse.get("connectorId", 0),
        variable_name=variable["name"],
        variable_instance=variable.get("instance", ""),
    )


def reported_event(data: dict[str, Any]) -> station_events.ReportedEvent:
    return station_events.ReportedEvent(
        event_id=data["eventId"],
        timestamp=_timestamp(data["timestamp"]),
        trigger=data["trigger"],
        actual_value=data["actualValue"],
        notification_type=data["eventNotificationType"],
        variable=component_variable(data["component"], data["variable"]),
        cause=data.get("cause"),
        tech_code=data.get("techCode"),
        tech_info=data.get("techInfo"),
        cleared=data.get("cleared", False),
        transaction_id=data.get("transactionId"),
        variable_monitoring_id=data.get("variableMonitoringId"),
    )


def monitor(variable: monitoring.ComponentVariable, monitor: dict[str, Any]) -> monitoring.Monitor:
    """A 2.0.1 VariableMonitoringType on `variable`."""
    return monitoring.Monitor(
        monitor_id=monitor["id"],
        variable=variable,
        monitor_type=monitor["type"],
        value=monitoring.value_text(monitor["value"]),
        severity=monitor["severity"],
        transaction=monitor.get("transaction", False),
    )


def reported_message(info: dict[str, Any]) -> display_messages.ReportedMessage:
    content, display = info["message"], info.get("display")
    spec = display_messages.MessageSpec(
        content=content["content"],
        priority=info["priority"],
        format=content["format"],
        language=content.get("language"),
        state=info.get("state"),
        start_at=_timestamp(info["startDateTime"]) if "startDateTime" in info else None,
        end_at=_timestamp(info["endDateTime"]) if "endDateTime" in info else None,
        transaction_id=info.get("transactionId"),
    )
    shown_on = None
    if display is not None:
        shown_on = display["name"] + (f"/{display['instance']}" if display.get("instance") else "")
    return display_messages.ReportedMessage(message_id=info["id"], spec=spec, display=shown_on)


def _timestamp(value: str) -> datetime:
    try:
        return parse_ocpp_timestamp(value)
    except ValueError:
        raise RpcError.because(ErrorKind.FORMAT, f"{value!r} is not an RFC 3339 dateTime") from None
