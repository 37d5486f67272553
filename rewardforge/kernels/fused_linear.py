"""``fused_linear_logprobs``: token log-probs straight from hidden states and the lm_head weight.

The [N, V] logits never exist in full. The chunked path walks row blocks and vocabulary blocks with an
online logsumexp; backward recomputes each logits block, turns it into its gradient in place and feeds two
matmuls, accumulating grad_weight (and grad_bias) in fp32 whatever the weight dtype (fp64 for fp64 inputs:
the whole chunked path then computes in fp64). The Triton path walks
row blocks over the whole vocabulary with the Triton row kernels, Liger-style, writing the gradient into
the recomputed logits block.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from .dispatch import resolve_path, working_dtype
from .logprobs import check_index, check_temperature, reference_selective_log_softmax
from .softmax_blocks import RowStats, block_grad_

#: Elements of one logits block (128 MiB in fp32) when the caller gives no chunk sizes.
LINEAR_BLOCK_ELEMENTS = 1 << 25


def _spans(total: int, step: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, step):
        yield start, min(start + step, total)


def _logits_block(
    hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, cols: tuple[int, int], inv_t: float,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Fresh block of (hidden @ weight[cols].T + bias[cols]) / T in ``dtype``, safe to overwrite."""
    start, stop = cols
    block = hidden @ weight[start:stop].T
    if bias is not None:
        block += bias[start:stop]
    block = block.to(dtype) if block.dtype != dtype else block
    if inv_t != 1.0:
        block.mul_(inv_t)
    return block


