"""Transaction ids reserved ahead of time stay unique: normal starts never get a reserved id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.services.id_tags import IdTagInfo
from csms.services.outage_reserves import RecentTags, RememberedTag
from csms.simulator.charger import connect_charger
from tests.conftest import CHARGER_PASSWORD, RunningServer


async def test_reserved_transaction_ids_are_never_handed_out_again(server: RunningServer) -> None:
    runtime = server.app_runtime
    await runtime.refill_transaction_ids()
    reserved = [runtime.transaction_ids.take() for _ in range(len(runtime.transaction_ids))]
    assert len(reserved) >= 25 and None not in reserved and len(set(reserved)) == len(reserved)
    charge_point_id = await server.add_charger()
    async with connect_charger(server.ws_url, charge_point_id, CHARGER_PASSWORD) as charger:
        started = [(await charger.start_transaction(connector, "ANY-TAG")).transaction_id for connector in (1, 2)]
    assert not set(started) & set(reserved)
    assert min(started) > max(id_ for id_ in reserved if id_ is not None)


def test_remembered_tags_expire_with_age_and_with_their_own_expiry_date() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    tags = RecentTags(max_age=timedelta(hours=1))
    tags.remember("OLD", RememberedTag(IdTagInfo("Accepted"), 1, None, now - timedelta(hours=2)))
    tags.remember("DUE", RememberedTag(IdTagInfo("Accepted", expiry_date=now - timedelta(minutes=1)), 2, None, now))
    tags.remember("GOOD", RememberedTag(IdTagInfo("Accepted"), 3, 7, now))
    assert tags.recall("OLD", now=now) is None
    assert tags.recall("UNKNOWN", now=now) is None
    due = tags.recall("DUE", now=now)
    assert due is not None and due.info.status == "Expired"
    good = tags.recall("GOOD", now=now)
    assert good is not None and (good.info.status, good.user_id, good.vehicle_id) == ("Accepted", 3, 7)
