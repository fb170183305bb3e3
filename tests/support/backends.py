"""Which storage backends a test module runs on.

Most modules run on both (the `server` fixture of conftest.py, once per backend). A module whose tests
exercise OCPP behaviour that no storage code differs on (the frames csms answers and sends, schema
checks, a version's spelling) runs on SQLite only by importing `server` from here: its PostgreSQL half
would test the same code twice and cost CI minutes. Storage paths (transactions, records, locks, unique
keys, migrations, outages) stay on both.
"""

from __future__ import annotations

import pytest

from tests.conftest import RunningServer


@pytest.fixture(name="server")
def sqlite_only_server(sqlite_server: RunningServer) -> RunningServer:
    """The SQLite node, under the name `server`, for the module that imports it."""
    return sqlite_server
