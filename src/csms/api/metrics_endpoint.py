"""`GET /metrics`: the node's Prometheus metrics in the text exposition format.

Public, like /healthz: a scraper cannot renew a 15-minute access token, and the metrics carry no
charger, user or token (only counts by action, status and route template). Keep /metrics off the
public network at the proxy, as one does for any Prometheus endpoint.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from csms.runtime import Runtime
from csms.services.statistics import count_open_transactions

logger = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

# A scrape must answer even when the database is slow; the gauge then keeps its last value.
_COUNT_TIMEOUT = 2.0


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this node."""
    runtime: Runtime = request.app.state.runtime
    await _refresh_active_transactions(runtime)
    _refresh_certificate_expiry(runtime)
    return Response(runtime.metrics.render(), media_type=runtime.metrics.content_type)


async def _refresh_active_transactions(runtime: Runtime) -> None:
    try:
        async with asyncio.timeout(_COUNT_TIMEOUT), runtime.session_factory() as session:
            runtime.metrics.active_transactions.set(await count_open_transactions(session))
    except Exception as error:  # the scrape still answers; /readyz is where an outage shows
        logger.warning("metrics: could not count open transactions: %s", type(error).__name__)


def _refresh_certificate_expiry(runtime: Runtime) -> None:
    """One series per certificate csms can read now; an unreadable one has none (/readyz says why)."""
    gauge, now = runtime.metrics.certificate_expiry_days, runtime.clock()
    gauge.clear()
    for expiry in runtime.certificates.expiries():
        days_left = expiry.days_left(now)
        if days_left is not None:
            gauge.labels(expiry.name).set(days_left)
