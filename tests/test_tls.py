"""Security profile 2: `csms serve --ssl-certfile --ssl-keyfile` serves wss:// with a certificate the
test makes itself; a charger connects over TLS with Basic auth."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from csms.config import Settings
from csms.ocpp import tls
from csms.simulator.charger import connect_charger
from tests.support.processes import CSMS, free_port, run_csms, sqlite_env, wait_until_serving

PASSWORD = "tls-charger-password-01"


def make_certificate(
    directory: Path,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
    *,
    ends: timedelta = timedelta(days=1),
) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 that ends `ends` from now, and its key (EC unless given),
    as PEM files."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csms test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, now + ends) - timedelta(days=1))
        .not_valid_after(now + ends)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certfile, keyfile


@contextmanager
def serving_tls(directory: Path, certfile: Path, keyfile: Path) -> Iterator[tuple[str, ssl.SSLContext]]:
    """`csms serve` over TLS as a real process, with one charger registered; its address and a trusting context."""
    assert run_csms(directory, "add-charger", "CP-TLS", "--password", PASSWORD).returncode == 0
    port = free_port()
    command = [CSMS, "serve", "--port", str(port), "--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)]
    process = subprocess.Popen(
        command, env=sqlite_env(directory), cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    context = ssl.create_default_context(cafile=str(certfile))
    try:
        wait_until_serving(f"https://127.0.0.1:{port}", process, verify=context)
        yield f"127.0.0.1:{port}", context
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ssl.SSLContext]]:
    """One `csms serve` over TLS for the module's tests (each process costs seconds to start)."""
    directory = tmp_path_factory.mktemp("tls")
    with serving_tls(directory, *make_certificate(directory)) as served:
        yield served


@pytest.fixture(scope="module")
def rsa_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`csms serve` with an RSA certificate, which the TLS_RSA suites need; its address and certificate."""
    directory = tmp_path_factory.mktemp("rsa-tls")
    certfile, keyfile = make_certificate(directory, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with serving_tls(directory, certfile, keyfile) as (address, _):
        yield address, certfile


def tls12_client(certfile: Path, cipher: str) -> ssl.SSLContext:
    """A charger's TLS context that offers TLS 1.2 and one suite only."""
    context = ssl.create_default_context(cafile=str(certfile))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(cipher)
    return context


def negotiated_cipher(address: str, context: ssl.SSLContext) -> str:
    host, port = address.split(":")
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        cipher = tls.cipher()
    assert cipher is not None
    return cipher[0]


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


async def test_a_charger_offering_only_tls_rsa_with_aes_128_gcm_sha256_connects(
    rsa_tls_server: tuple[str, Path],
) -> None:
    address, certfile = rsa_tls_server
    context = tls12_client(certfile, "AES128-GCM-SHA256")
    async with connect_charger(f"wss://{address}", "CP-TLS", PASSWORD, ssl=context) as charger:
        booted = await charger.boot()
    assert booted.status == "Accepted"


@pytest.mark.parametrize("cipher", ["AES128-GCM-SHA256", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256"])
def test_the_whitepaper_s_tls_1_2_suites_are_served(rsa_tls_server: tuple[str, Path], cipher: str) -> None:
    address, certfile = rsa_tls_server
    assert negotiated_cipher(address, tls12_client(certfile, cipher)) == cipher


@pytest.mark.parametrize("cipher", ["ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA"])
def test_a_tls_1_2_suite_off_the_whitepaper_s_list_is_refused(rsa_tls_server: tuple[str, Path], cipher: str) -> None:
    address, certfile = rsa_tls_server
    with pytest.raises(ssl.SSLError):  # the server ends the handshake: no suite in common
        negotiated_cipher(address, tls12_client(certfile, cipher))


def test_csms_tls_ciphers_narrows_the_suites_and_a_bad_cipher_string_is_refused_at_start() -> None:
    narrowed = Settings(tls_ciphers="ECDHE-ECDSA-AES256-GCM-SHA384")
    context = tls.server_context(None, lambda: ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), ciphers=narrowed.tls_ciphers)  # type: ignore[arg-type]
    tls12 = {suite["name"] for suite in context.get_ciphers() if suite["protocol"] == "TLSv1.2"}
    assert tls12 == {"ECDHE-ECDSA-AES256-GCM-SHA384"}
    with pytest.raises(ValidationError, match="OpenSSL cipher string"):
        Settings(tls_ciphers="NOT-A-CIPHER")


def unverified_https(address: str) -> httpx.Client:
    """An HTTPS client that takes any certificate, an expired one included."""
    return httpx.Client(base_url=f"https://{address}", verify=False, timeout=10)  # noqa: S501


def expiry_days(metrics: str, certificate: str) -> float:
    prefix = f'csms_certificate_expiry_days{{certificate="{certificate}"}} '
    return float(next(line for line in metrics.splitlines() if line.startswith(prefix)).removeprefix(prefix))


def test_an_expired_server_certificate_is_warned_about_at_start_in_readyz_and_in_metrics(tmp_path: Path) -> None:
    certfile, keyfile = make_certificate(tmp_path, ends=timedelta(days=-3, hours=-1))
    port, log = free_port(), tmp_path / "csms.log"
    command = [CSMS, "serve", "--port", str(port), "--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)]
    with log.open("w") as output:
        process = subprocess.Popen(command, env=sqlite_env(tmp_path), cwd=tmp_path, stdout=output, stderr=output)
    try:
        wait_until_serving(f"https://127.0.0.1:{port}", process, verify=False)
        with unverified_https(f"127.0.0.1:{port}") as https:
            ready, metrics = https.get("/readyz"), https.get("/metrics").text
    finally:
        process.terminate()
        process.wait(timeout=15)
    warning = f"server certificate {certfile} expired 3 days ago"
    assert ready.status_code == 200
    assert ready.json()["certificates"]["server"].startswith(warning)
    assert ready.json()["warnings"] == [ready.json()["certificates"]["server"]]
    assert -3.1 < expiry_days(metrics, "server") < -3
    assert warning in log.read_text()
