"""OCPI 2.2.1's objects of the versions and credentials modules, as pydantic models with the spec's field rules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from csms.services.ocpi_parties import Endpoint, PartyRole

# CiString(2): an ISO 3166 alpha-2 code; CiString(3): an ISO 15118 party id (§7.4.1).
CountryCode = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]
PartyId = Annotated[str, Field(pattern=r"^[A-Za-z0-9]{3}$")]
Url = Annotated[str, Field(max_length=255, pattern=r"^https?://\S+$")]
# string(64) of printable non-whitespace ASCII, U+0021 to U+007E (§7.3.1).
CredentialsToken = Annotated[str, Field(pattern=r"^[!-~]{1,64}$")]
Role = Literal["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]
InterfaceRole = Literal["SENDER", "RECEIVER"]


class Image(BaseModel):
    url: Url
    thumbnail: Url | None = None
    category: Literal["CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER"]
    type: str = Field(pattern=r"^[!-~]{1,4}$")
    width: int | None = Field(default=None, ge=0, le=99_999)
    height: int | None = Field(default=None, ge=0, le=99_999)


class BusinessDetails(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    website: Url | None = None
    logo: Image | None = None


class CredentialsRole(BaseModel):
    role: Role
    business_details: BusinessDetails
    party_id: PartyId
    country_code: CountryCode


class Credentials(BaseModel):
    token: CredentialsToken
    url: Url
    roles: list[CredentialsRole] = Field(min_length=1)

    def party_roles(self) -> tuple[PartyRole, ...]:
        return tuple(
            PartyRole(
                role=r.role,
                country_code=r.country_code.upper(),
                party_id=r.party_id.upper(),
                business_name=r.business_details.name,
            )
            for r in self.roles
        )


class Version(BaseModel):
    version: str = Field(min_length=1, max_length=8)
    url: Url


class EndpointOut(BaseModel):
    identifier: str = Field(min_length=1, max_length=32)
    role: InterfaceRole
    url: Url


class VersionDetails(BaseModel):
    version: str = Field(min_length=1, max_length=8)
    endpoints: list[EndpointOut] = Field(min_length=1)

    def domain_endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(Endpoint(identifier=e.identifier, role=e.role, url=e.url) for e in self.endpoints)
