"""Message routing headers (§4.1.8.2): which party a functional-module request is from and for.

Configuration modules (versions, credentials, hubclientinfo) are platform to platform and SHALL NOT carry them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from csms.ocpi.envelope import OcpiError, OcpiStatus
from csms.ocpi.identity import OwnParty

FROM_COUNTRY_CODE, FROM_PARTY_ID = "OCPI-from-country-code", "OCPI-from-party-id"
TO_COUNTRY_CODE, TO_PARTY_ID = "OCPI-to-country-code", "OCPI-to-party-id"


@dataclass(frozen=True, slots=True)
class PartyRef:
    country_code: str
    party_id: str

    def __str__(self) -> str:
        return f"{self.country_code} {self.party_id}"


@dataclass(frozen=True, slots=True)
class Routing:
    sender: PartyRef | None
    receiver: PartyRef | None


def routing_of(headers: Mapping[str, str]) -> Routing:
    """The routing headers of a request (header names are case-insensitive; values CiStrings)."""
    named = {name.lower(): value for name, value in headers.items()}
    return Routing(
        sender=_ref(named.get(FROM_COUNTRY_CODE.lower()), named.get(FROM_PARTY_ID.lower())),
        receiver=_ref(named.get(TO_COUNTRY_CODE.lower()), named.get(TO_PARTY_ID.lower())),
    )


def _ref(country_code: str | None, party_id: str | None) -> PartyRef | None:
    if country_code is None and party_id is None:
        return None
    if not country_code or not party_id or len(country_code) != 2 or len(party_id) != 3:
        raise OcpiError(
            OcpiStatus.INVALID_PARAMETERS,
            "routing headers name a party by both its country code (2 characters) and party id (3 characters)",
        )
    return PartyRef(country_code.upper(), party_id.upper())


def request_headers(*, sender: PartyRef, receiver: PartyRef) -> dict[str, str]:
    """The four headers of a request from `sender` to `receiver` (a response swaps them)."""
    return {
        FROM_COUNTRY_CODE: sender.country_code,
        FROM_PARTY_ID: sender.party_id,
        TO_COUNTRY_CODE: receiver.country_code,
        TO_PARTY_ID: receiver.party_id,
    }


def check_routing(routing: Routing, *, own: OwnParty, via_hub: bool, known_senders: Sequence[PartyRef]) -> PartyRef:
    """The party a functional-module request is from, once its routing headers are checked.

    Through a hub both pairs are required and the sender is whichever party the hub forwards for; from a peer
    connected directly they may be left out, and the sender must be one of the roles its credentials named.
    Either way a receiver named must be csms.
    """
    own_ref = PartyRef(own.country_code, own.party_id)
    if routing.receiver is not None and routing.receiver != own_ref:
        raise OcpiError(OcpiStatus.INVALID_PARAMETERS, f"this request is for {routing.receiver}; this is {own_ref}")
    if via_hub:
        if routing.sender is None or routing.receiver is None:
            raise OcpiError(
                OcpiStatus.INVALID_PARAMETERS,
                "a request through a hub names its sender and receiver (OCPI-from-* and OCPI-to-* headers)",
            )
        return routing.sender
    if routing.sender is not None and routing.sender not in known_senders:
        raise OcpiError(OcpiStatus.INVALID_PARAMETERS, f"{routing.sender} is not a role this party registered")
    return routing.sender or known_senders[0]
