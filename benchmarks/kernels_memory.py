"""CPU peak memory and wall time of log-probs + GRPO loss, forward and backward, four ways side by side.

Variants (same inputs, same loss: GRPO, beta=0.04 k3 KL, clip 0.2/0.28, token-level ratios):
- ``naive``: ``hidden @ weight.T`` -> fp32 ``log_softmax(...).gather`` -> loss (our PyTorch reference);
- ``trl``: the same logits through TRL's ``selective_log_softmax`` -> the same loss;
- ``liger``: Liger-Kernel's ``LigerFusedLinearGRPOLoss(compiled=False)`` (chunked torch, runs on CPU);
- ``ours``: ``fused_linear_logprobs`` (chunked path, recomputes logits in backward) -> ``grpo_loss``;
- ``ours_fused``: ``fused_linear_grpo_loss`` (chunked path, gradients built in forward: no recompute).

Each variant runs in its own fresh subprocess, one after another (never in parallel); wall and CPU
seconds are both reported, since on a shared machine CPU time is the steadier of the two. Peak memory is
``ru_maxrss`` after the step minus ``ru_maxrss`` once the inputs exist: the large ones (hidden states,
lm_head weight) are regenerated from a seed in each child rather than loaded, so no loading transient
hides in the baseline; the small per-token ones come from a file the parent prepared once. Values are
checked against the naive variant: loss and gradient norms within 1e-5 relative.

    .venv/bin/python benchmarks/kernels_memory.py                  # N=4096, H=896, V=151936, fp32
    .venv/bin/python benchmarks/kernels_memory.py --rows 512 --vocab 32000 --variants ours,naive
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "kernels_memory.json"
VARIANTS = ("naive", "trl", "liger", "ours", "ours_fused")
OURS = ("ours", "ours_fused")
LOSS = {"loss_type": "grpo", "beta": 0.04, "epsilon_low": 0.2, "epsilon_high": 0.28}
SEQUENCE_LENGTH = 256


def _model_tensors(rows: int, hidden: int, vocab: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(hidden states, lm_head weight, sampled tokens), regenerated from a seed by every process: loading
    them from disk would leave a transient copy in ``ru_maxrss`` and hide part of the peak."""
    g = torch.Generator().manual_seed(0)
    h = torch.randn(rows, hidden, generator=g)
    w = torch.randn(vocab, hidden, generator=g).mul_(hidden**-0.5)
    return h, w, torch.randint(0, vocab, (rows,), generator=g)


def prepare_inputs(rows: int, hidden: int, vocab: int, path: Path) -> None:
    """The small per-token inputs; old/ref log-probs are the model's own plus noise (so clips do bind)."""
    from rewardforge.kernels import fused_linear_logprobs

    h, w, index = _model_tensors(rows, hidden, vocab)
    with torch.no_grad():
        logp = fused_linear_logprobs(h, w, index, impl="chunked")
    assert isinstance(logp, torch.Tensor)
    g = torch.Generator().manual_seed(1)
    batch = rows // SEQUENCE_LENGTH
    lengths = torch.randint(SEQUENCE_LENGTH // 4, SEQUENCE_LENGTH + 1, (batch,), generator=g)
    torch.save({
        "mask": torch.arange(SEQUENCE_LENGTH).unsqueeze(0) < lengths.unsqueeze(1),
        "old": (logp + 0.1 * torch.randn(rows, generator=g)).view(batch, SEQUENCE_LENGTH),
        "ref": (logp + 0.2 * torch.randn(rows, generator=g)).view(batch, SEQUENCE_LENGTH),
        "advantages": torch.randn(batch, generator=g),
    }, path)


def _rss_max_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _step(variant: str, data: dict[str, torch.Tensor]) -> torch.Tensor:
    from rewardforge.kernels import fused_linear_grpo_loss, fused_linear_logprobs, grpo_loss

    h, w, index, mask = data["hidden"], data["weight"], data["index"], data["mask"]
    batch, time_ = mask.shape
    loss_args = (data["old"], data["advantages"], mask)
    if variant == "liger":
        from liger_kernel.chunked_loss import LigerFusedLinearGRPOLoss

        liger = LigerFusedLinearGRPOLoss(compiled=False, use_ref_model=True, **LOSS)
        loss, _ = liger(h.view(batch, time_, -1), w, index.view(batch, time_), mask.long(), data["advantages"],
                        ref_per_token_logps=data["ref"], old_per_token_logps=data["old"])
        return loss
    if variant == "ours_fused":
        return fused_linear_grpo_loss(h.view(batch, time_, -1), w, index.view(batch, time_), *loss_args,
                                      ref_logprobs=data["ref"], **LOSS).loss  # type: ignore[arg-type]
    if variant == "ours":
        logp = fused_linear_logprobs(h, w, index)
        assert isinstance(logp, torch.Tensor)
        return grpo_loss(logp.view(batch, time_), *loss_args, ref_logprobs=data["ref"], **LOSS).loss  # type: ignore[arg-type]
    logits = h @ w.T
    if variant == "trl":
        from trl.trainer.utils import selective_log_softmax

        logp = selective_log_softmax(logits, index)
    else:
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, index.unsqueeze(-1)).squeeze(-1)
    return grpo_loss(logp.view(batch, time_), *loss_args, ref_logprobs=data["ref"], impl="reference",
                     **LOSS).loss  # type: ignore[arg-type]


