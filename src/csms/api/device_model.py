"""A 2.x station's device model (admin, root): browse it, edit it (SetVariables), refresh it (GetVariables,
GetBaseReport)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.schemas import ErrorBody
from csms.db.models import DeviceModelVariable
from csms.domain.commands import RequestBaseReport, VariableRef, VariableSetting
from csms.services import chargers, device_model, device_model_settings
from csms.services.device_model_settings import VariableResult
from csms.services.errors import NotFound

router = APIRouter(prefix="/api/admin/chargers/{charge_point_id}", tags=["device model"])

AttributeType = Literal["Actual", "Target", "MinSet", "MaxSet"]
MAX_PAGE = 1000
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    403: {"model": ErrorBody, "description": "Needs the role admin or root"},
    404: {"model": ErrorBody, "description": "Unknown charger"},
}
_CALL_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    409: {"model": ErrorBody, "description": "Charger not connected, or a ReadOnly variable to set"},
    422: {"description": "A 1.6 charger (it has configuration keys), or a value the variable cannot take"},
    502: {"model": ErrorBody, "description": "The charger answered with a CallError"},
    504: {"model": ErrorBody, "description": "The charger did not answer in time"},
}


class CharacteristicsOut(BaseModel):
    """The variable's characteristics as the station reported them (2.0.1 VariableCharacteristicsType)."""

    unit: str | None = None
    data_type: str | None = Field(default=None, description="string, decimal, integer, dateTime, boolean, ...List")
    min_limit: float | None = None
    max_limit: float | None = Field(default=None, description="For a string or list: its longest length")
    values_list: str | None = Field(default=None, description="Allowed values (CSV) of an Option/Member/SequenceList")
    supports_monitoring: bool | None = None


class DeviceModelVariableOut(BaseModel):
    """One attribute of a variable of a 2.x station's device model, as its last report (or answer) gave it."""

    component_name: str
    component_instance: str = Field(description="'' when the component has no instance")
    evse_id: int = Field(description="0 for a component of the whole station")
    evse_connector_id: int = Field(description="0 for a component of the whole EVSE or station")
    variable_name: str
    variable_instance: str
    attribute_type: str = Field(description="Actual, Target, MinSet or MaxSet")
    value: str | None
    mutability: str | None = Field(description="ReadOnly, WriteOnly or ReadWrite")
    persistent: bool | None = Field(description="The value survives a reboot; null when no report said")
    constant: bool | None = Field(description="The station never changes the value itself")
    data_type: str | None
    characteristics: CharacteristicsOut | None
    updated_at: datetime

    @classmethod
    def of(cls, row: DeviceModelVariable) -> DeviceModelVariableOut:
        reported = json.loads(row.characteristics) if row.characteristics else None
        characteristics = (
            CharacteristicsOut(
                unit=reported.get("unit"),
                data_type=reported.get("dataType"),
                min_limit=reported.get("minLimit"),
                max_limit=reported.get("maxLimit"),
                values_list=reported.get("valuesList"),
                supports_monitoring=reported.get("supportsMonitoring"),
            )
            if reported is not None
            else None
        )
        fields = {name: getattr(row, name) for name in cls.model_fields if name != "characteristics"}
        return cls(**fields, characteristics=characteristics)


class VariableNamed(BaseModel):
    """One attribute of one variable, named as the GET answer names it (absent parts left out)."""

    model_config = ConfigDict(extra="forbid")

    component_name: str = Field(min_length=1, max_length=50, examples=["OCPPCommCtrlr"])
    component_instance: str | None = Field(default=None, min_length=1, max_length=50)
    evse_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="For a component of one EVSE")
    evse_connector_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="With evse_id")
    variable_name: str = Field(min_length=1, max_length=50, examples=["HeartbeatInterval"])
    variable_instance: str | None = Field(default=None, min_length=1, max_length=50)
    attribute_type: AttributeType = "Actual"

    def ref(self) -> VariableRef:
        return VariableRef(
            component_name=self.component_name,
            variable_name=self.variable_name,
            attribute_type=self.attribute_type,
            component_instance=self.component_instance,
            evse_id=self.evse_id,
            evse_connector_id=self.evse_connector_id if self.evse_id is not None else None,
            variable_instance=self.variable_instance,
        )


class VariableValue(VariableNamed):
    value: str = Field(max_length=1000, examples=["300"], description="As the station spells it: 'true', '300'")


class VariablesSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variables: list[VariableValue] = Field(min_length=1, max_length=100)


class VariablesRefresh(BaseModel):
    """Variables to read again (GetVariables); none asks for a full report (GetBaseReport)."""

    model_config = ConfigDict(extra="forbid")

    variables: list[VariableNamed] = Field(default_factory=list, max_length=100)
    report_base: Literal["FullInventory", "ConfigurationInventory", "SummaryInventory"] = "FullInventory"


