"""The tariffs module with csms as the SENDER (§11.2.1): a party pulls csms's Tariffs, paginated by last_updated.
New tariffs are pushed to parties as well (ocpi/push.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from csms.api.deps import RuntimeDep, SessionDep
from csms.ocpi.auth import FunctionalCaller
from csms.ocpi.identity import VERSION, own_party, version_url
from csms.ocpi.pagination import Paging, page_response
from csms.ocpi.route import OcpiRoute
from csms.ocpi.tariff_objects import tariff_object
from csms.ocpi.versions import ModuleEndpoint, OcpiModule
from csms.services import tariffs

router = APIRouter(prefix=f"/ocpi/{VERSION}/tariffs", route_class=OcpiRoute, include_in_schema=False)
MODULE = OcpiModule(router, (ModuleEndpoint("tariffs", "SENDER", "tariffs"),))


@router.get("")
async def list_tariffs(caller: FunctionalCaller, page: Paging, session: SessionDep, runtime: RuntimeDep) -> Response:
    tariffs_page, total = await tariffs.page_of_tariffs(
        session, offset=page.offset, limit=page.limit, created_from=page.date_from, created_to=page.date_to
    )
    own = own_party(runtime.settings)
    items = [tariff_object(own, tariff) for tariff in tariffs_page]
    url = f"{version_url(runtime.settings)}/tariffs"
    return page_response(items, total=total, page=page, url=url, now=runtime.clock())
