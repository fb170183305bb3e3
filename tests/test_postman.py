"""The Postman collection: generated from the API (and kept in step with it), and its Flow folder walked
by newman against a running csms with a simulated charger that starts and stops when asked."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

from ocpp.routing import after
from ocpp.v16.enums import Action

from csms.simulator.charger import SimulatedCharger, connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer, dependency_missing

ROOT = Path(__file__).resolve().parent.parent
COLLECTION = ROOT / "docs" / "postman" / "csms.postman_collection.json"
LOCAL_NEWMAN = ROOT / ".tools" / "node_modules" / ".bin" / "newman"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("postman_generate", COLLECTION.with_name("generate.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def newman() -> str:
    """`make tools` installs newman into .tools/; one on PATH will do too."""
    found = str(LOCAL_NEWMAN) if LOCAL_NEWMAN.exists() else shutil.which("newman")
    if found is None:
        dependency_missing("newman (npm install --prefix .tools newman, or `make tools`)")
    assert found is not None
    return found


class ObedientCharger(SimulatedCharger):
    """Starts the transaction a remote start asked for, and stops it on a remote stop, as chargers do."""

    @after(Action.remote_start_transaction)
    async def start_after_remote_start(self, **payload: Any) -> None:
        self.transaction_id = (await self.start_transaction(payload["connector_id"], payload["id_tag"])).transaction_id

    @after(Action.remote_stop_transaction)
    async def stop_after_remote_stop(self, **payload: Any) -> None:
        await self.stop_transaction(payload["transaction_id"], 2500, reason="Remote")


def test_the_committed_collection_matches_the_api() -> None:
    assert COLLECTION.read_text() == load_generator().current_collection(), (
        "the API changed: run .venv/bin/python docs/postman/generate.py and commit the collection"
    )


async def test_newman_walks_signup_login_start_stop_against_a_simulated_charger(server: RunningServer) -> None:
    command = newman()
    charge_point_id = await server.add_charger()
    async with connect_charger(
        server.ws_url, charge_point_id, CHARGER_PASSWORD, charger_class=ObedientCharger
    ) as charger:
        await charger.boot()
        await charger.status(1, "Available")
        process = await asyncio.create_subprocess_exec(
            command,
            "run",
            str(COLLECTION),
            "--folder",
            "Flow",
            "--env-var",
            f"baseUrl={server.http_url}",
            "--env-var",
            f"chargerId={charge_point_id}",
            "--reporters",
            "cli",
            "--color",
            "off",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )
        output, _ = await asyncio.wait_for(process.communicate(), 120)
    report = output.decode(errors="replace")
    assert process.returncode == 0, report
    assert "Stop charging" in report and "the session has stopped" in report
    assert [call.action for call in charger.received] == ["RemoteStartTransaction", "RemoteStopTransaction"]
