"""ISO 15118 contract certificates csms's own CA signs for an eMAID (development and testing of Plug &
Charge with CSMS_ISO15118_PROVIDER=development), and their revocation, which OCSP and Authorize report."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, status
from pydantic import BaseModel, ConfigDict, Field

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.operation_schemas import CertificateRevocation
from csms.api.operations import ADMIN_ERRORS
from csms.services import contract_certificates
from csms.services.certificate_authority import load_authority

router = APIRouter(tags=["certificates"])
_PATH = "/api/admin/contract_certificates"


class ContractCertificateRequest(BaseModel):
    emaid: str = Field(min_length=1, max_length=36, description="The contract's eMAID: the CSR's common name")
    csr: str = Field(max_length=10_000, description="A PEM certificate signing request for the EV's contract key")
    valid_days: int = Field(365, ge=1, le=3650, description="How long the certificate is valid")


class ContractCertificateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    emaid: str
    serial_number: str = Field(description="Hexadecimal, as in OCSP's CertificateHashData")
    subject: str
    not_after: datetime
    certificate: str = Field(description="PEM, signed by csms's CA")
    revoked_at: datetime | None = Field(description="From when OCSP and Authorize report it revoked")
    revocation_reason: str | None
    created_at: datetime


@router.get(_PATH, responses=ADMIN_ERRORS)
async def list_contract_certificates(admin: AdminUser, session: SessionDep) -> list[ContractCertificateOut]:
    """The contract certificates csms's CA signed, newest first."""
    return [ContractCertificateOut.model_validate(row) for row in await contract_certificates.list_all(session)]


@router.post(_PATH, status_code=status.HTTP_201_CREATED, responses=ADMIN_ERRORS)
async def issue_contract_certificate(
    body: ContractCertificateRequest, admin: AdminUser, runtime: RuntimeDep, session: SessionDep
) -> ContractCertificateOut:
    """Sign a contract certificate for an eMAID with csms's CA (the development certificate provider's PKI)."""
    settings = runtime.settings
    row = await contract_certificates.issue(
        session,
        authority=load_authority(settings.ca_certfile, settings.ca_keyfile),
        emaid=body.emaid,
        csr_pem=body.csr,
        valid_for=timedelta(days=body.valid_days),
        now=runtime.clock(),
    )
    return ContractCertificateOut.model_validate(row)


@router.post(f"{_PATH}/{{certificate_id}}/revoke", responses=ADMIN_ERRORS)
async def revoke_contract_certificate(
    certificate_id: int,
    admin: AdminUser,
    runtime: RuntimeDep,
    session: SessionDep,
    body: Annotated[CertificateRevocation | None, Body()] = None,
) -> ContractCertificateOut:
    """Revoke a contract certificate from now: OCSP answers it revoked, Authorize CertificateRevoked."""
    reason = (body or CertificateRevocation()).reason
    row = await contract_certificates.revoke(session, certificate_id, reason=reason, now=runtime.clock())
    return ContractCertificateOut.model_validate(row)
