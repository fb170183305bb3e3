"""Charging records: the caller's own, and every record for operators; JSON pages and CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from csms.api.deps import AdminUser, CurrentUser, RuntimeDep, SessionDep
from csms.api.schemas import ErrorBody, MeterValueOut, TransactionClose, TransactionOut
from csms.db.models import MeterValue, Transaction
from csms.services import open_transactions, session_costs, sites, transactions, users
from csms.services.charging import STAFF_ROLES
from csms.services.clock import utc_now
from csms.services.errors import NotFound
from csms.services.id_tags import ACCEPTED

router = APIRouter(prefix="/api", tags=["charging records"])

MAX_PAGE = 500
CSV_COLUMNS = (
    "id",
    "charge_point_id",
    "connector_id",
    "id_tag",
    "user_id",
    "vehicle_id",
    "start_timestamp",
    "stop_timestamp",
    "duration_seconds",
    "meter_start",
    "meter_stop",
    "energy_kwh",
    "stop_reason",
    "cost",
    "currency",
    "id_tag_status",
    "closed_by",
    "meter_went_backwards",
    "stale_since",
)
_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody, "description": "Not logged in"}}
_ADMIN: dict[int | str, dict[str, Any]] = {**_UNAUTHORIZED, 403: {"model": ErrorBody, "description": "Needs admin"}}


class Page:
    """limit/offset query parameters, bounded."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset


class RecordQuery:
    """Filters shared by every listing of charging records."""

    def __init__(
        self,
        charge_point_id: Annotated[str | None, Query(max_length=64)] = None,
        vehicle_id: int | None = None,
        started_from: Annotated[datetime | None, Query(alias="from", description="Started at or after")] = None,
        started_before: Annotated[datetime | None, Query(alias="to", description="Started before")] = None,
        id_tag: Annotated[str | None, Query(max_length=64, description="Started with this idTag")] = None,
        state: Annotated[
            Literal["running", "finished"] | None, Query(description="running: not stopped yet; finished: stopped")
        ] = None,
        sort: Annotated[
            Literal["newest", "oldest", "energy"], Query(description="Newest or oldest start first, or most energy")
        ] = "newest",
    ) -> None:
        self.charge_point_id = charge_point_id
        self.vehicle_id = vehicle_id
        self.started_from = started_from
        self.started_before = started_before
        self.id_tag = id_tag
        self.state = state
        self.sort = sort

    def where(self, *, user_id: int | None) -> transactions.TransactionFilter:
        return transactions.TransactionFilter(
            user_id=user_id,
            charge_point_id=self.charge_point_id,
            vehicle_id=self.vehicle_id,
            started_from=self.started_from,
            started_before=self.started_before,
            id_tag=self.id_tag,
            is_open=None if self.state is None else self.state == "running",
        )


PageDep = Annotated[Page, Depends()]
RecordQueryDep = Annotated[RecordQuery, Depends()]


@router.get("/transactions", responses=_UNAUTHORIZED)
async def my_transactions(
    user: CurrentUser, session: SessionDep, filters: RecordQueryDep, page: PageDep, response: Response
) -> list[TransactionOut]:
    """The caller's charging records, newest first (or as `sort` says); the total is in X-Total-Count."""
    return await _page(session, filters.where(user_id=user.id), page, response, order=filters.sort)


@router.get("/transactions.csv", responses=_UNAUTHORIZED, response_class=StreamingResponse)
async def my_transactions_csv(user: CurrentUser, session: SessionDep, filters: RecordQueryDep) -> StreamingResponse:
    """The caller's charging records as CSV."""
    return await _csv(session, filters.where(user_id=user.id), "my-charging-records.csv", order=filters.sort)


