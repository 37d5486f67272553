"""grpo_loss: every path against the PyTorch reference, and the reference against TRL's GRPOTrainer maths."""

from __future__ import annotations

import itertools
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from kernel_cases import assert_close, make_logits

from rewardforge.kernels import (
    LOSS_TYPES,
    GRPOLossOutput,
    grpo_loss,
    grpo_loss_from_logits,
    selective_log_softmax,
)

B, T = 5, 13
MATRIX = list(itertools.product(LOSS_TYPES, ("token", "sequence"), (0.0, 0.04), (None, 1.5)))


def _batch(seed: int, masked_value: float = float("nan")) -> dict[str, torch.Tensor]:
    """Log-probs with ratios on both sides of every clip, a fully masked row, and garbage under the mask."""
    g = torch.Generator().manual_seed(seed)
    logp = -torch.rand(B, T, generator=g) * 4.0
    old = logp + 0.4 * torch.randn(B, T, generator=g)
    ref = logp + 0.5 * torch.randn(B, T, generator=g)
    lengths = torch.tensor([T, 9, 0, 1, 6])  # row 2 is fully masked
    mask = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)
    advantages = torch.tensor([1.0, -0.7, 0.3, -1.2, 0.0])
    logp = torch.where(mask, logp, masked_value)  # padding must never reach an exp or a gradient
    old = torch.where(mask, old, -masked_value if masked_value == masked_value else masked_value)
    return {"logp": logp, "old": old, "ref": ref, "mask": mask, "advantages": advantages}


def _epsilons(loss_type: str) -> dict[str, float]:
    # clip-higher for the PPO-style losses; for cispo epsilon_high is the absolute cap on the weight
    return {"epsilon_low": 0.2, "epsilon_high": 5.0 if loss_type == "cispo" else 0.28}


def _ours(batch: dict[str, torch.Tensor], impl: str, device: torch.device, **kwargs: Any) -> tuple[GRPOLossOutput,
                                                                                                    torch.Tensor]:
    logp = batch["logp"].to(device).clone().requires_grad_()
    out = grpo_loss(logp, batch["old"].to(device), batch["advantages"].to(device), batch["mask"].to(device),
                    ref_logprobs=batch["ref"].to(device), impl=impl, **kwargs)
    out.loss.backward()
    assert logp.grad is not None
    return out, logp.grad


@pytest.mark.parametrize(("loss_type", "level", "beta", "delta"), MATRIX)
def test_paths_match_reference(fast_path: tuple[str, torch.device], loss_type: str, level: str, beta: float,
                               delta: float | None) -> None:
    impl, device = fast_path
    batch = _batch(seed=len(loss_type))
    kwargs = dict(loss_type=loss_type, importance_sampling_level=level, beta=beta, delta=delta, **_epsilons(loss_type))
    expected, expected_grad = _ours(batch, "reference", torch.device("cpu"), **kwargs)
    actual, actual_grad = _ours(batch, impl, device, **kwargs)
    assert torch.isfinite(expected.loss) and torch.isfinite(expected_grad).all()
    assert (expected_grad[~batch["mask"]] == 0).all(), "masked tokens must get no gradient"
    assert expected_grad.abs().sum() > 0
    assert_close(actual.loss, expected.loss, f"{impl} loss")
    assert_close(actual_grad, expected_grad, f"{impl} grad")
    assert actual.metrics.as_dict() == pytest.approx(expected.metrics.as_dict(), rel=1e-6, abs=1e-7)


