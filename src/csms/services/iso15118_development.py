"""The development certificate provider: Plug & Charge answered from csms's own CA (CSMS_ISO15118_PROVIDER=
development), for testing stations and EVs without a real V2G PKI.

- GetCertificateStatus: a real OCSP response (RFC 6960, built with `cryptography`) signed by csms's CA, for
  any certificate named with that CA as issuer: good or revoked as csms's records have it, unknown when
  csms did not issue it. A certificate of another issuer is answered Failed: this responder speaks for
  csms's CA only.
- Authorize with a contract: contract certificates csms's CA issued (contract_certificates.py).
- SignCertificate for a V2GCertificate: an ISO 15118-2 SECC certificate signed by csms's CA (an EC P-256
  CA), for a P-256 key and the CSR's subject (certificate_authority.sign_secc_request).
- Get15118EVCertificate: always Failed. Answering it means decoding the EV's EXI-encoded
  CertificateInstallationReq and building an EXI CertificateInstallationRes with a contract certificate
  encrypted for the EV, which needs an ISO 15118 EXI codec; csms has none (use the http provider).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.services import contract_certificates
from csms.services.certificate_authority import (
    CertificateAuthority,
    CertificateRequestRefused,
    hash_data,
    public_key_bits,
    sign_secc_request,
    to_pem,
)
from csms.services.contract_certificates import IssuedRecord, normalized_emaid
from csms.services.iso15118 import (
    ACCEPTED,
    CERT_CHAIN_ERROR,
    CERTIFICATE_EXPIRED,
    CERTIFICATE_REVOKED,
    FAILED,
    NO_CERTIFICATE_AVAILABLE,
    REJECTED,
    SIGNATURE_ERROR,
    CertificateHash,
    CertificateStatusAnswer,
    EvCertificateAnswer,
    V2GSigningAnswer,
)

logger = logging.getLogger(__name__)

_ALGORITHMS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}
# How long an OCSP answer is good for: stations cache it (2.0.1 M06) and ask again after.
OCSP_LIFETIME = timedelta(hours=1)


class DevelopmentProvider:
    """A `CertificateProvider` on csms's own CA (`authority` reads it: None when csms has none)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        authority: Callable[[], CertificateAuthority | None],
        clock: Callable[[], datetime],
        secc_valid_for: timedelta = timedelta(days=60),
    ) -> None:
        self._session_factory = session_factory
        self._authority = authority
        self._clock = clock
        self._secc_valid_for = secc_valid_for

    async def get_ev_certificate(self, *, schema_version: str, action: str, exi_request: str) -> EvCertificateAnswer:
        logger.warning(
            "Get15118EVCertificate (%s, %s) answered Failed: the development certificate provider cannot decode "
            "the EV's EXI request or build the EXI CertificateInstallationRes; set CSMS_ISO15118_PROVIDER=http",
            action,
            schema_version,
        )
        return EvCertificateAnswer(FAILED)

    async def certificate_status(self, request: CertificateHash) -> CertificateStatusAnswer:
        authority = self._authority()
        if authority is None:
            logger.warning("GetCertificateStatus answered Failed: csms has no CA (CSMS_CA_CERTFILE, CSMS_CA_KEYFILE)")
            return CertificateStatusAnswer(FAILED)
        serial = _serial(request.serial_number)
        if serial is None or not _is_issuer(authority, request):
            logger.warning(
                "GetCertificateStatus answered Failed: serial %r is not named with csms's CA as issuer",
                request.serial_number,
            )
            return CertificateStatusAnswer(FAILED)
        record = await self._issued(authority, serial)
        response = _ocsp_response(authority, request, serial, record, now=self._clock())
        return CertificateStatusAnswer(ACCEPTED, base64.b64encode(response).decode())

    async def check_contract(self, *, emaid: str, certificate: str | None, hashes: Sequence[CertificateHash]) -> str:
        authority = self._authority()
        if authority is None:
            logger.warning("a contract was not checked: csms has no CA (CSMS_CA_CERTFILE, CSMS_CA_KEYFILE)")
            return NO_CERTIFICATE_AVAILABLE
        now = self._clock()
        if certificate is not None:
            status, serial = _check_leaf(authority, certificate, now)
        else:
            leaf = hashes[0]
            serial = _serial(leaf.serial_number) if _is_issuer(authority, leaf) else None
            status = ACCEPTED if serial is not None else CERT_CHAIN_ERROR
        if status != ACCEPTED or serial is None:
            return status
        return _contract_status(await self._issued(authority, serial), emaid, now)

    async def sign_v2g_certificate(self, *, charge_point_id: str, csr_pem: str) -> V2GSigningAnswer:
        authority = self._authority()
        if authority is None:
            return V2GSigningAnswer(REJECTED, reason="csms has no CA to sign with (CSMS_CA_CERTFILE, CSMS_CA_KEYFILE)")
        try:
            certificate = sign_secc_request(authority, csr_pem, now=self._clock(), valid_for=self._secc_valid_for)
        except CertificateRequestRefused as refused:
            return V2GSigningAnswer(REJECTED, reason=str(refused))
        # The CA itself is the trust anchor the station holds (its V2GRootCertificate): the chain is the leaf.
        return V2GSigningAnswer(ACCEPTED, to_pem(certificate))

    async def _issued(self, authority: CertificateAuthority, serial: int) -> IssuedRecord | None:
        ours = hash_data(authority.certificate, authority.certificate)
        async with self._session_factory() as session:
            return await contract_certificates.find_issued(
                session,
                issuer_name_hash=hashlib.sha256(authority.certificate.subject.public_bytes()).hexdigest(),
                issuer_key_hash=ours["issuerKeyHash"],
                serial_number=format(serial, "x"),
            )


