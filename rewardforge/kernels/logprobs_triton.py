"""Triton kernels for row-wise log-probs / entropy and their gradient, one program per row.

Rules kept here (two of them are bugs other projects shipped): all maths in fp32 after loading; columns
past the vocabulary load as -inf and the running max starts at -inf, so padding never leaks into the max or
the sum; the temperature is a ``tl.constexpr``; a single fixed block size (no autotune), which also keeps the
CPU interpreter (``TRITON_INTERPRET=1``, read when triton is first imported) usable in tests.
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl

from .dispatch import check_interpreted_module, interpreted

MAX_BLOCK = 4096


def block_size(cols: int) -> int:
    return min(MAX_BLOCK, triton.next_power_of_2(max(cols, 16)))


@triton.jit
def _row_stats_kernel(
    logits_ptr, index_ptr, logp_ptr, row_max_ptr, log_sum_ptr, entropy_ptr,
    n_cols, row_stride,
    INV_T: tl.constexpr, WITH_ENTROPY: tl.constexpr, BLOCK: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    row_ptr = logits_ptr + row * row_stride
    running_max = float("-inf")
    sum_exp = 0.0
    sum_exp_shifted = 0.0  # sum of exp(z - max) * (z - max), re-centred whenever the max moves
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        valid = cols < n_cols
        z = tl.load(row_ptr + cols, mask=valid, other=float("-inf")).to(tl.float32) * INV_T
        new_max = tl.maximum(running_max, tl.max(z, axis=0))
        rescale = tl.exp(running_max - new_max)
        shifted = z - new_max
        weights = tl.exp(shifted)
        if WITH_ENTROPY:
            moved = tl.where(sum_exp > 0, running_max - new_max, 0.0) * sum_exp
            sum_exp_shifted = (sum_exp_shifted + moved) * rescale + tl.sum(
                weights * tl.where(weights > 0, shifted, 0.0), axis=0)
        sum_exp = sum_exp * rescale + tl.sum(weights, axis=0)
        running_max = new_max
    log_sum = tl.log(sum_exp)
    target = tl.load(index_ptr + row)
    target_z = tl.load(row_ptr + target).to(tl.float32) * INV_T
    tl.store(logp_ptr + row, (target_z - running_max) - log_sum)
    tl.store(row_max_ptr + row, running_max)
    tl.store(log_sum_ptr + row, log_sum)
    if WITH_ENTROPY:
        tl.store(entropy_ptr + row, log_sum - sum_exp_shifted / sum_exp)


@triton.jit
def _row_grad_kernel(
    logits_ptr, grad_ptr, index_ptr, row_max_ptr, log_sum_ptr, entropy_ptr, grad_logp_ptr, grad_entropy_ptr,
    n_cols, row_stride, grad_row_stride,
    INV_T: tl.constexpr, WITH_ENTROPY: tl.constexpr, BLOCK: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    row_ptr = logits_ptr + row * row_stride
    out_ptr = grad_ptr + row * grad_row_stride
    row_max = tl.load(row_max_ptr + row)
    log_sum = tl.load(log_sum_ptr + row)
    g_logp = tl.load(grad_logp_ptr + row).to(tl.float32)
    target = tl.load(index_ptr + row)
    if WITH_ENTROPY:
        entropy = tl.load(entropy_ptr + row)
        g_entropy = tl.load(grad_entropy_ptr + row).to(tl.float32)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        valid = cols < n_cols
        z = tl.load(row_ptr + cols, mask=valid, other=float("-inf")).to(tl.float32) * INV_T
        log_p = (z - row_max) - log_sum
        probs = tl.exp(log_p)
        grad = -g_logp * probs
        if WITH_ENTROPY:
            grad -= g_entropy * probs * (tl.where(probs > 0, log_p, 0.0) + entropy)
        grad = tl.where(cols == target, grad + g_logp, grad) * INV_T
        tl.store(out_ptr + cols, grad.to(grad_ptr.dtype.element_ty), mask=valid)


INTERPRETED = interpreted(_row_grad_kernel)


def _check(logits: torch.Tensor) -> None:
    check_interpreted_module(logits, INTERPRETED)
    if logits.stride(-1) != 1:
        raise ValueError("the triton path needs logits with a contiguous vocabulary dimension")


def row_stats(
    logits: torch.Tensor, index: torch.Tensor, inv_t: float, with_entropy: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logp, lse parts [2, rows]: row max and log-sum, entropy or an empty tensor) of 2-D logits."""
    _check(logits)
    rows, cols = logits.shape
    logp = torch.empty(rows, dtype=torch.float32, device=logits.device)
    lse = torch.empty(2, rows, dtype=torch.float32, device=logits.device)
    entropy = torch.empty_like(logp) if with_entropy else logp.new_empty(0)
    if rows:
        _row_stats_kernel[(rows,)](
            logits, index, logp, lse[0], lse[1], entropy if with_entropy else logp, cols, logits.stride(0),
            INV_T=inv_t, WITH_ENTROPY=with_entropy, BLOCK=block_size(cols),
        )
    return logp, lse, entropy


def row_grad(
    logits: torch.Tensor,
    index: torch.Tensor,
    lse: torch.Tensor,
    grad_logp: torch.Tensor,
    inv_t: float,
    entropy: torch.Tensor | None = None,
    grad_entropy: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """d(loss)/d(logits) for 2-D logits; ``out`` may be ``logits`` itself (each row is read before written)."""
    _check(logits)
    rows, cols = logits.shape
    grad = torch.empty_like(logits) if out is None else out
    with_entropy = entropy is not None and grad_entropy is not None
    if rows:
        _row_grad_kernel[(rows,)](
            logits, grad, index, lse[0].contiguous(), lse[1].contiguous(),
            entropy if with_entropy else grad_logp, grad_logp.contiguous(),
            grad_entropy.contiguous() if with_entropy and grad_entropy is not None else grad_logp,
            cols, logits.stride(0), grad.stride(0),
            INV_T=inv_t, WITH_ENTROPY=with_entropy, BLOCK=block_size(cols),
        )
    return grad


class _TritonSelectiveLogSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, logits: torch.Tensor, index: torch.Tensor, inv_t: float, with_entropy: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logp, lse, entropy = row_stats(logits, index, inv_t, with_entropy)
        ctx.save_for_backward(logits, index, lse, entropy)
        ctx.inv_t, ctx.with_entropy = inv_t, with_entropy
        if not with_entropy:
            ctx.mark_non_differentiable(entropy)
        return logp, entropy

    @staticmethod
    def backward(ctx: Any, grad_logp: torch.Tensor | None, grad_ent: torch.Tensor | None) -> tuple[Any, ...]:
        logits, index, lse, entropy = ctx.saved_tensors
        grad_logp = torch.zeros_like(lse[0]) if grad_logp is None else grad_logp.float()
        grad_ent = grad_ent.float() if ctx.with_entropy and grad_ent is not None else None
        grad = row_grad(logits, index, lse, grad_logp, ctx.inv_t, entropy if grad_ent is not None else None, grad_ent)
        return grad, None, None, None


def triton_selective_log_softmax(
    logits: torch.Tensor, index: torch.Tensor, inv_t: float, with_entropy: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Autograd-aware Triton path on 2-D logits; (logp, entropy-or-empty)."""
    logits = logits if logits.stride(-1) == 1 else logits.contiguous()
    if torch.is_grad_enabled() and logits.requires_grad:
        return _TritonSelectiveLogSoftmax.apply(logits, index, inv_t, with_entropy)
    logp, _, entropy = row_stats(logits, index, inv_t, with_entropy)
    return logp, entropy
