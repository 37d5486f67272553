"""``fused_linear_grpo_loss``: the GRPO loss straight from hidden states, gradients computed in forward.

Given the old/reference log-probs, advantages and mask up front, the gradient of the loss w.r.t. each
token's log-prob is known as soon as that token's log-prob is (token-level ratios), or as soon as its
sequence's are (GSPO). So each row block's logits are computed once, turned into their gradient in place,
and fed into grad_hidden and grad_weight (fp32) right away: three matmuls per block, like the naive
eager version, instead of four for a recompute-in-backward op, and no [N, V] tensor at any time.
Backward only scales the stored gradients. Blocks span the whole vocabulary; under GSPO they hold whole
sequences. Other paths compose ``fused_linear_logprobs`` and ``grpo_loss``.
"""

from __future__ import annotations

from typing import Any

import torch

from .dispatch import resolve_path, working_dtype
from .fused_linear import LINEAR_BLOCK_ELEMENTS, fused_linear_logprobs
from .grpo_loss import (
    GRPOLossOutput,
    ImportanceSamplingLevel,
    LossType,
    TokenLossConfig,
    _validate,
    grpo_loss,
    log_importance_weights,
    loss_config,
    metric_sums,
    metrics_from_sums,
    reference_token_loss,
    token_weights,
)
from .logprobs import check_index, check_temperature


def _block_logits(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                  inv_t: float, dtype: torch.dtype) -> torch.Tensor:
    block = hidden @ weight.T
    if bias is not None:
        block += bias
    block = block.to(dtype) if block.dtype != dtype else block
    if inv_t != 1.0:
        block.mul_(inv_t)
    return block


def _take(tensor: torch.Tensor, span: slice, flat: bool) -> torch.Tensor:
    """Rows ``span`` of a [B, T, ...] tensor: over flattened tokens, or over whole sequences."""
    return tensor.reshape(-1, *tensor.shape[2:])[span] if flat else tensor[span]


