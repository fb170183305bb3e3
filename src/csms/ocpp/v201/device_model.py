"""csms's device model commands (SetVariables, GetVariables, GetBaseReport) as OCPP 2.0.1 spells them."""

from __future__ import annotations

from typing import Any

from csms.domain.commands import GetVariables, RequestBaseReport, SetVariables, VariableRef
from csms.ocpp.rpc import Payload


def set_variables(command: SetVariables) -> Payload:
    data = [{**_named(setting.variable), "attributeValue": setting.value} for setting in command.settings]
    return {"setVariableData": data}


def get_variables(command: GetVariables) -> Payload:
    return {"getVariableData": [_named(variable) for variable in command.variables]}


def get_base_report(command: RequestBaseReport) -> Payload:
    return {"requestId": command.request_id, "reportBase": command.report_base}


def read_set_variables(answer: Payload) -> Payload:
    return {"results": [_result(result) for result in answer["setVariableResult"]]}


def read_get_variables(answer: Payload) -> Payload:
    results = []
    for result in answer["getVariableResult"]:
        value = result.get("attributeValue") if result["attributeStatus"] == "Accepted" else None
        results.append({**_result(result), "value": value})
    return {"results": results}


def _named(variable: VariableRef) -> Payload:
    """The component, variable and attributeType of a SetVariableData or GetVariableData."""
    component: dict[str, Any] = {"name": variable.component_name}
    if variable.component_instance is not None:
        component["instance"] = variable.component_instance
    if variable.evse_id is not None:
        component["evse"] = {"id": variable.evse_id}
        if variable.evse_connector_id is not None:
            component["evse"]["connectorId"] = variable.evse_connector_id
    named: dict[str, Any] = {"name": variable.variable_name}
    if variable.variable_instance is not None:
        named["instance"] = variable.variable_instance
    return {"attributeType": variable.attribute_type, "component": component, "variable": named}


def _result(result: Payload) -> Payload:
    """A Set/GetVariableResult as VariableRef fields, its status and its statusInfo."""
    component, variable = result["component"], result["variable"]
    evse = component.get("evse") or {}
    info = result.get("attributeStatusInfo") or {}
    return {
        "component_name": component["name"],
        "component_instance": component.get("instance"),
        "evse_id": evse.get("id"),
        "evse_connector_id": evse.get("connectorId"),
        "variable_name": variable["name"],
        "variable_instance": variable.get("instance"),
        "attribute_type": result.get("attributeType", "Actual"),
        "status": result["attributeStatus"],
        "reason_code": info.get("reasonCode"),
        "additional_info": info.get("additionalInfo"),
    }