def _check_leaf(authority: CertificateAuthority, chain_pem: str, now: datetime) -> tuple[str, int | None]:
    """The first certificate of the PEM chain: signed by csms's CA and valid now, and its serial number."""
    try:
        leaf = x509.load_pem_x509_certificates(chain_pem.encode())[0]
    except ValueError:
        return CERT_CHAIN_ERROR, None
    try:
        leaf.verify_directly_issued_by(authority.certificate)
    except InvalidSignature:
        return SIGNATURE_ERROR, None
    except (ValueError, TypeError):  # another issuer, or a signature of a kind csms's CA does not make
        return CERT_CHAIN_ERROR, None
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        return CERTIFICATE_EXPIRED, None
    return ACCEPTED, leaf.serial_number


def _contract_status(record: IssuedRecord | None, emaid: str, now: datetime) -> str:
    if record is None or record.emaid is None:
        return NO_CERTIFICATE_AVAILABLE  # csms's CA has no contract certificate of that serial number
    if normalized_emaid(record.emaid) != normalized_emaid(emaid):
        return CERT_CHAIN_ERROR  # a contract certificate, of another eMAID
    if record.is_revoked(now):
        return CERTIFICATE_REVOKED
    if record.not_after is not None and record.not_after < now:
        return CERTIFICATE_EXPIRED
    return ACCEPTED


def _is_issuer(authority: CertificateAuthority, request: CertificateHash) -> bool:
    """The request names csms's CA as the issuer, hashed with the algorithm it names."""
    algorithm = _ALGORITHMS.get(request.hash_algorithm)
    if algorithm is None:
        return False
    ca = authority.certificate
    name_hash = _digest(algorithm(), ca.subject.public_bytes())
    key_hash = _digest(algorithm(), public_key_bits(ca))
    return (request.issuer_name_hash.lower(), request.issuer_key_hash.lower()) == (name_hash, key_hash)


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> str:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize().hex()


def _serial(serial_number: str) -> int | None:
    try:
        return int(serial_number, 16)
    except ValueError:
        return None


def _ocsp_response(
    authority: CertificateAuthority,
    request: CertificateHash,
    serial: int,
    record: IssuedRecord | None,
    *,
    now: datetime,
) -> bytes:
    """A signed OCSP response for one certificate: good, revoked (with its time and reason) or unknown."""
    if record is None:
        status, revoked_at, reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
    elif record.is_revoked(now):
        status, revoked_at = ocsp.OCSPCertStatus.REVOKED, record.revoked_at
        reason = x509.ReasonFlags(record.revocation_reason or "unspecified")
    else:
        status, revoked_at, reason = ocsp.OCSPCertStatus.GOOD, None, None
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=bytes.fromhex(request.issuer_name_hash),
        issuer_key_hash=bytes.fromhex(request.issuer_key_hash),
        serial_number=serial,
        algorithm=_ALGORITHMS[request.hash_algorithm](),
        cert_status=status,
        this_update=now,
        next_update=now + OCSP_LIFETIME,
        revocation_time=revoked_at,
        revocation_reason=reason,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, authority.certificate)
    return builder.sign(authority.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