@router.get("/transactions/{transaction_id}", responses={**_UNAUTHORIZED, 404: {"model": ErrorBody}})
async def my_transaction(
    transaction_id: int, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> TransactionOut:
    """One of the caller's charging records (admins: any), with its meter values and cost."""
    transaction = await transactions.get_transaction(session, transaction_id)
    if transaction is None or (transaction.user_id != user.id and user.role not in STAFF_ROLES):
        raise NotFound(f"transaction {transaction_id} not found")
    costs = await session_costs.costs_of(session, [transaction], now=runtime.clock())
    meter_values = await transactions.list_meter_values(session, transaction.id)
    allowance = (await sites.allowances(session, [transaction.id])).get(transaction.id)
    return transaction_out(transaction, meter_values=meter_values, cost=costs.get(transaction.id), allowance=allowance)


@router.get("/admin/transactions", responses=_ADMIN, tags=["admin"])
async def all_transactions(
    admin: AdminUser,
    session: SessionDep,
    filters: RecordQueryDep,
    page: PageDep,
    response: Response,
    user_id: int | None = None,
) -> list[TransactionOut]:
    """Every charging record, newest first (or as `sort` says), filtered, each with its account's username; the
    total is in X-Total-Count."""
    records = await _page(session, filters.where(user_id=user_id), page, response, order=filters.sort)
    owners = {record.user_id for record in records if record.user_id is not None}
    names = await users.usernames(session, owners)
    return [_with_username(record, names) for record in records]


def _with_username(record: TransactionOut, names: dict[int, str]) -> TransactionOut:
    if record.user_id is None:
        return record
    return record.model_copy(update={"username": names.get(record.user_id)})


@router.get("/admin/transactions.csv", responses=_ADMIN, tags=["admin"], response_class=StreamingResponse)
async def all_transactions_csv(
    admin: AdminUser, session: SessionDep, filters: RecordQueryDep, user_id: int | None = None
) -> StreamingResponse:
    """Every charging record matching the filters, as CSV."""
    return await _csv(session, filters.where(user_id=user_id), "charging-records.csv", order=filters.sort)


@router.post(
    "/admin/transactions/{transaction_id}/close",
    responses={
        **_ADMIN,
        404: {"model": ErrorBody, "description": "Unknown transaction"},
        409: {"model": ErrorBody, "description": "It has stopped already"},
    },
    tags=["admin"],
)
async def close_transaction(
    transaction_id: int,
    admin: AdminUser,
    session: SessionDep,
    runtime: RuntimeDep,
    body: TransactionClose | None = None,
) -> TransactionOut:
    """Close a transaction its charger never stopped (closed_by "staff"); by default at its last meter reading."""
    wanted = body or TransactionClose()
    closed = await open_transactions.close_by_staff(
        session, transaction_id, meter_stop=wanted.meter_stop, stopped_at=wanted.stop_timestamp
    )
    runtime.session_watch.transaction_stopped(closed)
    await runtime.events.publish(
        "transaction_stopped",
        charge_point_id=closed.charge_point_id,
        connector_id=closed.connector_id,
        transaction_id=closed.id,
        user_id=closed.user_id,
        energy_wh=closed.energy_wh,
        closed_by=closed.closed_by,
    )
    transaction = await transactions.get_transaction(session, transaction_id)
    if transaction is None:  # deleted with its charger meanwhile
        raise NotFound(f"transaction {transaction_id} not found")
    return transaction_out(transaction)


def transaction_out(
    transaction: Transaction,
    meter_values: list[MeterValue] | None = None,
    cost: session_costs.PricedSession | None = None,
    allowance: sites.Allowance | None = None,
) -> TransactionOut:
    energy = transactions.energy_wh(transaction)
    is_active = transaction.stop_timestamp is None and transaction.id_tag_status == ACCEPTED
    # A stopped session's allocation lasts until its site is next recomputed: it allows nothing any more.
    allowance = allowance if is_active else None
    return TransactionOut(
        id=transaction.id,
        charge_point_id=transaction.charge_point_id,
        connector_id=transaction.connector_id,
        id_tag=transaction.id_tag,
        user_id=transaction.user_id,
        vehicle_id=transaction.vehicle_id,
        start_timestamp=transaction.start_timestamp,
        stop_timestamp=transaction.stop_timestamp,
        meter_start=transaction.meter_start,
        meter_stop=transaction.meter_stop,
        stop_reason=transaction.stop_reason,
        energy_wh=energy,
        energy_kwh=Decimal(energy) / 1000,
        duration_seconds=_duration(transaction),
        is_active=is_active,
        id_tag_status=transaction.id_tag_status,
        closed_by=transaction.closed_by,
        meter_went_backwards=transaction.meter_went_backwards,
        is_stale=transaction.stale_since is not None,
        stale_since=transaction.stale_since,
        meter_values=[MeterValueOut.model_validate(value) for value in meter_values] if meter_values else None,
        cost=cost.total if cost else None,
        currency=cost.currency if cost else None,
        evse_id=transaction.evse_id,
        transaction_key=transaction.transaction_key,
        cost_breakdown=cost.breakdown if cost else None,
        allowed_current_a=allowance.current_a if allowance else None,
        allowed_power_w=allowance.power_w if allowance else None,
    )


def _duration(transaction: Transaction) -> int | None:
    if transaction.stop_timestamp is None:
        return None
    return max(0, int((transaction.stop_timestamp - transaction.start_timestamp).total_seconds()))


async def _page(
    session: SessionDep, where: transactions.TransactionFilter, page: Page, response: Response, *, order: str
) -> list[TransactionOut]:
    found = await transactions.list_transactions(session, where, limit=page.limit, offset=page.offset, order=order)
    response.headers["X-Total-Count"] = str(await transactions.count_transactions(session, where))
    costs = await session_costs.costs_of(session, found, now=utc_now())
    allowed = await sites.allowances(session, [t.id for t in found if t.stop_timestamp is None])
    return [
        transaction_out(transaction, cost=costs.get(transaction.id), allowance=allowed.get(transaction.id))
        for transaction in found
    ]


async def _csv(
    session: SessionDep, where: transactions.TransactionFilter, filename: str, *, order: str
) -> StreamingResponse:
    rows: list[Transaction] = []
    offset = 0
    while batch := await transactions.list_transactions(session, where, limit=MAX_PAGE, offset=offset, order=order):
        rows.extend(batch)
        offset += MAX_PAGE
    costs = await session_costs.costs_of(session, rows, now=utc_now())
    return StreamingResponse(
        _csv_lines(rows, costs),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _csv_lines(rows: Iterable[Transaction], costs: dict[int, session_costs.PricedSession]) -> Iterable[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for transaction in rows:
        record = transaction_out(transaction, cost=costs.get(transaction.id)).model_dump()
        writer.writerow(_csv_safe(record[column]) for column in CSV_COLUMNS)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _csv_safe(value: object) -> object:
    """Stop spreadsheet formula injection through text a charger or user chose (an idTag, a reason)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if isinstance(value, datetime):
        return value.isoformat()
    return value
