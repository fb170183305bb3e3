"""ISO 15118 Plug & Charge messages in 2.0.1's spelling (functional block M, use case C07): the station's
Get15118EVCertificate, GetCertificateStatus and an Authorize with a contract, turned into calls of the
certificate provider and back. The 1.6 route (the OCA's DataTransfer messages) carries these same 2.0.1
payloads, so `v16` answers them here too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from csms.ocpp.rpc import Payload
from csms.services.id_tags import IdTagInfo
from csms.services.iso15118 import CertificateHash, CertificateProvider, authorize_contract
from csms.services.tag_directory import TagDirectory


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
