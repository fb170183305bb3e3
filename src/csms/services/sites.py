"""Sites: chargers behind one grid connection, and the limit csms keeps them under.

What an operator sets (the site, its chargers, its limit, an override, windows of the day) and what the
allocator recorded (each session's limit, the site's current over time). The allocating itself is in
services/site_load.py; the sharing rule in services/load_allocation.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger, Site, SiteAllocation, SiteCharger, SiteLimitWindow, SiteSample
from csms.services.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from csms.services.load_allocation import STRATEGIES

PHASES = (1, 3)
MINUTES_PER_DAY = 24 * 60
# The voltage per phase the allocator counts power with (services/site_load.py): a limit in amperes is
# worth limit * phases * 230 W.
NOMINAL_VOLTS = 230.0


@dataclass(frozen=True, slots=True)
class SiteSettings:
    """What an operator sets on a site; `check` refuses what cannot be."""

    name: str
    max_current_a: float
    phases: int = 3
    min_current_a: float = 6.0
    strategy: str = "equal"
    charger_max_current_a: float = 32.0
    timezone: str = "UTC"

    def check(self) -> None:
        if self.phases not in PHASES:
            raise InvalidInput("phases: a site is fed by 1 or 3 phases")
        if self.strategy not in STRATEGIES:
            raise InvalidInput(f"strategy: one of {', '.join(STRATEGIES)}")
        if self.min_current_a > self.charger_max_current_a:
            raise InvalidInput("min_current_a: more than a charger of the site can give (charger_max_current_a)")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"timezone: {self.timezone!r} is not a known time zone (e.g. Europe/Berlin)") from None


@dataclass(frozen=True, slots=True)
class LimitWindow:
    """From `start_minute` to `end_minute` after midnight (site time), at most `max_current_a`."""

    start_minute: int
    end_minute: int
    max_current_a: float

    def covers(self, minute: int) -> bool:
        if self.start_minute <= self.end_minute:
            return self.start_minute <= minute < self.end_minute
        return minute >= self.start_minute or minute < self.end_minute  # over midnight


async def create_site(
    session: AsyncSession, settings: SiteSettings, charge_point_ids: Sequence[str], *, now: datetime
) -> Site:
    settings.check()
    if await session.scalar(select(Site.id).where(Site.name == settings.name)) is not None:
        raise AlreadyExists(f"a site is named {settings.name!r} already")
    site = Site(
        name=settings.name,
        max_current_a=settings.max_current_a,
        phases=settings.phases,
        min_current_a=settings.min_current_a,
        strategy=settings.strategy,
        charger_max_current_a=settings.charger_max_current_a,
        timezone=settings.timezone,
        created_at=now,
    )
    session.add(site)
    await session.flush()
    await _place_chargers(session, site.id, charge_point_ids)
    await session.commit()
    return site


async def update_site(
    session: AsyncSession, site_id: int, settings: SiteSettings, charge_point_ids: Sequence[str] | None
) -> tuple[Site, set[str]]:
    """The site changed; with `charge_point_ids`, its chargers become exactly those. Also the chargers that
    left it (their limits are the allocator's to lift)."""
    settings.check()
    site = await get_site(session, site_id)
    clash = await session.scalar(select(Site.id).where(Site.name == settings.name, Site.id != site_id))
    if clash is not None:
        raise AlreadyExists(f"a site is named {settings.name!r} already")
    for name in ("name", "max_current_a", "phases", "min_current_a", "strategy", "charger_max_current_a", "timezone"):
        setattr(site, name, getattr(settings, name))
    left: set[str] = set()
    if charge_point_ids is not None:
        before = set(await charger_ids(session, site_id))
        left = before - set(charge_point_ids)
        await session.execute(delete(SiteCharger).where(SiteCharger.charge_point_id.in_(left)))
        await _place_chargers(session, site_id, [cp for cp in charge_point_ids if cp not in before])
    await session.commit()
    return site, left


async def delete_site(session: AsyncSession, site_id: int) -> list[str]:
    """Delete the site; the chargers that were on it."""
    site = await get_site(session, site_id)
    members = await charger_ids(session, site_id)
    await session.delete(site)
    await session.commit()
    return members


async def get_site(session: AsyncSession, site_id: int) -> Site:
    site = await session.get(Site, site_id)
    if site is None:
        raise NotFound(f"no site {site_id}")
    return site


async def list_sites(session: AsyncSession) -> list[Site]:
    return list(await session.scalars(select(Site).order_by(Site.name)))


async def charger_ids(session: AsyncSession, site_id: int) -> list[str]:
    query = select(SiteCharger.charge_point_id).where(SiteCharger.site_id == site_id)
    return sorted(await session.scalars(query))


async def site_of(session: AsyncSession, charge_point_id: str) -> int | None:
    return await session.scalar(select(SiteCharger.site_id).where(SiteCharger.charge_point_id == charge_point_id))


async def site_holding(session: AsyncSession, charge_point_id: str) -> Site | None:
    """The site the charger is on, if any."""
    query = select(Site).join(SiteCharger, SiteCharger.site_id == Site.id)
    return await session.scalar(query.where(SiteCharger.charge_point_id == charge_point_id))


async def memberships(session: AsyncSession) -> dict[str, int]:
    """Every charger that is on a site, and its site."""
    rows = await session.execute(select(SiteCharger.charge_point_id, SiteCharger.site_id))
    return dict(rows.all())


async def set_override(
    session: AsyncSession, site_id: int, max_current_a: float, until: datetime | None, *, now: datetime
) -> Site:
    """An energy manager's or demand-response limit, in force until `until` (for good without one)."""
    if until is not None and until <= now:
        raise InvalidInput("until: the moment has passed")
    site = await get_site(session, site_id)
    site.limit_override_a, site.limit_override_until = max_current_a, until
    await session.commit()
    return site


async def clear_override(session: AsyncSession, site_id: int) -> Site:
    site = await get_site(session, site_id)
    site.limit_override_a, site.limit_override_until = None, None
    await session.commit()
    return site


async def set_windows(session: AsyncSession, site_id: int, windows: Sequence[LimitWindow]) -> list[LimitWindow]:
    """The site's limits for parts of every day, replacing those it had; windows may not overlap."""
    await get_site(session, site_id)
    _refuse_overlaps(windows)
    await session.execute(delete(SiteLimitWindow).where(SiteLimitWindow.site_id == site_id))
    session.add_all(
        SiteLimitWindow(
            site_id=site_id, start_minute=w.start_minute, end_minute=w.end_minute, max_current_a=w.max_current_a
        )
        for w in windows
    )
    await session.commit()
    return list(windows)


async def windows_of(session: AsyncSession, site_id: int) -> list[LimitWindow]:
    query = select(SiteLimitWindow).where(SiteLimitWindow.site_id == site_id).order_by(SiteLimitWindow.start_minute)
    return [LimitWindow(w.start_minute, w.end_minute, w.max_current_a) for w in await session.scalars(query)]


def limit_in_force(site: Site, windows: Sequence[LimitWindow], now: datetime) -> float:
    """The operator's override while it lasts, else the window of the day that covers now, else the
    grid connection's limit."""
    if site.limit_override_a is not None and (site.limit_override_until is None or now < site.limit_override_until):
        return site.limit_override_a
    local = now.astimezone(ZoneInfo(site.timezone))
    minute = local.hour * 60 + local.minute
    for window in windows:
        if window.covers(minute):
            return window.max_current_a
    return site.max_current_a


async def allocations(session: AsyncSession, site_id: int) -> list[SiteAllocation]:
    query = select(SiteAllocation).where(SiteAllocation.site_id == site_id).order_by(SiteAllocation.transaction_id)
    return list(await session.scalars(query))


@dataclass(frozen=True, slots=True)
class Allowance:
    """What a site lets one charging session take now: its limit per phase, and the site's phases."""

    current_a: float
    phases: int
    state: str

    @property
    def power_w(self) -> float:
        return round(self.current_a * self.phases * NOMINAL_VOLTS, 1)


async def allowances(session: AsyncSession, transaction_ids: Sequence[int]) -> dict[int, Allowance]:
    """The allowance of each of these transactions that runs on a site (the others are not named)."""
    if not transaction_ids:
        return {}
    query = (
        select(SiteAllocation.transaction_id, SiteAllocation.limit_a, SiteAllocation.state, Site.phases)
        .join(Site, Site.id == SiteAllocation.site_id)
        .where(SiteAllocation.transaction_id.in_(set(transaction_ids)))
    )
    rows = await session.execute(query)
    return {tx: Allowance(current_a=limit, phases=phases, state=state) for tx, limit, state, phases in rows}


async def samples(session: AsyncSession, site_id: int, *, since: datetime) -> list[SiteSample]:
    query = select(SiteSample).where(SiteSample.site_id == site_id, SiteSample.at >= since).order_by(SiteSample.at)
    return list(await session.scalars(query))


async def latest_sample_at(session: AsyncSession, site_id: int) -> datetime | None:
    return await session.scalar(select(func.max(SiteSample.at)).where(SiteSample.site_id == site_id))


async def _place_chargers(session: AsyncSession, site_id: int, charge_point_ids: Sequence[str]) -> None:
    if not charge_point_ids:
        return
    wanted = set(charge_point_ids)
    known = set(await session.scalars(select(Charger.charge_point_id).where(Charger.charge_point_id.in_(wanted))))
    if unknown := sorted(wanted - known):
        raise InvalidInput(f"charge_point_ids: no charger {', '.join(unknown)}")
    taken = await session.execute(
        select(SiteCharger.charge_point_id, SiteCharger.site_id).where(
            SiteCharger.charge_point_id.in_(wanted), SiteCharger.site_id != site_id
        )
    )
    if clashes := sorted(f"{cp} (site {other})" for cp, other in taken):
        raise Conflict(f"a charger is on one site at most: {', '.join(clashes)}")
    session.add_all(SiteCharger(charge_point_id=cp, site_id=site_id) for cp in sorted(wanted))


def _refuse_overlaps(windows: Sequence[LimitWindow]) -> None:
    for window in windows:
        if not (0 <= window.start_minute < MINUTES_PER_DAY and 0 <= window.end_minute < MINUTES_PER_DAY):
            raise InvalidInput("windows: times of day run from 00:00 to 23:59")
        if window.start_minute == window.end_minute:
            raise InvalidInput("windows: a window ends after it starts")
    covered = [[w.covers(minute) for minute in range(MINUTES_PER_DAY)] for w in windows]
    for index, minutes in enumerate(covered):
        for other in covered[index + 1 :]:
            if any(a and b for a, b in zip(minutes, other, strict=True)):
                raise InvalidInput("windows: two windows overlap")
