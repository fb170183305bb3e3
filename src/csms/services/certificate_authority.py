"""The operator's CA that signs chargers' certificate requests (Security Whitepaper, use case A02/A03),
and the CertificateHashData by which OCPP names a certificate."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from csms.services.errors import InvalidInput

# Back-dated a little, so a charger whose clock runs slightly behind accepts its certificate at once.
_CLOCK_SKEW = timedelta(minutes=5)
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
# The keys a charger's certificate may have: RSA of 2048 bits or more, or EC on the curves of the
# whitepaper's TLS suites (secp256r1, secp384r1). DSA has no suite on that list, Ed25519 none in TLS 1.2.
_MIN_RSA_BITS = 2048
_ALLOWED_CURVES = frozenset({"secp256r1", "secp384r1"})  # P-256, P-384
# NIST SP 800-56B: an odd exponent above 2**16 and below 2**256; e=3 invites the small-exponent attacks.
_RSA_EXPONENTS = range(2**16 + 1, 2**256)
_SIGNATURE_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
# ISO 15118-2 Annex F: an SECC leaf's key signs (TLS handshakes) and agrees keys (ECDH), nothing else.
_SECC_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=True,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)
_V2G_CURVE = "secp256r1"
_V2G_MAX_CERTIFICATE_BYTES = 800  # V2G2-010, DER


class CertificateRequestRefused(InvalidInput):
    """A CSR csms will not sign; the message says why."""


@dataclass(frozen=True)
class CertificateAuthority:
    certificate: x509.Certificate
    key: SigningKey

    def organization(self) -> str | None:
        """The CA's own organizationName: the operator's name, unless configured otherwise."""
        names = self.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        return str(names[0].value) if names else None


@dataclass(frozen=True)
class CertificateSubject:
    """Who a certificate csms signs names, from csms's own records: never from the CSR."""

    common_name: str
    organization: str | None

    def name(self) -> x509.Name:
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, self.common_name)]
        if self.organization:
            attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization))
        return x509.Name(attributes)


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
    authority: CertificateAuthority,
    csr_pem: str,
    *,
    subject: CertificateSubject,
    now: datetime,
    valid_for: timedelta,
) -> x509.Certificate:
    """A client certificate for the CSR's key, provided the CSR is well signed with a key the whitepaper
    allows and names `subject.common_name`. The certificate names `subject`: whatever else the CSR asks
    for (its O, OU, serialNumber, extensions) is attacker-controlled text and is never copied."""
    request = _read_request(csr_pem)
    names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [name.value for name in names] != [subject.common_name]:
        raise CertificateRequestRefused(f"the CSR's common name must be {subject.common_name!r}")
    return (
        x509.CertificateBuilder()
        .subject_name(subject.name())
        .issuer_name(authority.certificate.subject)
        .public_key(request.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + valid_for)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(authority.key, hashes.SHA256())
    )


