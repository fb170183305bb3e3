"""ISO 15118 Plug & Charge: the certificate provider csms asks about EV certificates, OCSP, contracts and
the stations' SECC certificates, and the authorization of a contract (2.0.1 functional block M, use case
C07, and A02/A03 for a V2GCertificate; the same for 1.6 through the OCA's "Using ISO 15118 Plug & Charge
with OCPP 1.6" DataTransfer messages).

A provider is chosen by settings: `iso15118_development` answers from csms's own CA, `iso15118_http`
forwards to an external PKI/OCSP service. Both answer every request: a provider that cannot answer says
Failed (for a contract NoCertificateAvailable, for an SECC certificate Rejected), never raises, so the
station always gets its answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from csms.services.id_tags import ACCEPTED, INVALID, IdTagInfo, authorize_id_tag
from csms.services.tag_directory import TagDirectory

__all__ = [
    "ACCEPTED",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_REVOKED",
    "CERT_CHAIN_ERROR",
    "CONTRACT_STATUSES",
    "FAILED",
    "NO_CERTIFICATE_AVAILABLE",
    "REJECTED",
    "SIGNATURE_ERROR",
    "CertificateHash",
    "CertificateProvider",
    "CertificateStatusAnswer",
    "ContractAuthorization",
    "EvCertificateAnswer",
    "V2GSigningAnswer",
    "authorize_contract",
]

FAILED = "Failed"
REJECTED = "Rejected"
# AuthorizeCertificateStatusEnumType.
NO_CERTIFICATE_AVAILABLE = "NoCertificateAvailable"
CERTIFICATE_REVOKED = "CertificateRevoked"
CERTIFICATE_EXPIRED = "CertificateExpired"
CERT_CHAIN_ERROR = "CertChainError"
SIGNATURE_ERROR = "SignatureError"
CONTRACT_STATUSES = (
    ACCEPTED,
    SIGNATURE_ERROR,
    CERTIFICATE_EXPIRED,
    CERTIFICATE_REVOKED,
    NO_CERTIFICATE_AVAILABLE,
    CERT_CHAIN_ERROR,
    "ContractCancelled",
)


@dataclass(frozen=True, slots=True)
class CertificateHash:
    """How OCSP names a certificate (OCSPRequestDataType): its issuer's name and key hashed, its serial
    number in hexadecimal, and where the station would ask about it."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    responder_url: str | None = None


@dataclass(frozen=True, slots=True)
class EvCertificateAnswer:
    """Get15118EVCertificate: Accepted with the EXI-encoded CertificateInstallationRes/UpdateRes (base64),
    or Failed with an empty one."""

    status: str
    exi_response: str = ""


@dataclass(frozen=True, slots=True)
class CertificateStatusAnswer:
    """GetCertificateStatus: Accepted with an RFC 6960 OCSPResponse (DER, base64), or Failed without one."""

    status: str
    ocsp_result: str | None = None


@dataclass(frozen=True, slots=True)
class V2GSigningAnswer:
    """SignCertificate for a V2GCertificate: Accepted with the SECC certificate chain (PEM, leaf first, as
    CertificateSigned carries it), or Rejected with the reason, for the operator."""

    status: str
    certificate_chain: str = ""
    reason: str = ""


class CertificateProvider(Protocol):
    """The PKI csms asks on a station's behalf. Each call answers within the provider's timeout."""

    async def get_ev_certificate(self, *, schema_version: str, action: str, exi_request: str) -> EvCertificateAnswer:
        """An EV's CertificateInstallationReq or CertificateUpdateReq (EXI, base64) answered."""
        ...

    async def certificate_status(self, request: CertificateHash) -> CertificateStatusAnswer:
        """The OCSP status of one certificate."""
        ...

    async def check_contract(self, *, emaid: str, certificate: str | None, hashes: Sequence[CertificateHash]) -> str:
        """The status (AuthorizeCertificateStatusEnumType) of the contract certificate the EV presented for
        `emaid`: its PEM chain, or the hash data of its chain (leaf first) when the station checked it."""
        ...

    async def sign_v2g_certificate(self, *, charge_point_id: str, csr_pem: str) -> V2GSigningAnswer:
        """The station's CSR for its ISO 15118 SECC certificate (SignCertificate V2GCertificate) signed."""
        ...


@dataclass(frozen=True, slots=True)
class ContractAuthorization:
    info: IdTagInfo
    # None when the station presented no certificate or hash data: a plain eMAID token.
    certificate_status: str | None


async def authorize_contract(
    provider: CertificateProvider,
    tags: TagDirectory,
    *,
    id_token: str,
    id_token_type: str | None,
    certificate: str | None,
    hashes: Sequence[CertificateHash],
    now: datetime,
) -> ContractAuthorization:
    """An Authorize with a contract: the token as csms's tags answer it, and the contract certificate as
    the provider judges it. A certificate that is not Accepted makes the token Invalid (2.0.1 C07.FR.16)."""
    info = await authorize_id_tag(tags, id_token, now=now, id_token_type=id_token_type)
    if certificate is None and not hashes:
        return ContractAuthorization(info, None)
    status = await provider.check_contract(emaid=id_token, certificate=certificate, hashes=hashes)
    if status != ACCEPTED:
        info = IdTagInfo(status=INVALID)
    return ContractAuthorization(info, status)
