"""``grpo_loss``: the clipped policy-gradient loss of GRPO and its relatives, with metrics.

Loss types (how the masked per-token losses are summed and normalised):
``grpo`` per-sequence mean, then mean over sequences; ``bnpo`` over the tokens of this batch; ``dr_grpo``
over batch x max completion length; ``dapo`` over the tokens of the global batch (``loss_normalizer``, for
gradient accumulation; default: this batch's tokens); ``cispo`` (MiniMax-M1) uses the ``dapo`` normaliser
and a detached, truncated importance weight times the log-prob. As in TRL and Liger, cispo's
``epsilon_high`` is the absolute cap on that weight (e.g. 5.0), not an offset from 1.
Metrics are means over unmasked tokens, also under GSPO (TRL averages its sequence-level clip flags per
sequence instead).

GSPO is ``importance_sampling_level="sequence"``: the log-ratio is averaged over each sequence's tokens.
Masked tokens are replaced by 0 before any ``exp``, so garbage there can never produce NaN or gradient.
The per-token maths have a PyTorch form (the reference; also the ``chunked`` path, since these are
[B, T] tensors with no vocabulary dimension to chunk) and a Triton form with an analytic backward.
``grpo_loss_from_logits`` composes ``selective_log_softmax`` and this loss, saving only the logsumexp.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple, cast

import torch

from .dispatch import resolve_path, working_dtype
from .logprobs import selective_log_softmax

LossType = Literal["grpo", "bnpo", "dr_grpo", "dapo", "cispo"]
ImportanceSamplingLevel = Literal["token", "sequence"]
LOSS_TYPES: tuple[str, ...] = ("grpo", "bnpo", "dr_grpo", "dapo", "cispo")
IMPORTANCE_SAMPLING_LEVELS: tuple[str, ...] = ("token", "sequence")


@dataclass(frozen=True)
class GRPOMetrics:
    """Detached scalars for logging; fractions and means are over unmasked tokens.

    ``clip_low``: ratio < 1 - epsilon_low with a negative advantage (the clip binds); ``clip_high``:
    ratio above the upper clip (1 + epsilon_high, or the cispo cap) with a positive advantage; ``kl``: mean
    k3 KL to the reference policy (None without ``ref_logprobs``); ``ratio``: mean importance ratio.
    """

    clip_low: torch.Tensor
    clip_high: torch.Tensor
    kl: torch.Tensor | None
    ratio: torch.Tensor

    def as_dict(self) -> dict[str, float]:
        values = {"clip_low": self.clip_low, "clip_high": self.clip_high, "ratio": self.ratio, "kl": self.kl}
        return {name: float(value) for name, value in values.items() if value is not None}


class GRPOLossOutput(NamedTuple):
    loss: torch.Tensor
    metrics: GRPOMetrics


@dataclass(frozen=True)
class TokenLossConfig:
    """Hyperparameters of the per-token loss, resolved to the bounds the maths uses."""

    cispo: bool
    ratio_low: float  # 1 - epsilon_low (unused by cispo)
    ratio_high: float  # 1 + epsilon_high, or the cispo truncation cap
    delta: float | None
    beta: float


def reference_token_loss(
    logp: torch.Tensor,
    log_weight: torch.Tensor,
    advantages: torch.Tensor,
    ref_logprobs: torch.Tensor | None,
    mask: torch.Tensor,
    cfg: TokenLossConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(per-token loss, ratio, k3 KL or None); every tensor [B, T] in the working dtype, zero where ``mask`` is
    False."""
    logp = torch.where(mask, logp, 0.0)
    ratio = torch.exp(torch.where(mask, log_weight, 0.0))
    if cfg.cispo:
        per_token = -torch.clamp(ratio, max=cfg.ratio_high).detach() * advantages * logp
    else:
        clipped = torch.clamp(ratio, cfg.ratio_low, cfg.ratio_high)
        unclipped = ratio if cfg.delta is None else torch.clamp(ratio, max=cfg.delta)
        per_token = -torch.minimum(unclipped * advantages, clipped * advantages)
    kl = None
    if ref_logprobs is not None:
        diff = torch.where(mask, ref_logprobs - logp, 0.0)
        kl = torch.exp(diff) - diff - 1.0
        if cfg.beta != 0.0:
            per_token = per_token + cfg.beta * kl
    return torch.where(mask, per_token, 0.0), ratio, kl


