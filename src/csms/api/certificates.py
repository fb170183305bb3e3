"""Chargers' certificates: what csms signed or saw installed, and which ones expire soon."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from csms.api.deps import AdminUser, RuntimeDep, SessionDep
from csms.api.operation_schemas import CertificateOut
from csms.api.operations import ADMIN_ERRORS, require_charger
from csms.services import certificates

router = APIRouter(tags=["certificates"])


@router.get("/api/admin/chargers/{charge_point_id}/certificates", responses=ADMIN_ERRORS)
async def charger_certificates(charge_point_id: str, admin: AdminUser, session: SessionDep) -> list[CertificateOut]:
    """The charger's certificates: signed by csms (with the charger's answer) or installed, newest first."""
    await require_charger(session, charge_point_id)
    return [CertificateOut.model_validate(row) for row in await certificates.list_for_charger(session, charge_point_id)]


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
