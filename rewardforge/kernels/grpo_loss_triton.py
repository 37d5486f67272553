"""Triton per-token GRPO maths: forward and an analytic backward in one elementwise kernel each.

The kernels see the log-prob and the log importance weight as two inputs, so token-level and sequence-level
(GSPO) importance sampling share them: the sequence mean and the loss normalisation stay in PyTorch
autograd. Hyperparameters are ``tl.constexpr``; masked tokens are zeroed before any ``exp``. Gradient
conventions follow PyTorch's (clamp passes gradient at its bounds, ties in ``minimum`` split it).
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl

from .dispatch import check_interpreted_module, interpreted
from .grpo_loss import TokenLossConfig

BLOCK = 1024


@triton.jit
def _load_token(logp_ptr, logw_ptr, adv_ptr, ref_ptr, mask_ptr, offs, n, HAS_REF: tl.constexpr):
    valid = offs < n
    keep = (tl.load(mask_ptr + offs, mask=valid, other=0) != 0) & valid
    logp = tl.where(keep, tl.load(logp_ptr + offs, mask=keep, other=0.0), 0.0)
    log_w = tl.where(keep, tl.load(logw_ptr + offs, mask=keep, other=0.0), 0.0)
    adv = tl.load(adv_ptr + offs, mask=keep, other=0.0)
    diff = logp * 0.0
    if HAS_REF:
        diff = tl.where(keep, tl.load(ref_ptr + offs, mask=keep, other=0.0) - logp, 0.0)
    return valid, keep, logp, tl.exp(log_w), adv, diff


@triton.jit
def _token_loss_fwd_kernel(
    logp_ptr, logw_ptr, adv_ptr, ref_ptr, mask_ptr, loss_ptr, ratio_ptr, kl_ptr, n,
    RATIO_LOW: tl.constexpr, RATIO_HIGH: tl.constexpr, DELTA: tl.constexpr, HAS_DELTA: tl.constexpr,
    BETA: tl.constexpr, HAS_REF: tl.constexpr, CISPO: tl.constexpr, BLOCK_SIZE: tl.constexpr,
):
    offs = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    valid, keep, logp, ratio, adv, diff = _load_token(logp_ptr, logw_ptr, adv_ptr, ref_ptr, mask_ptr, offs, n,
                                                      HAS_REF)
    if CISPO:
        loss = -tl.minimum(ratio, RATIO_HIGH) * adv * logp
    else:
        clipped = tl.minimum(tl.maximum(ratio, RATIO_LOW), RATIO_HIGH)
        unclipped = ratio
        if HAS_DELTA:
            unclipped = tl.minimum(ratio, DELTA)
        loss = -tl.minimum(unclipped * adv, clipped * adv)
    if HAS_REF:
        kl = tl.exp(diff) - diff - 1.0
        if BETA != 0.0:
            loss += BETA * kl
        tl.store(kl_ptr + offs, kl, mask=valid)
    tl.store(loss_ptr + offs, tl.where(keep, loss, 0.0), mask=valid)
    tl.store(ratio_ptr + offs, ratio, mask=valid)


@triton.jit
def _token_loss_bwd_kernel(
    grad_ptr, logp_ptr, logw_ptr, adv_ptr, ref_ptr, mask_ptr, grad_logp_ptr, grad_logw_ptr, n,
    RATIO_LOW: tl.constexpr, RATIO_HIGH: tl.constexpr, DELTA: tl.constexpr, HAS_DELTA: tl.constexpr,
    BETA: tl.constexpr, HAS_REF: tl.constexpr, CISPO: tl.constexpr, BLOCK_SIZE: tl.constexpr,
):
    offs = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    valid, keep, _, ratio, adv, diff = _load_token(logp_ptr, logw_ptr, adv_ptr, ref_ptr, mask_ptr, offs, n, HAS_REF)
    grad = tl.where(keep, tl.load(grad_ptr + offs, mask=keep, other=0.0), 0.0)
    grad_logp = grad * 0.0
    grad_logw = grad * 0.0
    if CISPO:
        grad_logp = -tl.minimum(ratio, RATIO_HIGH) * adv * grad
    else:
        clipped = tl.minimum(tl.maximum(ratio, RATIO_LOW), RATIO_HIGH)
        d_clipped = tl.where((ratio >= RATIO_LOW) & (ratio <= RATIO_HIGH), adv, 0.0)
        unclipped = ratio
        d_unclipped = adv
        if HAS_DELTA:
            unclipped = tl.minimum(ratio, DELTA)
            d_unclipped = tl.where(ratio <= DELTA, adv, 0.0)
        a = unclipped * adv
        b = clipped * adv
        d_ratio = tl.where(a < b, d_unclipped, tl.where(b < a, d_clipped, 0.5 * (d_unclipped + d_clipped)))
        grad_logw = -grad * d_ratio * ratio
    if HAS_REF:
        if BETA != 0.0:
            grad_logp += grad * BETA * (1.0 - tl.exp(diff))
    tl.store(grad_logp_ptr + offs, tl.where(keep, grad_logp, 0.0), mask=valid)
    tl.store(grad_logw_ptr + offs, tl.where(keep, grad_logw, 0.0), mask=valid)


INTERPRETED = interpreted(_token_loss_bwd_kernel)


def _launch_args(cfg: TokenLossConfig, has_ref: bool) -> dict[str, Any]:
    return {
        "RATIO_LOW": cfg.ratio_low, "RATIO_HIGH": cfg.ratio_high, "DELTA": cfg.delta or 0.0,
        "HAS_DELTA": cfg.delta is not None, "BETA": cfg.beta, "HAS_REF": has_ref, "CISPO": cfg.cispo,
        "BLOCK_SIZE": BLOCK,
    }


class _TritonTokenLoss(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        logp: torch.Tensor,
        log_weight: torch.Tensor,
        adv: torch.Tensor,
        ref: torch.Tensor | None,
        mask: torch.Tensor,
        cfg: TokenLossConfig,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = logp.numel()
        loss, ratio = torch.empty_like(logp), torch.empty_like(logp)
        kl = torch.empty_like(logp) if ref is not None else logp.new_zeros(0)
        grid = (triton.cdiv(n, BLOCK),)
        if n:
            _token_loss_fwd_kernel[grid](logp, log_weight, adv, ref if ref is not None else logp, mask, loss,
                                         ratio, kl if ref is not None else loss, n, **_launch_args(cfg, ref is not None))
        ctx.save_for_backward(logp, log_weight, adv, ref, mask)
        ctx.cfg = cfg
        ctx.mark_non_differentiable(ratio, kl)
        return loss, ratio, kl

    @staticmethod
    def backward(ctx: Any, grad_loss: torch.Tensor, _ratio: Any, _kl: Any) -> tuple[Any, ...]:
        logp, log_weight, adv, ref, mask = ctx.saved_tensors
        grad_logp, grad_logw = torch.empty_like(logp), torch.empty_like(logp)
        n = logp.numel()
        if n:
            _token_loss_bwd_kernel[(triton.cdiv(n, BLOCK),)](
                grad_loss.contiguous(), logp, log_weight, adv, ref if ref is not None else logp, mask, grad_logp,
                grad_logw, n, **_launch_args(ctx.cfg, ref is not None),
            )
        return grad_logp, grad_logw, None, None, None, None


def triton_token_loss(
    logp: torch.Tensor,
    log_weight: torch.Tensor,
    adv: torch.Tensor,
    ref: torch.Tensor | None,
    mask: torch.Tensor,
    cfg: TokenLossConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Same contract as ``reference_token_loss``; inputs are [B, T] fp32, ``mask`` bool."""
    check_interpreted_module(logp, INTERPRETED)
    loss, ratio, kl = _TritonTokenLoss.apply(
        logp.contiguous(), log_weight.contiguous(), adv.contiguous(),
        None if ref is None else ref.contiguous(), mask.to(torch.int8).contiguous(), cfg,
    )
    return loss, ratio, kl if ref is not None else None
