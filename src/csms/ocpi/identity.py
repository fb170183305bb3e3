"""Who csms is towards OCPI parties, from its settings, and where it serves OCPI."""

from __future__ import annotations

from dataclasses import dataclass

from csms.config import Settings

VERSION = "2.2.1"


class IdentityMissing(Exception):
    """csms has no OCPI country code or party id configured, so it cannot present credentials."""


@dataclass(frozen=True, slots=True)
class OwnParty:
    country_code: str
    party_id: str
    business_name: str


def own_party(settings: Settings) -> OwnParty:
    if not settings.ocpi_country_code or not settings.ocpi_party_id:
        raise IdentityMissing(
            "csms has no OCPI identity: set CSMS_OCPI_COUNTRY_CODE and CSMS_OCPI_PARTY_ID (docs/ocpi.md)"
        )
    return OwnParty(settings.ocpi_country_code, settings.ocpi_party_id, settings.ocpi_business_name)


def ocpi_base_url(settings: Settings) -> str:
    """Where /ocpi is reached from outside: the public URL chargers use too."""
    return settings.public_url.rstrip("/") + "/ocpi"


def versions_url(settings: Settings) -> str:
    """What an operator gives a party (with token A) to start a registration."""
    return ocpi_base_url(settings) + "/versions"


def version_url(settings: Settings) -> str:
    return f"{ocpi_base_url(settings)}/{VERSION}"
