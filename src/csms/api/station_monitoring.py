"""Operator endpoints for what 2.x stations report of themselves: events, monitors, customer information."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.schemas import ErrorBody
from csms.domain.commands import ClearMonitor, SetMonitor
from csms.services import chargers, customer_information, monitoring, station_events
from csms.services.errors import NotFound

router = APIRouter(prefix="/api/admin/chargers", tags=["admin"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    403: {"model": ErrorBody, "description": "Needs the role admin or root"},
    404: {"model": ErrorBody, "description": "Unknown charger"},
}
IdTokenType = Literal["Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization"]


class StationEventOut(BaseModel):
    """One event a 2.x station reported (NotifyEvent)."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="csms's id of the row: page back with before_id")
    event_id: int = Field(description="The station's eventId")
    timestamp: datetime
    trigger: str = Field(description="Alerting, Delta or Periodic")
    cause: int | None = Field(description="The eventId of the event that caused this one")
    actual_value: str
    tech_code: str | None
    tech_info: str | None
    cleared: bool = Field(description="The monitored condition is over")
    transaction_id: str | None = Field(description="The station's transactionId, during a transaction")
    variable_monitoring_id: int | None = Field(description="The monitor that tripped")
    notification_type: str = Field(
        description="HardWiredNotification, HardWiredMonitor, PreconfiguredMonitor or CustomMonitor"
    )
    component_name: str
    component_instance: str
    evse_id: int = Field(description="0 for a component of the whole station")
    evse_connector_id: int
    variable_name: str
    variable_instance: str
    seq_no: int = Field(description="The seqNo of the NotifyEvent it came in")
    generated_at: datetime
    received_at: datetime


class MonitorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    monitor_id: int = Field(description="The station's id of the monitor")
    component_name: str
    component_instance: str
    evse_id: int
    evse_connector_id: int
    variable_name: str
    variable_instance: str
    monitor_type: str = Field(description="UpperThreshold, LowerThreshold, Delta, Periodic or PeriodicClockAligned")
    value: str
    severity: int
    transaction: bool
    source: str = Field(description="set (accepted in SetVariableMonitoring) or reported (NotifyMonitoringReport)")
    updated_at: datetime


class MonitoringOut(BaseModel):
    monitoring_base: str | None = Field(description="All, FactoryDefault or HardWiredOnly, as last accepted")
    monitoring_level: int | None = Field(description="The severity level last accepted (0 Danger ... 9 Debug)")
    monitors: list[MonitorOut]


class MonitoredComponent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50, examples=["EVSE"])
    instance: str | None = Field(default=None, min_length=1, max_length=50)
    evse_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="The EVSE, for a component of one")
    connector_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class MonitoredVariable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50, examples=["Voltage"])
    instance: str | None = Field(default=None, min_length=1, max_length=50)


class MonitorCreate(BaseModel):
    """A monitor on one variable (SetVariableMonitoring); with `monitor_id` it replaces that monitor."""

    model_config = ConfigDict(extra="forbid")

    component: MonitoredComponent
    variable: MonitoredVariable
    type: Literal["UpperThreshold", "LowerThreshold", "Delta", "Periodic", "PeriodicClockAligned"]
    value: float = Field(allow_inf_nan=False, examples=[250])
    severity: int = Field(ge=0, le=9, description="0 Danger ... 9 Debug")
    transaction: bool = False
    monitor_id: int | None = Field(default=None, ge=0, le=2**31 - 1)


class MonitorSetOut(BaseModel):
    status: str = Field(
        description="The station's answer: Accepted, UnknownComponent, UnknownVariable, UnsupportedMonitorType,"
        " Rejected or Duplicate"
    )
    monitor_id: int | None = Field(description="The station's id of the monitor, when it gave one")


class CustomerIdToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=36)
    type: IdTokenType


class CustomerCertificate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hash_algorithm: Literal["SHA256", "SHA384", "SHA512"]
    issuer_name_hash: str = Field(min_length=1, max_length=128)
    issuer_key_hash: str = Field(min_length=1, max_length=128)
    serial_number: str = Field(min_length=1, max_length=40)


class CustomerInformationCreate(BaseModel):
    """Whose data, and whether to report it, clear it or both (at least one)."""

    model_config = ConfigDict(extra="forbid")

    report: bool
    clear: bool
    id_token: CustomerIdToken | None = None
    customer_identifier: str | None = Field(default=None, min_length=1, max_length=64)
    customer_certificate: CustomerCertificate | None = None


class CustomerInformationSent(BaseModel):
    request_id: int = Field(description="The requestId the station's NotifyCustomerInformation parts name")
    charge_point_id: str
    status: str = Field(description="The station's answer: Accepted, Rejected or Invalid")


class CustomerInformationOut(BaseModel):
    request_id: int
    charge_point_id: str
    status: str | None = Field(description="The station's answer; null for a request csms did not send itself")
    report: bool | None
    clear: bool | None
    parts: int = Field(description="NotifyCustomerInformation parts received")
    complete: bool = Field(description="The last part (tbc false) is in and none before it is missing")
    text: str = Field(description="The parts' data joined in seqNo order")


@router.get("/{charge_point_id}/events", responses=_ERRORS)
async def station_event_log(
    charge_point_id: str,
    admin: AdminUser,
    session: SessionDep,
    limit: int = Query(default=100, ge=1, le=station_events.MAX_PAGE),
    before_id: int | None = None,
    trigger: Literal["Alerting", "Delta", "Periodic"] | None = None,
    cleared: bool | None = None,
    component: str | None = None,
    variable: str | None = None,
) -> list[StationEventOut]:
    """The events a 2.x station reported (NotifyEvent), newest first; filter by trigger, cleared, component or
    variable, page back with before_id."""
    await _require_charger(session, charge_point_id)
    only = station_events.EventFilter(
        trigger=trigger, cleared=cleared, component_name=component, variable_name=variable
    )
    found = await station_events.list_events(session, charge_point_id, only=only, limit=limit, before_id=before_id)
    return [StationEventOut.model_validate(event) for event in found]


