"""A grid in several processes: ``vitkit reproduce --workers N`` and ``torchrun ... vitkit reproduce``.

Every worker runs ``grid.work`` on the same output folder; the claims there decide who runs what, so
the workers need no other channel. Small models use 2 cores better as 2 one-thread processes than as
one two-thread process (less time waiting on each other in small matrix products).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from multiprocessing import connection, get_context
from pathlib import Path

from ..errors import VitkitError
from .declaration import Experiment, ExperimentError
from .grid import work

# torchrun's variables: a grid worker's own training runs are single-process runs, not ranks of one job
TORCHRUN_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK")


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def torchrun_rank() -> tuple[int, int] | None:
    """(rank, world size) when started by torchrun with more than one process, else None."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return (int(os.environ.get("RANK", "0")), world) if world > 1 else None


def as_grid_worker() -> None:
    """Make this torchrun rank a grid worker: its trainings must not join a process group."""
    for name in TORCHRUN_VARIABLES:
        os.environ.pop(name, None)


def run_in_processes(
    exp: Experiment, out: Path, seeds: int, device: str | None, workers: int, log: Callable[[str], None]
) -> int:
    """Run ``exp``'s grid in ``workers`` spawned processes; returns the number of runs they executed.

    A worker's error stops the others (their claims are released; a new invocation resumes the grid).
    """
    threads = max(1, cores() // workers)
    log(f"{exp.name}: {workers} workers x {threads} thread(s)")
    ctx = get_context("spawn")
    pipes, procs = [], []
    for index in range(workers):
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_worker, args=(exp, out, seeds, device, threads, index, send), name=f"grid-worker-{index}"
        )
        proc.daemon = True  # gone with this process; _worker also asks the kernel to kill it if we are killed
        proc.start()
        send.close()
        pipes.append(receive)
        procs.append(proc)
    executed, failure = 0, None
    try:
        waiting = {p.sentinel: (i, p) for i, p in enumerate(procs)}
        while waiting and failure is None:
            for sentinel in connection.wait(list(waiting)):
                index, proc = waiting.pop(sentinel)
                proc.join()
                message = pipes[index].recv() if pipes[index].poll() else ("crash", f"exit code {proc.exitcode}")
                if message[0] == "ok":
                    executed += message[1]
                else:
                    failure = f"reproduce worker {index}: {message[1]}"
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()
    if failure is not None:
        raise ExperimentError(failure)
    return executed


def _worker(exp: Experiment, out: Path, seeds: int, device: str | None, threads: int, index: int, send) -> None:
    _die_with_parent()
    import torch

    torch.set_num_threads(threads)
    try:
        log = functools.partial(print, flush=True)
        executed = work(exp, out, seeds, device, log, tag=f"w{index} ", parents_first=True)
    except VitkitError as e:
        send.send(("error", str(e)))
    except BaseException as e:  # the traceback goes to stderr; the parent reports the worker and the error
        import traceback

        traceback.print_exc()
        send.send(("crash", f"{type(e).__name__}: {e}"))
    else:
        send.send(("ok", executed))


def _die_with_parent() -> None:
    """On Linux: have the kernel kill this worker when the parent dies, even by kill -9."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
