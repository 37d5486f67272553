"""Sandbox backends for the tests: every backend that isolates, and how to get one or fail loudly.

The Docker engine is started by scripts/setup_docker.sh before the tests. Without it the docker tests
FAIL (CI must not pass without them) unless RF_SKIP_DOCKER=1 says to skip them, loudly.
"""

from __future__ import annotations

import os
import shutil

import pytest

from rewardforge.sandbox import LocalBackend, SandboxBackend

_DOCKER = pytest.param("docker", marks=pytest.mark.docker)
BACKENDS = ["local", _DOCKER]
# The hazard suite also covers the local backend's other ways to run: "local-cold" (a whole new bwrap per
# job) and "local-unshare" (no bwrap: util-linux unshare, the fallback) must contain the same hazards.
HAZARD_BACKENDS = ["local", "local-cold", "local-unshare", _DOCKER]


def make_docker_backend() -> SandboxBackend:
    skip = os.environ.get("RF_SKIP_DOCKER") == "1"
    try:
        from rewardforge.sandbox.docker import DockerBackend

        backend = DockerBackend()
        problem = backend.unavailable_reason()
    except Exception as exc:  # an import error or a failing engine client is reported the same way
        problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        message = (f"Docker backend unavailable ({problem}). Start the engine and build the image with "
                   "scripts/setup_docker.sh, or set RF_SKIP_DOCKER=1 to skip the Docker tests.")
        if skip:
            pytest.skip("RF_SKIP_DOCKER=1: SKIPPING ALL DOCKER SANDBOX TESTS. " + message)
        pytest.fail(message, pytrace=False)
    return backend


def docker_available_or_skip() -> None:
    """Fails (or, with RF_SKIP_DOCKER=1, skips) loudly when the Docker backend cannot run jobs here."""
    make_docker_backend().close()


def make_local_backend(warm: bool = True, method: str = "bwrap") -> SandboxBackend:
    if method == "bwrap" and not shutil.which("bwrap"):
        pytest.fail("bubblewrap is not installed: run scripts/setup_sandbox.sh", pytrace=False)
    backend = LocalBackend(warm=warm, method=method)  # type: ignore[arg-type]
    problem = backend.unavailable_reason()
    if problem is not None:
        pytest.fail(f"local sandbox backend cannot run jobs here: {problem}", pytrace=False)
    return backend


def make_backend(param: str) -> SandboxBackend:
    """The backend a BACKENDS / HAZARD_BACKENDS parameter names."""
    if param == "docker":
        return make_docker_backend()
    return make_local_backend(warm=param != "local-cold", method="unshare" if param == "local-unshare" else "bwrap")
