"""On SQLite, what chargers send reaches the database file itself, not only its write-ahead log."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, settings_for, start_server, stop_server
from tests.support.waiting import wait_until


def vendor_in_main_file(database: Path, copy: Path, charge_point_id: str) -> str | None:
    """The vendor stored for a charger as seen by a copy of the database file alone (no -wal file)."""
    shutil.copyfile(database, copy)
    try:
        with sqlite3.connect(copy) as connection:
            query = "SELECT vendor FROM chargers WHERE charge_point_id = ?"
            row = connection.execute(query, (charge_point_id,)).fetchone()
    except sqlite3.OperationalError:  # not even the tables are in the file yet
        return None
    except sqlite3.DatabaseError:  # copied while a checkpoint was writing the file: a torn copy, look again
        return None
    finally:
        copy.unlink()
    return row[0] if row else None


async def test_a_boot_reaches_the_database_file_within_seconds(tmp_path: Path) -> None:
    # A backup that copies only csms.db (as many do) must not miss what was committed a while ago:
    # csms checkpoints the write-ahead log in the background, with no commit waiting on it.
    database = tmp_path / "csms.db"
    handle, task, server = await start_server(settings_for(f"sqlite+aiosqlite:///{database}"))
    try:
        charge_point_id = await server.add_charger()
        async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
            await charger.boot(vendor="Checkpointed")
            copy = tmp_path / "copy.db"
            await wait_until(lambda: vendor_in_main_file(database, copy, charge_point_id) == "Checkpointed", within=5)
    finally:
        await stop_server(handle, task)
