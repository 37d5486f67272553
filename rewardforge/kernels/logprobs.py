"""``selective_log_softmax``: log-probabilities of chosen tokens (and the entropy) without [N, V] copies.

The reference path is the naive ``log_softmax(...).gather`` spec. The chunked path walks row blocks, keeps
only the per-row logsumexp (and entropy) for backward, and recomputes each block's softmax there, so the
only [N, V] tensor it ever allocates is the gradient autograd asks for. The Triton path does the same with
one program per row (see ``logprobs_triton``). Log-probs and entropies are returned in fp32, or in fp64 for
fp64 logits (see ``dispatch.working_dtype``).
"""

from __future__ import annotations

from typing import Any

import torch

from .dispatch import resolve_path, working_dtype
from .softmax_blocks import RowStats, block_grad_

#: Elements of one fp32 working block in the chunked path (64 MiB); a few such blocks are live at once.
BLOCK_ELEMENTS = 1 << 24


def default_chunk_rows(cols: int) -> int:
    return max(1, BLOCK_ELEMENTS // max(cols, 1))


def check_index(index: torch.Tensor, vocab: int, name: str = "index") -> None:
    """Refuse out-of-range or non-integer token ids up front instead of gathering garbage."""
    if index.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise TypeError(f"{name} must be an integer tensor, got {index.dtype}")
    if index.numel() and not index.is_cuda:  # a range check on CUDA would force a device sync
        low, high = int(index.min()), int(index.max())
        if low < 0 or high >= vocab:
            raise IndexError(f"{name} holds token ids in [{low}, {high}], outside the vocabulary [0, {vocab})")


def check_temperature(temperature: float) -> float:
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    return 1.0 / float(temperature)


def reference_selective_log_softmax(
    logits: torch.Tensor, index: torch.Tensor, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The spec: log_softmax over the whole vocabulary in fp32 (fp64 stays fp64), then gather.

    Returns (logp, entropy)."""
    wide = logits if logits.dtype == torch.float64 else logits.float()
    log_probs = torch.log_softmax(wide / temperature, dim=-1)
    logp = log_probs.gather(-1, index.long().unsqueeze(-1)).squeeze(-1)
    entropy = -(log_probs.exp() * log_probs).nan_to_num().sum(-1)
    return logp, entropy


def _chunked_stats(
    logits: torch.Tensor, index: torch.Tensor, inv_t: float, chunk_rows: int, with_entropy: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(logp, lse parts [2, rows]: row max and log-sum, entropy or None) over row chunks."""
    rows, dtype = logits.shape[0], working_dtype(logits)
    logp = torch.empty(rows, dtype=dtype, device=logits.device)
    lse = torch.empty(2, rows, dtype=dtype, device=logits.device)
    entropy = torch.empty_like(logp) if with_entropy else None
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        stats = RowStats.empty(stop - start, logits.device, with_entropy, dtype)
        stats.update(logits[start:stop].to(dtype) * inv_t, index[start:stop], 0)
        logp[start:stop], lse[0, start:stop], lse[1, start:stop], ent = stats.finish()
        if entropy is not None and ent is not None:
            entropy[start:stop] = ent
    return logp, lse, entropy


class _ChunkedSelectiveLogSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, logits: torch.Tensor, index: torch.Tensor, inv_t: float, chunk_rows: int, with_entropy: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logp, lse, entropy = _chunked_stats(logits, index, inv_t, chunk_rows, with_entropy)
        ent_out = entropy if entropy is not None else logp.new_zeros(0)
        ctx.save_for_backward(logits, index, lse, ent_out)
        ctx.inv_t, ctx.chunk_rows, ctx.with_entropy = inv_t, chunk_rows, with_entropy
        if not with_entropy:
            ctx.mark_non_differentiable(ent_out)
        return logp, ent_out

    @staticmethod
    def backward(ctx: Any, grad_logp: torch.Tensor | None, grad_ent: torch.Tensor | None) -> tuple[Any, ...]:
        logits, index, lse, entropy = ctx.saved_tensors
        dtype = lse.dtype
        grad_logp = torch.zeros_like(lse[0]) if grad_logp is None else grad_logp.to(dtype)
        grad_ent = grad_ent.to(dtype) if ctx.with_entropy and grad_ent is not None else None
        grad_logits = torch.empty_like(logits)
        for start in range(0, logits.shape[0], ctx.chunk_rows):
            stop = min(start + ctx.chunk_rows, logits.shape[0])
            block = logits[start:stop].to(dtype) * ctx.inv_t
            grad_logits[start:stop] = block_grad_(
                block, index[start:stop], 0, lse[0, start:stop], lse[1, start:stop], grad_logp[start:stop],
                entropy[start:stop] if grad_ent is not None else None,
                grad_ent[start:stop] if grad_ent is not None else None, ctx.inv_t,
            )
        return grad_logits, None, None, None, None


def selective_log_softmax(
    logits: torch.Tensor,
    index: torch.Tensor,
    *,
    temperature: float = 1.0,
    return_entropy: bool = False,
    chunk_rows: int | None = None,
    impl: str | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``log_softmax(logits / temperature).gather(index)`` in fp32 (fp64 for fp64 logits), optionally with the
    entropy per row.

    ``logits``: ``[..., V]``; ``index``: ``[...]`` token ids. Returns ``logp`` (``[...]``), or
    ``(logp, entropy)`` with ``return_entropy=True``. Differentiable w.r.t. ``logits``; saves only the
    per-row logsumexp (and entropy). Without grad it is a pure streaming pass (old / reference log-probs).
    ``impl`` pins a path (``reference``, ``chunked``, ``triton``) and overrides ``$RF_KERNELS``.
    """
    if logits.dim() < 1 or logits.shape[:-1] != index.shape:
        raise ValueError(f"index shape {tuple(index.shape)} must equal logits shape without the vocab "
                         f"dimension, got logits {tuple(logits.shape)}")
    vocab = logits.shape[-1]
    check_index(index, vocab)
    inv_t = check_temperature(temperature)
    path = resolve_path(logits, impl)
    lead_shape = index.shape

    if path == "reference":
        logp, entropy = reference_selective_log_softmax(logits, index, temperature)
        return (logp, entropy) if return_entropy else logp

    flat_logits = logits.reshape(-1, vocab)
    flat_index = index.reshape(-1).long()
    if path == "triton":
        from .logprobs_triton import triton_selective_log_softmax

        logp, entropy = triton_selective_log_softmax(flat_logits, flat_index, inv_t, return_entropy)
    else:
        rows = chunk_rows or default_chunk_rows(vocab)
        if torch.is_grad_enabled() and logits.requires_grad:
            logp, entropy = _ChunkedSelectiveLogSoftmax.apply(flat_logits, flat_index, inv_t, rows, return_entropy)
        else:
            logp, _, maybe_entropy = _chunked_stats(flat_logits, flat_index, inv_t, rows, return_entropy)
            entropy = maybe_entropy if maybe_entropy is not None else logp.new_zeros(0)
    logp = logp.reshape(lead_shape)
    return (logp, entropy.reshape(lead_shape)) if return_entropy else logp