class _FusedLinearGRPO(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        hidden: torch.Tensor,  # [B, T, H]
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        index: torch.Tensor,  # [B, T]
        old: torch.Tensor,
        adv: torch.Tensor,  # [B, T] in the working dtype
        ref: torch.Tensor | None,
        mask: torch.Tensor,  # [B, T] bool
        weights: torch.Tensor,  # [B, T] loss weights
        cfg: TokenLossConfig,
        level: str,
        inv_t: float,
        sequences_per_block: int,
        rows_per_block: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        acc = working_dtype(hidden)  # fp32, or fp64 for fp64 inputs
        batch, time, _ = hidden.shape
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        grad_h = torch.zeros(hidden.shape, dtype=acc, device=hidden.device) if need_h else None
        grad_w = torch.zeros(weight.shape, dtype=acc, device=weight.device) if need_w else None
        grad_b = torch.zeros(weight.shape[0], dtype=acc, device=weight.device) if need_b else None
        loss = torch.zeros((), dtype=acc, device=hidden.device)
        sums = torch.zeros(4, dtype=acc, device=hidden.device)
        # Token-level losses are per token, so any row block works; GSPO needs whole sequences in a block.
        flat = level == "token"
        units = batch * time if flat else batch
        per_unit = rows_per_block if flat else sequences_per_block
        for start in range(0, units, per_unit):
            span = slice(start, min(start + per_unit, units))
            h_block = _take(hidden, span, flat).reshape(-1, hidden.shape[-1])
            rows_index = _take(index, span, flat).reshape(-1)
            block_mask, block_adv = _take(mask, span, flat), _take(adv, span, flat)
            block = _block_logits(h_block, weight, bias, inv_t, acc)
            row_max = block.amax(dim=1, keepdim=True)
            target = block.gather(1, rows_index.unsqueeze(1))
            probs = block.sub_(row_max).exp_()  # in place: logits, then exp, then the gradient share one buffer
            sum_exp = probs.sum(dim=1, keepdim=True)
            logp = ((target - row_max) - torch.log(sum_exp)).reshape(block_mask.shape)

            with torch.enable_grad():  # the loss maths on [rows] tensors: cheap, and exactly grpo_loss's
                logp_leaf = logp.detach().requires_grad_()
                log_weight = log_importance_weights(logp_leaf, _take(old, span, flat), block_mask, level)
                block_ref = None if ref is None else _take(ref, span, flat)
                per_token, ratio, kl = reference_token_loss(logp_leaf, log_weight, block_adv, block_ref, block_mask,
                                                            cfg)
                block_loss = (per_token * _take(weights, span, flat)).sum()
                (grad_logp,) = torch.autograd.grad(block_loss, logp_leaf)
            loss += block_loss.detach()
            sums += metric_sums(ratio, kl, block_adv, block_mask, cfg)
            if grad_h is None and grad_w is None and grad_b is None:
                continue
            # d loss / d z = g * (onehot - p), then the chain through z = x / T
            g = grad_logp.reshape(-1, 1)
            grad_z = probs.mul_(g.neg() / sum_exp)  # p = e / s folded into one pass
            grad_z.scatter_add_(1, rows_index.unsqueeze(1), g)
            if inv_t != 1.0:
                grad_z.mul_(inv_t)
            if grad_h is not None:
                _take(grad_h, span, flat).reshape(-1, hidden.shape[-1]).copy_(grad_z @ weight.to(acc))
            if grad_w is not None:
                grad_w.addmm_(grad_z.T, h_block.to(acc))
            if grad_b is not None:
                grad_b += grad_z.sum(0)
        ctx.save_for_backward(grad_h, grad_w, grad_b)
        ctx.dtypes = (hidden.dtype, weight.dtype, None if bias is None else bias.dtype)
        ctx.mark_non_differentiable(sums)
        return loss, sums

    @staticmethod
    def backward(ctx: Any, grad_loss: torch.Tensor, _sums: Any) -> tuple[Any, ...]:
        grads: list[torch.Tensor | None] = []
        for grad, dtype in zip(ctx.saved_tensors, ctx.dtypes, strict=True):
            if grad is None or dtype is None:
                grads.append(None)
                continue
            grads.append((grad if bool(grad_loss == 1.0) else grad * grad_loss).to(dtype))
        return (*grads, *([None] * 11))


def fused_linear_grpo_loss(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    index: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    ref_logprobs: torch.Tensor | None = None,
    temperature: float = 1.0,
    loss_type: LossType = "grpo",
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
    delta: float | None = None,
    beta: float = 0.0,
    importance_sampling_level: ImportanceSamplingLevel = "token",
    loss_normalizer: float | torch.Tensor | None = None,
    max_completion_length: int | None = None,
    chunk_rows: int | None = None,
    impl: str | None = None,
) -> GRPOLossOutput:
    """GRPO-family loss of the policy ``softmax((hidden @ weight.T + bias) / temperature)`` on ``index``.

    ``hidden``: ``[B, T, H]``; ``weight``: ``[V, H]``; ``index``, ``old_logprobs``, ``mask`` (and
    ``ref_logprobs``): ``[B, T]``; ``advantages``: ``[B]`` or ``[B, T]``. Loss options as in ``grpo_loss``.
    ``chunk_rows`` bounds the rows of one [rows, V] logits block (default: about 128 MiB in fp32); under
    GSPO a block holds at least one whole sequence.
    """
    if hidden.dim() != 3 or weight.dim() != 2 or hidden.shape[-1] != weight.shape[1]:
        raise ValueError(f"hidden must be [B, T, H] and weight [V, H] with the same H, got "
                         f"{tuple(hidden.shape)} and {tuple(weight.shape)}")
    if index.shape != hidden.shape[:2]:
        raise ValueError(f"index shape {tuple(index.shape)} must be hidden's [B, T] {tuple(hidden.shape[:2])}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    if chunk_rows is not None and chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows}")
    _validate(old_logprobs, old_logprobs, advantages, mask, ref_logprobs, loss_type, epsilon_low, epsilon_high,
              delta, beta, importance_sampling_level)
    if old_logprobs.shape != index.shape:
        raise ValueError(f"old_logprobs shape {tuple(old_logprobs.shape)} must equal index {tuple(index.shape)}")
    vocab = weight.shape[0]
    check_index(index, vocab)
    inv_t = check_temperature(temperature)
    path = resolve_path(hidden, impl)
    loss_kwargs: dict[str, Any] = dict(
        ref_logprobs=ref_logprobs, loss_type=loss_type, epsilon_low=epsilon_low, epsilon_high=epsilon_high,
        delta=delta, beta=beta, importance_sampling_level=importance_sampling_level,
        loss_normalizer=loss_normalizer, max_completion_length=max_completion_length,
    )
    if path != "chunked":
        logp = fused_linear_logprobs(hidden, weight, index, bias=bias, temperature=temperature,
                                     chunk_rows=chunk_rows, impl=path)
        assert isinstance(logp, torch.Tensor)
        return grpo_loss(logp, old_logprobs, advantages, mask, impl=path, **loss_kwargs)

    batch, time = index.shape
    bool_mask = mask.bool()
    acc = working_dtype(hidden)
    adv = advantages.to(acc)
    adv = (adv.unsqueeze(1) if adv.dim() == 1 else adv).expand(batch, time).contiguous()
    rows = chunk_rows or max(1, LINEAR_BLOCK_ELEMENTS // vocab)
    if not torch.is_grad_enabled():  # evaluation: skip building gradients nobody will read
        hidden, weight = hidden.detach(), weight.detach()
        bias = None if bias is None else bias.detach()
    loss, sums = _FusedLinearGRPO.apply(
        hidden, weight, bias, index.long(), old_logprobs.to(acc),
        adv, None if ref_logprobs is None else ref_logprobs.to(acc), bool_mask,
        token_weights(bool_mask, loss_type, loss_normalizer, max_completion_length, acc),
        loss_config(loss_type, epsilon_low, epsilon_high, delta, beta), importance_sampling_level, inv_t,
        max(1, rows // max(time, 1)), rows,
    )
    return GRPOLossOutput(loss, metrics_from_sums(sums, bool_mask.sum(), ref_logprobs is not None))