def _trl_loss(batch: dict[str, torch.Tensor], *, loss_type: str, level: str, beta: float, delta: float | None,
              epsilon_low: float, epsilon_high: float) -> tuple[torch.Tensor, torch.Tensor, dict[str, list[float]]]:
    """Run TRL's own GRPOTrainer._compute_loss on our tensors, with a stand-in for the trainer around it."""
    from trl.trainer.grpo_trainer import GRPOTrainer

    logp = batch["logp"].clone().requires_grad_()

    class SingleProcess:
        num_processes = 1

        def reduce(self, x: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
            return x

        def gather(self, x: torch.Tensor) -> torch.Tensor:
            return x

        gather_for_metrics = gather

    metrics: dict[str, list[float]] = defaultdict(list)
    trainer = SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *args, **kwargs: (logp, torch.zeros_like(logp), None),
        aux_loss_enabled=False, top_entropy_quantile=1.0, off_policy_mask_threshold=None, use_vllm=False,
        importance_sampling_level=level, beta=beta, loss_type=loss_type, epsilon_low=epsilon_low,
        epsilon_high=epsilon_high, max_completion_length=T, current_gradient_accumulation_steps=1,
        args=SimpleNamespace(use_bias_correction_kl=False, delta=delta, steps_per_generation=1),
        model=SimpleNamespace(training=True), accelerator=SingleProcess(), _entropy_bonus_enabled=False,
        _metrics={"train": metrics},
    )
    mask = batch["mask"].long()
    inputs = {
        "prompt_ids": torch.zeros(B, 0, dtype=torch.long), "prompt_mask": torch.zeros(B, 0, dtype=torch.long),
        "completion_ids": torch.zeros(B, T, dtype=torch.long), "completion_mask": mask,
        "advantages": batch["advantages"], "old_per_token_logps": batch["old"],
        "ref_per_token_logps": batch["ref"], "num_items_in_batch": mask.sum().float(),
    }
    loss = GRPOTrainer._compute_loss(trainer, None, inputs)
    loss.backward()
    assert logp.grad is not None
    return loss, logp.grad, metrics


@pytest.mark.slow  # importing trl's GRPOTrainer pulls in transformers, datasets and accelerate
@pytest.mark.parametrize("impl", ["reference", "triton"])
def test_matches_trl_grpo_trainer_loss(impl: str, triton_device: torch.device) -> None:
    device = triton_device if impl == "triton" else torch.device("cpu")
    batch = _batch(seed=3, masked_value=-3.0)  # TRL exps padding too, so give it finite values there
    for loss_type, level, beta, delta in MATRIX:
        eps = _epsilons(loss_type)
        what = f"{impl} {loss_type} {level} beta={beta} delta={delta}"
        theirs, their_grad, their_metrics = _trl_loss(batch, loss_type=loss_type, level=level, beta=beta,
                                                      delta=delta, **eps)
        ours, our_grad = _ours(batch, impl, device, loss_type=loss_type, importance_sampling_level=level,
                               beta=beta, delta=delta, **eps)
        assert_close(ours.loss, theirs, f"{what}: loss")
        assert_close(our_grad, their_grad, f"{what}: grad")
        if beta:
            assert ours.metrics.kl is not None
            assert float(ours.metrics.kl) == pytest.approx(their_metrics["kl"][0], rel=1e-5), what
        if level == "token":  # TRL averages sequence-level clip flags per sequence, we per token
            if loss_type == "cispo":
                assert float(ours.metrics.clip_high) == pytest.approx(their_metrics["cispo_clip_ratio"][0]), what
            else:
                assert float(ours.metrics.clip_low) == pytest.approx(their_metrics["clip_ratio/low_mean"][0]), what
                assert float(ours.metrics.clip_high) == pytest.approx(their_metrics["clip_ratio/high_mean"][0]), what


def _single_token(ratio: float, advantage: float, **kwargs: Any) -> tuple[float, float]:
    """(loss, d loss / d logp) for one token whose importance ratio is ``ratio``."""
    logp = torch.tensor([[-1.0]], requires_grad=True)
    old = logp.detach() - torch.log(torch.tensor(ratio))
    out = grpo_loss(logp, old, torch.tensor([advantage]), torch.ones(1, 1, dtype=torch.bool), impl="reference",
                    **kwargs)
    out.loss.backward()
    assert logp.grad is not None
    return float(out.loss.detach()), float(logp.grad)


def test_clip_higher_and_delta_behave_as_specified() -> None:
    # ratio 1.25 with a positive advantage: clipped (no gradient) at epsilon_high 0.2, free at 0.28
    assert _single_token(1.25, 1.0, epsilon_high=0.2)[1] == 0.0
    loss, grad = _single_token(1.25, 1.0, epsilon_high=0.28)
    assert loss == pytest.approx(-1.25) and grad == pytest.approx(-1.25)
    # ratio 3 with a negative advantage: the unclipped term wins; delta caps it and stops its gradient
    loss, grad = _single_token(3.0, -1.0)
    assert loss == pytest.approx(3.0) and grad == pytest.approx(3.0)
    loss, grad = _single_token(3.0, -1.0, delta=2.0)
    assert loss == pytest.approx(2.0) and grad == 0.0
    # ratio 0.5 with a negative advantage: the low clip binds
    assert _single_token(0.5, -1.0)[1] == 0.0
    # cispo: a truncated, detached weight times the log-prob gradient; it never zeroes the gradient
    loss, grad = _single_token(8.0, 1.0, loss_type="cispo", epsilon_high=5.0)
    assert loss == pytest.approx(5.0) and grad == pytest.approx(-5.0)


