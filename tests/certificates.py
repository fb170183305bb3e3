"""Certificates the tests make themselves: an operator CA, chargers' keys, CSRs and certificates."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

from csms.services.certificate_authority import to_pem

Key = ec.EllipticCurvePrivateKey
# Any key a charger might put in a CSR, the ones csms refuses included.
RequestKey = CertificateIssuerPrivateKeyTypes


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: Key

    @property
    def pem(self) -> str:
        return to_pem(self.certificate)

    @property
    def key_pem(self) -> str:
        return key_pem(self.key)

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        """The certificate and its key as PEM files `name`.pem and `name`.key."""
        certfile, keyfile = directory / f"{name}.pem", directory / f"{name}.key"
        certfile.write_text(self.pem)
        keyfile.write_text(self.key_pem)
        return certfile, keyfile


def key_pem(key: Key) -> str:
    encoded = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return encoded.decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(
    common_name: str = "Test Operator CA",
    *,
    organization: str | None = None,
    valid_for: timedelta = timedelta(days=3650),
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = _name(common_name)
    if organization is not None:
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization), *name])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + valid_for)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def issue(
    ca: Issued,
    common_name: str,
    *,
    valid_for: timedelta = timedelta(days=365),
    starts: timedelta = timedelta(days=-1),
    server_ip: str | None = None,
) -> Issued:
    """A leaf certificate signed by `ca`; `starts` and `valid_for` place its validity around now."""
    key = ec.generate_private_key(ec.SECP256R1())
    not_before = datetime.now(UTC) + starts
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + valid_for)
    )
    if server_ip is not None:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(server_ip))])
        builder = builder.add_extension(san, critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def make_csr(
    common_name: str, key: RequestKey | None = None, *, subject: x509.Name | None = None
) -> tuple[str, RequestKey]:
    """A PEM certificate signing request for `common_name` (or the whole `subject`), and its key."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject or _name(common_name))
    request = builder.sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM).decode(), key
