"""QR pairing: stickers csms draws, decoded back, paired and used to start charging."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import zxingcpp
from PIL import Image

from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer, bearer, create_account_with_role, login_as, signup
from tests.support.backends import sqlite_only_server

__all__ = [
    "sqlite_only_server"
]  # the node, SQLite only: codes and signatures, no storage path (tests/support/backends.py)


@pytest.fixture
async def admin(server: RunningServer, http: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await login_as(http, (await create_account_with_role(server, "admin"))[0]))


def decode_png(data: bytes) -> str:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    assert len(results) == 1
    return str(results[0].text)


async def charger_with_connectors(server: RunningServer, count: int) -> str:
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        for connector_id in range(1, count + 1):
            await charger.status(connector_id, "Available")
    return charge_point_id


async def test_qr_round_trip_png_decoded_paired_and_started(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await charger_with_connectors(server, 2)
    png = await http.get(f"/api/admin/chargers/{charge_point_id}/connectors/2/qr.png", headers=admin)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    code = decode_png(png.content)
    assert code.startswith(f"{server.http_url}/app/pair?cp={charge_point_id}&connector=2&sig=")

    tokens = await signup(http)
    paired = await http.post("/api/pair", json={"qr": code}, headers=bearer(tokens))
    assert paired.status_code == 200
    assert paired.json() == {
        "charge_point_id": charge_point_id,
        "connector_id": 2,
        "status": "Available",
        "is_connected": False,
        "is_signed": True,
        "start_refused": None,
    }
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        started = await http.post("/api/start_charging", json={"qr": code}, headers=bearer(tokens))
        assert started.json() == {"status": "Accepted"}
        received = await charger.wait_for_call("RemoteStartTransaction")
    assert received.payload == {"id_tag": tokens["idTag"], "connector_id": 2}


async def test_svg_sticker_carries_the_same_signed_code(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await charger_with_connectors(server, 1)
    svg = await http.get(f"/api/admin/chargers/{charge_point_id}/connectors/1/qr.svg", headers=admin)
    png = await http.get(f"/api/admin/chargers/{charge_point_id}/connectors/1/qr.png", headers=admin)
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith("<?xml") and "<svg" in svg.text
    # The SVG is drawn from the very same QR matrix as the PNG, so its module path matches the decoded code's.
    import segno

    expected = io.BytesIO()
    segno.make(decode_png(png.content), error="m").save(expected, kind="svg", scale=8, border=4)
    assert svg.content == expected.getvalue()


async def test_the_seeds_ocpp_form_carries_the_same_signature_as_the_sticker_link(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await charger_with_connectors(server, 1)
    link = decode_png(
        (await http.get(f"/api/admin/chargers/{charge_point_id}/connectors/1/qr.png", headers=admin)).content
    )
    signature = parse_qs(urlsplit(link).query)["sig"][0]
    user = bearer(await signup(http))
    seed_form = await http.post(
        "/api/pair", json={"qr": f"ocpp://{charge_point_id}?connector=1&sig={signature}"}, headers=user
    )
    assert seed_form.status_code == 200 and seed_form.json()["is_signed"] is True
    # The link names the charger in its query, and the signature still binds it to that charger.
    moved = await http.post("/api/pair", json={"qr": link.replace(charge_point_id, "CP-ELSEWHERE")}, headers=user)
    assert moved.status_code == 422 and "swapped" in moved.json()["detail"]


async def test_sticker_sheet_has_one_sticker_per_connector(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    charge_point_id = await charger_with_connectors(server, 3)
    sheet = await http.get(f"/api/admin/chargers/{charge_point_id}/stickers", headers=admin)
    assert sheet.status_code == 200 and sheet.text.count("<figure>") == 3
    assert f"{charge_point_id} &middot; connector 3" in sheet.text


async def test_a_sticker_swapped_onto_another_charger_is_refused(
    server: RunningServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    first = await charger_with_connectors(server, 1)
    second = await charger_with_connectors(server, 1)
    code = decode_png((await http.get(f"/api/admin/chargers/{first}/connectors/1/qr.png", headers=admin)).content)
    swapped = code.replace(first, second)
    user = bearer(await signup(http))
    response = await http.post("/api/pair", json={"qr": swapped}, headers=user)
    assert response.status_code == 422 and "swapped" in response.json()["detail"]
    start = await http.post("/api/start_charging", json={"qr": swapped}, headers=user)
    assert start.status_code == 422


async def test_plain_codes_printed_elsewhere_are_accepted_unsigned(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    charge_point_id = await charger_with_connectors(server, 1)
    response = await http.post(
        "/api/pair", json={"qr": f"ocpp://{charge_point_id}?connector=1"}, headers=bearer(await signup(http))
    )
    assert response.status_code == 200 and response.json()["is_signed"] is False


@pytest.mark.parametrize(
    ("code", "status", "fragment"),
    [
        ("https://example.com/CP001", 422, "not a charger code"),
        ("https://example.com/app/pair?connector=1", 422, "cp=CHARGER"),
        ("https://example.com/app/pair?cp=A&cp=B&connector=1", 422, "cp=CHARGER"),
        ("https://example.com/app/pair?cp=CP001", 422, "connector"),
        ("https://example.com/app/pair?cp=bad:id&connector=1", 422, "charge point id"),
        ("ftp://example.com/app/pair?cp=CP001&connector=1", 422, "not a charger code"),
        ("https://example.com/app/pair?cp=NO-SUCH-CHARGER&connector=1", 404, "unknown charger"),
        ("ocpp://CP001", 422, "connector"),
        ("ocpp://CP001?connector=abc", 422, "connector"),
        ("ocpp://CP001?connector=1&connector=2", 422, "connector"),
        ("ocpp://CP001?connector=0", 422, "connector"),
        ("ocpp://CP001?connector=²", 422, "connector"),
        ("ocpp://CP001?connector=" + "9" * 400, 422, "connector"),
        ("ocpp://CP001?connector=1&sig=é", 422, "does not belong"),
        ("ocpp://bad:id?connector=1", 422, "charge point id"),
        ("ocpp://NO-SUCH-CHARGER?connector=1", 404, "unknown charger"),
    ],
)
async def test_bad_codes_get_clear_errors(http: httpx.AsyncClient, code: str, status: int, fragment: str) -> None:
    response = await http.post("/api/pair", json={"qr": code}, headers=bearer(await signup(http)))
    assert response.status_code == status and fragment in response.json()["detail"]


async def test_code_for_a_connector_the_charger_does_not_have_is_422(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    charge_point_id = await charger_with_connectors(server, 2)
    response = await http.post(
        "/api/pair", json={"qr": f"ocpp://{charge_point_id}?connector=5"}, headers=bearer(await signup(http))
    )
    assert response.status_code == 422 and "no connector 5" in response.json()["detail"]


async def test_start_charging_needs_either_ids_or_a_code(http: httpx.AsyncClient) -> None:
    user = bearer(await signup(http))
    both = await http.post(
        "/api/start_charging", json={"evse_id": "CP1", "connector_id": 1, "qr": "ocpp://CP1?connector=1"}, headers=user
    )
    neither = await http.post("/api/start_charging", json={}, headers=user)
    assert both.status_code == 422 and neither.status_code == 422
