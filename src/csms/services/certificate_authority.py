"""The operator's CA that signs chargers' certificate requests (Security Whitepaper, use case A02/A03),
and the CertificateHashData by which OCPP names a certificate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from csms.services.errors import InvalidInput

# Back-dated a little, so a charger whose clock runs slightly behind accepts its certificate at once.
_CLOCK_SKEW = timedelta(minutes=5)
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CertificateRequestRefused(InvalidInput):
    """A CSR csms will not sign; the message says why."""


@dataclass(frozen=True)
class CertificateAuthority:
    certificate: x509.Certificate
    key: SigningKey


def load_authority(certfile: str | None, keyfile: str | None) -> CertificateAuthority | None:
    """The operator's CA from its PEM files, or None when csms is not configured to sign."""
    if not certfile or not keyfile:
        return None
    certificate = x509.load_pem_x509_certificate(Path(certfile).read_bytes())
    key = serialization.load_pem_private_key(Path(keyfile).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"{keyfile}: the CA key must be an EC or RSA private key")
    return CertificateAuthority(certificate, key)


def sign_request(
    authority: CertificateAuthority, csr_pem: str, *, common_name: str, now: datetime, valid_for: timedelta
) -> x509.Certificate:
    """A client certificate for the CSR, provided it is well signed and names `common_name`."""
    request = _read_request(csr_pem)
    names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [name.value for name in names] != [common_name]:
        raise CertificateRequestRefused(f"the CSR's common name must be {common_name!r}")
    return (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(authority.certificate.subject)
        .public_key(request.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + valid_for)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(authority.key, hashes.SHA256())
    )


def _read_request(csr_pem: str) -> x509.CertificateSigningRequest:
    try:
        request = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError:
        raise CertificateRequestRefused("the CSR is not a PEM certificate signing request") from None
    if not request.is_signature_valid:
        raise CertificateRequestRefused("the CSR's signature does not match its key")
    return request


def read_certificate(pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise InvalidInput("the certificate is not a PEM X.509 certificate") from None


def to_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def hash_data(certificate: x509.Certificate, issuer: x509.Certificate) -> dict[str, Any]:
    """CertificateHashData (SHA256): the issuer's name and key hashed as in OCSP (RFC 6960 §4.1.1)."""
    issuer_key = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_bits = _subject_public_key_bits(issuer_key)
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": hashlib.sha256(certificate.issuer.public_bytes()).hexdigest(),
        "issuerKeyHash": hashlib.sha256(key_bits).hexdigest(),
        "serialNumber": format(certificate.serial_number, "x"),
    }


def _subject_public_key_bits(spki: bytes) -> bytes:
    """The BIT STRING contents of a DER SubjectPublicKeyInfo: OCSP hashes the key without its algorithm."""
    outer_length_size = _length_size(spki, 1)
    algorithm_start = 1 + outer_length_size
    algorithm_end = algorithm_start + 1 + _length_size(spki, algorithm_start + 1) + _length(spki, algorithm_start + 1)
    bits_header = 1 + _length_size(spki, algorithm_end + 1)
    return spki[algorithm_end + bits_header + 1 :]  # +1: the BIT STRING's unused-bits byte


def _length_size(der: bytes, at: int) -> int:
    return 1 if der[at] < 0x80 else 1 + (der[at] & 0x7F)


def _length(der: bytes, at: int) -> int:
    if der[at] < 0x80:
        return der[at]
    size = der[at] & 0x7F
    return int.from_bytes(der[at + 1 : at + 1 + size], "big")