@router.get("/{charge_point_id}/monitors", responses=_ERRORS)
async def station_monitors(charge_point_id: str, admin: AdminUser, session: SessionDep) -> MonitoringOut:
    """The monitors a 2.x station accepted or reported, and its monitoring base and level."""
    await _require_charger(session, charge_point_id)
    settings = await monitoring.settings_of(session, charge_point_id)
    monitors = await monitoring.list_monitors(session, charge_point_id)
    return MonitoringOut(
        monitoring_base=settings.base if settings else None,
        monitoring_level=settings.level if settings else None,
        monitors=[MonitorOut.model_validate(monitor) for monitor in monitors],
    )


_SENDING_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    409: {"model": ErrorBody, "description": "Charger not connected"},
    502: {"model": ErrorBody, "description": "The charger answered with a CallError"},
    504: {"model": ErrorBody, "description": "The charger did not answer in time"},
}


@router.post(
    "/{charge_point_id}/monitors",
    responses={**_SENDING_ERRORS, 422: {"description": "A 1.6 charger, or a bad body"}},
)
async def set_monitor(
    charge_point_id: str, body: MonitorCreate, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> MonitorSetOut:
    """Put a monitor on a variable of a 2.x station (SetVariableMonitoring); kept once the station accepts it."""
    await monitoring.require_monitoring(session, charge_point_id)
    component = body.component
    command = SetMonitor(
        component_name=component.name,
        variable_name=body.variable.name,
        monitor_type=body.type,
        value=body.value,
        severity=body.severity,
        transaction=body.transaction,
        component_instance=component.instance,
        evse_id=component.evse_id,
        evse_connector_id=component.connector_id if component.evse_id is not None else None,
        variable_instance=body.variable.instance,
        monitor_id=body.monitor_id,
    )
    answer = await runtime.commands.send_command(charge_point_id, command)
    await monitoring.record_set_answer(session, charge_point_id, command, answer, now=runtime.clock())
    return MonitorSetOut(status=str(answer["status"]), monitor_id=answer.get("monitor_id"))


@router.delete(
    "/{charge_point_id}/monitors/{monitor_id}",
    responses={**_SENDING_ERRORS, 422: {"description": "A 1.6 charger"}},
)
async def clear_monitor(
    charge_point_id: str, monitor_id: int, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> dict[str, str]:
    """Remove a monitor from a 2.x station (ClearVariableMonitoring); the station's Accepted, Rejected or NotFound."""
    await monitoring.require_monitoring(session, charge_point_id)
    command = ClearMonitor(monitor_id)
    answer = await runtime.commands.send_command(charge_point_id, command)
    await monitoring.record_clear_answer(session, charge_point_id, command, answer)
    return {"status": str(answer["status"])}


@router.post(
    "/{charge_point_id}/customer_information",
    status_code=status.HTTP_201_CREATED,
    responses={
        **_ERRORS,
        409: {"model": ErrorBody, "description": "Charger not connected"},
        422: {"description": "A 1.6 charger, a request that asks nothing or names no customer, or a bad body"},
        502: {"model": ErrorBody, "description": "The charger answered with a CallError"},
        504: {"model": ErrorBody, "description": "The charger did not answer in time"},
    },
)
async def request_customer_information(
    charge_point_id: str, body: CustomerInformationCreate, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> CustomerInformationSent:
    """Ask a 2.x station for a customer's data or to delete it (CustomerInformation); not supported on 1.6."""
    token, certificate = body.id_token, body.customer_certificate
    customer = customer_information.Customer(
        id_token=token.value if token else None,
        id_token_type=token.type if token else None,
        customer_identifier=body.customer_identifier,
        certificate=customer_information.CertificateHash(**certificate.model_dump()) if certificate else None,
    )
    request = await customer_information.plan_request(
        session,
        charge_point_id,
        report=body.report,
        clear=body.clear,
        customer=customer,
        requested_by=admin.id,
        now=runtime.clock(),
    )
    try:
        answer = await runtime.commands.send_command(charge_point_id, customer_information.command_for(request))
    except Exception:
        failed = customer_information.SEND_FAILED
        await customer_information.record_status(session, request, failed, now=runtime.clock())
        raise
    await customer_information.record_status(session, request, str(answer["status"]), now=runtime.clock())
    return CustomerInformationSent(request_id=request.id, charge_point_id=charge_point_id, status=request.status)


@router.get("/{charge_point_id}/customer_information/{request_id}", responses=_ERRORS)
async def customer_information_report(
    charge_point_id: str, request_id: int, admin: AdminUser, session: SessionDep
) -> CustomerInformationOut:
    """What the station sent for a CustomerInformation request (NotifyCustomerInformation), its parts joined."""
    await _require_charger(session, charge_point_id)
    found = await customer_information.read_information(session, charge_point_id, request_id)
    return CustomerInformationOut(
        request_id=found.request_id,
        charge_point_id=charge_point_id,
        status=found.status,
        report=found.request.report if found.request else None,
        clear=found.request.clear if found.request else None,
        parts=found.parts,
        complete=found.is_complete,
        text=found.text,
    )


async def _require_charger(session: SessionDep, charge_point_id: str) -> None:
    if await chargers.get_charger(session, charge_point_id) is None:
        raise NotFound(f"unknown charger {charge_point_id}")
