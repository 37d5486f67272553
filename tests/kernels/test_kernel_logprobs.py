"""selective_log_softmax: every path against the naive fp32 reference, and against TRL's implementation."""

from __future__ import annotations

import pytest
import torch
from kernel_cases import assert_close, make_logits
from trl.trainer.utils import selective_log_softmax as trl_selective_log_softmax

from rewardforge.kernels import resolve_path, selective_log_softmax
from rewardforge.kernels.logprobs import reference_selective_log_softmax


def _run(logits: torch.Tensor, index: torch.Tensor, impl: str, device: torch.device, temperature: float,
         **kwargs: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logp, entropy, d(sum(logp*a) + sum(entropy*b))/d logits) for fixed random weights a, b."""
    x = logits.to(device).clone().requires_grad_()
    logp, entropy = selective_log_softmax(x, index.to(device), temperature=temperature, return_entropy=True,
                                          impl=impl, **kwargs)
    g = torch.Generator().manual_seed(7)
    w_logp = torch.randn(index.shape, generator=g).to(device)
    w_ent = torch.randn(index.shape, generator=g).to(device)
    ((logp * w_logp).sum() + (entropy * w_ent).sum()).backward()
    assert x.grad is not None
    return logp, entropy, x.grad


@pytest.mark.parametrize(
    ("shape", "vocab", "kind", "temperature"),
    [
        ((3, 47), 123, "normal", 1.0),  # V not a multiple of any block
        ((3, 47), 123, "peaked", 0.7),
        ((2, 9), 77, "negative", 1.0),
        ((2, 5), 300, "wide", 1.3),
        ((1, 3), 4100, "normal", 1.0),  # crosses the Triton 4096-column block boundary
        ((4,), 1, "normal", 1.0),  # a one-token vocabulary: log-prob 0, entropy 0
    ],
)
def test_paths_match_reference_values_and_grads(fast_path: tuple[str, torch.device], shape: tuple[int, ...],
                                                vocab: int, kind: str, temperature: float) -> None:
    impl, device = fast_path
    logits, index = make_logits(shape, vocab, kind, torch.Generator().manual_seed(vocab))
    expected = _run(logits, index, "reference", torch.device("cpu"), temperature)
    actual = _run(logits, index, impl, device, temperature)
    for name, got, want in zip(("logp", "entropy", "grad"), actual, expected, strict=True):
        assert_close(got, want, f"{impl} {name}")
    if kind == "peaked":
        assert (expected[0] > -1e-3).all(), "peaked logits should give near-certain targets"


@pytest.mark.parametrize("chunk_rows", [1, 7, 141, 1000])
def test_chunked_crosses_every_row_chunk_boundary(chunk_rows: int) -> None:
    logits, index = make_logits((3, 47), 123, "normal", torch.Generator().manual_seed(1))
    expected = _run(logits, index, "reference", torch.device("cpu"), 0.9)
    actual = _run(logits, index, "chunked", torch.device("cpu"), 0.9, chunk_rows=chunk_rows)
    for name, got, want in zip(("logp", "entropy", "grad"), actual, expected, strict=True):
        assert_close(got, want, f"chunk_rows={chunk_rows} {name}")


def test_logp_only_gradient_and_no_grad_fast_path(fast_path: tuple[str, torch.device]) -> None:
    impl, device = fast_path
    logits, index = make_logits((2, 11), 50, "normal", torch.Generator().manual_seed(3))
    x = logits.to(device).clone().requires_grad_()
    logp = selective_log_softmax(x, index.to(device), impl=impl)
    assert isinstance(logp, torch.Tensor) and logp.dtype == torch.float32
    logp.sum().backward()
    ref_x = logits.clone().requires_grad_()
    reference_selective_log_softmax(ref_x, index)[0].sum().backward()
    assert_close(x.grad, ref_x.grad, f"{impl} grad of logp alone")

    with torch.no_grad():
        fast = selective_log_softmax(logits.to(device), index.to(device), impl=impl)
    assert isinstance(fast, torch.Tensor) and not fast.requires_grad
    assert_close(fast, logp, f"{impl} no-grad path")


def test_entropy_only_gradient(fast_path: tuple[str, torch.device]) -> None:
    impl, device = fast_path
    logits, index = make_logits((3, 5), 40, "wide", torch.Generator().manual_seed(4))
    x = logits.to(device).clone().requires_grad_()
    _, entropy = selective_log_softmax(x, index.to(device), impl=impl, return_entropy=True)
    entropy.sum().backward()
    ref_x = logits.clone().requires_grad_()
    reference_selective_log_softmax(ref_x, index)[1].sum().backward()
    assert_close(x.grad, ref_x.grad, f"{impl} grad of entropy alone")


@pytest.mark.parametrize("impl", ["reference", "chunked", "triton"])
def test_matches_trl_selective_log_softmax(impl: str,
                                           triton_device: torch.device) -> None:
    device = triton_device if impl == "triton" else torch.device("cpu")
    logits, index = make_logits((4, 33), 211, "normal", torch.Generator().manual_seed(5))
    for temperature in (1.0, 0.6):
        theirs = trl_selective_log_softmax(logits.clone(), index, temperature=temperature)
        ours = selective_log_softmax(logits.to(device), index.to(device), temperature=temperature, impl=impl)
        assert isinstance(ours, torch.Tensor)
        assert_close(ours, theirs, f"{impl} vs TRL at T={temperature}")


def test_bf16_logits_on_chunked_path_keep_fp32_maths() -> None:
    logits, index = make_logits((2, 17), 301, "wide", torch.Generator().manual_seed(6))
    low = logits.bfloat16()
    x = low.clone().requires_grad_()
    logp = selective_log_softmax(x, index, impl="chunked")
    assert isinstance(logp, torch.Tensor) and logp.dtype == torch.float32
    logp.sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.bfloat16
    ref_x = low.float().clone().requires_grad_()
    expected = reference_selective_log_softmax(ref_x, index)[0]
    expected.sum().backward()
    assert_close(logp, expected, "bf16 logp (exact fp32 maths on bf16 inputs)")
    assert_close(x.grad, ref_x.grad, "bf16 grad", rtol=1e-2, atol=1e-2)


def test_rf_kernels_env_forces_the_path(monkeypatch: pytest.MonkeyPatch, triton_device: torch.device) -> None:
    cpu = torch.zeros(1)
    monkeypatch.delenv("RF_KERNELS", raising=False)
    assert resolve_path(cpu) == "chunked"
    for name in ("reference", "chunked", "triton"):
        monkeypatch.setenv("RF_KERNELS", name)
        assert resolve_path(cpu.to(triton_device)) == name
    assert resolve_path(cpu, impl="reference") == "reference"  # an explicit impl beats the environment

    monkeypatch.setenv("RF_KERNELS", "triton")
    logits, index = make_logits((2, 7), 29, "normal", torch.Generator().manual_seed(8))
    via_env = selective_log_softmax(logits.to(triton_device), index.to(triton_device))
    assert isinstance(via_env, torch.Tensor)
    assert_close(via_env, reference_selective_log_softmax(logits, index)[0], "RF_KERNELS=triton")

    monkeypatch.setenv("RF_KERNELS", "fastest")
    with pytest.raises(ValueError, match="RF_KERNELS='fastest'"):
        selective_log_softmax(logits, index)


def test_triton_on_cpu_without_interpreter_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.setenv("RF_KERNELS", "triton")
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        selective_log_softmax(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))


@pytest.mark.parametrize(
    ("logits", "index", "kwargs", "error", "match"),
    [
        (torch.zeros(2, 3, 5), torch.zeros(2, dtype=torch.long), {}, ValueError, "index shape"),
        (torch.zeros(2, 5), torch.tensor([0, 5]), {}, IndexError, "outside the vocabulary"),
        (torch.zeros(2, 5), torch.tensor([-1, 0]), {}, IndexError, "outside the vocabulary"),
        (torch.zeros(2, 5), torch.zeros(2), {}, TypeError, "integer"),
        (torch.zeros(2, 5), torch.zeros(2, dtype=torch.long), {"temperature": 0.0}, ValueError, "positive"),
    ],
)
def test_bad_inputs_raise_clear_errors(logits: torch.Tensor, index: torch.Tensor, kwargs: dict[str, float],
                                       error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        selective_log_softmax(logits, index, impl="chunked", **kwargs)