def test_k3_kl_and_metrics_values() -> None:
    logp = torch.tensor([[-1.0, -2.0, -0.5]])
    ref = torch.tensor([[-1.5, -2.0, 0.0]])
    mask = torch.tensor([[True, True, False]])
    out = grpo_loss(logp, logp, torch.tensor([1.0]), mask, ref_logprobs=ref, beta=0.1)
    diff = torch.tensor([-0.5, 0.0])
    expected_kl = (torch.exp(diff) - diff - 1).mean()
    assert out.metrics.kl is not None and float(out.metrics.kl) == pytest.approx(float(expected_kl))
    assert float(out.metrics.ratio) == pytest.approx(1.0)
    assert float(out.loss) == pytest.approx(-1.0 + 0.1 * float(expected_kl))
    assert out.metrics.as_dict()["clip_low"] == 0.0 and out.metrics.as_dict()["clip_high"] == 0.0
    assert grpo_loss(logp, logp, torch.tensor([1.0]), mask).metrics.kl is None


def test_normalisers_of_each_loss_type() -> None:
    batch = _batch(seed=9, masked_value=0.0)
    args = (batch["logp"], batch["old"], batch["advantages"], batch["mask"])
    tokens = float(batch["mask"].sum())
    dapo = grpo_loss(*args, loss_type="dapo").loss
    assert float(grpo_loss(*args, loss_type="dapo", loss_normalizer=4 * tokens).loss) == pytest.approx(
        float(dapo) / 4)
    assert float(grpo_loss(*args, loss_type="bnpo").loss) == pytest.approx(float(dapo))
    dr = grpo_loss(*args, loss_type="dr_grpo").loss
    assert float(grpo_loss(*args, loss_type="dr_grpo", max_completion_length=2 * T).loss) == pytest.approx(
        float(dr) / 2)
    assert float(dr) == pytest.approx(float(dapo) * tokens / (B * T))


def test_from_logits_matches_log_softmax_then_loss(fast_path: tuple[str, torch.device]) -> None:
    impl, device = fast_path
    logits, index = make_logits((B, T), 37, "normal", torch.Generator().manual_seed(4))
    batch = _batch(seed=4, masked_value=0.0)
    kwargs = dict(loss_type="dapo", beta=0.04, temperature=0.9, ref_logprobs=batch["ref"])
    x_ref = logits.clone().requires_grad_()
    logp = selective_log_softmax(x_ref, index, temperature=0.9, impl="reference")
    assert isinstance(logp, torch.Tensor)
    expected = grpo_loss(logp, batch["old"], batch["advantages"], batch["mask"], ref_logprobs=batch["ref"],
                         loss_type="dapo", beta=0.04, impl="reference")
    expected.loss.backward()
    x = logits.to(device).clone().requires_grad_()
    actual = grpo_loss_from_logits(x, index.to(device), batch["old"].to(device), batch["advantages"].to(device),
                                   batch["mask"].to(device), impl=impl,
                                   **{**kwargs, "ref_logprobs": batch["ref"].to(device)})
    actual.loss.backward()
    assert_close(actual.loss, expected.loss, f"{impl} loss from logits")
    assert_close(x.grad, x_ref.grad, f"{impl} grad of logits")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"loss_type": "ppo"}, ValueError, "loss_type"),
        ({"importance_sampling_level": "batch"}, ValueError, "importance_sampling_level"),
        ({"beta": 0.1}, ValueError, "ref_logprobs"),
        ({"loss_type": "cispo"}, ValueError, "absolute cap"),
        ({"epsilon_low": 1.0}, ValueError, "epsilon_low"),
        ({"delta": 0.0}, ValueError, "delta"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    logp = torch.zeros(2, 3)
    with pytest.raises(error, match=match):
        grpo_loss(logp, logp, torch.zeros(2), torch.ones(2, 3), **kwargs)


def test_bad_shapes_raise_clear_errors() -> None:
    logp = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="advantages"):
        grpo_loss(logp, logp, torch.zeros(3), torch.ones(2, 3))
    with pytest.raises(ValueError, match="mask shape"):
        grpo_loss(logp, logp, torch.zeros(2), torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"\[batch, time\]"):
        grpo_loss(torch.zeros(6), torch.zeros(6), torch.zeros(2), torch.ones(6))
