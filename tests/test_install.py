"""`make run` as a new user runs it: a copy of the checkout with no virtual environment, so `make` creates
one and installs csms with its runtime dependencies only (no dev extras), migrates a fresh SQLite file
and serves. A module imported under src/ but declared only as a dev dependency fails here."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import free_port

REPOSITORY = Path(__file__).resolve().parent.parent
INSTALL_DEADLINE_SECONDS = 900  # a new venv and every dependency, on a busy machine


def copy_of_checkout(target: Path) -> Path:
    """The files a fresh clone has (tracked, plus new ones not ignored), without .venv or caches."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],  # noqa: S607
        cwd=REPOSITORY,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPOSITORY / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def made_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """`make run` in a fresh copy, on a port of its own; stopped (its whole process group) afterwards."""
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.fail("make and git are needed to test the README's first command")
    checkout = copy_of_checkout(tmp_path_factory.mktemp("fresh-clone"))
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("CSMS_", "VIRTUAL_ENV"))}
    log = (checkout / "make-run.log").open("w")
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}"],  # noqa: S607
        cwd=checkout,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_serving(process, base_url, checkout / "make-run.log")
        yield checkout, base_url
    finally:
        with contextlib.suppress(ProcessLookupError):  # a `make run` that failed may have left no process
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        log.close()


def _wait_until_serving(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + INSTALL_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"make run exited with {process.returncode}:\n{log.read_text()[-5000:]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"make run did not serve within {INSTALL_DEADLINE_SECONDS} s:\n{log.read_text()[-5000:]}")


def test_make_run_serves_the_api_docs_and_both_web_apps(made_run: tuple[Path, str]) -> None:
    _, base_url = made_run
    assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base_url}/readyz").json()["database"] == "ok"
    docs = httpx.get(f"{base_url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert httpx.get(f"{base_url}/openapi.json").json()["paths"]["/api/signup"]
    for page in ("/admin", "/app"):
        answer = httpx.get(f"{base_url}{page}")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), page


def test_make_run_lets_a_new_user_sign_up_and_log_in(made_run: tuple[Path, str]) -> None:
    _, base_url = made_run
    credentials = {"username": "first-user", "password": "correct horse battery staple"}
    signup = httpx.post(f"{base_url}/api/signup", json=credentials)
    assert signup.status_code == 201, signup.text
    assert signup.json()["idTag"]
    login = httpx.post(f"{base_url}/api/login", json=credentials)
    assert login.status_code == 200, login.text
    me = httpx.get(f"{base_url}/api/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert me.json()["username"] == "first-user"


def test_every_module_imports_with_the_runtime_dependencies_alone(made_run: tuple[Path, str]) -> None:
    """Serving imports most modules; this imports the rest (the simulator, the CLI's lazy imports)."""
    checkout, _ = made_run
    python = str(checkout / ".venv" / "bin" / "python")
    import_all = (
        "import importlib, pkgutil, csms\n"
        "for module in pkgutil.walk_packages(csms.__path__, 'csms.'):\n"
        "    if not module.name.startswith('csms.db.migrations'):\n"  # Alembic runs those itself
        "        importlib.import_module(module.name)\n"
    )
    imported = subprocess.run([python, "-c", import_all], capture_output=True, text=True, timeout=120, check=False)
    assert imported.returncode == 0, imported.stderr
    dev_only = subprocess.run([python, "-c", "import pytest"], capture_output=True, timeout=60, check=False)
    assert dev_only.returncode != 0, "the dev extras were installed: this would not catch a dev-only import"
