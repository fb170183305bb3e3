"""ISO 15118 Plug & Charge messages in 2.0.1's spelling (functional block M, use case C07, and A02/A03 for
the SECC certificate): the station's Get15118EVCertificate, GetCertificateStatus, an Authorize with a
contract and a SignCertificate for a V2GCertificate, turned into calls of the certificate provider and
back. The 1.6 route (the OCA's DataTransfer messages) carries these same 2.0.1 payloads, so `v16` answers
them here too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from csms.ocpp.rpc import Payload
from csms.services import certificates
from csms.services.calls import Send
from csms.services.certificate_authority import CertificateRequestRefused, load_authority
from csms.services.id_tags import IdTagInfo
from csms.services.iso15118 import CertificateHash, CertificateProvider, authorize_contract
from csms.services.tag_directory import TagDirectory

if TYPE_CHECKING:
    from csms.runtime import Runtime

# The security event of an SECC certificate request csms did not have signed: counted per period, as a
# charger (or whoever has its password) can send these at will.
V2G_CSR_REFUSED = "v2g_csr_refused"


async def get_15118_ev_certificate(provider: CertificateProvider, payload: Payload) -> Payload:
    answer = await provider.get_ev_certificate(
        schema_version=payload["iso15118SchemaVersion"], action=payload["action"], exi_request=payload["exiRequest"]
    )
    return {"status": answer.status, "exiResponse": answer.exi_response}


async def get_certificate_status(provider: CertificateProvider, payload: Payload) -> Payload:
    answer = await provider.certificate_status(_certificate_hash(payload["ocspRequestData"]))
    result: Payload = {"status": answer.status}
    if answer.ocsp_result is not None:
        result["ocspResult"] = answer.ocsp_result
    return result


async def sign_v2g_certificate(runtime: Runtime, charge_point_id: str, payload: Payload, *, send: Send) -> Payload:
    """SignCertificate for a V2GCertificate: signed by the certificate provider and kept as the station's SECC
    certificate, never as its OCPP one (which it neither supersedes nor revokes). CertificateSigned, with
    certificateType V2GCertificate, follows through `send` once this answer is on its way."""
    settings = runtime.settings
    authority = load_authority(settings.ca_certfile, settings.ca_keyfile)
    try:
        certificate_id = await certificates.sign_v2g_for_charger(
            runtime.session_factory,
            runtime.iso15118,
            charge_point_id,
            payload["csr"],
            issuers=[authority.certificate] if authority is not None else [],
            now=runtime.clock(),
        )
    except CertificateRequestRefused as refused:
        refuse_v2g_request(runtime, charge_point_id, str(refused))
        return {"status": "Rejected"}
    # Sent once this answer is on its way: never awaited here, where the receive loop waits.
    delivery = certificates.deliver_signed(
        runtime.session_factory, send, certificate_id, clock=runtime.clock, request_id=payload.get("requestId")
    )
    runtime.background.spawn(delivery, name=f"v2g-certificate-signed-{charge_point_id}")
    return {"status": "Accepted"}


def refuse_v2g_request(runtime: Runtime, charge_point_id: str, reason: str) -> None:
    runtime.security_events.record(
        kind=V2G_CSR_REFUSED, charge_point_id=charge_point_id, remote_address=None, detail=reason
    )


def presents_contract(payload: Payload) -> bool:
    """An Authorize with a contract certificate, or the hash data of one, to check (C07)."""
    return "certificate" in payload or bool(payload.get("iso15118CertificateHashData"))


async def authorize_with_contract(
    provider: CertificateProvider,
    tags: TagDirectory,
    payload: Payload,
    *,
    now: datetime,
    spell_info: Callable[[IdTagInfo], Payload],
) -> Payload:
    """An Authorize whose token comes with a contract certificate: `spell_info` writes the idTokenInfo."""
    token = payload["idToken"]
    checked = await authorize_contract(
        provider,
        tags,
        id_token=token["idToken"],
        id_token_type=token["type"],
        certificate=payload.get("certificate"),
        hashes=[_certificate_hash(item) for item in payload.get("iso15118CertificateHashData") or []],
        now=now,
    )
    answer: Payload = {"idTokenInfo": spell_info(checked.info)}
    if checked.certificate_status is not None:
        answer["certificateStatus"] = checked.certificate_status
    return answer


def _certificate_hash(data: dict[str, Any]) -> CertificateHash:
    return CertificateHash(
        hash_algorithm=data["hashAlgorithm"],
        issuer_name_hash=data["issuerNameHash"],
        issuer_key_hash=data["issuerKeyHash"],
        serial_number=data["serialNumber"],
        responder_url=data.get("responderURL"),
    )
