"""Choosing which implementation of a fused op runs.

Every op has three paths: ``reference`` (plain PyTorch, the spec), ``chunked`` (PyTorch, bounded memory,
the CPU default) and ``triton`` (the CUDA default). ``RF_KERNELS`` forces one; an explicit ``impl=``
argument beats the environment so tests and benchmarks can pin a path without touching global state.
"""

from __future__ import annotations

import os
from typing import Literal, cast

import torch

KernelPath = Literal["reference", "chunked", "triton"]
KERNEL_PATHS: tuple[KernelPath, ...] = ("reference", "chunked", "triton")
ENV_VAR = "RF_KERNELS"


def _triton_importable() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def _interpreter_requested() -> bool:
    return os.environ.get("TRITON_INTERPRET", "").strip().lower() in {"1", "true", "yes", "on"}


def resolve_path(tensor: torch.Tensor, impl: str | None = None) -> KernelPath:
    """The path an op should take for ``tensor``: ``impl`` if given, else ``$RF_KERNELS``, else by device.

    Raises ``ValueError`` for an unknown name and ``RuntimeError`` when Triton is forced where it cannot run
    (no triton installed, or a CPU tensor without ``TRITON_INTERPRET=1``), instead of failing deep inside.
    """
    requested = impl if impl is not None else os.environ.get(ENV_VAR, "").strip().lower() or None
    if requested is None:
        return "triton" if tensor.is_cuda and _triton_importable() else "chunked"
    if requested not in KERNEL_PATHS:
        source = "impl" if impl is not None else ENV_VAR
        raise ValueError(f"{source}={requested!r} is not one of {', '.join(KERNEL_PATHS)}")
    if requested == "triton":
        if not _triton_importable():
            raise RuntimeError("the triton kernel path was requested but triton is not installed "
                               "(pip install 'rewardforge[kernels]')")
        if not tensor.is_cuda and not _interpreter_requested():
            raise RuntimeError("the triton kernel path needs a CUDA tensor, or TRITON_INTERPRET=1 to run "
                               "the kernels in Triton's CPU interpreter (fp32 only)")
    return cast(KernelPath, requested)


def interpreted(kernel: object) -> bool:
    """Whether ``kernel`` and Triton's own library functions were built for the CPU interpreter.

    Triton reads TRITON_INTERPRET when ``triton`` is first imported (its ``tl.max``/``tl.sum`` are jitted
    then) and when a kernel is decorated, not when a kernel runs.
    """
    import triton.language as tl
    from triton.runtime.interpreter import InterpretedFunction

    return isinstance(kernel, InterpretedFunction) and isinstance(tl.max, InterpretedFunction)


def check_interpreted_module(tensor: torch.Tensor, is_interpreted: bool) -> None:
    """Fail clearly when CPU tensors meet kernels that were compiled for a GPU."""
    if not tensor.is_cuda and not is_interpreted:
        raise RuntimeError("triton was imported in this process without TRITON_INTERPRET=1, so its kernels "
                           "cannot run on CPU tensors; set TRITON_INTERPRET=1 before anything imports triton")