class VariableResultOut(BaseModel):
    component_name: str
    component_instance: str | None
    evse_id: int | None
    evse_connector_id: int | None
    variable_name: str
    variable_instance: str | None
    attribute_type: str
    status: str = Field(
        description="The station's answer: Accepted, Rejected, RebootRequired, UnknownComponent, UnknownVariable"
        " or NotSupportedAttributeType"
    )
    reason_code: str | None = Field(description="The station's statusInfo")
    additional_info: str | None
    value: str | None = Field(default=None, description="A read's value (never a password)")

    @classmethod
    def of(cls, result: VariableResult) -> VariableResultOut:
        name = result.variable
        return cls(
            component_name=name.component_name,
            component_instance=name.component_instance,
            evse_id=name.evse_id,
            evse_connector_id=name.evse_connector_id,
            variable_name=name.variable_name,
            variable_instance=name.variable_instance,
            attribute_type=name.attribute_type,
            status=result.status,
            reason_code=result.reason_code,
            additional_info=result.additional_info,
            value=result.value,
        )


class VariablesRefreshOut(BaseModel):
    request_id: int | None = Field(description="The requestId of the report asked for; null for a read")
    status: str | None = Field(description="The station's answer to GetBaseReport; null for a read")
    results: list[VariableResultOut] = Field(description="The station's answer to GetVariables")


@router.get("/variables", responses=_ERRORS)
async def charger_variables(
    charge_point_id: str,
    admin: AdminUser,
    session: SessionDep,
    response: Response,
    component: str | None = None,
    component_instance: str | None = None,
    evse_id: Annotated[int | None, Query(ge=0, description="0: the station's own components")] = None,
    connector_id: Annotated[int | None, Query(ge=0, description="0: those of a whole EVSE")] = None,
    variable: str | None = None,
    variable_instance: str | None = None,
    attribute_type: AttributeType | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DeviceModelVariableOut]:
    """A 2.x station's device model as its reports gave it, by component and variable; filter by their names,
    instances, EVSE, connector and attribute type, page with limit and offset; the total is in X-Total-Count."""
    await _require_charger(session, charge_point_id)
    only = device_model.VariableFilter(
        component_name=component,
        component_instance=component_instance,
        evse_id=evse_id,
        evse_connector_id=connector_id,
        variable_name=variable,
        variable_instance=variable_instance,
        attribute_type=attribute_type,
    )
    found = await device_model.list_variables(session, charge_point_id, only=only, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(await device_model.count_variables(session, charge_point_id, only=only))
    return [DeviceModelVariableOut.of(row) for row in found]


@router.put("/variables", responses=_CALL_ERRORS)
async def set_charger_variables(
    charge_point_id: str, body: VariablesSet, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> list[VariableResultOut]:
    """Set variables of a 2.x station in one SetVariables, each checked first against what its reports said
    (mutability, data type, limits, allowed values); the station's answer per variable, what it took on kept."""
    settings = [VariableSetting(item.ref(), item.value) for item in body.variables]
    command = await device_model_settings.plan_settings(session, charge_point_id, settings)
    await session.close()  # not held while the charger answers
    answer = await runtime.commands.send_command(charge_point_id, command)
    async with runtime.session_factory() as recording:
        results = await device_model_settings.record_set_answer(
            recording, charge_point_id, command, answer, now=runtime.clock()
        )
    return [VariableResultOut.of(result) for result in results]


@router.post("/variables/refresh", responses=_CALL_ERRORS)
async def refresh_charger_variables(
    charge_point_id: str, body: VariablesRefresh, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> VariablesRefreshOut:
    """Read the named variables again (GetVariables, kept at once), or with none ask for a report
    (GetBaseReport: its NotifyReport parts replace what they name as they come)."""
    if not body.variables:
        await device_model.require_device_model(session, charge_point_id)
        await session.close()
        report = RequestBaseReport(device_model_settings.new_request_id(), body.report_base)
        answer = await runtime.commands.send_command(charge_point_id, report)
        return VariablesRefreshOut(request_id=report.request_id, status=str(answer["status"]), results=[])
    command = await device_model_settings.plan_reads(session, charge_point_id, [item.ref() for item in body.variables])
    await session.close()
    answer = await runtime.commands.send_command(charge_point_id, command)
    async with runtime.session_factory() as recording:
        results = await device_model_settings.record_read_answer(
            recording, charge_point_id, command, answer, now=runtime.clock()
        )
    return VariablesRefreshOut(request_id=None, status=None, results=[VariableResultOut.of(r) for r in results])


async def _require_charger(session: SessionDep, charge_point_id: str) -> None:
    if await chargers.get_charger(session, charge_point_id) is None:
        raise NotFound(f"unknown charger {charge_point_id}")
