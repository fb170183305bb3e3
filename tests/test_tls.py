"""Security profile 2: `csms serve --ssl-certfile --ssl-keyfile` serves wss:// with a certificate the
test makes itself; a charger connects over TLS with Basic auth."""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from csms.simulator.charger import connect_charger
from tests.support.processes import CSMS, free_port, run_csms, sqlite_env, wait_until_serving

PASSWORD = "tls-charger-password-01"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csms test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certfile, keyfile


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext]]:
    """`csms serve` over TLS as a real process, with one charger registered; yields its port and a trusting context."""
    certfile, keyfile = make_certificate(tmp_path)
    assert run_csms(tmp_path, "add-charger", "CP-TLS", "--password", PASSWORD).returncode == 0
    port = free_port()
    command = [CSMS, "serve", "--port", str(port), "--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)]
    process = subprocess.Popen(
        command, env=sqlite_env(tmp_path), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    context = ssl.create_default_context(cafile=str(certfile))
    try:
        wait_until_serving(f"https://127.0.0.1:{port}", process, verify=context)
        yield f"127.0.0.1:{port}", context
    finally:
        process.terminate()
        process.wait(timeout=15)


async def test_a_charger_connects_over_wss_with_basic_auth(tls_server: tuple[str, ssl.SSLContext]) -> None:
    address, context = tls_server
    async with connect_charger(f"wss://{address}", "CP-TLS", PASSWORD, ssl=context) as charger:
        booted = await charger.boot()
    assert booted.status == "Accepted"


async def test_a_wrong_password_over_wss_is_refused(tls_server: tuple[str, ssl.SSLContext]) -> None:
    address, context = tls_server
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect_charger(f"wss://{address}", "CP-TLS", "not-the-password-xx", ssl=context):
            pass
    assert refused.value.response.status_code == 401


async def test_plain_http_is_not_served_on_the_tls_port(tls_server: tuple[str, ssl.SSLContext]) -> None:
    address, _ = tls_server
    async with httpx.AsyncClient(timeout=2) as plain:
        with pytest.raises(httpx.TransportError):
            await plain.get(f"http://{address}/healthz")
