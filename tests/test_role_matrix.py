"""Every role against every endpoint. A new endpoint must be added here, or this test fails.

Endpoints outside the OpenAPI document are not JWT routes and are left out: the chargers' /ocpp WebSocket and
OCPI's /ocpi routes (credentials tokens, tests/test_ocpi_credentials.py and tests/test_ocpi_tokens.py)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import RunningServer, create_account_with_role, login_as

PUBLIC, USER, STAFF = "public", "any account", "admin or root"
# Chargers' links: authorised by their URL signature, never by a token, so every caller without one gets 403.
SIGNED = "signed link"

# (method, path template) → who may call it.
ACCESS: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("POST", "/api/signup"): PUBLIC,
    ("POST", "/api/login"): PUBLIC,
    ("POST", "/api/token/refresh"): PUBLIC,
    ("POST", "/api/logout"): USER,
    ("GET", "/api/me"): USER,
    ("POST", "/api/me/password"): USER,
    ("GET", "/api/me/id_tags"): USER,
    ("POST", "/api/me/id_tags"): USER,
    ("PATCH", "/api/me/id_tags/{id_tag}"): USER,
    ("DELETE", "/api/me/id_tags/{id_tag}"): USER,
    ("POST", "/api/me/id_tags/{id_tag}/lost"): USER,
    ("GET", "/api/me/vehicles"): USER,
    ("POST", "/api/me/vehicles"): USER,
    ("GET", "/api/me/vehicles/{vehicle_id}"): USER,
    ("PUT", "/api/me/vehicles/{vehicle_id}"): USER,
    ("DELETE", "/api/me/vehicles/{vehicle_id}"): USER,
    ("POST", "/api/start_charging"): USER,
    ("POST", "/api/stop_charging"): USER,
    ("POST", "/api/pair"): USER,
    ("GET", "/api/chargers/{charge_point_id}/connectors/{connector_id}/price"): USER,
    ("GET", "/api/transactions"): USER,
    ("GET", "/api/events"): USER,
    ("GET", "/api/transactions.csv"): USER,
    ("GET", "/api/transactions/{transaction_id}"): USER,
    ("GET", "/api/admin/transactions"): STAFF,
    ("GET", "/api/admin/transactions.csv"): STAFF,
    ("POST", "/api/admin/transactions/{transaction_id}/close"): STAFF,
    ("POST", "/api/admin/chargers"): STAFF,
    ("GET", "/api/admin/chargers"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}"): STAFF,
    ("PATCH", "/api/admin/chargers/{charge_point_id}"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/messages"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/settlements"): STAFF,
    ("POST", "/api/admin/chargers/{charge_point_id}/default_tariff"): STAFF,
    ("POST", "/api/admin/chargers/{charge_point_id}/ocpp/{action}"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/connectors/{connector_id}/qr.{kind}"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/stickers"): STAFF,
    ("GET", "/api/admin/users"): STAFF,
    ("GET", "/api/admin/audit_log"): STAFF,
    ("GET", "/api/admin/security_events"): STAFF,
    ("GET", "/api/admin/users/{user_id}"): STAFF,
    ("PATCH", "/api/admin/users/{user_id}"): STAFF,
    ("DELETE", "/api/admin/users/{user_id}"): STAFF,
    ("POST", "/api/admin/users/{user_id}/password"): STAFF,
    ("GET", "/api/admin/users/{user_id}/vehicles"): STAFF,
    ("GET", "/api/admin/id_tags"): STAFF,
    ("POST", "/api/admin/id_tags"): STAFF,
    ("PATCH", "/api/admin/id_tags/{id_tag}"): STAFF,
    ("DELETE", "/api/admin/id_tags/{id_tag}"): STAFF,
    ("GET", "/api/admin/stats/chargers"): STAFF,
    ("GET", "/api/admin/stats/energy"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/configuration"): STAFF,
    ("POST", "/api/admin/chargers/{charge_point_id}/password"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/local_list"): STAFF,
    ("POST", "/api/admin/chargers/{charge_point_id}/local_list"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/variables"): STAFF,
    ("PUT", "/api/admin/chargers/{charge_point_id}/variables"): STAFF,
    ("POST", "/api/admin/chargers/{charge_point_id}/variables/refresh"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/charging_profiles"): STAFF,
    ("POST", "/api/admin/sites"): STAFF,
    ("GET", "/api/admin/sites"): STAFF,
    ("GET", "/api/admin/sites/{site_id}"): STAFF,
    ("PATCH", "/api/admin/sites/{site_id}"): STAFF,
    ("DELETE", "/api/admin/sites/{site_id}"): STAFF,
    ("PUT", "/api/admin/sites/{site_id}/limit"): STAFF,
    ("DELETE", "/api/admin/sites/{site_id}/limit"): STAFF,
    ("PUT", "/api/admin/sites/{site_id}/limit_windows"): STAFF,
    ("GET", "/api/admin/sites/{site_id}/samples"): STAFF,
    ("PUT", "/api/admin/vehicles/{vehicle_id}/charging_priority"): STAFF,
    ("POST", "/api/admin/chargers/{charge_point_id}/charging_profiles"): STAFF,
    ("DELETE", "/api/admin/chargers/{charge_point_id}/charging_profiles"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/charging_profiles/reported"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/composite_schedule"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/charging_limits"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/ev_charging_reports"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/commands"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/reservations"): STAFF,
    ("POST", "/api/admin/chargers/{charge_point_id}/diagnostics"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/diagnostics"): STAFF,
    ("GET", "/api/admin/diagnostics/{request_id}/file"): STAFF,
    ("POST", "/api/admin/firmware"): STAFF,
    ("GET", "/api/admin/firmware"): STAFF,
    ("POST", "/api/admin/firmware/{file_id}/rollouts"): STAFF,
    ("GET", "/api/admin/firmware/rollouts"): STAFF,
    ("GET", "/api/admin/firmware/rollouts/{rollout_id}"): STAFF,
    ("POST", "/api/admin/firmware/{file_id}/publications"): STAFF,
    ("GET", "/api/admin/firmware/publications"): STAFF,
    ("GET", "/api/admin/firmware/publications/{publication_id}"): STAFF,
    ("DELETE", "/api/admin/firmware/publications/{publication_id}"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/certificates"): STAFF,
    ("GET", "/api/admin/certificates/expiring"): STAFF,
    ("GET", "/api/admin/contract_certificates"): STAFF,
    ("POST", "/api/admin/contract_certificates"): STAFF,
    ("POST", "/api/admin/contract_certificates/{certificate_id}/revoke"): STAFF,
    ("POST", "/api/admin/chargers/{charge_point_id}/certificates/revoke"): STAFF,
    ("POST", "/api/admin/chargers/{charge_point_id}/certificates/{certificate_id}/revoke"): STAFF,
    ("POST", "/api/admin/chargers/{charge_point_id}/certificates/sign-window"): STAFF,
    ("POST", "/api/admin/chargers/{charge_point_id}/security_profile"): STAFF,
    ("GET", "/api/ca/crl"): PUBLIC,
    ("POST", "/api/reservations"): USER,
    ("GET", "/api/reservations"): USER,
    ("DELETE", "/api/reservations/{reservation_id}"): USER,
    ("POST", "/api/admin/tariffs"): STAFF,
    ("GET", "/api/admin/tariffs"): STAFF,
    ("GET", "/api/admin/tariffs/{tariff_id}"): STAFF,
    ("POST", "/api/admin/tariff_assignments"): STAFF,
    ("GET", "/api/admin/tariff_assignments"): STAFF,
    ("DELETE", "/api/admin/tariff_assignments/{assignment_id}"): STAFF,
    ("GET", "/api/admin/tariff_for"): STAFF,
    ("GET", "/api/me/budget"): USER,
    ("PUT", "/api/me/budget"): USER,
    ("DELETE", "/api/me/budget"): USER,
    ("GET", "/api/admin/users/{user_id}/budget"): STAFF,
    ("PUT", "/api/admin/users/{user_id}/budget"): STAFF,
    ("DELETE", "/api/admin/users/{user_id}/budget"): STAFF,
    ("POST", "/api/admin/webhooks"): STAFF,
    ("GET", "/api/admin/webhooks"): STAFF,
    ("GET", "/api/admin/webhooks/event_kinds"): STAFF,
    ("DELETE", "/api/admin/webhooks/{webhook_id}"): STAFF,
    ("GET", "/api/admin/webhooks/{webhook_id}/deliveries"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/events"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/monitors"): STAFF,
    ("POST", "/api/admin/chargers/{charge_point_id}/monitors"): STAFF,
    ("DELETE", "/api/admin/chargers/{charge_point_id}/monitors/{monitor_id}"): STAFF,
    ("POST", "/api/admin/chargers/{charge_point_id}/customer_information"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/customer_information/{request_id}"): STAFF,
    ("POST", "/api/admin/display_messages"): STAFF,
    ("GET", "/api/admin/display_messages"): STAFF,
    ("DELETE", "/api/admin/display_messages/{message_id}"): STAFF,
    ("GET", "/api/admin/chargers/{charge_point_id}/display_messages"): STAFF,
    ("POST", "/api/admin/ocpi/parties"): STAFF,
    ("GET", "/api/admin/ocpi/parties"): STAFF,
    ("GET", "/api/admin/ocpi/parties/{ocpi_party_id}"): STAFF,
    ("DELETE", "/api/admin/ocpi/parties/{ocpi_party_id}"): STAFF,
    ("POST", "/api/admin/ocpi/parties/{ocpi_party_id}/suspend"): STAFF,
    ("POST", "/api/admin/ocpi/parties/{ocpi_party_id}/resume"): STAFF,
    ("POST", "/api/admin/ocpi/parties/{ocpi_party_id}/update"): STAFF,
    ("POST", "/api/admin/ocpi/locations"): STAFF,
    ("GET", "/api/admin/ocpi/locations"): STAFF,
    ("GET", "/api/admin/ocpi/locations/{location_id}"): STAFF,
    ("PATCH", "/api/admin/ocpi/locations/{location_id}"): STAFF,
    ("DELETE", "/api/admin/ocpi/locations/{location_id}"): STAFF,
    ("PUT", "/api/admin/ocpi/connectors/{charge_point_id}/{connector_id}"): STAFF,
    ("GET", "/api/admin/ocpi/tokens"): STAFF,
    ("GET", "/files/firmware/{file_id}/{name}"): SIGNED,
    ("PUT", "/files/diagnostics/{request_id}"): SIGNED,
    ("POST", "/files/diagnostics/{request_id}"): SIGNED,
}

PLACEHOLDERS = {
    "{charge_point_id}": "CP-MATRIX",
    "{connector_id}": "1",
    "{transaction_id}": "999999",
    "{user_id}": "999999",
    "{vehicle_id}": "999999",
    "{id_tag}": "NO-SUCH-TAG",
    "{action}": "ClearCache",
    "{kind}": "svg",
    "{reservation_id}": "999999",
    "{file_id}": "999999",
    "{rollout_id}": "999999",
    "{request_id}": "999999",
    "{name}": "firmware.bin",
    "{tariff_id}": "999999",
    "{assignment_id}": "999999",
    "{webhook_id}": "999999",
    "{certificate_id}": "999999",
    "{message_id}": "999999",
    "{monitor_id}": "999999",
    "{ocpi_party_id}": "999999",
    "{location_id}": "999999",
}

ALLOWED = {
    PUBLIC: {"anonymous", "user", "admin", "root"},
    USER: {"user", "admin", "root"},
    STAFF: {"admin", "root"},
    SIGNED: set(),
}


def concrete(path: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        path = path.replace(placeholder, value)
    return path


async def test_every_endpoint_has_an_access_rule(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()
    served = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    assert served - set(ACCESS) == set(), "new endpoints need a row in ACCESS"
    assert set(ACCESS) - served == set(), "ACCESS lists endpoints that no longer exist"


@pytest.mark.parametrize("role", ["anonymous", "user", "admin", "root"])
async def test_each_role_gets_the_expected_answer_from_every_endpoint(
    sqlite_server: RunningServer, api: httpx.AsyncClient, role: str
) -> None:
    username = None if role == "anonymous" else (await create_account_with_role(sqlite_server, role))[0]
    refused = []
    headers: dict[str, str] = {}
    for (method, path), rule in ACCESS.items():
        if username and not headers:  # a session, taken again after /api/logout ended it (a login costs argon2id)
            headers = {"Authorization": f"Bearer {(await login_as(api, username))['access_token']}"}
        # Streamed, so a live event stream answers its status without being read to the end.
        async with api.stream(method, concrete(path), headers=headers, json={}) as response:
            status = response.status_code
        if (method, path) == ("POST", "/api/logout"):
            headers = {}
        may_call = role in ALLOWED[rule]
        expected_refusal = 401 if role == "anonymous" and rule != SIGNED else 403
        if may_call and status in (401, 403):
            refused.append((method, path, status))
        if not may_call and status != expected_refusal:
            refused.append((method, path, status))
    assert refused == []
