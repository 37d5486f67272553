"""Triton path of ``fused_linear_logprobs``: cuBLAS matmuls per row block, Triton row kernels in between.

Each row block's logits span the whole vocabulary (one kernel pass per row); backward recomputes them and
the gradient kernel overwrites the block in place, so one block-sized buffer is live. grad_weight is summed
in fp32 across row blocks.
"""

from __future__ import annotations

from typing import Any

import torch

from .logprobs_triton import row_grad, row_stats


def _logits_block(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    block = hidden @ weight.T
    if bias is not None:
        block += bias
    return block


class _TritonFusedLinearLogprobs(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        index: torch.Tensor,
        inv_t: float,
        chunk_rows: int,
        with_entropy: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        rows = hidden.shape[0]
        logp = torch.empty(rows, dtype=torch.float32, device=hidden.device)
        lse = torch.empty(2, rows, dtype=torch.float32, device=hidden.device)
        entropy = torch.empty_like(logp) if with_entropy else logp.new_zeros(0)
        for start in range(0, rows, chunk_rows):
            stop = min(start + chunk_rows, rows)
            block = _logits_block(hidden[start:stop], weight, bias)
            logp[start:stop], lse[:, start:stop], ent = row_stats(block, index[start:stop], inv_t, with_entropy)
            if with_entropy:
                entropy[start:stop] = ent
        ctx.save_for_backward(hidden, weight, bias, index, lse, entropy)
        ctx.inv_t, ctx.chunk_rows, ctx.with_entropy = inv_t, chunk_rows, with_entropy
        if not with_entropy:
            ctx.mark_non_differentiable(entropy)
        return logp, entropy

    @staticmethod
    def backward(ctx: Any, grad_logp: torch.Tensor | None, grad_ent: torch.Tensor | None) -> tuple[Any, ...]:
        hidden, weight, bias, index, lse, entropy = ctx.saved_tensors
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        grad_logp = torch.zeros_like(lse[0]) if grad_logp is None else grad_logp.float()
        grad_ent = grad_ent.float() if ctx.with_entropy and grad_ent is not None else None
        f32 = torch.float32
        grad_h = torch.empty_like(hidden) if need_h else None
        grad_w = torch.zeros(weight.shape, dtype=f32, device=weight.device) if need_w else None
        grad_b = torch.zeros(weight.shape[0], dtype=f32, device=weight.device) if need_b else None
        for start in range(0, hidden.shape[0], ctx.chunk_rows):
            stop = min(start + ctx.chunk_rows, hidden.shape[0])
            h_block = hidden[start:stop]
            block = _logits_block(h_block, weight, bias)
            grad_z = row_grad(
                block, index[start:stop], lse[:, start:stop], grad_logp[start:stop], ctx.inv_t,
                entropy[start:stop] if grad_ent is not None else None,
                grad_ent[start:stop] if grad_ent is not None else None, out=block,
            )
            if grad_h is not None:
                torch.mm(grad_z, weight, out=grad_h[start:stop])
            if grad_w is not None and grad_z.dtype == torch.float32:
                grad_w.addmm_(grad_z.T, h_block)
            elif grad_w is not None:  # half-precision product (fp32 inside the GEMM), summed across blocks in fp32
                grad_w += grad_z.T @ h_block
            if grad_b is not None:
                grad_b += grad_z.float().sum(0)
        return (
            grad_h,
            None if grad_w is None else grad_w.to(weight.dtype),
            None if grad_b is None or bias is None else grad_b.to(bias.dtype),
            None, None, None, None,
        )


def triton_fused_linear_logprobs(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    index: torch.Tensor,
    inv_t: float,
    chunk_rows: int,
    with_entropy: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """2-D hidden [N, H] -> (logp [N], entropy [N] or empty); autograd-aware."""
    return _TritonFusedLinearLogprobs.apply(hidden, weight, bias, index, inv_t, chunk_rows, with_entropy)