def _validate(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    ref_logprobs: torch.Tensor | None,
    loss_type: str,
    epsilon_low: float,
    epsilon_high: float,
    delta: float | None,
    beta: float,
    importance_sampling_level: str,
) -> None:
    if logprobs.dim() != 2:
        raise ValueError(f"logprobs must be [batch, time], got shape {tuple(logprobs.shape)}")
    for name, tensor in (("old_logprobs", old_logprobs), ("mask", mask), ("ref_logprobs", ref_logprobs)):
        if tensor is not None and tensor.shape != logprobs.shape:
            raise ValueError(f"{name} shape {tuple(tensor.shape)} must equal logprobs {tuple(logprobs.shape)}")
    if advantages.shape not in (logprobs.shape[:1], logprobs.shape):
        raise ValueError(f"advantages must be [batch] or [batch, time], got {tuple(advantages.shape)} for "
                         f"logprobs {tuple(logprobs.shape)}")
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type={loss_type!r} is not one of {', '.join(LOSS_TYPES)}")
    if importance_sampling_level not in IMPORTANCE_SAMPLING_LEVELS:
        raise ValueError(f"importance_sampling_level={importance_sampling_level!r} is not one of "
                         f"{', '.join(IMPORTANCE_SAMPLING_LEVELS)}")
    if not 0.0 <= epsilon_low < 1.0 or not epsilon_high >= 0.0:
        raise ValueError(f"need 0 <= epsilon_low < 1 and epsilon_high >= 0, got {epsilon_low}, {epsilon_high}")
    if loss_type == "cispo" and not epsilon_high > 1.0:
        raise ValueError("for cispo, epsilon_high is the absolute cap on the importance weight (as in TRL and "
                         f"Liger, e.g. 5.0) and must be > 1, got {epsilon_high}")
    if delta is not None and not delta > 0:
        raise ValueError(f"delta must be positive, got {delta}")
    if beta != 0.0 and ref_logprobs is None:
        raise ValueError(f"beta={beta} needs ref_logprobs for the KL term")


def loss_config(loss_type: str, epsilon_low: float, epsilon_high: float, delta: float | None,
                beta: float) -> TokenLossConfig:
    return TokenLossConfig(
        cispo=loss_type == "cispo",
        ratio_low=1.0 - epsilon_low,
        ratio_high=epsilon_high if loss_type == "cispo" else 1.0 + epsilon_high,
        delta=delta,
        beta=float(beta),
    )


