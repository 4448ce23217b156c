"""The peers as their users run them: in a worker process without vitkit's MKL library.

The ``vitkit`` command loads a library into its process that makes torch's MKL run its instruction-set
kernels on AMD CPUs (``vitkit/runtime/mkl_amd.py``). Every MKL matmul of that process gains, timm's, torchvision's and
transformers' included, were they timed there -- which their users do not get. So where that library is
loaded, the bench builds and times the peers in this worker: a Python process started with
``VITKIT_MKL_AMD=0`` and the same thread count, running torch as it ships. The rounds still alternate
(vitkit here, each peer there, in turn), one process at a time, and every sample is timed inside the
process that runs it, so the messages between the two are never timed.

Protocol: one JSON object per line each way on the worker's stdin and stdout (the libraries' own prints
go to its stderr); a request names an ``op`` (``hello``, ``build``, ``warm_up``, ``timed``, ``release``,
``matmul``), an answer carries the result or ``{"error": "..."}``.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import IO, Any

from ..runtime import accel, mkl_amd
from .cases import Case
from .matmul_peak import matmul_gflops
from .workload import Options, Plan, make_workload


class WorkerError(RuntimeError):
    """What failed in the worker, as one line."""


class PeerProcess:
    """The worker, started on entry and stopped on exit (``with PeerProcess(threads) as peers: ...``)."""

    def __init__(self, threads: int | None) -> None:
        env = {**os.environ, mkl_amd.ENV: "0"}
        # not -m: vitkit.bench imports this module. enable() as the vitkit command does (it declines: the opt-out
        # is set), so that the worker's status says why the library is not loaded
        code = "import vitkit.runtime.mkl_amd as m; m.enable(); from vitkit.bench.worker import main; main()"
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.hello = self.call("hello", threads=threads)

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise WorkerError(f"bench worker exited (code {self._proc.poll()}) during {op!r}")
        answer = json.loads(line)
        if "error" in answer:
            raise WorkerError(answer["error"])
        return answer

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()  # type: ignore[union-attr]
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()

    def __enter__(self) -> PeerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class RemoteContender:
    """A workload of the worker, for ``timing.alternate``: warmed up and timed there."""

    name: str
    images: int
    peers: PeerProcess

    def warm_up(self, warmup: int, min_sample_s: float) -> int:
        return int(self.peers.call("warm_up", library=self.name, warmup=warmup, min_sample_s=min_sample_s)["steps"])

    def timed(self, n: int) -> float:
        return float(self.peers.call("timed", library=self.name, n=n)["seconds"])


@dataclass
class RemoteWorkload:
    """What ``run`` needs of a workload built in the worker (the fields of ``workload.Workload``)."""

    library: str
    case: Case
    plan: Plan
    setup_s: float
    first_step_s: float | None
    peers: PeerProcess
    onnx_path: str | None = None

    def contender(self) -> RemoteContender:
        return RemoteContender(self.library, self.case.batch, self.peers)


def build_remote(peers: PeerProcess, library: str, case: Case, opts: Options) -> RemoteWorkload:
    """Build ``library``'s workload for ``case`` in the worker and run its first step there."""
    a = peers.call("build", library=library, case=case.to_json(), options=opts.to_dict())
    return RemoteWorkload(library, case, Plan(**a["plan"]), a["setup_s"], a["first_step_s"], peers)


def _handle(req: dict[str, Any], works: dict[str, Any]) -> dict[str, Any]:
    op = req["op"]
    if op == "hello":
        return {"threads": accel.set_threads(req["threads"]), "blas": mkl_amd.status(), "pid": os.getpid()}
    if op == "build":
        w = make_workload(req["library"], Case.from_json(req["case"]), Options(**req["options"]))
        w.trial()
        works[w.library] = w
        return {"plan": asdict(w.plan), "setup_s": w.setup_s, "first_step_s": w.first_step_s}
    if op == "warm_up":
        return {"steps": works[req["library"]].contender().warm_up(req["warmup"], req["min_sample_s"])}
    if op == "timed":
        return {"seconds": works[req["library"]].contender().timed(req["n"])}
    if op == "release":
        works.clear()
        gc.collect()
        return {}
    if op == "matmul":
        return matmul_gflops(req["n"])
    raise ValueError(f"unknown op {op!r}")


def serve(requests: IO[str], answers: IO[str]) -> None:
    """Answer each request line until the input ends."""
    works: dict[str, Any] = {}
    for line in requests:
        try:
            answer = _handle(json.loads(line), works)
        except Exception as e:  # noqa: BLE001 -- reported to the parent as one line
            answer = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main() -> None:
    """The worker process: serve stdin, answer on (the real) stdout."""
    answers = os.fdopen(os.dup(1), "w")  # the protocol keeps the real stdout...
    os.dup2(2, 1)  # ...and whatever the libraries print goes to stderr
    sys.stdout = sys.stderr
    serve(sys.stdin, answers)


if __name__ == "__main__":
    main()
