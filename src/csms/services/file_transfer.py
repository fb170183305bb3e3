"""Which scheme a charger's firmware and diagnostics links use: http, ftp or ftps.

Many OCPP 1.6 chargers fetch firmware and upload diagnostics only over FTP (they answer an http://
link with "Unsupported protocol"). Each charger has a preference: http, ftp or ftps as the operator
set it, or auto. Auto means http, unless the charger's vendor is one the operator listed as FTP-only,
or csms learned otherwise: a charger that reports DownloadFailed or UploadFailed (UploadFailure for
GetLog) within `QUICK_FAILURE` of being sent an http link is taken not to speak HTTP, and its next
link is ftp. Setting the preference again (to auto as well) forgets what was learned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import Charger
from csms.services.errors import NotFound

HTTP, FTP, FTPS, AUTO = "http", "ftp", "ftps", "auto"
PREFERENCES = (AUTO, HTTP, FTP, FTPS)
# A failure this soon after the link went out is the charger refusing the scheme, not a slow network.
QUICK_FAILURE = timedelta(minutes=2)
TRANSFER_FAILED = ("DownloadFailed", "UploadFailed", "UploadFailure")


@dataclass(frozen=True, slots=True)
class Offered:
    """The schemes this csms serves links with (ftp and ftps only with their server running)."""

    ftp: bool = False
    ftps: bool = False
    ftp_only_vendors: tuple[str, ...] = ()

    def serves(self, scheme: str) -> bool:
        return scheme == HTTP or (scheme == FTP and self.ftp) or (scheme == FTPS and self.ftps)


def scheme_for(charger: Charger, offered: Offered) -> str:
    """The scheme of the next link for `charger`: its preference, when csms serves it; else http."""
    wanted = charger.file_transfer
    if wanted == AUTO:
        wanted = charger.file_transfer_learned or (FTP if _is_ftp_only_vendor(charger, offered) else HTTP)
    return wanted if offered.serves(wanted) else HTTP


def _is_ftp_only_vendor(charger: Charger, offered: Offered) -> bool:
    vendor = (charger.vendor or "").casefold()
    return bool(vendor) and vendor in (listed.casefold() for listed in offered.ftp_only_vendors)


async def set_preference(session: AsyncSession, charge_point_id: str, preference: str) -> Charger:
    charger = await session.get(Charger, charge_point_id)
    if charger is None:
        raise NotFound(f"unknown charger {charge_point_id}")
    charger.file_transfer, charger.file_transfer_learned = preference, None
    await session.commit()
    return charger


async def learn_from_failure(
    session: AsyncSession,
    charge_point_id: str,
    *,
    status: str,
    scheme_used: str | None,
    sent_at: datetime,
    now: datetime,
) -> None:
    """A quick DownloadFailed/UploadFailed for an http link: an auto charger gets ftp links from now on.

    The caller commits."""
    if status not in TRANSFER_FAILED or scheme_used != HTTP or now - sent_at > QUICK_FAILURE:
        return
    charger = await session.get(Charger, charge_point_id)
    if charger is not None and charger.file_transfer == AUTO:
        charger.file_transfer_learned = FTP
