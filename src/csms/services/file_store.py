"""Firmware images and diagnostics files on disk, with their size and SHA-256 in the database."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncGenerator, AsyncIterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from csms.db.models import StoredFile
from csms.services.errors import InvalidInput, NotFound, PayloadTooLarge

FIRMWARE = "firmware"
DIAGNOSTICS = "diagnostics"
MAX_NAME_LENGTH = 255


@dataclass(frozen=True, slots=True)
class WrittenFile:
    storage_name: str
    size: int
    sha256: str


class FileStore:
    """Files written under one directory, under random names; the name the uploader gave is metadata."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, storage_name: str) -> Path:
        return self.directory / storage_name

    async def write(self, chunks: AsyncIterable[bytes], *, max_bytes: int) -> WrittenFile:
        """Stream `chunks` to a new file; more than `max_bytes` raises PayloadTooLarge and keeps nothing."""
        new_file = await self.create(max_bytes=max_bytes)
        try:
            async for chunk in chunks:
                await new_file.write(chunk)
        except BaseException:
            await new_file.discard()
            raise
        return await new_file.finish()

    async def remove(self, storage_name: str) -> None:
        await anyio.Path(self.path(storage_name)).unlink(missing_ok=True)

    async def create(self, *, max_bytes: int) -> NewFile:
        """A new file under a random name, written piece by piece (an FTP upload arrives so)."""
        await anyio.Path(self.directory).mkdir(parents=True, exist_ok=True)
        storage_name = secrets.token_hex(16)
        target = anyio.Path(self.path(storage_name))
        return NewFile(storage_name, target, await target.open("wb"), max_bytes=max_bytes)


class NewFile:
    """A file being written into the store: `finish` keeps it, `discard` (or too many bytes) removes it."""

    def __init__(self, storage_name: str, path: anyio.Path, file: anyio.AsyncFile[bytes], *, max_bytes: int) -> None:
        self.storage_name, self._path, self._file, self._max_bytes = storage_name, path, file, max_bytes
        self._digest, self.size = hashlib.sha256(), 0

    async def write(self, chunk: bytes) -> None:
        if self.size + len(chunk) > self._max_bytes:
            await self.discard()
            raise PayloadTooLarge(f"the file is larger than the limit of {self._max_bytes} bytes")
        self._digest.update(chunk)
        self.size += len(chunk)
        await self._file.write(chunk)

    async def finish(self) -> WrittenFile:
        await self._file.aclose()
        return WrittenFile(self.storage_name, self.size, self._digest.hexdigest())

    async def discard(self) -> None:
        await self._file.aclose()
        await self._path.unlink(missing_ok=True)


async def limited(chunks: AsyncIterable[bytes], *, max_bytes: int) -> AsyncGenerator[bytes, None]:
    """The chunks, until their total passes `max_bytes`: then PayloadTooLarge."""
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            raise PayloadTooLarge(f"the file is larger than the limit of {max_bytes} bytes")
        yield chunk


def clean_name(name: str | None, *, default: str) -> str:
    """The last path segment of an uploader's file name, so it can never point elsewhere."""
    cleaned = PurePath((name or "").replace("\\", "/")).name.strip()
    if len(cleaned) > MAX_NAME_LENGTH or not cleaned.isprintable():
        raise InvalidInput(f"a file name has at most {MAX_NAME_LENGTH} printable characters")
    return cleaned or default


async def record_file(
    session: AsyncSession,
    written: WrittenFile,
    *,
    kind: str,
    name: str,
    now: datetime,
    uploaded_by: int | None = None,
    charge_point_id: str | None = None,
    version: str | None = None,
) -> StoredFile:
    stored = StoredFile(
        kind=kind,
        name=name,
        storage_name=written.storage_name,
        size=written.size,
        sha256=written.sha256,
        version=version,
        uploaded_by=uploaded_by,
        charge_point_id=charge_point_id,
        created_at=now,
    )
    session.add(stored)
    await session.commit()
    return stored


async def get_file(session: AsyncSession, file_id: int, *, kind: str) -> StoredFile:
    stored = await session.get(StoredFile, file_id)
    if stored is None or stored.kind != kind:
        raise NotFound(f"{kind} file {file_id} not found")
    return stored


async def list_files(session: AsyncSession, *, kind: str, limit: int = 100) -> list[StoredFile]:
    query = select(StoredFile).where(StoredFile.kind == kind).order_by(StoredFile.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())