def sign_secc_request(
    authority: CertificateAuthority, csr_pem: str, *, now: datetime, valid_for: timedelta
) -> x509.Certificate:
    """An ISO 15118-2 SECC certificate (the station's V2GCertificate, Annex F's leaf profile) for the CSR's
    key, naming the CSR's subject (CN the SECC id; O, C and DC=CPO as the station asks: csms has no record
    of them). It is not the charger's OCPP client certificate, which csms alone names, and csms never honours
    it for a connection. Signed only by an EC P-256 CA, for a P-256 key, with SHA-256 (V2G2-006, V2G2-007)."""
    _require_v2g_authority(authority)
    request = _read_request(csr_pem)
    _require_v2g_request(request)
    ca_key = authority.key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(authority.certificate.subject)
        .public_key(request.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(min(now + valid_for, authority.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_SECC_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(request.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key), critical=False)
        .sign(authority.key, hashes.SHA256())
    )
    size = len(certificate.public_bytes(serialization.Encoding.DER))
    if size > _V2G_MAX_CERTIFICATE_BYTES:
        raise CertificateRequestRefused(f"the SECC certificate would be {size} bytes, over the 800 of V2G2-010")
    return certificate


def _require_v2g_authority(authority: CertificateAuthority) -> None:
    key = authority.key
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != _V2G_CURVE:
        kind = f"EC on {key.curve.name}" if isinstance(key, ec.EllipticCurvePrivateKey) else f"RSA-{key.key_size}"
        raise CertificateRequestRefused(
            f"csms's CA key is {kind}; an ISO 15118-2 chain is ECDSA on P-256 throughout (V2G2-007): "
            "use an EC P-256 CA, or the http certificate provider"
        )


def _require_v2g_request(request: x509.CertificateSigningRequest) -> None:
    """An SECC key is EC on P-256, signed with SHA-256 (V2G2-006, V2G2-007); its subject names the SECC id."""
    key = request.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != _V2G_CURVE:
        kind = f"EC on {key.curve.name}" if isinstance(key, ec.EllipticCurvePublicKey) else _key_kind(key)
        raise CertificateRequestRefused(f"the CSR's key is {kind}; an SECC certificate's key is EC on P-256")
    if not isinstance(request.signature_hash_algorithm, hashes.SHA256):
        name = request.signature_hash_algorithm.name.upper() if request.signature_hash_algorithm else "none"
        raise CertificateRequestRefused(f"the CSR is signed with {name}; ISO 15118-2 signs with SHA-256")
    if not request.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        raise CertificateRequestRefused("the CSR names no common name: an SECC certificate's CN is the SECC id")


def _read_request(csr_pem: str) -> x509.CertificateSigningRequest:
    try:
        request = x509.load_pem_x509_csr(csr_pem.encode())
        with warnings.catch_warnings():
            # cryptography 51 warns when it reads a DSA key; csms reads it only to refuse it (_require_allowed_key),
            # and one warning per old charger's CSR would say nothing the refusal does not.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            key = request.public_key()
            is_signature_valid = request.is_signature_valid
    except ValueError:
        raise CertificateRequestRefused("the CSR is not a PEM certificate signing request") from None
    except UnsupportedAlgorithm:
        raise CertificateRequestRefused("the CSR's key or signature algorithm is not supported") from None
    _require_allowed_key(key)
    if not is_signature_valid:
        raise CertificateRequestRefused("the CSR's signature does not match its key")
    _require_allowed_signature(request)
    return request


def _require_allowed_key(key: object) -> None:
    """Refuse keys the whitepaper does not allow for a charger's certificate (see _MIN_RSA_BITS)."""
    allowed = f"csms signs RSA keys of {_MIN_RSA_BITS} bits or more, or EC keys on P-256 or P-384"
    if isinstance(key, rsa.RSAPublicKey):
        exponent = key.public_numbers().e
        if key.key_size < _MIN_RSA_BITS:
            raise CertificateRequestRefused(f"the CSR's key is RSA-{key.key_size}; {allowed}")
        if exponent not in _RSA_EXPONENTS or exponent % 2 == 0:
            raise CertificateRequestRefused(f"the CSR's RSA public exponent is {exponent}; csms signs 65537")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _ALLOWED_CURVES:
            raise CertificateRequestRefused(f"the CSR's key is EC on {key.curve.name}; {allowed}")
    else:
        raise CertificateRequestRefused(f"the CSR's key is {_key_kind(key)}; {allowed}")


def _require_allowed_signature(request: x509.CertificateSigningRequest) -> None:
    algorithm = request.signature_hash_algorithm
    if not isinstance(algorithm, _SIGNATURE_HASHES):
        name = algorithm.name.upper() if algorithm is not None else "none"
        raise CertificateRequestRefused(f"the CSR is signed with {name}; csms accepts SHA-256, SHA-384 or SHA-512")


def _key_kind(key: object) -> str:
    """A key's algorithm as people name it: DSA, Ed25519, Ed448, X25519..."""
    return type(key).__name__.removesuffix("PublicKey").removeprefix("_") or "of an unknown kind"


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


def public_key_bits(certificate: x509.Certificate) -> bytes:
    """The certificate's subjectPublicKey BIT STRING contents: what OCSP hashes as its issuerKeyHash."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _subject_public_key_bits(spki)


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
