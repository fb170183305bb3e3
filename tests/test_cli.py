"""The `csms` command as an operator runs it: a real process on a fresh database."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import create_postgres_database, drop_postgres_database
from tests.support.processes import CSMS, free_port, run_csms, sqlite_env, wait_until_serving


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    result = run_csms(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "csms.db").exists()


def test_add_charger_registers_and_refuses_duplicates_and_short_passwords(tmp_path: Path) -> None:
    assert run_csms(tmp_path, "add-charger", "CP001", "--password", "0123456789abcdef").returncode == 0
    duplicate = run_csms(tmp_path, "add-charger", "CP001", "--password", "0123456789abcdef")
    short = run_csms(tmp_path, "add-charger", "CP002", "--password", "short")
    assert duplicate.returncode == 1 and "already registered" in duplicate.stderr
    assert short.returncode == 1 and "16 to 40" in short.stderr


def test_add_charger_refuses_an_id_that_is_not_utf_8(tmp_path: Path) -> None:
    result = run_csms(tmp_path, "add-charger", "CP-\udcff", "--password", "0123456789abcdef")  # argv bytes 0xFF
    assert result.returncode == 2 and "lone surrogate U+DCFF" in result.stderr, result.stderr


def test_create_user_with_a_role(tmp_path: Path) -> None:
    result = run_csms(
        tmp_path, "create-user", "--username", "Root", "--password", "a long root password", "--role", "root"
    )
    assert result.returncode == 0, result.stderr
    assert "created root root" in result.stdout


def test_serve_answers_health_and_keeps_secrets_out_of_its_log(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [CSMS, "serve", "--port", str(port)],
        env=sqlite_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", process)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
        signup = httpx.post(
            f"http://127.0.0.1:{port}/api/signup",
            json={"username": "logcheck", "password": "secret-password-42"},
        )
        assert signup.status_code == 201
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json()["database"] == "ok"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so supervisors see why it stopped.
    assert process.returncode in (0, -15)
    assert "Application shutdown complete" in output
    assert "secret-password-42" not in output
    assert (tmp_path / ".csms-jwt-secret").exists()


def test_a_node_that_has_run_refuses_an_empty_database_until_told_it_is_new(tmp_path: Path) -> None:
    assert run_csms(tmp_path, "migrate").returncode == 0
    (tmp_path / "csms.db").unlink()  # deleted: a node that starts now would start empty

    for refused in (run_csms(tmp_path, "serve", "--port", str(free_port())), run_csms(tmp_path, "migrate")):
        assert refused.returncode == 1
        assert "is empty, but this node has run before" in refused.stderr
        assert "csms migrate --new" in refused.stderr
    assert run_csms(tmp_path, "migrate", "--new").returncode == 0
    again = run_csms(tmp_path, "migrate")
    assert again.returncode == 0, again.stderr


def test_a_secret_file_beside_an_empty_database_shows_the_node_has_run(tmp_path: Path) -> None:
    (tmp_path / ".csms-jwt-secret").write_text("kept from an earlier run")
    refused = run_csms(tmp_path, "add-charger", "CP001", "--password", "0123456789abcdef")
    assert refused.returncode == 1
    assert ".csms-jwt-secret" in refused.stderr


@pytest.mark.postgres
def test_a_configured_secret_ignores_another_nodes_secret_file_in_its_directory(tmp_path: Path) -> None:
    """`make run` then `make test` in one checkout: the first leaves its development secret in the
    directory; a node with CSMS_JWT_SECRET set, on a new PostgreSQL database, must still start there."""
    port = free_port()  # the embedded node, served as `make run` serves it
    embedded = subprocess.Popen([CSMS, "serve", "--port", str(port)], env=sqlite_env(tmp_path), cwd=tmp_path)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", embedded)
    finally:
        embedded.terminate()
        embedded.wait(timeout=15)
    assert (tmp_path / ".csms-jwt-secret").exists()
    database_url = create_postgres_database()
    try:
        env = {**os.environ, "CSMS_DATABASE_URL": database_url, "CSMS_FILES_DIR": str(tmp_path / "node-files")}

        def migrate(**extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [CSMS, "migrate"], capture_output=True, text=True, env=env | extra, cwd=tmp_path, timeout=60
            )

        without_secret = migrate()  # this node would take that file as its own secret: it has run before
        assert without_secret.returncode == 1
        assert ".csms-jwt-secret" in without_secret.stderr
        with_secret = migrate(CSMS_JWT_SECRET="a-configured-secret-" + "x" * 30)
        assert with_secret.returncode == 0, with_secret.stderr
    finally:
        drop_postgres_database(database_url)


@pytest.mark.postgres
def test_a_node_refuses_another_postgresql_database_than_the_one_it_ran_on(tmp_path: Path) -> None:
    ours, theirs = create_postgres_database(), create_postgres_database()
    try:

        def migrate(database_url: str, files_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
            env = {**os.environ, "CSMS_DATABASE_URL": database_url, "CSMS_FILES_DIR": str(files_dir)}
            command = [CSMS, "migrate", *args]
            return subprocess.run(
                command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False
            )

        assert migrate(ours, tmp_path / "our-files").returncode == 0
        assert migrate(theirs, tmp_path / "their-files").returncode == 0

        refused = migrate(theirs, tmp_path / "our-files")
        assert refused.returncode == 1
        assert "is not the one this node last ran on" in refused.stderr
        assert migrate(ours, tmp_path / "our-files").returncode == 0
        assert migrate(theirs, tmp_path / "our-files", "--new").returncode == 0
        assert migrate(theirs, tmp_path / "our-files").returncode == 0
        assert migrate(ours, tmp_path / "our-files").returncode == 1
    finally:
        drop_postgres_database(ours)
        drop_postgres_database(theirs)
