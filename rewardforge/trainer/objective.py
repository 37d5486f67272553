"""Log-probs and the GRPO loss of a micro-batch, through the fused kernels.

The policy's decoder gives hidden states; ``fused_linear_grpo_loss`` takes them with the lm_head weight
to the loss and its gradients in one pass, so no ``[tokens, vocab]`` logits tensor is ever held. The
same kernels, without gradient, give the old and reference log-probs at rollout time.

Gradient accumulation: a micro-batch's loss is scaled by ``accumulation_share`` so that the sum over
micro-batches is the loss of the whole batch: ``dapo`` / ``cispo`` divide by the token count of the
whole batch (the global normaliser, passed to the kernel), ``grpo`` and ``dr_grpo`` average over the
batch's sequences, ``bnpo`` averages the micro-batches' own token means (as TRL does).
"""

from __future__ import annotations

from typing import Any, cast

import torch

from rewardforge.kernels import (
    GRPOLossOutput,
    fused_linear_grpo_loss,
    fused_linear_logprobs,
    grpo_loss,
    selective_log_softmax,
)
from rewardforge.trainer.batch import Batch
from rewardforge.trainer.config import LossConfig
from rewardforge.trainer.policy import Policy
from rewardforge.trainer.rollout import Rollout


def completion_logprobs(policy: Policy, rollout: Rollout, temperature: float = 1.0, with_entropy: bool = False,
                        ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Log-probs [N, T] of the completion tokens (and the entropy), differentiable, without full logits
    whenever the head allows it."""
    inputs = (rollout.prompt_ids, rollout.prompt_mask, rollout.completion_ids, rollout.completion_mask)
    if policy.fused_head:
        head = policy.head
        return fused_linear_logprobs(policy.completion_hidden(*inputs), head.weight, rollout.completion_ids,
                                     bias=head.bias, temperature=temperature, return_entropy=with_entropy)
    return selective_log_softmax(policy.completion_logits(*inputs), rollout.completion_ids,
                                 temperature=temperature, return_entropy=with_entropy)


def token_logprobs(policy: Policy, rollout: Rollout, temperature: float, micro_batch_size: int,
                   with_entropy: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probs [N, T], entropy [N, T] or zeros) of the sampled tokens, without gradient."""
    logps, entropies = [], []
    with torch.no_grad():
        for start in range(0, len(rollout), micro_batch_size):
            part = rollout.rows(torch.arange(start, min(start + micro_batch_size, len(rollout)),
                                             device=rollout.prompt_ids.device))
            out = completion_logprobs(policy, part, temperature, with_entropy)
            logp, entropy = out if isinstance(out, tuple) else (out, torch.zeros_like(out))
            logps.append(logp)
            entropies.append(entropy)
    return torch.cat(logps), torch.cat(entropies)


def accumulation_share(loss_type: str, rows: int, total_rows: int, micro_batches: int) -> float:
    """The weight of one micro-batch's loss in the batch loss (see the module docstring)."""
    if loss_type in ("grpo", "dr_grpo"):
        return rows / total_rows
    if loss_type == "bnpo":
        return 1.0 / micro_batches
    return 1.0  # dapo, cispo: the kernel already divides by the whole batch's tokens


def policy_loss(policy: Policy, batch: Batch, config: LossConfig, temperature: float, total_tokens: int,
                max_completion_length: int) -> GRPOLossOutput:
    """The micro-batch's loss (with gradient) and its metrics, on the kernel path the policy allows."""
    rollout = batch.rollout
    options: dict[str, Any] = dict(
        ref_logprobs=batch.ref_logprobs, loss_type=config.loss_type, epsilon_low=config.epsilon_low,
        epsilon_high=config.epsilon_high, delta=config.delta, beta=config.beta,
        importance_sampling_level=config.importance_sampling_level,
        loss_normalizer=total_tokens if config.loss_type in ("dapo", "cispo") else None,
        max_completion_length=max_completion_length,
    )
    advantages = batch.advantages.to(batch.old_logprobs.device)
    if policy.fused_head and config.fused:
        head = policy.head
        hidden = policy.completion_hidden(rollout.prompt_ids, rollout.prompt_mask, rollout.completion_ids,
                                          rollout.completion_mask)
        return fused_linear_grpo_loss(hidden, head.weight, rollout.completion_ids,
                                      batch.old_logprobs, advantages, batch.loss_mask, bias=head.bias,
                                      temperature=temperature, **options)
    logp = cast(torch.Tensor, completion_logprobs(policy, rollout, temperature))
    return grpo_loss(logp, batch.old_logprobs, advantages, batch.loss_mask, **options)
