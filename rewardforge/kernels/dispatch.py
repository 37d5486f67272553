"""Choosing which implementation of a fused op runs.

Every op has three paths: ``reference`` (plain PyTorch, the spec), ``chunked`` (PyTorch, bounded memory,
the CPU default) and ``triton`` (the CUDA default). ``RF_KERNELS`` forces one; an explicit ``impl=``
argument beats the environment so tests and benchmarks can pin a path without touching global state.

Precision: the reference and chunked paths compute in fp32, or in fp64 when the op's main input is fp64
(``working_dtype``), so a float64 check of a gradient or a loss is not rounded to fp32 on the way. The
Triton kernels compute in fp32 only: fp64 inputs take the chunked path by default and refuse ``triton``.
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
    wide = tensor.dtype == torch.float64
    if requested is None:
        return "triton" if tensor.is_cuda and not wide and _triton_importable() else "chunked"
    if requested not in KERNEL_PATHS:
        source = "impl" if impl is not None else ENV_VAR
        raise ValueError(f"{source}={requested!r} is not one of {', '.join(KERNEL_PATHS)}")
    if requested == "triton":
        if wide:
            raise ValueError("the triton kernel path computes in fp32; float64 inputs take the chunked or "
                             "reference path, which keep them in float64")
        if not _triton_importable():
            raise RuntimeError("the triton kernel path was requested but triton is not installed "
                               "(pip install 'rewardforge[kernels]')")
        if not tensor.is_cuda and not _interpreter_requested():
            raise RuntimeError("the triton kernel path needs a CUDA tensor, or TRITON_INTERPRET=1 to run "
                               "the kernels in Triton's CPU interpreter (fp32 only)")
    return cast(KernelPath, requested)


def working_dtype(tensor: torch.Tensor) -> torch.dtype:
    """The dtype the PyTorch paths compute in for an op whose main input is ``tensor``: fp64 stays fp64,
    everything else (fp32, bf16, fp16) is computed in fp32."""
    return torch.float64 if tensor.dtype == torch.float64 else torch.float32


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
