"""What a charger sees over FTP: only what its login grants, backed by csms's file store.

A firmware login sees `/firmware/<image name>` and may read it (and resume with REST). A diagnostics
login sees an empty root folder and may store one file there; the bytes stream into the file store
under the diagnostics size limit, and the file is recorded on the request exactly as an HTTP upload
is. Anything else (other paths, deleting, renaming, making folders, appending) is refused.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import sys
from collections.abc import AsyncIterable
from pathlib import Path, PurePosixPath

import aioftp
import anyio

from csms.ftp.logins import FIRMWARE_FOLDER, ROOT, ChargerUser, FirmwareGrant, Grant, UploadGrant
from csms.services import diagnostics
from csms.services.errors import Conflict, NotFound, PayloadTooLarge
from csms.services.file_store import NewFile

logger = logging.getLogger(__name__)


class _Download:
    def __init__(self, file: anyio.AsyncFile[bytes]) -> None:
        self.file = file


class _Upload:
    def __init__(self, new_file: NewFile, *, name: str, request_id: int) -> None:
        self.new_file, self.name, self.request_id = new_file, name, request_id


class GrantedFiles(aioftp.AbstractPathIO[Path]):
    """aioftp's file-system interface over one login's grant; aioftp asks it only once logged in."""

    def _user(self) -> ChargerUser:
        user = self.connection.user if self.connection is not None else None
        if not isinstance(user, ChargerUser):
            raise aioftp.PathIOError("not logged in")
        return user

    def _grant(self) -> Grant:
        grant = self._user().grant
        if grant is None:
            raise aioftp.PathIOError("not logged in")
        return grant

    def _folders(self) -> tuple[PurePosixPath, ...]:
        return (ROOT, FIRMWARE_FOLDER) if isinstance(self._grant(), FirmwareGrant) else (ROOT,)

    def _image(self, path: Path) -> FirmwareGrant | None:
        grant = self._grant()
        return grant if isinstance(grant, FirmwareGrant) and PurePosixPath(path) == grant.path else None

    async def exists(self, path: Path) -> bool:
        return await self.is_dir(path) or await self.is_file(path)

    async def is_dir(self, path: Path) -> bool:
        return PurePosixPath(path) in self._folders()

    async def is_file(self, path: Path) -> bool:
        return self._image(path) is not None

    async def mkdir(self, path: Path, *, parents: bool = False, exist_ok: bool = False) -> None:
        raise aioftp.PathIOError("making folders is not permitted")

    async def rmdir(self, path: Path) -> None:
        raise aioftp.PathIOError("removing folders is not permitted")

    async def unlink(self, path: Path) -> None:
        raise aioftp.PathIOError("deleting files is not permitted")

    async def rename(self, source: Path, destination: Path) -> Path:
        raise aioftp.PathIOError("renaming files is not permitted")

    def list(self, path: Path) -> AsyncIterable[Path]:
        grant, folder = self._grant(), PurePosixPath(path)
        if folder == ROOT and isinstance(grant, FirmwareGrant):
            entries = [Path(FIRMWARE_FOLDER)]
        elif folder == FIRMWARE_FOLDER and isinstance(grant, FirmwareGrant):
            entries = [Path(grant.path)]
        else:
            entries = []
        return _Listing(entries, timeout=self.timeout)

    async def stat(self, path: Path) -> os.stat_result:
        image = self._image(path)
        if image is not None:
            return _stat(stat.S_IFREG | 0o444, size=image.size, time=image.created_at)
        if await self.is_dir(path):
            return _stat(stat.S_IFDIR | 0o555, size=0, time=0)
        raise aioftp.PathIOError(f"{path} does not exist")

    async def _open(self, path: Path, mode: str) -> io.BytesIO:
        # aioftp hands the returned object back to read/write/seek/close only; its type is ours.
        image = self._image(path)
        if image is not None and mode == "rb":
            user = self._user()
            opened = await anyio.open_file(user.transfers.files.path(image.storage_name), "rb")
            return _Download(opened)  # type: ignore[return-value]
        grant = self._grant()
        if isinstance(grant, UploadGrant) and mode == "wb" and PurePosixPath(path).parent == ROOT:
            return await self._start_upload(grant, name=path.name)  # type: ignore[return-value]
        raise aioftp.PathIOError(f"{mode} {path} is not permitted")

    async def _start_upload(self, grant: UploadGrant, *, name: str) -> _Upload:
        transfers = self._user().transfers
        async with transfers.session_factory() as session:
            try:
                await diagnostics.require_open_upload(session, grant.request_id)
            except (Conflict, NotFound) as refused:
                raise aioftp.PathIOError(str(refused)) from refused
        new_file = await transfers.files.create(max_bytes=transfers.diagnostics_max_bytes)
        return _Upload(new_file, name=name, request_id=grant.request_id)

    async def seek(self, file: io.BytesIO, offset: int, whence: int = io.SEEK_SET) -> int:
        opened: object = file
        if not isinstance(opened, _Download):
            raise aioftp.PathIOError("an upload cannot resume")
        return await opened.file.seek(offset, whence)

    async def read(self, file: io.BytesIO, block_size: int) -> bytes:
        opened: object = file
        if not isinstance(opened, _Download):
            raise aioftp.PathIOError("reading is not permitted")
        return await opened.file.read(block_size)

    async def write(self, file: io.BytesIO, data: bytes) -> int:
        opened: object = file
        if not isinstance(opened, _Upload):
            raise aioftp.PathIOError("writing is not permitted")
        try:
            await opened.new_file.write(data)  # past the limit it removes what it wrote
        except PayloadTooLarge as too_large:  # aioftp answers 451 and closes the data connection
            logger.info("FTP upload for diagnostics request %s refused: %s", opened.request_id, too_large)
            raise aioftp.PathIOError(str(too_large)) from too_large
        return len(data)

    async def close(self, file: io.BytesIO) -> None:
        opened: object = file
        if isinstance(opened, _Download):
            await opened.file.aclose()
        elif isinstance(opened, _Upload):
            await self._finish_upload(opened)

    async def _finish_upload(self, upload: _Upload) -> None:
        """Keep the upload, unless its transfer failed: aioftp closes the file without saying why, but
        a close on the way out of an aborted, cut or oversized transfer runs with that error in flight."""
        if sys.exc_info()[1] is not None:
            await upload.new_file.discard()
            return
        written = await upload.new_file.finish()
        transfers = self._user().transfers
        try:
            async with transfers.session_factory() as session:
                await diagnostics.store_upload(
                    session, upload.request_id, written, name=upload.name, now=transfers.clock()
                )
        except BaseException as failed:
            await transfers.files.remove(written.storage_name)
            if isinstance(failed, Conflict | NotFound):  # another upload was first
                raise aioftp.PathIOError(str(failed)) from failed
            raise


class _Listing(aioftp.AbstractAsyncLister[Path]):
    def __init__(self, entries: list[Path], *, timeout: float | int | None) -> None:
        super().__init__(timeout=timeout)
        self._entries = iter(entries)

    async def __anext__(self) -> Path:
        try:
            return next(self._entries)
        except StopIteration:
            raise StopAsyncIteration from None


def _stat(mode: int, *, size: int, time: float) -> os.stat_result:
    # (mode, ino, dev, nlink, uid, gid, size, atime, mtime, ctime): aioftp reads mode, nlink, size, times.
    return os.stat_result((mode, 0, 0, 1, 0, 0, size, time, time, time))
