"""Chargers' certificates: what csms signed or saw installed, which ones expire soon, revoking them, when
csms signs a charger's CSR, the CRL it publishes, and the security profile staff move a charger to."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import APIRouter, Body, Query, Response

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.operation_schemas import (
    CertificateOut,
    CertificateRevocation,
    SecurityProfileChange,
    SecurityProfileOut,
    SigningWindow,
    SigningWindowOut,
)
from csms.api.operations import ADMIN_ERRORS, require_charger
from csms.api.schemas import ErrorBody
from csms.runtime import Runtime
from csms.services import certificate_requests, certificate_revocation, certificates, security_profiles
from csms.services.certificate_authority import load_authority
from csms.services.errors import NotFound

router = APIRouter(tags=["certificates"])

# Application range (as takeover.CLOSE_REPLACED): the charger's certificate was revoked.
# RFC 5280 §4.2.1.13 / RFC 2585 §4.2: a CRL fetched over HTTP is DER, of this media type.
CRL_MEDIA_TYPE = "application/pkix-crl"
_CHARGER = "/api/admin/chargers/{charge_point_id}"


@router.get(f"{_CHARGER}/certificates", responses=ADMIN_ERRORS)
async def charger_certificates(charge_point_id: str, admin: AdminUser, session: SessionDep) -> list[CertificateOut]:
    """The charger's certificates: signed by csms (with the charger's answer) or installed, newest first."""
    await require_charger(session, charge_point_id)
    return [CertificateOut.model_validate(row) for row in await certificates.list_for_charger(session, charge_point_id)]


@router.post(f"{_CHARGER}/certificates/revoke", responses=ADMIN_ERRORS)
async def revoke_charger_certificates(
    charge_point_id: str,
    admin: AdminUser,
    runtime: RuntimeDep,
    session: SessionDep,
    body: Annotated[CertificateRevocation | None, Body()] = None,
) -> list[CertificateOut]:
    """Revoke every certificate csms signed for the charger, from now: refused at once, listed on the CRL."""
    return await _revoke(charge_point_id, None, body, runtime, session)


@router.post(f"{_CHARGER}/certificates/{{certificate_id}}/revoke", responses=ADMIN_ERRORS)
async def revoke_charger_certificate(
    charge_point_id: str,
    certificate_id: int,
    admin: AdminUser,
    runtime: RuntimeDep,
    session: SessionDep,
    body: Annotated[CertificateRevocation | None, Body()] = None,
) -> CertificateOut:
    """Revoke one certificate csms signed for the charger, from now: refused at once, listed on the CRL."""
    revoked = await _revoke(charge_point_id, certificate_id, body, runtime, session)
    return revoked[0]


@router.post(f"{_CHARGER}/certificates/sign-window", responses=ADMIN_ERRORS)
async def open_signing_window(
    charge_point_id: str, body: SigningWindow, admin: AdminUser, session: SessionDep
) -> SigningWindowOut:
    """Let csms sign one CSR the charger sends within `minutes` (0 closes the window); other CSRs are Rejected."""
    await require_charger(session, charge_point_id)
    until = None
    if body.minutes:
        until = await certificate_requests.open_window(session, charge_point_id, seconds=60.0 * body.minutes)
    else:
        await certificate_requests.close_window(session, charge_point_id)
    return SigningWindowOut(charge_point_id=charge_point_id, open_until=until)


@router.post(f"{_CHARGER}/security_profile", responses=ADMIN_ERRORS)
async def set_security_profile(
    charge_point_id: str, body: SecurityProfileChange, admin: AdminUser, session: SessionDep
) -> SecurityProfileOut:
    """Set the charger's recorded security profile, lower included (recovery): connections below it are refused."""
    await security_profiles.set_profile(session, charge_point_id, body.security_profile)
    profile = body.security_profile
    return SecurityProfileOut(
        charge_point_id=charge_point_id, security_profile=profile, security_profile_allowed=profile
    )


@router.get("/api/admin/certificates/expiring", responses=ADMIN_ERRORS)
async def expiring_certificates(
    admin: AdminUser,
    runtime: RuntimeDep,
    session: SessionDep,
    within_days: Annotated[int, Query(ge=0, le=3650)] = 30,
) -> list[CertificateOut]:
    """Certificates in use on chargers that expire within `within_days` (expired ones too), soonest first."""
    found = await certificates.list_expiring(session, now=runtime.clock(), within=timedelta(days=within_days))
    return [CertificateOut.model_validate(row) for row in found]


@router.get(
    "/api/ca/crl",
    response_class=Response,
    responses={
        200: {"content": {CRL_MEDIA_TYPE: {}}, "description": "The CRL, DER-encoded"},
        404: {"model": ErrorBody, "description": "csms has no CA (CSMS_CA_CERTFILE, CSMS_CA_KEYFILE)"},
    },
)
async def certificate_revocation_list(runtime: RuntimeDep, session: SessionDep) -> Response:
    """The CRL of the operator's CA (public, DER): the charger certificates csms signed and has revoked."""
    settings = runtime.settings
    authority = load_authority(settings.ca_certfile, settings.ca_keyfile)
    if authority is None:
        raise NotFound("csms has no CA, so it publishes no CRL")
    crl = await certificate_revocation.certificate_revocation_list(session, authority, now=runtime.clock())
    return Response(crl.public_bytes(Encoding.DER), media_type=CRL_MEDIA_TYPE, headers={"Cache-Control": "no-cache"})


async def _revoke(
    charge_point_id: str,
    certificate_id: int | None,
    body: CertificateRevocation | None,
    runtime: RuntimeDep,
    session: SessionDep,
) -> list[CertificateOut]:
    await require_charger(session, charge_point_id)
    reason = (body or CertificateRevocation()).reason
    now = runtime.clock()
    revoked = await certificate_revocation.revoke(
        session, charge_point_id, certificate_id=certificate_id, reason=reason, now=now
    )
    answer = [CertificateOut.model_validate(row) for row in revoked]
    if any(row.revoked_at == now for row in revoked):  # revoked by this request, not before
        await _end_connection(runtime, charge_point_id)
    return answer


async def _end_connection(runtime: Runtime, charge_point_id: str) -> None:
    """The charger's open socket may have come in with a certificate just revoked: it is closed wherever it
    is, so the charger's next connection is checked. A charger on its password, or on another certificate,
    simply reconnects."""
    await runtime.takeover.end_everywhere(charge_point_id)
