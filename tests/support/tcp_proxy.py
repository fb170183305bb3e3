"""A TCP proxy in front of a server (PostgreSQL, NATS) that tests cut, blackhole and restore.

`cut()` is an outage the peers notice: every connection is reset and new ones are refused until
`start()` again. `blackhole()` is one they do not: the sockets stay open and connections are still
accepted, but nothing is forwarded either way, as when a firewall starts dropping packets. `heal()`
ends it; what was sent meanwhile is then delivered (TCP retransmits once the path is back), unless
the blackhole was opened with `discard=True`, which loses it (connections then carry on from
whatever comes next, which a framed protocol may not survive).
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.support.processes import free_port


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 in front of `target_port` that the test cuts, blackholes and restores."""

    def __init__(self, target_port: int = 5432) -> None:
        self.port = free_port()
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._discard = False

    def in_front_of(self, database_url: str) -> str:
        """`database_url` (a local PostgreSQL's) with its connections going through this proxy."""
        return database_url.replace(f"127.0.0.1:{self._target_port}", f"127.0.0.1:{self.port}")

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def restore(self) -> None:
        """Accept connections again after a cut, on the same port."""
        await self.start()

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def blackhole(self, *, discard: bool = False) -> None:
        """Keep every socket open and accept new ones, but forward nothing in either direction."""
        self._discard = discard
        self._flowing.clear()

    def heal(self) -> None:
        self._discard = False
        self._flowing.set()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        self._writers.update({client_writer, upstream_writer})
        for source, sink in ((client_reader, upstream_writer), (upstream_reader, client_writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                if not self._flowing.is_set():
                    if self._discard:
                        continue
                    await self._flowing.wait()  # held, as the network holds unacknowledged segments
                sink.write(data)
                await sink.drain()
        sink.close()
