"""Sandbox fixtures: every backend that isolates (see rf_sandbox_support), so the hazard suite runs on each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rf_sandbox_support import BACKENDS, HAZARD_BACKENDS, make_backend, make_local_backend

from rewardforge.sandbox import SandboxBackend


@pytest.fixture(scope="session")
def local_backend() -> Iterator[SandboxBackend]:
    backend = make_local_backend()
    yield backend
    backend.close()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[SandboxBackend]:
    """Each isolating backend in turn (module scope: the Docker pool stays warm across a module)."""
    instance = make_backend(request.param)
    yield instance
    instance.close()


@pytest.fixture(scope="module", params=HAZARD_BACKENDS)
def hazard_backend(request: pytest.FixtureRequest) -> Iterator[SandboxBackend]:
    """`backend`, plus the local backend's cold and unshare ways to run."""
    instance = make_backend(request.param)
    yield instance
    instance.close()
