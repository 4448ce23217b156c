"""``vitkit serve`` in a child process on a free loopback port: for ``bench-serve`` and the tests.

The child runs this same vitkit (its package folder goes first on ``PYTHONPATH``); its output goes to a
file, since a pipe nobody reads would fill up and block the server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

import vitkit

PACKAGE_ROOT = Path(vitkit.__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python -m vitkit serve ARGS --port P`` on 127.0.0.1; a context manager that waits until ready."""

    def __init__(self, args: list[str], log: str | os.PathLike[str], ready_timeout_s: float = 120.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(log)
        self.ready_timeout_s = ready_timeout_s
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")])}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "vitkit", "serve", *args, "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def wait_ready(self) -> ServerProcess:
        """Poll ``/healthz`` until 200; a RuntimeError with the server's output if it exits or times out."""
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vitkit serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as res:
                    if res.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"vitkit serve not ready after {self.ready_timeout_s:g} s:\n{self.output()}")

    def output(self) -> str:
        """What the server printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        """Signal the server (graceful with SIGTERM), wait, kill it if it does not exit; its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> Self:
        try:
            return self.wait_ready()
        except BaseException:
            self.stop(signal.SIGKILL)
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
