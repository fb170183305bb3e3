"""OCPI 2.2.1's objects of the tokens module (§12.3, §12.4) as pydantic models with the spec's field rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from csms.ocpi.envelope import ocpi_timestamp
from csms.ocpi.schemas import CountryCode, PartyId
from csms.services.ocpi_tokens import TokenValues

TokenType = Literal["AD_HOC_USER", "APP_USER", "OTHER", "RFID"]
WhitelistType = Literal["ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"]
ProfileType = Literal["CHEAP", "FAST", "GREEN", "REGULAR"]
AllowedType = Literal["ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED"]


def _utc(moment: datetime) -> datetime:
    # §16.2: a DateTime without a zone is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# CiString(36): printable ASCII, compared case-insensitively (§16.1); string(n) is any UTF-8 text (§16.6).
CiString36 = Annotated[str, Field(max_length=36, pattern=r"^[ -~]*$")]
Uid = Annotated[str, Field(min_length=1, max_length=36, pattern=r"^[ -~]+$")]
DateTime = Annotated[datetime, AfterValidator(_utc)]


class EnergyContract(BaseModel):
    supplier_name: str = Field(min_length=1, max_length=64)
    contract_id: str | None = Field(default=None, max_length=64)


class Token(BaseModel):
    """§12.3.2."""

    country_code: CountryCode
    party_id: PartyId
    uid: Uid
    type: TokenType
    contract_id: Uid
    visual_number: str | None = Field(default=None, max_length=64)
    issuer: str = Field(max_length=64)
    group_id: CiString36 | None = None
    valid: bool
    whitelist: WhitelistType
    language: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime

    def values(self) -> TokenValues:
        fields = self.model_dump(exclude={"energy_contract"})
        contract = self.energy_contract.model_dump(exclude_none=True) if self.energy_contract else None
        return TokenValues(**fields, energy_contract=contract)

    @staticmethod
    def wire(values: TokenValues) -> dict[str, Any]:
        """A stored token as csms answers a GET: the object as pushed, optional fields left out when unset."""
        token = Token.model_validate(
            {name: getattr(values, name) for name in TokenValues.__dataclass_fields__}
        ).model_dump(exclude_none=True)
        token["last_updated"] = ocpi_timestamp(values.last_updated)
        return token


_REQUIRED = ("country_code", "party_id", "uid", "type", "contract_id", "issuer", "valid", "whitelist")


class TokenPatch(BaseModel):
    """§12.2.1.3: any of the Token's fields, and last_updated always."""

    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    uid: Uid | None = None
    type: TokenType | None = None
    contract_id: Uid | None = None
    visual_number: str | None = Field(default=None, max_length=64)
    issuer: str | None = Field(default=None, max_length=64)
    group_id: CiString36 | None = None
    valid: bool | None = None
    whitelist: WhitelistType | None = None
    language: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _required_stay_set(self) -> TokenPatch:
        nulled = sorted(name for name in _REQUIRED if name in self.model_fields_set and getattr(self, name) is None)
        if nulled:
            raise ValueError(f"a Token's {', '.join(nulled)} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields sent, and only those (§12.2.1.3: the others are unchanged)."""
        sent = {name: getattr(self, name) for name in self.model_fields_set}
        if self.energy_contract is not None:
            sent["energy_contract"] = self.energy_contract.model_dump(exclude_none=True)
        return sent


class LocationReferences(BaseModel):
    """§12.4.1: where a token is to be authorized."""

    location_id: Uid
    evse_uids: list[Uid] | None = None


class DisplayText(BaseModel):
    language: str = Field(min_length=2, max_length=2)
    text: str = Field(max_length=512)


class AuthorizationInfo(BaseModel):
    """§12.3.1: an eMSP's real-time answer."""

    allowed: AllowedType
    token: dict[str, Any]  # the Token the eMSP holds; csms keeps its own copy, so it is not checked further
    location: LocationReferences | None = None
    authorization_reference: CiString36 | None = None
    info: DisplayText | None = None