def run_variant(variant: str, inputs: Path, rows: int, hidden: int, vocab: int) -> dict[str, Any]:
    """Child process body: build the inputs, measure the baseline, run one forward+backward, report."""
    data = torch.load(inputs)
    data["hidden"], data["weight"], data["index"] = _model_tensors(rows, hidden, vocab)
    data["hidden"].requires_grad_()
    data["weight"].requires_grad_()
    baseline = _rss_max_bytes()
    start, cpu_start = time.perf_counter(), time.process_time()
    loss = _step(variant, data)
    loss.backward()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak = _rss_max_bytes() - baseline
    return {
        "variant": variant, "seconds": seconds, "cpu_seconds": cpu_seconds, "peak_bytes_above_inputs": peak,
        "finished_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load_average": os.getloadavg()[0],
        "loss": float(loss.detach()), "grad_hidden_norm": float(data["hidden"].grad.norm()),
        "grad_weight_norm": float(data["weight"].grad.norm()),
    }


def _child(variant: str, inputs: Path, shape: dict[str, Any], threads: int | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", variant, "--inputs", str(inputs), "--rows", str(shape["rows"]),
               "--hidden", str(shape["hidden"]), "--vocab", str(shape["vocab"])]
    if threads:
        command += ["--threads", str(threads)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"variant": variant, "error": f"exit {proc.returncode}: {proc.stderr.strip()[-800:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--hidden", type=int, default=896)
    parser.add_argument("--vocab", type=int, default=151936)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per variant (1 gives steadier times on a busy machine)")
    parser.add_argument("--keep-previous", action="store_true",
                        help="merge into --output's results for the same shape, re-running only --variants "
                             "(so the several-GiB naive run need not be repeated)")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--inputs", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(run_variant(args.child, args.inputs, args.rows, args.hidden, args.vocab)))
        return
    if args.rows % SEQUENCE_LENGTH:
        parser.error(f"--rows must be a multiple of {SEQUENCE_LENGTH} (sequences of that length)")
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {sorted(unknown)}")
    logits_bytes = args.rows * args.vocab * 4
    shape = {"rows": args.rows, "hidden": args.hidden, "vocab": args.vocab, "dtype": "float32",
             "sequence_length": SEQUENCE_LENGTH}
    results: dict[str, Any] = {}
    if args.keep_previous and args.output.exists():
        previous = json.loads(args.output.read_text())
        if previous.get("shape") != shape:
            parser.error(f"{args.output} holds results for another shape: {previous.get('shape')}")
        results = {name: res for name, res in previous["results"].items() if name not in variants}
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.pt"
        prepare_inputs(args.rows, args.hidden, args.vocab, inputs)
        for variant in variants:  # strictly one at a time: the naive variant alone needs several GiB
            results[variant] = _child(variant, inputs, shape, args.threads)
            print(json.dumps(results[variant]), flush=True)
    naive = results.get("naive", {})
    for res in results.values():
        if "error" in res:
            continue
        res["peak_gib"] = res["peak_bytes_above_inputs"] / 2**30
        res["peak_in_logits_copies"] = res["peak_bytes_above_inputs"] / logits_bytes
        if "error" not in naive and naive:
            res["peak_vs_naive"] = res["peak_bytes_above_inputs"] / max(naive["peak_bytes_above_inputs"], 1)
            res["time_vs_naive"] = res["seconds"] / naive["seconds"]
            res["cpu_time_vs_naive"] = res["cpu_seconds"] / naive["cpu_seconds"]
            res["max_rel_diff_vs_naive"] = max(_rel(res[k], naive[k]) for k in
                                               ("loss", "grad_hidden_norm", "grad_weight_norm"))
    liger = results.get("liger", {})
    targets: dict[str, dict[str, bool]] = {}
    for name in OURS:
        ours = results.get(name, {})
        checks = {}
        if "peak_vs_naive" in ours:
            checks = {
                "peak_le_25pct_naive": ours["peak_vs_naive"] <= 0.25,
                "time_le_1.2x_naive": ours["time_vs_naive"] <= 1.2,
                "cpu_time_le_1.2x_naive": ours["cpu_time_vs_naive"] <= 1.2,
                "values_within_1e-5_rel": ours["max_rel_diff_vs_naive"] <= 1e-5,
            }
        if "peak_bytes_above_inputs" in ours and "peak_bytes_above_inputs" in liger:
            checks["peak_le_liger"] = ours["peak_bytes_above_inputs"] <= liger["peak_bytes_above_inputs"]
        if checks:
            targets[name] = checks
    report = {
        "benchmark": "kernels_memory",
        "shape": shape,
        "loss": LOSS,
        "one_logits_copy_gib": logits_bytes / 2**30,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "python": platform.python_version(), "load_average_at_end": os.getloadavg()},
        "versions": {name: version(name) for name in ("torch", "trl", "liger-kernel")},
        "results": results,
        "targets": targets,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"targets": targets, "output": str(args.output)}))


if __name__ == "__main__":
    main()
