"""GPU benchmark of the fused kernels (Triton path) against Liger-Kernel and torch.compile, in bf16.

For each vocabulary V in {128256 (Llama 3), 151936 (Qwen 2.5)} and N = B x T tokens with hidden size H:
- ``logprobs``: log-probs of the sampled tokens from bf16 logits. Ours (Triton) vs eager
  ``log_softmax(float).gather``, the same under ``torch.compile``, and TRL's ``selective_log_softmax``;
- ``linear_grpo``: GRPO loss (beta=0.04) from hidden states and the lm_head weight. Ours
  (``fused_linear_logprobs`` + ``grpo_loss``, Triton) vs Liger's ``LigerFusedLinearGRPOLoss`` and
  matmul + log_softmax + loss eager and under ``torch.compile``;
- ``logits_grpo``: GRPO loss from logits. Ours (``grpo_loss_from_logits``) vs Liger's ``triton_grpo_loss``.
Times come from ``triton.testing.do_bench`` (median ms) for forward, backward and forward+backward; peak
memory is ``torch.cuda.max_memory_allocated`` above what the inputs hold. Needs a CUDA GPU; without one
it says so and exits with status 2, measuring nothing.

    .venv/bin/python benchmarks/kernels_gpu.py [--tokens 4096] [--hidden 896] [--vocabs 128256,151936]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "kernels_gpu.json"
LOSS = {"loss_type": "grpo", "beta": 0.04, "epsilon_low": 0.2, "epsilon_high": 0.28}
SEQUENCE_LENGTH = 512

Forward = Callable[[], torch.Tensor]


def _measure(forward: Forward, params: list[torch.Tensor]) -> dict[str, float]:
    """Median ms of forward, backward and both, plus peak memory (GiB) of one forward+backward."""
    from triton.testing import do_bench

    def full() -> None:
        forward().backward()

    for p in params:
        p.grad = None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    full()
    torch.cuda.synchronize()
    peak = (torch.cuda.max_memory_allocated() - base) / 2**30
    holder: dict[str, torch.Tensor] = {}

    def fwd_for_bwd() -> None:
        holder["loss"] = forward()

    def bwd() -> None:
        holder["loss"].backward(retain_graph=True)

    fwd_ms = do_bench(lambda: forward(), grad_to_none=params, return_mode="median")
    fwd_for_bwd()
    bwd_ms = do_bench(bwd, grad_to_none=params, return_mode="median")
    full_ms = do_bench(full, grad_to_none=params, return_mode="median")
    holder.clear()
    return {"forward_ms": fwd_ms, "backward_ms": bwd_ms, "full_ms": full_ms, "peak_gib_above_inputs": peak}


def _safe(name: str, fn: Callable[[], dict[str, float]]) -> dict[str, Any]:
    try:
        return fn()
    except Exception as exc:  # one competitor failing (OOM, API change) must not hide the others' numbers
        torch.cuda.empty_cache()
        return {"error": f"{type(exc).__name__}: {exc}"[:500], "variant": name}


def bench_vocab(tokens: int, hidden: int, vocab: int) -> dict[str, Any]:
    from liger_kernel.chunked_loss import LigerFusedLinearGRPOLoss
    from liger_kernel.transformers.grpo_loss import triton_grpo_loss
    from trl.trainer.utils import selective_log_softmax as trl_selective_log_softmax

    from rewardforge.kernels import (
        fused_linear_logprobs,
        grpo_loss,
        grpo_loss_from_logits,
        selective_log_softmax,
    )

    dev, bf16 = torch.device("cuda"), torch.bfloat16
    batch, time_ = tokens // SEQUENCE_LENGTH, SEQUENCE_LENGTH
    g = torch.Generator(device=dev).manual_seed(0)
    h = torch.randn(batch, time_, hidden, device=dev, dtype=bf16, generator=g).requires_grad_()
    w = (torch.randn(vocab, hidden, device=dev, dtype=bf16, generator=g) * hidden**-0.5).requires_grad_()
    index = torch.randint(0, vocab, (batch, time_), device=dev, generator=g)
    mask = torch.ones(batch, time_, dtype=torch.bool, device=dev)
    adv = torch.randn(batch, device=dev, generator=g)
    with torch.no_grad():
        logits0 = (h @ w.T).float()
        logp0 = torch.log_softmax(logits0, -1).gather(-1, index.unsqueeze(-1)).squeeze(-1)
        del logits0
    old = logp0 + 0.1 * torch.randn(batch, time_, device=dev, generator=g)
    ref = logp0 + 0.2 * torch.randn(batch, time_, device=dev, generator=g)
    logits = torch.randn(batch, time_, vocab, device=dev, dtype=bf16, generator=g).requires_grad_()
    logits_shifted = torch.randn(batch, time_ + 1, vocab, device=dev, dtype=bf16, generator=g).requires_grad_()

    def naive_logprobs(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(x.float(), -1).gather(-1, idx.unsqueeze(-1)).squeeze(-1)

    compiled_logprobs = torch.compile(naive_logprobs)

    def naive_linear_grpo(hh: torch.Tensor, ww: torch.Tensor) -> torch.Tensor:
        logp = naive_logprobs(hh @ ww.T, index)
        return grpo_loss(logp, old, adv, mask, ref_logprobs=ref, impl="reference", **LOSS).loss  # type: ignore[arg-type]

    compiled_linear_grpo = torch.compile(naive_linear_grpo)
    liger_linear = LigerFusedLinearGRPOLoss(use_ref_model=True, **LOSS)

    def ours_linear_grpo() -> torch.Tensor:
        logp = fused_linear_logprobs(h, w, index, impl="triton")
        assert isinstance(logp, torch.Tensor)
        return grpo_loss(logp, old, adv, mask, ref_logprobs=ref, impl="triton", **LOSS).loss  # type: ignore[arg-type]

    def ours_logprobs() -> torch.Tensor:
        out = selective_log_softmax(logits, index, impl="triton")
        assert isinstance(out, torch.Tensor)
        return out.sum()

    return {
        "logprobs": {
            "ours_triton": _safe("ours", lambda: _measure(ours_logprobs, [logits])),
            "eager_log_softmax_gather": _safe("eager", lambda: _measure(
                lambda: naive_logprobs(logits, index).sum(), [logits])),
            "torch_compile": _safe("compile", lambda: _measure(
                lambda: compiled_logprobs(logits, index).sum(), [logits])),
            "trl_selective_log_softmax": _safe("trl", lambda: _measure(
                lambda: trl_selective_log_softmax(logits, index).sum(), [logits])),
        },
        "linear_grpo": {
            "ours_triton": _safe("ours", lambda: _measure(ours_linear_grpo, [h, w])),
            "liger_fused_linear_grpo": _safe("liger", lambda: _measure(lambda: liger_linear(
                h, w, index, mask.long(), adv, ref_per_token_logps=ref, old_per_token_logps=old)[0], [h, w])),
            "eager": _safe("eager", lambda: _measure(lambda: naive_linear_grpo(h, w), [h, w])),
            "torch_compile": _safe("compile", lambda: _measure(lambda: compiled_linear_grpo(h, w), [h, w])),
        },
        "logits_grpo": {
            "ours_triton": _safe("ours", lambda: _measure(lambda: grpo_loss_from_logits(
                logits, index, old, adv, mask, ref_logprobs=ref, impl="triton", **LOSS).loss,  # type: ignore[arg-type]
                [logits])),
            "liger_triton_grpo_loss": _safe("liger", lambda: _measure(lambda: triton_grpo_loss(
                logits_shifted, old, ref, index, adv, mask.long(), temperature=1.0, beta=LOSS["beta"],
                eps_low=LOSS["epsilon_low"], eps_high=LOSS["epsilon_high"], inplace=False, loss_type="grpo",
                reduce=True)[0], [logits_shifted])),
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--hidden", type=int, default=896)
    parser.add_argument("--vocabs", default="128256,151936")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("kernels_gpu.py needs a CUDA GPU and torch.cuda.is_available() is False here: nothing was "
              "measured. Run it on a GPU machine (the CPU benchmark is benchmarks/kernels_memory.py).",
              file=sys.stderr)
        return 2
    if args.tokens % SEQUENCE_LENGTH:
        parser.error(f"--tokens must be a multiple of {SEQUENCE_LENGTH}")
    report: dict[str, Any] = {
        "benchmark": "kernels_gpu",
        "device": torch.cuda.get_device_name(),
        "shape": {"tokens": args.tokens, "hidden": args.hidden, "sequence_length": SEQUENCE_LENGTH,
                  "dtype": "bfloat16"},
        "loss": LOSS,
        "versions": {name: version(name) for name in ("torch", "triton", "trl", "liger-kernel")},
        "python": platform.python_version(),
        "results": {},
    }
    for vocab in (int(v) for v in args.vocabs.split(",")):
        report["results"][str(vocab)] = bench_vocab(args.tokens, args.hidden, vocab)
        print(json.dumps({str(vocab): report["results"][str(vocab)]}, indent=1), flush=True)
        torch.cuda.empty_cache()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
