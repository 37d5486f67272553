"""fp64 in, fp64 out: the reference and chunked paths keep float64 inputs in float64, values and gradients.

A gradient check or a trainer's exact-loss test runs in float64; rounding through fp32 inside the kernel
would cap their agreement at ~1e-6 (fused_linear_logprobs used to return fp32 with a 3e-6 error here).
The expected values are plain fp64 PyTorch formulas, with autograd for the gradients.
"""

from __future__ import annotations

import pytest
import torch

from rewardforge.kernels import (
    fused_linear_grpo_loss,
    fused_linear_logprobs,
    grpo_loss,
    selective_log_softmax,
)
from rewardforge.kernels.dispatch import resolve_path

F64 = torch.float64
TOL = {"rtol": 1e-12, "atol": 1e-12}


def _linear_inputs(seed: int = 0, batch: int = 3, time: int = 7, hidden: int = 12, vocab: int = 61,
                   ) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(batch, time, hidden, generator=g, dtype=F64) * 3.0  # logits of |z| ~ 20: fp32 loses ~1e-6
    w = torch.randn(vocab, hidden, generator=g, dtype=F64)
    b = torch.randn(vocab, generator=g, dtype=F64)
    index = torch.randint(0, vocab, (batch, time), generator=g)
    return h, w, b, index


def _leaves(*tensors: torch.Tensor) -> list[torch.Tensor]:
    return [t.clone().requires_grad_() for t in tensors]


@pytest.mark.parametrize("impl", ["reference", "chunked"])
def test_selective_log_softmax_stays_float64(impl: str) -> None:
    h, w, _, index = _linear_inputs()
    logits = (h @ w.T).detach()
    (mine,) = _leaves(logits)
    (spec,) = _leaves(logits)
    logp, entropy = selective_log_softmax(mine, index, temperature=0.7, return_entropy=True, impl=impl,
                                          chunk_rows=5 if impl == "chunked" else None)
    log_probs = torch.log_softmax(spec / 0.7, -1)
    want_logp = log_probs.gather(-1, index.unsqueeze(-1)).squeeze(-1)
    want_entropy = -(log_probs.exp() * log_probs).sum(-1)
    assert logp.dtype == F64 and entropy.dtype == F64
    torch.testing.assert_close(logp, want_logp, **TOL)
    torch.testing.assert_close(entropy, want_entropy, **TOL)
    (logp.sum() + 0.5 * entropy.sum()).backward()
    (want_logp.sum() + 0.5 * want_entropy.sum()).backward()
    assert mine.grad is not None and mine.grad.dtype == F64
    torch.testing.assert_close(mine.grad, spec.grad, **TOL)


@pytest.mark.parametrize("impl", ["reference", "chunked"])
def test_fused_linear_logprobs_stays_float64(impl: str) -> None:
    h, w, b, index = _linear_inputs(seed=1)
    mine = _leaves(h, w, b)
    spec = _leaves(h, w, b)
    chunks = {"chunk_rows": 4, "chunk_vocab": 17} if impl == "chunked" else {}
    logp = fused_linear_logprobs(mine[0], mine[1], index, bias=mine[2], impl=impl, **chunks)
    assert isinstance(logp, torch.Tensor)
    want = torch.log_softmax(spec[0] @ spec[1].T + spec[2], -1).gather(-1, index.unsqueeze(-1)).squeeze(-1)
    assert logp.dtype == F64
    torch.testing.assert_close(logp, want, **TOL)
    weights = torch.linspace(-1.0, 1.0, index.numel(), dtype=F64).view(index.shape)
    (logp * weights).sum().backward()
    (want * weights).sum().backward()
    for name, got, expected in zip(("hidden", "weight", "bias"), mine, spec, strict=True):
        assert got.grad is not None and got.grad.dtype == F64, name
        torch.testing.assert_close(got.grad, expected.grad, **TOL, msg=lambda m, n=name: f"grad {n}: {m}")


def _spec_loss(logp: torch.Tensor, old: torch.Tensor, adv: torch.Tensor, ref: torch.Tensor,
               mask: torch.Tensor, beta: float) -> torch.Tensor:
    """The dapo loss in plain fp64: clipped ratio (0.2 / 0.28) plus beta * k3 KL, over this batch's tokens."""
    ratio = torch.exp(logp - old)
    surrogate = torch.minimum(ratio * adv[:, None], ratio.clamp(0.8, 1.28) * adv[:, None])
    kl = torch.exp(ref - logp) - (ref - logp) - 1.0
    per_token = -surrogate + beta * kl
    return (per_token * mask).sum() / mask.sum()


def test_grpo_losses_stay_float64() -> None:
    h, w, b, index = _linear_inputs(seed=2)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        base = torch.log_softmax(h @ w.T + b, -1).gather(-1, index.unsqueeze(-1)).squeeze(-1)
    old = base + 0.3 * torch.randn(base.shape, generator=g, dtype=F64)
    ref = base + 0.3 * torch.randn(base.shape, generator=g, dtype=F64)
    adv = torch.randn(base.shape[0], generator=g, dtype=F64)
    mask = torch.ones(base.shape, dtype=torch.bool)
    mask[0, 5:] = False
    options = {"ref_logprobs": ref, "beta": 0.04, "loss_type": "dapo", "epsilon_low": 0.2, "epsilon_high": 0.28}

    spec = _leaves(h, w, b)
    spec_logp = torch.log_softmax(spec[0] @ spec[1].T + spec[2], -1).gather(-1, index.unsqueeze(-1)).squeeze(-1)
    want = _spec_loss(spec_logp, old, adv, ref, mask, beta=0.04)
    want.backward()

    for impl in ("reference", "chunked"):
        (logp_leaf,) = _leaves(base)
        out = grpo_loss(logp_leaf, old, adv, mask, impl=impl, **options)
        assert out.loss.dtype == F64 and out.metrics.ratio.dtype == F64
        torch.testing.assert_close(out.loss, _spec_loss(base, old, adv, ref, mask, 0.04), **TOL)

        mine = _leaves(h, w, b)
        fused = fused_linear_grpo_loss(mine[0], mine[1], index, old, adv, mask, bias=mine[2], impl=impl,
                                       chunk_rows=8, **options)
        assert fused.loss.dtype == F64
        torch.testing.assert_close(fused.loss, want.detach(), **TOL)
        fused.loss.backward()
        for name, got, expected in zip(("hidden", "weight", "bias"), mine, spec, strict=True):
            assert got.grad is not None and got.grad.dtype == F64, f"{impl} {name}"
            torch.testing.assert_close(got.grad, expected.grad, **TOL, msg=lambda m, n=name, i=impl: f"{i} {n}: {m}")


def test_float64_never_takes_the_fp32_triton_path() -> None:
    wide = torch.zeros(2, 3, dtype=F64)
    assert resolve_path(wide) == "chunked"
    with pytest.raises(ValueError, match="float64"):
        resolve_path(wide, "triton")
