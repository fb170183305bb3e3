"""The tokens eMSPs pushed to csms, for operators to look up (docs/ocpi.md); eMSPs own them, so read only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from csms.api.deps import AdminUser, SessionDep
from csms.api.schemas import ErrorBody
from csms.db.models import OcpiToken
from csms.services import ocpi_tokens

router = APIRouter(prefix="/api/admin/ocpi/tokens", tags=["ocpi"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in"},
    403: {"model": ErrorBody, "description": "Needs the role admin or root"},
}


class TokenOut(BaseModel):
    id: int
    ocpi_party_key: int = Field(description="The OCPI party (/api/admin/ocpi/parties/{id}) csms heard it from")
    country_code: str = Field(description="The owning eMSP's country code")
    party_id: str = Field(description="The owning eMSP's party id")
    uid: str = Field(description="What the charger reads (an RFID card's uid)")
    type: str = Field(description="AD_HOC_USER, APP_USER, OTHER or RFID")
    contract_id: str
    visual_number: str | None
    issuer: str
    group_id: str | None
    valid: bool
    whitelist: str = Field(description="ALWAYS, ALLOWED, ALLOWED_OFFLINE or NEVER: when the eMSP is asked in real time")
    language: str | None
    default_profile_type: str | None
    last_updated: datetime = Field(description="When the eMSP last changed it")
    received_at: datetime = Field(description="When csms stored this version")


@router.get("", responses=_ERRORS)
async def list_tokens(
    admin: AdminUser,
    session: SessionDep,
    response: Response,
    party_id: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9]{3}$", description="The owning eMSP's party id")
    ] = None,
    uid: Annotated[str | None, Query(max_length=36, description="A token uid, in any case")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[TokenOut]:
    """Roaming tokens eMSPs pushed, paginated; the total is in X-Total-Count."""
    found, total = await ocpi_tokens.list_tokens(session, party_id=party_id, uid=uid, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return [_out(token) for token in found]


def _out(token: OcpiToken) -> TokenOut:
    return TokenOut.model_validate(token, from_attributes=True)
