"""The HTTP certificate provider (CSMS_ISO15118_PROVIDER=http): Plug & Charge requests forwarded as JSON
to an external PKI/OCSP service at CSMS_ISO15118_PROVIDER_URL, in csms's own small contract
(docs/security.md, "Plug & Charge"):

    POST {url}/ev-certificate      {"schemaVersion", "action", "exiRequest"}
                                   -> {"status": "Accepted" | "Failed", "exiResponse": "<base64 EXI>"}
    POST {url}/certificate-status  {"hashAlgorithm", "issuerNameHash", "issuerKeyHash", "serialNumber",
                                    "responderURL"?}
                                   -> {"status": "Accepted" | "Failed", "ocspResult": "<base64 DER>"}
    POST {url}/contract-check      {"emaid", "certificate": PEM chain | null, "hashData": [<as above>]}
                                   -> {"status": AuthorizeCertificateStatusEnumType}
    POST {url}/v2g-certificate     {"chargePointId", "csr": PEM}
                                   -> {"status": "Accepted", "certificateChain": PEM, leaf first}
                                    | {"status": "Rejected", "reason"?: text}

An answer that does not come within the timeout, is not 200, or is not of that shape is logged and
answered Failed (NoCertificateAvailable for a contract, Rejected for an SECC certificate): the station
always gets its answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from csms.services.iso15118 import (
    ACCEPTED,
    CONTRACT_STATUSES,
    FAILED,
    NO_CERTIFICATE_AVAILABLE,
    REJECTED,
    CertificateHash,
    CertificateStatusAnswer,
    EvCertificateAnswer,
    V2GSigningAnswer,
)

logger = logging.getLogger(__name__)

# The longest exiResponse and ocspResult a 2.0.1 answer may carry.
_EXI_RESPONSE_MAX = 7500
_OCSP_RESULT_MAX = 5500
# The longest certificateChain a 2.0.1 CertificateSigned may carry, and the reason csms keeps of a refusal.
_CERTIFICATE_CHAIN_MAX = 10000
_REASON_MAX = 200


class ProviderUnavailable(Exception):
    """The external service gave no usable answer; the message says why."""


class HttpProvider:
    """A `CertificateProvider` that asks an external service; `timeout` bounds each whole request."""

    def __init__(self, url: str, *, timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._url = url.rstrip("/")
        self._timeout = timeout
        self._transport = transport

    async def get_ev_certificate(self, *, schema_version: str, action: str, exi_request: str) -> EvCertificateAnswer:
        body = {"schemaVersion": schema_version, "action": action, "exiRequest": exi_request}
        try:
            answer = await self._post("ev-certificate", body)
            status, exi_response = answer.get("status"), answer.get("exiResponse", "")
            if status not in (ACCEPTED, FAILED) or not _is_text(exi_response, _EXI_RESPONSE_MAX):
                raise ProviderUnavailable(f"ev-certificate answered {_shape(answer)}")
        except ProviderUnavailable as error:
            logger.warning("Get15118EVCertificate answered Failed: %s", error)
            return EvCertificateAnswer(FAILED)
        return EvCertificateAnswer(status, exi_response if status == ACCEPTED else "")

    async def certificate_status(self, request: CertificateHash) -> CertificateStatusAnswer:
        try:
            answer = await self._post("certificate-status", _hash_body(request))
            status, ocsp_result = answer.get("status"), answer.get("ocspResult")
            if status == ACCEPTED and not _is_text(ocsp_result, _OCSP_RESULT_MAX):
                raise ProviderUnavailable("certificate-status answered Accepted without a usable ocspResult")
            if status not in (ACCEPTED, FAILED):
                raise ProviderUnavailable(f"certificate-status answered {_shape(answer)}")
        except ProviderUnavailable as error:
            logger.warning("GetCertificateStatus answered Failed: %s", error)
            return CertificateStatusAnswer(FAILED)
        return CertificateStatusAnswer(status, ocsp_result if status == ACCEPTED else None)

    async def check_contract(self, *, emaid: str, certificate: str | None, hashes: Sequence[CertificateHash]) -> str:
        body = {"emaid": emaid, "certificate": certificate, "hashData": [_hash_body(item) for item in hashes]}
        try:
            answer = await self._post("contract-check", body)
            status = answer.get("status")
            if status not in CONTRACT_STATUSES:
                raise ProviderUnavailable(f"contract-check answered {_shape(answer)}")
        except ProviderUnavailable as error:
            logger.warning(
                "the contract of %s was not checked (%s): answered %s", emaid, error, NO_CERTIFICATE_AVAILABLE
            )
            return NO_CERTIFICATE_AVAILABLE
        return str(status)

    async def sign_v2g_certificate(self, *, charge_point_id: str, csr_pem: str) -> V2GSigningAnswer:
        try:
            answer = await self._post("v2g-certificate", {"chargePointId": charge_point_id, "csr": csr_pem})
            status = answer.get("status")
            if status == REJECTED:
                return V2GSigningAnswer(REJECTED, reason=f"the PKI rejected it: {_reason(answer)}")
            if status != ACCEPTED:
                raise ProviderUnavailable(f"v2g-certificate answered {_shape(answer)}")
            chain = _secc_chain(answer.get("certificateChain"), csr_pem)
        except ProviderUnavailable as error:
            logger.warning("SignCertificate (V2GCertificate) of %s answered Rejected: %s", charge_point_id, error)
            return V2GSigningAnswer(REJECTED, reason=f"the PKI gave no usable answer: {error}")
        return V2GSigningAnswer(ACCEPTED, chain)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self._url}/{path}"
        try:
            async with asyncio.timeout(self._timeout):
                async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as client:
                    response = await client.post(url, json=body)
        except TimeoutError:
            raise ProviderUnavailable(f"{url} did not answer within {self._timeout:g} s") from None
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"{url} could not be reached ({type(error).__name__})") from None
        if response.status_code != httpx.codes.OK:
            raise ProviderUnavailable(f"{url} answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise ProviderUnavailable(f"{url} answered something other than JSON") from None
        if not isinstance(answer, dict):
            raise ProviderUnavailable(f"{url} answered JSON that is not an object")
        return answer


def _hash_body(request: CertificateHash) -> dict[str, Any]:
    body = {
        "hashAlgorithm": request.hash_algorithm,
        "issuerNameHash": request.issuer_name_hash,
        "issuerKeyHash": request.issuer_key_hash,
        "serialNumber": request.serial_number,
    }
    if request.responder_url is not None:
        body["responderURL"] = request.responder_url
    return body


def _secc_chain(chain: object, csr_pem: str) -> str:
    """The PKI's certificate chain, provided it is PEM certificates a station can take, the first one for the
    CSR's key (a PKI that mixed up two requests must not hand one station another's certificate)."""
    if not isinstance(chain, str) or len(chain) > _CERTIFICATE_CHAIN_MAX:
        raise ProviderUnavailable("v2g-certificate answered Accepted without a usable certificateChain")
    try:
        leaf = x509.load_pem_x509_certificates(chain.encode())[0]
        requested = x509.load_pem_x509_csr(csr_pem.encode()).public_key()
    except ValueError:
        raise ProviderUnavailable("v2g-certificate answered a certificateChain that is not PEM certificates") from None
    if _public_der(leaf.public_key()) != _public_der(requested):
        raise ProviderUnavailable("v2g-certificate answered a certificate for another key than the CSR's")
    return chain


def _public_der(key: Any) -> bytes:
    der: bytes = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def _reason(answer: dict[str, Any]) -> str:
    reason = answer.get("reason")
    return reason[:_REASON_MAX] if isinstance(reason, str) and reason else "no reason given"


def _is_text(value: object, max_length: int) -> bool:
    return isinstance(value, str) and len(value) <= max_length


def _shape(answer: dict[str, Any]) -> str:
    """What came back, for the log, without echoing a long field."""
    status = answer.get("status")
    return f"status {status!r}" if isinstance(status, str) and len(status) < 40 else "an unexpected object"
