"""Shared fixtures for the kernel tests: which device each path runs on.

The Triton path runs on CUDA when there is a GPU, else in Triton's CPU interpreter. Triton reads
TRITON_INTERPRET when ``triton`` is first imported (trl and liger import it), so it is set here, before
the test modules are imported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

# --import-mode=importlib leaves sys.path alone; the shared helpers (kernel_cases) are imported by name.
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


def _device_for(path: str) -> torch.device:
    if path != "triton":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    import triton.language as tl
    from triton.runtime.interpreter import InterpretedFunction

    if not isinstance(tl.max, InterpretedFunction):
        pytest.fail("triton was imported before tests/kernels/conftest.py could set TRITON_INTERPRET=1; run "
                    "the suite with TRITON_INTERPRET=1 in the environment on a machine without a GPU")
    return torch.device("cpu")


@pytest.fixture(params=["chunked", "triton"])
def fast_path(request: pytest.FixtureRequest) -> tuple[str, torch.device]:
    """Each non-reference path with the device it runs on."""
    return request.param, _device_for(request.param)


@pytest.fixture
def triton_device() -> torch.device:
    return _device_for("triton")
