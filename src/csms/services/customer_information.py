"""A driver's data on a 2.x station, asked for or deleted (CustomerInformation, 2.0.1 N09/N10), as GDPR asks.

csms numbers each request (its id is the requestId), sends it and keeps the station's answer; the
station then sends what it holds of the customer as NotifyCustomerInformation parts (seqNo, tbc), read
back joined in order. OCPP 1.6 has no such call: asking a 1.6 charger is refused before anything is sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger, CustomerInformationPart, CustomerInformationRequest
from csms.domain.commands import RequestCustomerInformation
from csms.services.chargers import OCPP_16
from csms.services.errors import InvalidInput, NotFound

SENDING, SEND_FAILED = "Sending", "SendFailed"


@dataclass(frozen=True, slots=True)
class CertificateHash:
    """The customer certificate's hash data (2.0.1 CertificateHashDataType)."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str


@dataclass(frozen=True, slots=True)
class Customer:
    """Whom a request is about: a token (with its type), a customer identifier or a certificate."""

    id_token: str | None = None
    id_token_type: str | None = None
    customer_identifier: str | None = None
    certificate: CertificateHash | None = None


@dataclass(frozen=True, slots=True)
class Information:
    """A request and what the station sent of it so far: `text` is its parts joined in seqNo order."""

    request_id: int
    charge_point_id: str
    status: str | None
    parts: int
    is_complete: bool
    text: str
    request: CustomerInformationRequest | None


async def plan_request(
    session: AsyncSession,
    charge_point_id: str,
    *,
    report: bool,
    clear: bool,
    customer: Customer,
    requested_by: int | None,
    now: datetime,
) -> CustomerInformationRequest:
    """A request recorded as Sending before it leaves: the station may send its parts before its answer
    is read. NotFound for an unknown charger, InvalidInput for a 1.6 one or a request that asks nothing."""
    charger = await session.get(Charger, charge_point_id)
    if charger is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    if charger.ocpp_version == OCPP_16:
        raise InvalidInput(f"charger {charge_point_id} speaks OCPP 1.6: CustomerInformation is not supported on 1.6")
    if not (report or clear):
        raise InvalidInput("a request asks for a report, a clear or both")
    if customer.id_token is None and customer.customer_identifier is None and customer.certificate is None:
        raise InvalidInput("name the customer: id_token, customer_identifier or customer_certificate")
    certificate = customer.certificate
    request = CustomerInformationRequest(
        charge_point_id=charge_point_id,
        report=report,
        clear=clear,
        id_token=customer.id_token,
        id_token_type=customer.id_token_type if customer.id_token is not None else None,
        customer_identifier=customer.customer_identifier,
        customer_certificate=json.dumps(_certificate_fields(certificate)) if certificate is not None else None,
        status=SENDING,
        requested_by=requested_by,
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    await session.commit()
    return request


def command_for(request: CustomerInformationRequest) -> RequestCustomerInformation:
    certificate = json.loads(request.customer_certificate) if request.customer_certificate else {}
    return RequestCustomerInformation(
        request_id=request.id,
        report=request.report,
        clear=request.clear,
        id_token=request.id_token,
        id_token_type=request.id_token_type,
        customer_identifier=request.customer_identifier,
        hash_algorithm=certificate.get("hash_algorithm"),
        issuer_name_hash=certificate.get("issuer_name_hash"),
        issuer_key_hash=certificate.get("issuer_key_hash"),
        serial_number=certificate.get("serial_number"),
    )


async def record_status(
    session: AsyncSession, request: CustomerInformationRequest, status: str, *, now: datetime
) -> None:
    request.status, request.updated_at = status, now
    await session.commit()


async def record_part(
    session: AsyncSession,
    charge_point_id: str,
    *,
    request_id: int,
    seq_no: int,
    tbc: bool,
    data: str,
    generated_at: datetime,
    now: datetime,
) -> None:
    """One NotifyCustomerInformation part; a part sent again (same seqNo) is kept once."""
    dialect_insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    statement = dialect_insert(CustomerInformationPart).on_conflict_do_nothing(
        index_elements=[
            CustomerInformationPart.charge_point_id,
            CustomerInformationPart.request_id,
            CustomerInformationPart.seq_no,
        ]
    )
    row = {
        "charge_point_id": charge_point_id,
        "request_id": request_id,
        "seq_no": seq_no,
        "tbc": tbc,
        "data": data,
        "generated_at": generated_at,
        "received_at": now,
    }
    await session.execute(statement, [row])
    await session.commit()


async def read_information(session: AsyncSession, charge_point_id: str, request_id: int) -> Information:
    """The request (csms's, or one sent through the generic call) and its parts; NotFound when csms knows
    neither."""
    request = await session.get(CustomerInformationRequest, request_id)
    if request is not None and request.charge_point_id != charge_point_id:
        request = None
    query = (
        select(CustomerInformationPart)
        .where(
            CustomerInformationPart.charge_point_id == charge_point_id,
            CustomerInformationPart.request_id == request_id,
        )
        .order_by(CustomerInformationPart.seq_no)
    )
    parts = list((await session.scalars(query)).all())
    if request is None and not parts:
        raise NotFound(f"no customer information request {request_id} for charger {charge_point_id}")
    # Complete once the last part (tbc false) is in and no seqNo before it is missing.
    is_complete = bool(parts) and not parts[-1].tbc and [part.seq_no for part in parts] == list(range(len(parts)))
    return Information(
        request_id=request_id,
        charge_point_id=charge_point_id,
        status=request.status if request is not None else None,
        parts=len(parts),
        is_complete=is_complete,
        text="".join(part.data for part in parts),
        request=request,
    )


def _certificate_fields(certificate: CertificateHash) -> dict[str, str]:
    return {
        "hash_algorithm": certificate.hash_algorithm,
        "issuer_name_hash": certificate.issuer_name_hash,
        "issuer_key_hash": certificate.issuer_key_hash,
        "serial_number": certificate.serial_number,
    }