def token_weights(
    mask: torch.Tensor, loss_type: str, loss_normalizer: float | torch.Tensor | None,
    max_completion_length: int | None, dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """[B, T] weights with loss = sum(per_token_loss * weights): each loss type's normalisation."""
    batch, time = mask.shape
    lengths = mask.sum(-1, keepdim=True).clamp(min=1).to(dtype)
    if loss_type == "grpo":
        per_row = 1.0 / (lengths * batch)
    elif loss_type == "dr_grpo":
        per_row = torch.full_like(lengths, 1.0 / (batch * (max_completion_length or time)))
    else:  # bnpo, dapo, cispo: over tokens (dapo / cispo may bring the global count)
        tokens = mask.sum().clamp(min=1).to(dtype)
        use_global = loss_type != "bnpo" and loss_normalizer is not None
        normalizer = torch.as_tensor(loss_normalizer, dtype=dtype, device=mask.device) if use_global else tokens
        per_row = (1.0 / normalizer.clamp(min=1.0)).expand_as(lengths)
    return torch.where(mask, per_row.expand(batch, time), 0.0)


def log_importance_weights(logp: torch.Tensor, old_logprobs: torch.Tensor, mask: torch.Tensor,
                           level: str) -> torch.Tensor:
    """Per-token log ratio, or (GSPO) its mean over each sequence's tokens broadcast back; 0 where masked."""
    log_ratio = torch.where(mask, logp - old_logprobs.to(logp.dtype), 0.0)
    if level == "token":
        return log_ratio
    per_sequence = log_ratio.sum(-1, keepdim=True) / mask.sum(-1, keepdim=True).clamp(min=1)
    return torch.where(mask, per_sequence.expand_as(log_ratio), 0.0)


def metric_sums(ratio: torch.Tensor, kl: torch.Tensor | None, adv: torch.Tensor, mask: torch.Tensor,
                cfg: TokenLossConfig) -> torch.Tensor:
    """Sums over unmasked tokens of (low clip flag, high clip flag, kl, ratio): additive across chunks."""
    ratio = ratio.detach()
    clip_high = (ratio > cfg.ratio_high) & (adv > 0) & mask
    clip_low = (ratio < cfg.ratio_low) & (adv < 0) & mask if not cfg.cispo else torch.zeros_like(clip_high)
    kl_sum = (torch.zeros((), dtype=ratio.dtype, device=ratio.device) if kl is None
              else torch.where(mask, kl.detach(), 0.0).sum().to(ratio.dtype))
    return torch.stack([clip_low.sum().to(ratio.dtype), clip_high.sum().to(ratio.dtype), kl_sum,
                        torch.where(mask, ratio, 0.0).sum()])


def metrics_from_sums(sums: torch.Tensor, tokens: torch.Tensor, has_kl: bool) -> GRPOMetrics:
    means = sums / tokens.clamp(min=1).to(sums.dtype)
    return GRPOMetrics(clip_low=means[0], clip_high=means[1], kl=means[2] if has_kl else None, ratio=means[3])


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    ref_logprobs: torch.Tensor | None = None,
    loss_type: LossType = "grpo",
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
    delta: float | None = None,
    beta: float = 0.0,
    importance_sampling_level: ImportanceSamplingLevel = "token",
    loss_normalizer: float | torch.Tensor | None = None,
    max_completion_length: int | None = None,
    impl: str | None = None,
) -> GRPOLossOutput:
    """The GRPO-family loss from per-token log-probs ``[B, T]`` (only ``logprobs`` carries gradient).

    ``advantages``: ``[B]`` or ``[B, T]``; ``mask``: ``[B, T]`` (bool or 0/1). ``epsilon_high`` > ``epsilon_low``
    is clip-higher (DAPO); ``delta`` caps the unclipped ratio (two-sided clipping); ``beta`` weights the k3
    KL ``exp(ref - logp) - (ref - logp) - 1``. ``loss_normalizer``: token count of the global batch for
    ``dapo``/``cispo``; ``max_completion_length``: for ``dr_grpo`` (default T).
    """
    _validate(logprobs, old_logprobs, advantages, mask, ref_logprobs, loss_type, epsilon_low, epsilon_high,
              delta, beta, importance_sampling_level)
    path = resolve_path(logprobs, impl)
    dtype = working_dtype(logprobs)  # fp32, or fp64 for fp64 log-probs
    batch, time = logprobs.shape
    bool_mask = mask.bool()
    logp = logprobs.to(dtype)
    adv = advantages.to(dtype)
    adv = (adv.unsqueeze(1) if adv.dim() == 1 else adv).expand(batch, time)
    ref = None if ref_logprobs is None else ref_logprobs.to(dtype)
    log_weight = log_importance_weights(logp, old_logprobs, bool_mask, importance_sampling_level)
    cfg = loss_config(loss_type, epsilon_low, epsilon_high, delta, beta)
    if path == "triton":
        from .grpo_loss_triton import triton_token_loss

        per_token, ratio, kl = triton_token_loss(logp, log_weight, adv, ref, bool_mask, cfg)
    else:
        per_token, ratio, kl = reference_token_loss(logp, log_weight, adv, ref, bool_mask, cfg)
    loss = (per_token * token_weights(bool_mask, loss_type, loss_normalizer, max_completion_length, dtype)).sum()
    with torch.no_grad():
        metrics = metrics_from_sums(metric_sums(ratio, kl, adv, bool_mask, cfg), bool_mask.sum(), kl is not None)
    return GRPOLossOutput(loss, metrics)


def grpo_loss_from_logits(
    logits: torch.Tensor,
    index: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    temperature: float = 1.0,
    ref_logprobs: torch.Tensor | None = None,
    loss_type: LossType = "grpo",
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
    delta: float | None = None,
    beta: float = 0.0,
    importance_sampling_level: ImportanceSamplingLevel = "token",
    loss_normalizer: float | torch.Tensor | None = None,
    max_completion_length: int | None = None,
    impl: str | None = None,
) -> GRPOLossOutput:
    """GRPO loss straight from ``logits [B, T, V]`` and sampled ``index [B, T]``: the log-prob pass keeps
    only the per-row logsumexp for backward, on whichever path ``impl`` / ``$RF_KERNELS`` selects."""
    logp = cast(torch.Tensor, selective_log_softmax(logits, index, temperature=temperature, impl=impl))
    return grpo_loss(
        logp, old_logprobs, advantages, mask, ref_logprobs=ref_logprobs, loss_type=loss_type,
        epsilon_low=epsilon_low, epsilon_high=epsilon_high, delta=delta, beta=beta,
        importance_sampling_level=importance_sampling_level, loss_normalizer=loss_normalizer,
        max_completion_length=max_completion_length, impl=impl,
    )
