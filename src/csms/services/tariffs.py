"""Tariffs and where they apply: per connector, per charger or everywhere, for everyone or for a group.

Which assignment is in force for a session at a moment: among those valid then (valid_from <= moment
< valid_to) and matching the session, a group assignment (the idTag's parent idTag) beats a public
one, then a connector's beats a charger's, which beats the default (no charger). Between equals, the
one valid from later wins, then the newer. Tariffs are never edited, so past costs never change: a
price change is a new tariff with a new assignment that starts when the old one ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger, IdTag, Tariff, TariffAssignment
from csms.domain.commands import SetDefaultTariff
from csms.services.costing import Prices, TariffPeriod
from csms.services.errors import InvalidInput, NotFound

_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TariffSpec:
    name: str
    currency: str
    price_per_kwh: Decimal
    price_per_charging_minute: Decimal
    price_per_idle_minute: Decimal
    session_fee: Decimal
    tax_rate: Decimal


@dataclass(frozen=True, slots=True)
class AssignmentSpec:
    tariff_id: int
    charge_point_id: str | None = None
    connector_id: int | None = None
    parent_id_tag: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class Place:
    """Where and for whom a session charges: the group is its idTag's parent idTag, if any."""

    charge_point_id: str
    connector_id: int
    id_tag: str
    group: str | None = None


async def create_tariff(session: AsyncSession, spec: TariffSpec, *, now: datetime) -> Tariff:
    if len(spec.currency) != 3 or not spec.currency.isalpha():
        raise InvalidInput("currency is an ISO 4217 code such as EUR")
    if not Decimal(0) <= spec.tax_rate < Decimal(1):
        raise InvalidInput("tax_rate is a fraction from 0 to below 1 (0.2 is 20 %)")
    tariff = Tariff(**{**asdict(spec), "currency": spec.currency.upper()}, created_at=now)
    session.add(tariff)
    await session.commit()
    return tariff


async def list_tariffs(session: AsyncSession) -> list[Tariff]:
    return list((await session.scalars(select(Tariff).order_by(Tariff.id))).all())


async def get_tariff(session: AsyncSession, tariff_id: int) -> Tariff:
    tariff = await session.get(Tariff, tariff_id)
    if tariff is None:
        raise NotFound(f"tariff {tariff_id} not found")
    return tariff


async def assign_tariff(session: AsyncSession, spec: AssignmentSpec, *, now: datetime) -> TariffAssignment:
    await get_tariff(session, spec.tariff_id)
    if spec.connector_id is not None and spec.charge_point_id is None:
        raise InvalidInput("a connector's tariff names its charger too")
    if spec.charge_point_id is not None and await session.get(Charger, spec.charge_point_id) is None:
        raise NotFound(f"charger {spec.charge_point_id} not found")
    if spec.valid_from and spec.valid_to and spec.valid_to <= spec.valid_from:
        raise InvalidInput("valid_to must be after valid_from")
    assignment = TariffAssignment(**asdict(spec), created_at=now)
    session.add(assignment)
    await session.commit()
    return assignment


async def list_assignments(session: AsyncSession) -> list[TariffAssignment]:
    return list((await session.scalars(select(TariffAssignment).order_by(TariffAssignment.id))).all())


async def remove_assignment(session: AsyncSession, assignment_id: int) -> None:
    assignment = await session.get(TariffAssignment, assignment_id)
    if assignment is None:
        raise NotFound(f"tariff assignment {assignment_id} not found")
    await session.delete(assignment)
    await session.commit()


async def place_of(session: AsyncSession, *, charge_point_id: str, connector_id: int, id_tag: str) -> Place:
    tag = (await session.scalars(select(IdTag).where(IdTag.id_tag == id_tag))).first()
    group = tag.parent_id_tag if tag is not None else None
    return Place(charge_point_id=charge_point_id, connector_id=connector_id, id_tag=id_tag, group=group)


def tariff_text(tariff: Tariff) -> str:
    """What a driver is told of a tariff before charging (a station's display), gross of tax as they pay:
    "0.36 EUR/kWh, 1.80 EUR a session, incl. 20% tax"."""
    gross = 1 + tariff.tax_rate
    parts = [
        f"{_price(amount * gross)} {tariff.currency}{unit}"
        for amount, unit in (
            (tariff.price_per_kwh, "/kWh"),
            (tariff.price_per_charging_minute, "/min charging"),
            (tariff.price_per_idle_minute, "/min idle"),
            (tariff.session_fee, " a session"),
        )
        if amount
    ]
    tax = f"incl. {format((tariff.tax_rate * 100).normalize(), 'f')}% tax" if tariff.tax_rate else "no tax"
    return ", ".join([*parts, tax]) if parts else f"free ({tariff.name})"


