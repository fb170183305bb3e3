"""Paginated GET lists (§4.1.4): the request's offset, limit and date window, and the answer's headers.

A list module takes `Paging` in its route and answers with `page_response`: `X-Total-Count` (every object the
window holds), `X-Limit` (the most a page carries: the party's limit, capped at CSMS_OCPI_PAGE_LIMIT) and, while
objects remain, a `Link` to the next page with the same window. `date_from` is inclusive, `date_to` exclusive, both
on `last_updated`, so a party can crawl with each window starting where the last one ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse

from csms.api.deps import RuntimeDep
from csms.ocpi.envelope import OcpiError, OcpiStatus, ocpi_response

TOTAL_COUNT, LIMIT, LINK = "X-Total-Count", "X-Limit", "Link"


@dataclass(frozen=True, slots=True)
class PageRequest:
    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None
    # The window as the party wrote it: the next page's Link repeats it to the digit (a second's rounding would
    # move objects in or out of the window between pages).
    window: tuple[tuple[str, str], ...] = ()

    def query(self, *, offset: int) -> str:
        """The query string of the page at `offset` with this window and limit."""
        return urlencode([("offset", str(offset)), ("limit", str(self.limit)), *self.window])


def _utc(moment: datetime | None) -> datetime | None:
    # §16.2: a DateTime without a zone is UTC.
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def _page_request(
    request: Request,
    runtime: RuntimeDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=1)] = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> PageRequest:
    ceiling = runtime.settings.ocpi_page_limit
    window = tuple((name, value) for name in ("date_from", "date_to") if (value := request.query_params.get(name)))
    page = PageRequest(
        offset=offset,
        limit=min(limit or ceiling, ceiling),
        date_from=_utc(date_from),
        date_to=_utc(date_to),
        window=window,
    )
    if page.date_from is not None and page.date_to is not None and page.date_to <= page.date_from:
        raise OcpiError(OcpiStatus.INVALID_PARAMETERS, "date_to is after date_from")
    return page


Paging = Annotated[PageRequest, Depends(_page_request)]


def page_response(items: Sequence[Any], *, total: int, page: PageRequest, url: str, now: datetime) -> JSONResponse:
    """One page of `total` objects; `url` is the list endpoint's public address, which the Link continues."""
    headers = {TOTAL_COUNT: str(total), LIMIT: str(page.limit)}
    following = page.offset + len(items)
    if items and following < total:
        headers[LINK] = f'<{url}?{page.query(offset=following)}>; rel="next"'
    return ocpi_response(list(items), now=now, headers=headers)
