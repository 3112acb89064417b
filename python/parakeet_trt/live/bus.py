"""Fan-out bus: one producer, N readers, each with its own bounded queue of the same objects
(one copy of the audio). A reader that falls behind never blocks the producer: when its queue is
full its oldest item is dropped and counted (a live source cannot wait); a lossless reader instead
makes publish() wait for room (a file can)."""

from __future__ import annotations

import asyncio

_END = object()


class BusReader:
    def __init__(self, name: str, maxsize: int, lossless: bool):
        self.name, self.lossless = name, lossless
        self.queue: asyncio.Queue = asyncio.Queue(maxsize)
        self.dropped = 0

    async def get(self):
        """Next item, or None once the bus is closed and drained."""
        item = await self.queue.get()
        return None if item is _END else item

    def __aiter__(self):
        return self

    async def __anext__(self):
        item = await self.get()
        if item is None:
            raise StopAsyncIteration
        return item


class FanOutBus:
    def __init__(self):
        self.readers: list[BusReader] = []
        self.closed = False

    def subscribe(self, name: str, *, maxsize: int = 256, lossless: bool = True) -> BusReader:
        reader = BusReader(name, maxsize, lossless)
        self.readers.append(reader)
        return reader

    async def publish(self, item) -> None:
        if self.closed:
            raise RuntimeError("publish() on a closed bus")
        for reader in self.readers:
            if reader.lossless:
                await reader.queue.put(item)
            else:
                while reader.queue.full():
                    reader.queue.get_nowait()
                    reader.dropped += 1
                reader.queue.put_nowait(item)

    async def close(self) -> None:
        self.closed = True
        for reader in self.readers:
            if reader.lossless:
                await reader.queue.put(_END)
                continue
            while reader.queue.full():
                reader.queue.get_nowait()
                reader.dropped += 1
            reader.queue.put_nowait(_END)
