"""Helpers for the reward-server tests: a real `rewardforge serve` process on loopback, and its metrics."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families
from rf_test_support import RF, TESTS

TOKEN = "rf-test-token-0123456789abcdef"
STARTUP_S = 90.0  # imports (fastapi, sympy) on a loaded 2-core machine


@dataclass
class Server:
    """A running `rewardforge serve`: its URL, process and what it printed."""

    url: str
    process: subprocess.Popen[str]
    token: str | None = None
    lines: list[str] = field(default_factory=list)

    def client(self, base_url: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=base_url or self.url, headers=headers, timeout=60)

    def rss_mb(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def workers(self) -> list[psutil.Process]:
        """The engine's worker processes (warm pool) under this server."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        return [p for p in children if "rewardforge.core.workers" in " ".join(_cmdline(p))]


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []


def env_for_server() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextmanager
def running_server(*args: str, token_file: Path | None = None, cwd: Path | None = None,
                   token: str | None = None) -> Iterator[Server]:
    """Start `rewardforge serve --port 0 ARGS`, wait for its address line, stop it (SIGTERM) afterwards."""
    command = [*RF, "serve", "--port", "0", *args]
    if token_file is not None:
        command += ["--token-file", str(token_file)]
        token = token or TOKEN
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env_for_server(), cwd=cwd)
    assert process.stdout is not None
    lines: list[str] = []
    url = _wait_for_url(process, lines)
    server = Server(url, process, token, lines)
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        _wait_healthy(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(5)


def _wait_for_url(process: subprocess.Popen[str], lines: list[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"on (http://\S+)", line)
        if found:
            return found.group(1)
    process.kill()
    raise AssertionError("server did not start:\n" + "".join(lines) + (process.stdout.read() or ""))


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server never answered /healthz:\n" + "".join(server.lines))


def write_token(path: Path, token: str = TOKEN) -> Path:
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text -> {(sample name, sorted labels): value}."""
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def metric(values: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)