def with_tax(tariff: Tariff, amount: Decimal) -> Decimal:
    """A price as the driver pays it, tax included, to a hundredth of a cent."""
    return (amount * (1 + tariff.tax_rate)).quantize(Decimal("0.0001"))


def _price(amount: Decimal) -> str:
    """Two to four decimals: 0.3 is 0.30, 0.3999 stays 0.3999."""
    whole, _, fraction = format(amount.quantize(Decimal("0.0001")).normalize(), "f").partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def assignment_in_force(
    assignments: Sequence[TariffAssignment], place: Place, moment: datetime
) -> TariffAssignment | None:
    candidates = [a for a in assignments if _matches(a, place) and _is_valid_at(a, moment)]
    return max(candidates, key=_precedence, default=None)


def tariff_periods(
    assignments: Sequence[TariffAssignment],
    tariffs: dict[int, Tariff],
    place: Place,
    *,
    start: datetime,
    end: datetime | None,
) -> list[TariffPeriod]:
    """The tariffs in force for `place` from `start` to `end` (None: open-ended), cut where one changes."""
    matching = [a for a in assignments if _matches(a, place)]
    changes = {m for a in matching for m in (a.valid_from, a.valid_to) if m is not None and m > start}
    cuts = sorted(m for m in changes if end is None or m < end)
    periods: list[TariffPeriod] = []
    for starts, ends in zip([start, *cuts], [*cuts, None], strict=True):
        chosen = assignment_in_force(matching, place, starts)
        if chosen is not None:
            periods.append(TariffPeriod(prices_of(tariffs[chosen.tariff_id]), starts=starts, ends=ends))
    return periods


def prices_of(tariff: Tariff) -> Prices:
    return Prices(
        tariff_id=tariff.id,
        currency=tariff.currency,
        per_kwh=tariff.price_per_kwh,
        per_charging_minute=tariff.price_per_charging_minute,
        per_idle_minute=tariff.price_per_idle_minute,
        session_fee=tariff.session_fee,
        tax_rate=tariff.tax_rate,
    )


def _matches(assignment: TariffAssignment, place: Place) -> bool:
    in_group = assignment.parent_id_tag is None or assignment.parent_id_tag in (place.group, place.id_tag)
    at_charger = assignment.charge_point_id is None or assignment.charge_point_id == place.charge_point_id
    at_connector = assignment.connector_id is None or assignment.connector_id == place.connector_id
    return in_group and at_charger and at_connector


def _is_valid_at(assignment: TariffAssignment, moment: datetime) -> bool:
    started = assignment.valid_from is None or assignment.valid_from <= moment
    return started and (assignment.valid_to is None or moment < assignment.valid_to)


def _precedence(assignment: TariffAssignment) -> tuple[bool, bool, bool, datetime, int]:
    return (
        assignment.parent_id_tag is not None,
        assignment.connector_id is not None,
        assignment.charge_point_id is not None,
        assignment.valid_from or _EARLIEST,
        assignment.id,
    )


def default_tariff_command(tariff: Tariff, *, evse_id: int) -> SetDefaultTariff:
    """csms's tariff as the command that keeps it on a charger as its default (2.1 SetDefaultTariff), on
    `evse_id` (0: the whole charger). Its id on the charger is csms's, so a later one is told apart."""
    return SetDefaultTariff(
        evse_id=evse_id,
        tariff_id=f"csms-{tariff.id}",
        name=tariff.name,
        currency=tariff.currency,
        price_per_kwh=str(tariff.price_per_kwh),
        price_per_charging_minute=str(tariff.price_per_charging_minute),
        price_per_idle_minute=str(tariff.price_per_idle_minute),
        session_fee=str(tariff.session_fee),
        tax_rate=str(tariff.tax_rate),
    )


async def page_of_tariffs(
    session: AsyncSession, *, offset: int, limit: int, created_from: datetime | None, created_to: datetime | None
) -> tuple[list[Tariff], int]:
    """Tariffs created in [created_from, created_to), oldest first, and how many there are in all (a paginated
    list for OCPI parties: a tariff is never edited, so its creation is its last update)."""
    conditions = []
    if created_from is not None:
        conditions.append(Tariff.created_at >= created_from)
    if created_to is not None:
        conditions.append(Tariff.created_at < created_to)
    total = await session.scalar(select(func.count()).select_from(Tariff).where(*conditions))
    query = select(Tariff).where(*conditions).order_by(Tariff.id).offset(offset).limit(limit)
    return list(await session.scalars(query)), int(total or 0)
