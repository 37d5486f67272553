"""The trainer's loss on a real rollout equals the reference formula, for every loss type, in float64.

The reference is written out here from the model's ordinary logits (``model(...).logits``, log_softmax,
gather) and the GRPO-family formulas as TRL states them; the trainer goes through the decoder's hidden
states and the fused kernels. float64 end to end, so agreement is to ~1e-12, not to fp32 rounding.
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from rf_trainer_support import tiny_config

from rewardforge.trainer.batch import Batch
from rewardforge.trainer.config import LossConfig
from rewardforge.trainer.objective import accumulation_share, policy_loss, token_logprobs
from rewardforge.trainer.policy import Policy, load_policy
from rewardforge.trainer.rollout import Rollout, TransformersBackend, build_rollout
from rewardforge.trainer.scoring import Scored

F64 = torch.float64
TEMPERATURE = 0.9
MAX_NEW = 6


def _setup(seed: int = 5) -> tuple[Policy, Rollout]:
    torch.set_num_threads(1)
    config = tiny_config(model={"dtype": "float64"}, rollout={"max_new_tokens": MAX_NEW, "temperature": TEMPERATURE})
    policy = load_policy(config.model, seed)
    prompts = [policy.prompt_ids(text) for text in ("1+2=", "13+4=", "4+0=")]  # different lengths: left padding
    torch.manual_seed(seed)
    rollout = TransformersBackend(config.rollout).generate(policy, prompts, 4)
    lengths = rollout.lengths.tolist()
    assert len(set(lengths)) > 1 and rollout.truncated.any() and not rollout.truncated.all(), lengths
    return policy, rollout


def _batch(policy: Policy, rollout: Rollout, seed: int = 0, drop: tuple[int, ...] = ()) -> Batch:
    """The rollout with perturbed old / reference log-probs (so ratios clip) and random advantages."""
    g = torch.Generator().manual_seed(seed)
    current, _ = token_logprobs(policy, rollout, TEMPERATURE, 64)
    shape = current.shape
    rewards = torch.zeros(len(rollout), dtype=F64)
    rewards[list(drop)] = float("nan")
    scored = Scored(rewards, {}, Counter(), len(drop), 0.0)
    return Batch(rollout, scored, torch.randn(len(rollout), generator=g, dtype=F64),
                 current + 0.3 * torch.randn(shape, generator=g, dtype=F64), torch.zeros(shape, dtype=F64),
                 current + 0.3 * torch.randn(shape, generator=g, dtype=F64), torch.zeros(3, dtype=torch.bool), 4,
                 mask_truncated=False)


def _reference_loss(policy: Policy, batch: Batch, cfg: LossConfig, total_tokens: int) -> torch.Tensor:
    r = batch.rollout
    ids = torch.cat([r.prompt_ids, r.completion_ids], 1)
    attention = torch.cat([r.prompt_mask, r.completion_mask], 1).long()
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    logits = policy.model(input_ids=ids, attention_mask=attention, position_ids=positions).logits
    logits = logits[:, r.prompt_ids.shape[1] - 1: -1] / TEMPERATURE
    logp = torch.log_softmax(logits, -1).gather(-1, r.completion_ids.unsqueeze(-1)).squeeze(-1)
    mask = batch.loss_mask.to(F64)
    adv = batch.advantages.unsqueeze(1)
    old, ref = batch.old_logprobs, batch.ref_logprobs
    assert ref is not None
    log_ratio = (logp - old) * mask
    if cfg.importance_sampling_level == "sequence":
        log_ratio = (log_ratio.sum(-1) / mask.sum(-1).clamp(min=1)).unsqueeze(-1)
    ratio = torch.exp(log_ratio)
    if cfg.loss_type == "cispo":
        per_token = -torch.clamp(ratio, max=cfg.epsilon_high).detach() * adv * logp
    else:
        unclipped = ratio if cfg.delta is None else torch.clamp(ratio, max=cfg.delta)
        per_token = -torch.min(unclipped * adv, torch.clamp(ratio, 1 - cfg.epsilon_low, 1 + cfg.epsilon_high) * adv)
    per_token = per_token + cfg.beta * (torch.exp(ref - logp) - (ref - logp) - 1)
    if cfg.loss_type == "grpo":
        return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1)).mean()
    if cfg.loss_type == "bnpo":
        return (per_token * mask).sum() / mask.sum()
    if cfg.loss_type == "dr_grpo":
        return (per_token * mask).sum() / (mask.shape[0] * MAX_NEW)
    return (per_token * mask).sum() / total_tokens  # dapo, cispo


CASES = [
    LossConfig(loss_type="grpo"),
    LossConfig(loss_type="bnpo", beta=0.04),
    LossConfig(loss_type="dr_grpo", epsilon_high=0.28),
    LossConfig(loss_type="dapo", epsilon_high=0.28, beta=0.1),
    LossConfig(loss_type="dapo", delta=1.5, fused=False),
    LossConfig(loss_type="cispo", epsilon_high=1.2),
    LossConfig(loss_type="grpo", importance_sampling_level="sequence", epsilon_low=3e-4, epsilon_high=4e-4),
    LossConfig(loss_type="dapo", importance_sampling_level="sequence", beta=0.04, fused=False),
]


@pytest.fixture(scope="module")
def rollout_setup() -> tuple[Policy, Rollout]:
    return _setup()


@pytest.mark.parametrize("cfg", CASES, ids=[f"{c.loss_type}-{c.importance_sampling_level}-b{c.beta}"
                                            f"{'-fused' if c.fused else '-pair'}" for c in CASES])
def test_loss_and_gradients_equal_the_reference_formula(rollout_setup: tuple[Policy, Rollout],
                                                        cfg: LossConfig) -> None:
    policy, rollout = rollout_setup
    batch = _batch(policy, rollout, drop=(2,))  # a dropped sample leaves the loss
    tokens = int(batch.loss_mask.sum())
    params = list(policy.model.parameters())

    ours = policy_loss(policy, batch, cfg, TEMPERATURE, tokens, MAX_NEW)
    ours_grads = torch.autograd.grad(ours.loss, params)
    want = _reference_loss(policy, batch, cfg, tokens)
    want_grads = torch.autograd.grad(want, params)

    assert ours.loss.dtype == F64
    torch.testing.assert_close(ours.loss, want, rtol=1e-12, atol=1e-12)
    for got, expected in zip(ours_grads, want_grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
    if cfg.loss_type != "cispo" and cfg.importance_sampling_level == "token":
        assert float(ours.metrics.clip_low) + float(ours.metrics.clip_high) > 0  # the perturbation made clips bind


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo", "cispo"])
def test_accumulated_micro_batches_give_the_whole_batch_gradient(rollout_setup: tuple[Policy, Rollout],
                                                                 loss_type: str) -> None:
    policy, rollout = rollout_setup
    batch = _batch(policy, rollout, seed=1)
    cfg = LossConfig(loss_type=loss_type, epsilon_high=5.0 if loss_type == "cispo" else 0.28)
    tokens = int(batch.loss_mask.sum())
    params = list(policy.model.parameters())
    whole = torch.autograd.grad(policy_loss(policy, batch, cfg, TEMPERATURE, tokens, MAX_NEW).loss, params)
    parts = list(batch.micro_batches(4))
    summed = [torch.zeros_like(p) for p in params]
    for part in parts:
        share = accumulation_share(loss_type, len(part), len(batch), len(parts))
        grads = torch.autograd.grad(policy_loss(policy, part, cfg, TEMPERATURE, tokens, MAX_NEW).loss * share, params)
        summed = [s + g for s, g in zip(summed, grads, strict=True)]
    if loss_type == "bnpo":  # bnpo normalises by each micro-batch's own tokens (TRL): equal only per token count
        assert any(not torch.allclose(s, w) for s, w in zip(summed, whole, strict=True))
        return
    for got, expected in zip(summed, whole, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


def test_training_log_probs_are_the_sampling_distribution(rollout_setup: tuple[Policy, Rollout]) -> None:
    """Left-padded prompts are scored at the positions generate() used: same log-probs as at sampling."""
    policy, _ = rollout_setup
    prompts = [policy.prompt_ids(text) for text in ("1+2=", "13+4=")]
    width = max(map(len, prompts))
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    mask = (torch.arange(width) >= torch.tensor([width - len(p) for p in prompts])[:, None]).long()
    torch.manual_seed(0)
    out = policy.model.generate(input_ids=ids, attention_mask=mask, do_sample=True, max_new_tokens=MAX_NEW,
                                temperature=1.0, top_k=0, output_logits=True, return_dict_in_generate=True,
                                pad_token_id=0, eos_token_id=1)
    completion = out.sequences[:, width:]
    sampled = torch.stack([torch.log_softmax(step, -1) for step in out.logits], 1)
    sampled = sampled.gather(-1, completion.unsqueeze(-1)).squeeze(-1)
    rollout = build_rollout(policy, prompts, completion.tolist(), repeats=1)
    ours, _ = token_logprobs(policy, rollout, 1.0, 8)
    valid = rollout.completion_mask
    # generate() hands its logits back in fp32; a position off by one would be off by whole nats
    torch.testing.assert_close(ours[valid], sampled[valid].to(F64), rtol=1e-5, atol=1e-5)


def test_lora_weights_reach_an_engine_merged_under_the_base_names() -> None:
    from rewardforge.trainer.policy import named_weights

    config = tiny_config(model={"lora": {"r": 2, "alpha": 4}})
    policy = load_policy(config.model, 0)
    base_names = {name for name, _ in policy.causal_lm.named_parameters() if "lora_" not in name}
    for module in policy.model.modules():  # a trained adapter: B is no longer zero
        if hasattr(module, "lora_B"):
            torch.nn.init.normal_(module.lora_B["default"].weight)
    layer = policy.causal_lm.model.layers[0].self_attn.q_proj
    base_before = layer.base_layer.weight.detach().clone()
    sent = dict(named_weights(policy))
    assert set(sent) == {name.replace("base_model.model.", "").replace(".base_layer", "") for name in base_names}
    merged = layer.base_layer.weight + layer.scaling["default"] * layer.lora_B["default"].weight @ \
        layer.lora_A["default"].weight
    torch.testing.assert_close(sent["model.layers.0.self_attn.q_proj.weight"], merged)
    assert torch.equal(layer.base_layer.weight, base_before)  # never merged in place: no rounding drift


def test_truncated_completions_can_be_kept_out_of_the_loss(rollout_setup: tuple[Policy, Rollout]) -> None:
    policy, rollout = rollout_setup
    batch = _batch(policy, rollout, drop=(0,))
    kept = batch.loss_mask.any(-1)
    assert kept.tolist() == [i != 0 for i in range(len(rollout))]  # only the dropped sample is out
    batch.mask_truncated = True
    assert batch.loss_mask.any(-1).tolist() == [i != 0 and not t for i, t in enumerate(rollout.truncated.tolist())]
    cfg = LossConfig(loss_type="dapo")
    tokens = int(batch.loss_mask.sum())
    params = list(policy.model.parameters())
    grads = torch.autograd.grad(policy_loss(policy, batch, cfg, TEMPERATURE, tokens, MAX_NEW).loss, params)
    only_finished = batch.rows(torch.tensor([i for i, t in enumerate(rollout.truncated.tolist()) if not t and i]))
    want = torch.autograd.grad(policy_loss(policy, only_finished, cfg, TEMPERATURE, tokens, MAX_NEW).loss, params)
    for got, expected in zip(grads, want, strict=True):  # truncated rows add nothing at all
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
