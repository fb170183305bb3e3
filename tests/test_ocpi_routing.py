"""OCPI's routing headers on requests csms receives on functional modules (§4.1.8.2), as the modules to come
check them: through a hub both pairs are required, a receiver named must be csms, a direct peer speaks for the
roles it registered."""

from __future__ import annotations

import pytest

from csms.ocpi.envelope import OcpiError, OcpiStatus
from csms.ocpi.identity import OwnParty
from csms.ocpi.routing import PartyRef, check_routing, routing_of

OWN = OwnParty("DE", "CSM", "csms")
EMSP = PartyRef("NL", "EMS")


def _headers(sender: tuple[str, str] | None, receiver: tuple[str, str] | None) -> dict[str, str]:
    headers = {}
    if sender:
        headers |= {"ocpi-from-country-code": sender[0], "ocpi-from-party-id": sender[1]}
    if receiver:
        headers |= {"ocpi-to-country-code": receiver[0], "ocpi-to-party-id": receiver[1]}
    return headers


def _refusal(headers: dict[str, str], *, via_hub: bool) -> OcpiError:
    with pytest.raises(OcpiError) as refused:
        check_routing(routing_of(headers), own=OWN, via_hub=via_hub, known_senders=[EMSP])
    assert refused.value.status == OcpiStatus.INVALID_PARAMETERS and refused.value.http_status == 200
    return refused.value


def test_a_hub_request_speaks_for_the_party_it_names_and_must_name_both() -> None:
    routing = routing_of(_headers(("fr", "abc"), ("DE", "CSM")))
    assert check_routing(routing, own=OWN, via_hub=True, known_senders=[]) == PartyRef("FR", "ABC")
    assert "sender and receiver" in _refusal(_headers(("FR", "ABC"), None), via_hub=True).message


def test_a_request_for_another_party_is_refused() -> None:
    assert "for BE OTH" in _refusal(_headers(None, ("BE", "OTH")), via_hub=False).message


def test_a_direct_peer_speaks_for_its_registered_roles_only() -> None:
    assert check_routing(routing_of({}), own=OWN, via_hub=False, known_senders=[EMSP]) == EMSP
    assert "not a role" in _refusal(_headers(("FR", "ABC"), ("DE", "CSM")), via_hub=False).message


def test_a_half_named_party_is_refused() -> None:
    assert "both its country code" in _refusal({"ocpi-from-country-code": "NL"}, via_hub=False).message
