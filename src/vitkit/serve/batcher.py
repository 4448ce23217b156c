"""Dynamic batching: images from concurrent requests gathered into one forward pass.

One asyncio task per batcher collects submitted inputs until ``max_batch`` are queued or ``max_delay_s``
has passed since the first, then runs ``fn`` on the stacked batch in ``executor`` (off the event loop)
and hands each caller its row. It waits for more only while requests are known to be on their way
(``expect``: images still being decoded), so a lone client pays no delay, while under load the batch
fills up as the previous forward pass runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import torch


class DynamicBatcher:
    """``await submit(x)`` -> ``fn(stack([x, ...]))[i]`` for the caller's ``x`` (C, H, W)."""

    def __init__(
        self, fn: Callable[[torch.Tensor], Any], executor: Executor, max_batch: int = 32, max_delay_s: float = 0.005
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch: expected a positive int, got {max_batch}")
        self.fn, self.executor = fn, executor
        self.max_batch, self.max_delay_s = max_batch, max(0.0, max_delay_s)
        self.queue: list[tuple[torch.Tensor, asyncio.Future]] = []
        self.expected = 0  # images announced by ``expect`` and not yet submitted
        self.forwards = self.images = self.max_size = 0  # counts of what ran (for /v1/model and bench-serve)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start the collecting task on the running loop."""
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is not None:
            while self.queue:
                await asyncio.sleep(0.001)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def expect(self, n: int) -> None:
        """``n`` images are being decoded and will be submitted (or ``expect(-n)`` if they fail)."""
        self.expected = max(0, self.expected + n)
        self._notify()

    def enqueue(self, x: torch.Tensor, expected: bool = True) -> asyncio.Future:
        """Queue one input now; the future gets its row of the output (``expected``: announced by ``expect``).

        Synchronous, so that the announcement is settled even if the caller is cancelled right after;
        cancelling the future drops the input from its batch."""
        future = asyncio.get_running_loop().create_future()
        self.queue.append((x, future))
        if expected:
            self.expected = max(0, self.expected - 1)
        self._notify()
        return future

    async def submit(self, x: torch.Tensor, expected: bool = True) -> Any:
        """Queue one input and wait for its row of the output."""
        return await self.enqueue(x, expected)

    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wait_for(lambda: bool(self.queue), None)
            deadline = time.monotonic() + self.max_delay_s
            await self._wait_for(lambda: len(self.queue) >= self.max_batch or not self.expected, deadline)
            batch, self.queue = self.queue[: self.max_batch], self.queue[self.max_batch :]
            await self._forward(batch)

    async def _wait_for(self, ready: Callable[[], bool], deadline: float | None) -> None:
        while not ready():
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                return

    async def _forward(self, batch: list[tuple[torch.Tensor, asyncio.Future]]) -> None:
        live = [(x, f) for x, f in batch if not f.done()]  # callers that timed out or went away are skipped
        if not live:
            return
        self.forwards, self.images, self.max_size = (
            self.forwards + 1,
            self.images + len(live),
            max(self.max_size, len(live)),
        )
        x = torch.stack([x for x, _ in live])
        try:
            out = await asyncio.get_running_loop().run_in_executor(self.executor, self.fn, x)
        except Exception as e:  # noqa: BLE001 -- the model failed: every caller of this batch gets the error, the loop goes on
            for _, f in live:
                if not f.done():
                    f.set_exception(e)
            return
        for i, (_, f) in enumerate(live):
            if not f.done():
                f.set_result(out[i])
