"""Who may log in to csms's FTP server: the one-time logins csms put in ftp:// links (services/ftp_logins.py).

A login grants one thing: reading the firmware image of one charger's update, or storing the one
diagnostics file of one request. Any username is asked for a password, so a wrong guess learns nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

import aioftp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from csms.services import diagnostics, firmware, ftp_logins
from csms.services.errors import Conflict, NotFound, PermissionDenied
from csms.services.file_links import safe_file_name
from csms.services.file_store import FileStore

logger = logging.getLogger(__name__)

ROOT = PurePosixPath("/")
FIRMWARE_FOLDER = PurePosixPath("/firmware")


@dataclass(frozen=True, slots=True)
class FileTransfers:
    """What the FTP server reads and writes through: the same database, file store and limits as HTTP."""

    session_factory: async_sessionmaker[AsyncSession]
    files: FileStore
    key: bytes
    diagnostics_max_bytes: int
    clock: Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class FirmwareGrant:
    """Read the one image at `path` (the file store's `storage_name`)."""

    path: PurePosixPath
    storage_name: str
    size: int
    created_at: float


@dataclass(frozen=True, slots=True)
class UploadGrant:
    """Store one file, in the root folder, as the diagnostics file of the request."""

    request_id: int


Grant = FirmwareGrant | UploadGrant


class ChargerUser(aioftp.User):
    """An FTP user whose rights are the grant of its login, known once its password checked out."""

    def __init__(self, login: str, transfers: FileTransfers) -> None:
        super().__init__(login, base_path=Path("/"), permissions=[_NOTHING])
        self.transfers = transfers
        self.grant: Grant | None = None


_NOTHING = aioftp.Permission(ROOT, readable=False, writable=False)


class ChargerLogins(aioftp.AbstractUserManager):
    def __init__(self, transfers: FileTransfers, *, forget: Callable[[aioftp.User], None]) -> None:
        super().__init__()
        self._transfers = transfers
        # aioftp keeps a throttle per user object; each login is a new one, so it is dropped at logout.
        self._forget = forget

    async def get_user(self, login: str) -> tuple[aioftp.AbstractUserManager.GetUserResponse, aioftp.User, str]:
        response = aioftp.AbstractUserManager.GetUserResponse.PASSWORD_REQUIRED
        return response, ChargerUser(login, self._transfers), "password required"

    async def authenticate(self, user: aioftp.User, password: str) -> bool:
        if not isinstance(user, ChargerUser) or user.login is None:
            return False
        try:
            user.grant = await self._grant(user.login, password)
        except (PermissionDenied, NotFound, Conflict) as refused:
            logger.info("FTP login %r refused: %s", user.login, refused)
            return False
        # Readable for both: chargers change into the link's folder (CWD), and what there is to read
        # is only what the grant shows (files.py).
        user.permissions = [aioftp.Permission(ROOT, readable=True, writable=isinstance(user.grant, UploadGrant))]
        return True

    async def notify_logout(self, user: aioftp.User) -> None:
        self._forget(user)

    async def _grant(self, username: str, password: str) -> Grant:
        transfers = self._transfers
        login = ftp_logins.verify(transfers.key, username=username, password=password, now=transfers.clock())
        async with transfers.session_factory() as session:
            if login.kind == ftp_logins.DIAGNOSTICS:
                await diagnostics.require_open_upload(session, login.subject_id)
                return UploadGrant(login.subject_id)
            image = await firmware.image_of_update(session, login.subject_id)
        return FirmwareGrant(
            path=FIRMWARE_FOLDER / safe_file_name(image.name),
            storage_name=image.storage_name,
            size=image.size,
            created_at=image.created_at.timestamp(),
        )
