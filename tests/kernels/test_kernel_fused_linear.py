"""fused_linear_logprobs: every path against hidden @ weight.T -> naive fp32 log_softmax, values and grads."""

from __future__ import annotations

import pytest
import torch
from kernel_cases import assert_close

from rewardforge.kernels import fused_linear_logprobs

HIDDEN = 16


def _inputs(shape: tuple[int, ...], vocab: int, kind: str, seed: int) -> tuple[torch.Tensor, ...]:
    """(hidden, weight, bias, index); ``peaked`` raises each target logit by 15, ``negative`` shifts all by -60."""
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(*shape, HIDDEN, generator=g)
    weight = torch.randn(vocab, HIDDEN, generator=g) * 0.5
    bias = torch.randn(vocab, generator=g)
    index = torch.randint(0, vocab, shape, generator=g)
    if kind == "peaked":
        target_rows = weight[index]
        hidden = hidden + 15.0 * target_rows / target_rows.pow(2).sum(-1, keepdim=True)
    elif kind == "negative":
        bias = bias - 60.0
    return hidden, weight, bias, index


def _run(inputs: tuple[torch.Tensor, ...], impl: str, device: torch.device, use_bias: bool, temperature: float,
         **chunks: int) -> list[torch.Tensor]:
    hidden, weight, bias, index = (t.to(device).clone() for t in inputs)
    for t in (hidden, weight, bias):
        t.requires_grad_()
    logp, entropy = fused_linear_logprobs(hidden, weight, index, bias=bias if use_bias else None,
                                          temperature=temperature, return_entropy=True, impl=impl, **chunks)
    g = torch.Generator().manual_seed(11)
    w_logp = torch.randn(index.shape, generator=g).to(device)
    w_ent = torch.randn(index.shape, generator=g).to(device)
    ((logp * w_logp).sum() + (entropy * w_ent).sum()).backward()
    grads = [hidden.grad, weight.grad] + ([bias.grad] if use_bias else [])
    assert all(grad is not None for grad in grads)
    return [logp, entropy, *(grad for grad in grads if grad is not None)]


NAMES = ("logp", "entropy", "grad_hidden", "grad_weight", "grad_bias")


@pytest.mark.parametrize(
    ("shape", "vocab", "kind", "use_bias", "temperature", "chunks"),
    [
        ((3, 47), 123, "normal", True, 1.0, {}),
        ((3, 47), 123, "normal", False, 0.7, {"chunk_rows": 5, "chunk_vocab": 17}),  # crosses every boundary
        ((3, 47), 123, "peaked", True, 1.0, {"chunk_rows": 13, "chunk_vocab": 40}),
        ((2, 9), 77, "negative", True, 1.2, {"chunk_rows": 4, "chunk_vocab": 76}),
        ((5,), 1, "normal", True, 1.0, {}),
    ],
)
def test_paths_match_reference(fast_path: tuple[str, torch.device], shape: tuple[int, ...], vocab: int,
                               kind: str, use_bias: bool, temperature: float, chunks: dict[str, int]) -> None:
    impl, device = fast_path
    if impl == "triton":  # the Triton path always spans the vocabulary; keep the row chunking
        chunks = {k: v for k, v in chunks.items() if k == "chunk_rows"}
    inputs = _inputs(shape, vocab, kind, seed=vocab)
    expected = _run(inputs, "reference", torch.device("cpu"), use_bias, temperature)
    actual = _run(inputs, impl, device, use_bias, temperature, **chunks)
    for name, got, want in zip(NAMES[: len(expected)], actual, expected, strict=True):
        assert_close(got, want, f"{impl} {chunks} {name}")
    if kind == "peaked":  # most targets are near-certain: log-probs close to 0
        assert expected[0].median() > -0.05


def test_no_tokens_by_vocab_tensor_is_saved_for_backward(fast_path: tuple[str, torch.device]) -> None:
    impl, device = fast_path
    hidden, weight, bias, index = (t.to(device) for t in _inputs((4, 8), 97, "normal", seed=1))
    hidden.requires_grad_()
    weight.requires_grad_()
    saved: list[tuple[int, ...]] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(tuple(t.shape))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logp = fused_linear_logprobs(hidden, weight, index, bias=bias, impl=impl, chunk_rows=8)
    assert isinstance(logp, torch.Tensor)
    assert saved, "expected the op to save its inputs and per-row statistics"
    rows = index.numel()
    assert all(torch.Size(shape).numel() < rows * 97 for shape in saved), saved
    logp.sum().backward()
    assert hidden.grad is not None and weight.grad is not None


