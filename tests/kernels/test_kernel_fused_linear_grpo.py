"""fused_linear_grpo_loss: gradients built in forward must equal autograd through the reference ops."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch
from kernel_cases import assert_close

from rewardforge.kernels import LOSS_TYPES, fused_linear_grpo_loss, fused_linear_logprobs

B, T, H, V = 3, 11, 16, 97


def _inputs(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(B, T, H, generator=g)
    weight = torch.randn(V, H, generator=g) * 0.5
    bias = torch.randn(V, generator=g)
    index = torch.randint(0, V, (B, T), generator=g)
    with torch.no_grad():
        logp = fused_linear_logprobs(hidden, weight, index, bias=bias, temperature=0.8, impl="reference")
    assert isinstance(logp, torch.Tensor)
    mask = torch.arange(T).unsqueeze(0) < torch.tensor([[11], [5], [0]])  # the last row is fully masked
    return {
        "hidden": hidden, "weight": weight, "bias": bias, "index": index, "mask": mask,
        "old": logp + 0.2 * torch.randn(B, T, generator=g), "ref": logp + 0.3 * torch.randn(B, T, generator=g),
        "advantages": torch.tensor([1.0, -0.5, 0.7]),
    }


def _run(data: dict[str, torch.Tensor], impl: str, device: torch.device, scale: float = 1.0,
         **kwargs: Any) -> list[Any]:
    hidden, weight, bias = (data[k].to(device).clone().requires_grad_() for k in ("hidden", "weight", "bias"))
    out = fused_linear_grpo_loss(hidden, weight, data["index"].to(device), data["old"].to(device),
                                 data["advantages"].to(device), data["mask"].to(device), bias=bias,
                                 ref_logprobs=data["ref"].to(device), temperature=0.8, impl=impl, **kwargs)
    (out.loss * scale).backward()
    return [out.loss, hidden.grad, weight.grad, bias.grad, out.metrics.as_dict()]


@pytest.mark.parametrize(("loss_type", "level", "beta", "delta"),
                         list(itertools.product(LOSS_TYPES, ("token", "sequence"), (0.0, 0.04), (None, 1.5))))
def test_chunked_matches_reference(loss_type: str, level: str, beta: float, delta: float | None) -> None:
    data = _inputs(seed=len(loss_type) + len(level))
    kwargs = dict(loss_type=loss_type, importance_sampling_level=level, beta=beta, delta=delta,
                  epsilon_high=5.0 if loss_type == "cispo" else 0.28)
    cpu = torch.device("cpu")
    expected = _run(data, "reference", cpu, **kwargs)
    actual = _run(data, "chunked", cpu, chunk_rows=7, **kwargs)  # 7 rows: blocks straddle sequences
    for name, got, want in zip(("loss", "grad_hidden", "grad_weight", "grad_bias"), actual[:4], expected[:4], strict=True):
        assert_close(got, want, f"{loss_type}/{level}/beta={beta}/delta={delta} {name}")
    assert actual[4] == pytest.approx(expected[4], rel=1e-5, abs=1e-7)
    assert expected[1][2].abs().sum() == 0, "a fully masked sequence gets no gradient"


def test_upstream_gradient_scales_and_no_grad_gives_the_same_loss() -> None:
    data = _inputs(seed=5)
    cpu = torch.device("cpu")
    expected = _run(data, "reference", cpu, scale=-3.0, loss_type="dapo", beta=0.04)
    actual = _run(data, "chunked", cpu, scale=-3.0, loss_type="dapo", beta=0.04)
    for name, got, want in zip(("loss", "grad_hidden", "grad_weight", "grad_bias"), actual[:4], expected[:4], strict=True):
        assert_close(got, want, f"scaled {name}")
    with torch.no_grad():
        plain = fused_linear_grpo_loss(data["hidden"], data["weight"], data["index"], data["old"],
                                       data["advantages"], data["mask"], bias=data["bias"], temperature=0.8,
                                       ref_logprobs=data["ref"], loss_type="dapo", beta=0.04, impl="chunked")
    assert_close(plain.loss, expected[0], "no-grad loss")


def test_triton_path_matches_reference(triton_device: torch.device) -> None:
    data = _inputs(seed=6)
    kwargs = dict(loss_type="grpo", importance_sampling_level="sequence", beta=0.04)
    expected = _run(data, "reference", torch.device("cpu"), **kwargs)
    actual = _run(data, "triton", triton_device, chunk_rows=8, **kwargs)
    for name, got, want in zip(("loss", "grad_hidden", "grad_weight", "grad_bias"), actual[:4], expected[:4], strict=True):
        assert_close(got, want, f"triton {name}")


def test_bad_shapes_raise_clear_errors() -> None:
    data = _inputs(seed=7)
    args = (data["weight"], data["index"], data["old"], data["advantages"], data["mask"])
    with pytest.raises(ValueError, match=r"\[B, T, H\]"):
        fused_linear_grpo_loss(data["hidden"].reshape(B * T, H), *args)
    with pytest.raises(ValueError, match="index shape"):
        fused_linear_grpo_loss(data["hidden"], data["weight"], data["index"][:, :5], *args[2:])
    with pytest.raises(ValueError, match="ref_logprobs"):
        fused_linear_grpo_loss(data["hidden"], *args, beta=0.1)
