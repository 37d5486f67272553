"""Sandbox fixtures: every backend that isolates, so the hazard suite runs on each.

The Docker engine is started by scripts/setup_docker.sh before the tests. Without it the docker tests
FAIL (CI must not pass without them) unless RF_SKIP_DOCKER=1 says to skip them, loudly.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from rewardforge.sandbox import LocalBackend, SandboxBackend

_DOCKER = pytest.param("docker", marks=pytest.mark.docker)
BACKENDS = ["local", _DOCKER]
# The hazard suite also covers the local backend's other ways to run: "local-cold" (a whole new bwrap per
# job) and "local-unshare" (no bwrap: util-linux unshare, the fallback) must contain the same hazards.
HAZARD_BACKENDS = ["local", "local-cold", "local-unshare", _DOCKER]


def _docker_backend() -> SandboxBackend:
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


def _local_backend(warm: bool = True, method: str = "bwrap") -> SandboxBackend:
    if method == "bwrap" and not shutil.which("bwrap"):
        pytest.fail("bubblewrap is not installed: run scripts/setup_sandbox.sh", pytrace=False)
    backend = LocalBackend(warm=warm, method=method)  # type: ignore[arg-type]
    problem = backend.unavailable_reason()
    if problem is not None:
        pytest.fail(f"local sandbox backend cannot run jobs here: {problem}", pytrace=False)
    return backend


@pytest.fixture(scope="session")
def local_backend() -> Iterator[SandboxBackend]:
    backend = _local_backend()
    yield backend
    backend.close()


def _backend_for(param: str) -> SandboxBackend:
    if param == "docker":
        return _docker_backend()
    return _local_backend(warm=param != "local-cold", method="unshare" if param == "local-unshare" else "bwrap")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[SandboxBackend]:
    """Each isolating backend in turn (module scope: the Docker pool stays warm across a module)."""
    instance = _backend_for(request.param)
    yield instance
    instance.close()


@pytest.fixture(scope="module", params=HAZARD_BACKENDS)
def hazard_backend(request: pytest.FixtureRequest) -> Iterator[SandboxBackend]:
    """`backend`, plus the local backend's cold and unshare ways to run."""
    instance = _backend_for(request.param)
    yield instance
    instance.close()