def test_frozen_weight_gets_no_gradient_and_no_grad_matches(fast_path: tuple[str, torch.device]) -> None:
    impl, device = fast_path
    hidden, weight, _, index = (t.to(device) for t in _inputs((2, 6), 50, "normal", seed=2))
    hidden.requires_grad_()
    logp = fused_linear_logprobs(hidden, weight, index, impl=impl)
    assert isinstance(logp, torch.Tensor)
    logp.sum().backward()
    assert weight.grad is None and hidden.grad is not None
    ref_hidden = hidden.detach().cpu().clone().requires_grad_()
    expected = fused_linear_logprobs(ref_hidden, weight.cpu(), index.cpu(), impl="reference")
    assert isinstance(expected, torch.Tensor)
    expected.sum().backward()
    assert_close(hidden.grad, ref_hidden.grad, f"{impl} grad_hidden with frozen weight")
    with torch.no_grad():
        fast = fused_linear_logprobs(hidden, weight, index, impl=impl)
    assert isinstance(fast, torch.Tensor) and not fast.requires_grad
    assert_close(fast, expected, f"{impl} no-grad values")


def test_bf16_weight_accumulates_grad_weight_in_fp32() -> None:
    hidden, weight, _, index = _inputs((4, 32), 211, "normal", seed=3)
    low_h = hidden.bfloat16().requires_grad_()
    low_w = weight.bfloat16().requires_grad_()
    logp = fused_linear_logprobs(low_h, low_w, index, impl="chunked", chunk_rows=2, chunk_vocab=64)
    assert isinstance(logp, torch.Tensor) and logp.dtype == torch.float32
    logp.sum().backward()
    assert low_w.grad is not None and low_w.grad.dtype == torch.bfloat16
    # Ground truth in fp64 from the same bf16 logits: 64 row chunks are summed, and only the final
    # result may carry bf16 rounding (a bf16 running sum would drift far past one bf16 step).
    with torch.no_grad():
        flat_h = low_h.reshape(-1, HIDDEN)
        logits = (flat_h @ low_w.T).double()
        grad_logits = torch.nn.functional.one_hot(index.reshape(-1), 211).double() - logits.softmax(-1)
        expected = grad_logits.T @ flat_h.double()
    torch.testing.assert_close(low_w.grad.double(), expected, rtol=2.0**-8, atol=1e-4)


@pytest.mark.parametrize(
    ("hidden_shape", "weight_shape", "index_shape", "kwargs", "error", "match"),
    [
        ((2, 3, 8), (10, 7), (2, 3), {}, ValueError, "share H"),
        ((2, 3, 8), (10, 8), (2,), {}, ValueError, "index shape"),
        ((2, 8), (10, 8), (2,), {"chunk_rows": 0}, ValueError, "chunk_rows"),
        ((2, 8), (10, 8), (2,), {"temperature": -1.0}, ValueError, "positive"),
    ],
)
def test_bad_inputs_raise_clear_errors(hidden_shape: tuple[int, ...], weight_shape: tuple[int, ...],
                                       index_shape: tuple[int, ...], kwargs: dict[str, float],
                                       error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        fused_linear_logprobs(torch.zeros(hidden_shape), torch.zeros(weight_shape),
                              torch.zeros(index_shape, dtype=torch.long), impl="chunked", **kwargs)


def test_out_of_range_token_and_bad_bias_are_refused() -> None:
    with pytest.raises(IndexError, match="outside the vocabulary"):
        fused_linear_logprobs(torch.zeros(2, 8), torch.zeros(10, 8), torch.tensor([3, 10]))
    with pytest.raises(ValueError, match="bias"):
        fused_linear_logprobs(torch.zeros(2, 8), torch.zeros(10, 8), torch.tensor([3, 1]), bias=torch.zeros(9))
