"""Start the service under gunicorn on a free loopback port, for end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(argv: list[str], env: Mapping[str, str], *, port: int, timeout: float = 30.0,
             log_path: Path | None = None) -> Iterator[str]:
    """Run ``argv`` (a gunicorn or ``cds-hooks serve`` command) and yield its base URL once
    ``/healthz`` answers; stop the whole process group afterwards."""
    with ExitStack() as stack:
        log = stack.enter_context(open(log_path, "wb")) if log_path else subprocess.DEVNULL
        process = subprocess.Popen(argv, env={**os.environ, **env}, cwd=ROOT, stdout=log, stderr=log,
                                   start_new_session=True)
        yield from _until_stopped(process, port, timeout, log_path)


def _until_stopped(process: subprocess.Popen, port: int, timeout: float, log_path: Path | None) -> Iterator[str]:
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}; see {log_path}")
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still booting
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start within {timeout} s; see {log_path}")
            time.sleep(0.1)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def serve_command(port: int, workers: int = 2, threads: int = 4) -> list[str]:
    """``cds-hooks serve`` with this interpreter."""
    return [sys.executable, "-m", "cds_hooks.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--threads", str(threads)]


@contextmanager
def serve_like_make_run(tmp: Path, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """``cds-hooks serve`` as ``make run`` starts it (authentication off, the bundled rule sets
    published into an empty database, the default 2 workers and 4 threads), with the SQLite file
    and the log (``serve.log``) in ``tmp`` and on a free port instead of 8080; ``env`` adds
    settings (e.g. admin tokens). Yields the base URL once ``/healthz`` answers."""
    port = free_port()
    settings = {"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp}/serve.sqlite3", **(env or {})}
    with gunicorn(serve_command(port), settings, port=port, log_path=tmp / "serve.log") as base:
        yield base
