"""Dynamic micro-batching: concurrent requests share one forward pass.

Requests put their items on an asyncio queue and await one future per item.
A single loop takes the first waiting item, then every item already queued
up to ``max_batch``, runs the batch in one worker thread, and resolves the
futures. While a batch runs, new requests queue up and form the next batch.
When the previous batch held more than one item (requests are arriving
together), a batch also waits up to ``wait_s`` for more: clients that were
just answered send their next request in that time, and batches stay large.
After a batch of one it does not wait, so a lone client never pays for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """More items are waiting than the batcher accepts."""


class MicroBatcher:
    """Feed items from many coroutines to ``predict(items) -> results`` in batches."""

    def __init__(self, predict: Callable[[list], list], max_batch: int = 32, wait_s: float = 0.0,
                 max_queue: int = 1024, name: str = "fill-mask"):
        self._predict = predict
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.max_queue = max_queue
        self.name = name
        self._executor: ThreadPoolExecutor | None = None
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._last_batch = 0
        self.stats = {"batches": 0, "items": 0, "largest_batch": 0}
        """Batches run, items answered and the largest batch so far."""

    @property
    def waiting(self) -> int:
        """Items queued and not yet in a batch."""
        return self._queue.qsize() if self._queue is not None else 0

    async def start(self) -> None:
        """Begin batching on the running event loop."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop batching; items still waiting are cancelled."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        while self._queue is not None and not self._queue.empty():
            _, future = self._queue.get_nowait()
            future.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(self, items: list) -> list:
        """The results for ``items``, in order, once their batches have run."""
        if self.waiting + len(items) > self.max_queue:
            raise QueueFull(f"{self.waiting} texts are waiting already")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        for item, future in zip(items, futures):
            self._queue.put_nowait((item, future))
        return list(await asyncio.gather(*futures))

    async def _collect(self) -> list:
        batch = [await self._queue.get()]
        wait_s = self.wait_s if self._last_batch > 1 else 0.0
        deadline = asyncio.get_running_loop().time() + wait_s
        while len(batch) < self.max_batch:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        # A client that went away has its futures cancelled: skip its items.
        return [(item, future) for item, future in batch if not future.done()]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            if not batch:
                continue
            items = [item for item, _ in batch]
            self._last_batch = len(items)
            try:
                results = await loop.run_in_executor(self._executor, self._predict, items)
            except asyncio.CancelledError:  # stopping: nobody will answer these
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:  # every waiting request learns of it; the loop goes on
                log.error("A %s batch of %d items failed", self.name, len(items), exc_info=exc)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.stats["batches"] += 1
            self.stats["items"] += len(items)
            self.stats["largest_batch"] = max(self.stats["largest_batch"], len(items))
            for (_, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)
