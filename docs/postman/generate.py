"""Write the Postman collection (v2.1) of the csms API from its OpenAPI document.

    .venv/bin/python docs/postman/generate.py      # rewrites docs/postman/csms.postman_collection.json

One request per operation, grouped by tag, plus a "Flow" folder that walks signup → login →
start charging → find the transaction → stop charging → the finished record, with `pm.test`
assertions. Run it with newman against a running csms and a charger that answers remote starts:

    newman run docs/postman/csms.postman_collection.json --folder Flow \\
        --env-var baseUrl=http://127.0.0.1:8000 --env-var chargerId=CP001

The collection is committed; tests/test_postman.py fails when it no longer matches the API.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from csms.app import create_app
from csms.config import Settings

COLLECTION_PATH = Path(__file__).with_name("csms.postman_collection.json")
SCHEMA_URL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
JsonObject = dict[str, Any]

VARIABLES = {
    "baseUrl": "http://127.0.0.1:8000",
    "chargerId": "CP001",
    "connectorId": "1",
    "password": "postman flow password",
    "username": "",
    "accessToken": "",
    "transactionId": "",
}


def build_collection(openapi: JsonObject) -> JsonObject:
    folders: dict[str, list[JsonObject]] = {}
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["other"])[0]
            folders.setdefault(tag, []).append(_request_item(openapi, path, method, operation))
    return {
        "info": {
            "name": f"{openapi['info']['title']} {openapi['info']['version']}",
            "description": openapi["info"].get("summary", ""),
            "schema": SCHEMA_URL,
        },
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}]},
        "variable": [{"key": key, "value": value} for key, value in VARIABLES.items()],
        "item": [_flow_folder(), *({"name": tag, "item": items} for tag, items in folders.items())],
    }


# -- one request per operation ----------------------------------------------------------------


def _request_item(openapi: JsonObject, path: str, method: str, operation: JsonObject) -> JsonObject:
    parameters = operation.get("parameters", [])
    postman_path = "/".join(_path_segment(segment) for segment in path.strip("/").split("/"))
    url: JsonObject = {
        "raw": "{{baseUrl}}/" + postman_path,
        "host": ["{{baseUrl}}"],
        "path": postman_path.split("/"),
    }
    path_variables = [_parameter(openapi, parameter) for parameter in parameters if parameter["in"] == "path"]
    query = [
        {**_parameter(openapi, p), "disabled": not p.get("required", False)} for p in parameters if p["in"] == "query"
    ]
    if path_variables:
        url["variable"] = path_variables
    if query:
        url["query"] = query
    request: JsonObject = {"method": method.upper(), "header": [], "url": url}
    if operation.get("description"):
        request["description"] = operation["description"]
    body = _json_body(openapi, operation)
    if body is not None:
        request["header"] = [{"key": "Content-Type", "value": "application/json"}]
        request["body"] = {"mode": "raw", "raw": json.dumps(body, indent=2), "options": {"raw": {"language": "json"}}}
    return {"name": operation.get("summary") or f"{method.upper()} {path}", "request": request}


def _path_segment(segment: str) -> str:
    return f":{segment[1:-1]}" if segment.startswith("{") and segment.endswith("}") else segment


def _parameter(openapi: JsonObject, parameter: JsonObject) -> JsonObject:
    value = example_of(openapi, parameter.get("schema", {}))
    return {"key": parameter["name"], "value": "" if value is None else str(value)}


def _json_body(openapi: JsonObject, operation: JsonObject) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return example_of(openapi, content["application/json"].get("schema", {}))


def example_of(openapi: JsonObject, schema: JsonObject) -> Any:
    """A plausible value for a JSON schema: its example or default, else one built from its type."""
    if "$ref" in schema:
        return example_of(openapi, _resolve(openapi, schema["$ref"]))
    for key in ("example", "default", "const"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [option for option in schema.get(key, []) if option.get("type") != "null"]
        if options:
            return example_of(openapi, options[0])
    return _example_of_type(openapi, schema)


def _example_of_type(openapi: JsonObject, schema: JsonObject) -> Any:
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        properties = schema.get("properties", {})
        return {name: example_of(openapi, sub) for name, sub in properties.items() if name in required}
    if kind == "array":
        return [example_of(openapi, schema.get("items", {}))]
    return {"integer": 1, "number": 1.0, "boolean": True, "string": "string"}.get(str(kind))


def _resolve(openapi: JsonObject, reference: str) -> JsonObject:
    found: Any = openapi
    for part in reference.removeprefix("#/").split("/"):
        found = found[part]
    return dict(found)


# -- the Flow folder -------------------------------------------------------------------------


def _flow_folder() -> JsonObject:
    return {
        "name": "Flow",
        "description": "signup → login → start charging on {{chargerId}} → its transaction → stop → the record",
        "item": [
            _flow_step(
                "Sign up",
                "POST",
                "api/signup",
                body={"username": "{{username}}", "password": "{{password}}"},
                prerequest=[
                    "const suffix = Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36);",
                    "pm.collectionVariables.set('username', 'postman-' + suffix);",
                ],
                tests=[
                    "pm.test('signup answers 201', () => pm.response.to.have.status(201));",
                    "pm.test('with an idTag', () => pm.expect(pm.response.json().idTag).to.be.a('string'));",
                ],
                public=True,
            ),
            _flow_step(
                "Log in",
                "POST",
                "api/login",
                body={"username": "{{username}}", "password": "{{password}}"},
                tests=[
                    "pm.test('login answers 200', () => pm.response.to.have.status(200));",
                    "pm.collectionVariables.set('accessToken', pm.response.json().access_token);",
                ],
                public=True,
            ),
            _flow_step(
                "Start charging",
                "POST",
                "api/start_charging",
                body={"evse_id": "{{chargerId}}", "connector_id": "{{connectorId}}"},
                tests=[
                    "pm.test('start_charging answers 200', () => pm.response.to.have.status(200));",
                    "pm.test('the charger accepted', () => pm.expect(pm.response.json().status).to.eql('Accepted'));",
                ],
            ),
            _flow_step("Find the transaction", "GET", "api/transactions", tests=_wait_for_transaction()),
            _flow_step(
                "Stop charging",
                "POST",
                "api/stop_charging",
                body={"transaction_id": "{{transactionId}}"},
                tests=[
                    "pm.test('stop_charging answers 200', () => pm.response.to.have.status(200));",
                    "pm.test('the charger accepted', () => pm.expect(pm.response.json().status).to.eql('Accepted'));",
                ],
            ),
            _flow_step("The finished record", "GET", "api/transactions/{{transactionId}}", tests=_wait_for_stop()),
        ],
    }


def _wait_for_transaction() -> list[str]:
    """The charger starts the transaction after it accepts; ask again (up to 20 times) until it shows."""
    return [
        "const chargerId = pm.variables.get('chargerId');",
        "const open = pm.response.json().find(t => t.charge_point_id === chargerId && t.is_active);",
        "const tries = Number(pm.collectionVariables.get('tries') || 0);",
        "if (!open && tries < 20) {",
        "    pm.collectionVariables.set('tries', tries + 1);",
        "    setTimeout(() => {}, 250);",
        "    postman.setNextRequest('Find the transaction');",
        "} else {",
        "    pm.collectionVariables.unset('tries');",
        "    pm.test('the charging session is listed', () => pm.expect(open).to.be.an('object'));",
        "    pm.collectionVariables.set('transactionId', open.id);",
        "}",
    ]


def _wait_for_stop() -> list[str]:
    return [
        "pm.test('the record answers 200', () => pm.response.to.have.status(200));",
        "const record = pm.response.json();",
        "const tries = Number(pm.collectionVariables.get('tries') || 0);",
        "if (record.is_active && tries < 20) {",
        "    pm.collectionVariables.set('tries', tries + 1);",
        "    setTimeout(() => {}, 250);",
        "    postman.setNextRequest('The finished record');",
        "} else {",
        "    pm.collectionVariables.unset('tries');",
        "    pm.test('the session has stopped', () => pm.expect(record.stop_timestamp).to.be.a('string'));",
        "    pm.test('with its energy', () => pm.expect(record.energy_wh).to.be.a('number'));",
        "}",
    ]


def _flow_step(
    name: str,
    method: str,
    path: str,
    *,
    body: JsonObject | None = None,
    prerequest: list[str] | None = None,
    tests: list[str],
    public: bool = False,
) -> JsonObject:
    request: JsonObject = {
        "method": method,
        "header": [],
        "url": {"raw": "{{baseUrl}}/" + path, "host": ["{{baseUrl}}"], "path": path.split("/")},
    }
    if public:
        request["auth"] = {"type": "noauth"}
    if body is not None:
        request["header"] = [{"key": "Content-Type", "value": "application/json"}]
        raw = json.dumps(body, indent=2).replace('"{{connectorId}}"', "{{connectorId}}")
        raw = raw.replace('"{{transactionId}}"', "{{transactionId}}")
        request["body"] = {"mode": "raw", "raw": raw, "options": {"raw": {"language": "json"}}}
    events = [{"listen": "test", "script": {"type": "text/javascript", "exec": tests}}]
    if prerequest:
        events.insert(0, {"listen": "prerequest", "script": {"type": "text/javascript", "exec": prerequest}})
    return {"name": name, "event": events, "request": request}


def render(collection: JsonObject) -> str:
    return json.dumps(collection, indent=2, ensure_ascii=False) + "\n"


def current_collection() -> str:
    """The collection as the API is now (no server needed: the app only builds its OpenAPI document)."""
    return render(build_collection(create_app(Settings()).openapi()))


def main() -> int:
    COLLECTION_PATH.write_text(current_collection())
    print(f"wrote {COLLECTION_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