class _ChunkedFusedLinearLogprobs(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        index: torch.Tensor,
        inv_t: float,
        chunk_rows: int,
        chunk_vocab: int,
        with_entropy: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        rows, vocab, dtype = hidden.shape[0], weight.shape[0], working_dtype(hidden)
        logp = torch.empty(rows, dtype=dtype, device=hidden.device)
        lse = torch.empty(2, rows, dtype=dtype, device=hidden.device)  # row max, log-sum
        entropy = torch.empty_like(logp) if with_entropy else logp.new_zeros(0)
        for r0, r1 in _spans(rows, chunk_rows):
            stats = RowStats.empty(r1 - r0, hidden.device, with_entropy, dtype)
            for v0, v1 in _spans(vocab, chunk_vocab):
                block = _logits_block(hidden[r0:r1], weight, bias, (v0, v1), inv_t, dtype)
                stats.update(block, index[r0:r1], v0)
            logp[r0:r1], lse[0, r0:r1], lse[1, r0:r1], ent = stats.finish()
            if ent is not None:
                entropy[r0:r1] = ent
        ctx.save_for_backward(hidden, weight, bias, index, lse, entropy)
        ctx.inv_t, ctx.chunk_rows, ctx.chunk_vocab, ctx.with_entropy = inv_t, chunk_rows, chunk_vocab, with_entropy
        if not with_entropy:
            ctx.mark_non_differentiable(entropy)
        return logp, entropy

    @staticmethod
    def backward(ctx: Any, grad_logp: torch.Tensor | None, grad_ent: torch.Tensor | None) -> tuple[Any, ...]:
        hidden, weight, bias, index, lse, entropy = ctx.saved_tensors
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        acc = lse.dtype  # fp32, or fp64 for fp64 inputs
        grad_logp = torch.zeros_like(lse[0]) if grad_logp is None else grad_logp.to(acc)
        grad_ent = grad_ent.to(acc) if ctx.with_entropy and grad_ent is not None else None
        grad_h = torch.zeros(hidden.shape, dtype=acc, device=hidden.device) if need_h else None
        grad_w = torch.zeros(weight.shape, dtype=acc, device=weight.device) if need_w else None
        grad_b = torch.zeros(weight.shape[0], dtype=acc, device=weight.device) if need_b else None
        for r0, r1 in _spans(hidden.shape[0], ctx.chunk_rows):
            h_block = hidden[r0:r1]
            h_block_acc = h_block.to(acc)
            for v0, v1 in _spans(weight.shape[0], ctx.chunk_vocab):
                block = _logits_block(h_block, weight, bias, (v0, v1), ctx.inv_t, acc)
                grad_z = block_grad_(
                    block, index[r0:r1], v0, lse[0, r0:r1], lse[1, r0:r1], grad_logp[r0:r1],
                    entropy[r0:r1] if grad_ent is not None else None,
                    grad_ent[r0:r1] if grad_ent is not None else None, ctx.inv_t,
                )
                if grad_h is not None:
                    grad_h[r0:r1].addmm_(grad_z, weight[v0:v1].to(acc))
                if grad_w is not None:
                    grad_w[v0:v1].addmm_(grad_z.T, h_block_acc)
                if grad_b is not None:
                    grad_b[v0:v1] += grad_z.sum(0)
        return (
            None if grad_h is None else grad_h.to(hidden.dtype),
            None if grad_w is None else grad_w.to(weight.dtype),
            None if grad_b is None or bias is None else grad_b.to(bias.dtype),
            None, None, None, None, None,
        )


def fused_linear_logprobs(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    temperature: float = 1.0,
    chunk_rows: int | None = None,
    chunk_vocab: int | None = None,
    return_entropy: bool = False,
    impl: str | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Log-probs of ``index`` under ``softmax((hidden @ weight.T + bias) / temperature)``, in fp32 (fp64 when
    ``hidden`` is fp64).

    ``hidden``: ``[..., H]``; ``weight``: ``[V, H]`` (the lm_head); ``index``: ``[...]``. Returns ``logp``
    or ``(logp, entropy)``, shaped like ``index``. Differentiable w.r.t. hidden, weight and bias.
    ``chunk_rows`` / ``chunk_vocab`` bound the logits block held at once (default: about 128 MiB in fp32;
    the Triton path always spans the whole vocabulary per row block).
    """
    if hidden.dim() < 1 or weight.dim() != 2 or hidden.shape[-1] != weight.shape[1]:
        raise ValueError(f"hidden [..., H] and weight [V, H] must share H, got {tuple(hidden.shape)} and "
                         f"{tuple(weight.shape)}")
    if hidden.shape[:-1] != index.shape:
        raise ValueError(f"index shape {tuple(index.shape)} must equal hidden shape without H, "
                         f"got hidden {tuple(hidden.shape)}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    for name, size in (("chunk_rows", chunk_rows), ("chunk_vocab", chunk_vocab)):
        if size is not None and size < 1:
            raise ValueError(f"{name} must be a positive integer, got {size}")
    vocab = weight.shape[0]
    check_index(index, vocab)
    inv_t = check_temperature(temperature)
    path = resolve_path(hidden, impl)

    if path == "reference":
        logits = hidden @ weight.T
        if bias is not None:
            logits = logits + bias
        logp, entropy = reference_selective_log_softmax(logits, index, temperature)
        return (logp, entropy) if return_entropy else logp

    flat_hidden = hidden.reshape(-1, hidden.shape[-1])
    flat_index = index.reshape(-1).long()
    if path == "triton":
        from .fused_linear_triton import triton_fused_linear_logprobs

        rows = chunk_rows or max(1, LINEAR_BLOCK_ELEMENTS // vocab)
        logp, entropy = triton_fused_linear_logprobs(flat_hidden, weight, bias, flat_index, inv_t, rows,
                                                     return_entropy)
    else:
        cols = min(chunk_vocab or vocab, vocab)
        rows = chunk_rows or max(1, LINEAR_BLOCK_ELEMENTS // cols)
        logp, entropy = _ChunkedFusedLinearLogprobs.apply(flat_hidden, weight, bias, flat_index, inv_t, rows, cols,
                                                          return_entropy)
    logp = logp.reshape(index.shape)
    return (logp, entropy.reshape(index.shape)) if return_entropy else logp
