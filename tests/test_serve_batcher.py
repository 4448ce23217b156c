"""The dynamic batcher (in process): concurrent inputs share forward passes, each caller gets its own row,
a lone caller is not delayed, callers that gave up are skipped, a failing model fails only its batch."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from vitkit.serve.batcher import DynamicBatcher


class Recorder:
    """``fn`` for the batcher: doubles its input, records batch sizes, optionally slow or failing."""

    def __init__(self, delay: float = 0.0, fail_on: int | None = None) -> None:
        self.sizes: list[int] = []
        self.threads: set[str] = set()
        self.delay, self.fail_on = delay, fail_on

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(len(x))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        if self.fail_on is not None and len(self.sizes) == self.fail_on:
            raise RuntimeError("model failed")
        return x * 2


def run(coro):
    return asyncio.run(coro)


def test_concurrent_submissions_are_batched_and_rows_go_back_to_their_callers():
    fn = Recorder(delay=0.05)

    async def main():
        b = DynamicBatcher(fn, ThreadPoolExecutor(1, thread_name_prefix="model"), max_batch=8, max_delay_s=0.5)
        b.start()
        b.expect(20)
        xs = [torch.full((3,), float(i)) for i in range(20)]
        out = await asyncio.gather(*(b.submit(x) for x in xs))
        await b.stop()
        return xs, out

    xs, out = run(main())
    for x, y in zip(xs, out):
        assert torch.equal(y, x * 2)
    assert sum(fn.sizes) == 20 and max(fn.sizes) == 8 and len(fn.sizes) == 3  # 8 + 8 + 4
    assert fn.threads and all(t.startswith("model") for t in fn.threads)  # off the event loop


def test_a_lone_request_does_not_wait_for_the_delay():
    fn = Recorder()

    async def main():
        b = DynamicBatcher(fn, ThreadPoolExecutor(1), max_batch=32, max_delay_s=5.0)
        b.start()
        b.expect(1)
        start = time.perf_counter()
        await b.submit(torch.ones(2))
        elapsed = time.perf_counter() - start
        await b.stop()
        return elapsed

    assert run(main()) < 1.0 and fn.sizes == [1]


def test_announced_images_are_waited_for_up_to_the_delay():
    fn = Recorder()

    async def main():
        b = DynamicBatcher(fn, ThreadPoolExecutor(1), max_batch=32, max_delay_s=0.3)
        b.start()
        b.expect(2)  # two images are being decoded; one never arrives (its decode failed late)
        start = time.perf_counter()
        await b.submit(torch.ones(2))
        elapsed = time.perf_counter() - start
        await b.stop()
        return elapsed

    assert 0.25 < run(main()) < 2.0 and fn.sizes == [1]


def test_cancelled_callers_are_skipped_and_a_failure_stays_in_its_batch():
    fn = Recorder(delay=0.1, fail_on=1)

    async def main():
        b = DynamicBatcher(fn, ThreadPoolExecutor(1), max_batch=4, max_delay_s=0.0)
        b.start()
        first = asyncio.ensure_future(b.submit(torch.ones(1), expected=False))
        await asyncio.sleep(0.02)  # the first batch is running (and will fail)
        gone = asyncio.ensure_future(b.submit(torch.ones(1), expected=False))
        kept = asyncio.ensure_future(b.submit(torch.full((1,), 3.0), expected=False))
        await asyncio.sleep(0)
        gone.cancel()
        with pytest.raises(RuntimeError, match="model failed"):
            await first
        result = await kept
        await b.stop()
        return result

    assert torch.equal(run(main()), torch.full((1,), 6.0))
    assert fn.sizes == [1, 1]  # the cancelled caller's input was never computed
