"""Our GRPO trainer against TRL's ``GRPOTrainer``, side by side in one run, on the same model, data and reward.

The model is a random-init Qwen2 with Qwen2.5's vocabulary and width (V = 151,936, hidden 896) and 2
layers, saved once to a temporary folder that both trainers load with ``from_pretrained``; so the
logits weigh what they weigh in real models. Same prompts (fixed length, no padding), G, batch,
sampling, loss (``dapo``, clip 0.2), learning rate, and the same reward (``digit_share`` below) scored
through ``rewardforge.score`` on both sides. Three measurements, each in a fresh subprocess, one
after another (never in parallel):

1. ``loss``: one identical rollout with perturbed old and reference log-probs (so clipping and the KL
   term are live) and completions of different lengths (so the loss types' normalisations differ):
   TRL's ``_compute_loss`` and our ``policy_loss`` on the same weights; they must agree to 1e-5, for
   every loss type, with and without the KL term.
2. ``update``: the training step on that rollout, after one warm-up step (so Adam's state exists on
   both sides): forward, backward, grad clip, AdamW step. Peak memory is the highest RSS sampled
   every millisecond during the step minus the RSS just before it, measured twice: ``peak`` with the
   parameter gradients freed before the step (so the step allocates them, as with
   ``zero_grad(set_to_none=True)``), and ``transient`` with them kept (only what the loss computation
   itself holds: logits, their gradient, the kernels' buffers).
3. ``loop``: each trainer's own loop for ``--steps`` steps (generation, reward, update); seconds per
   step are the median over the steps after the first.

    .venv/bin/python benchmarks/trainer_vs_trl.py                      # writes benchmarks/results/trainer_vs_trl.json
    .venv/bin/python benchmarks/trainer_vs_trl.py --prompts 2 --group 4 --completion 16 --steps 3   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch

import rewardforge as rf
from rewardforge import reward

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "trainer_vs_trl.json"  # --out names another file
VOCAB, HIDDEN, LAYERS = 151_936, 896, 2
ALPHABET = "0123456789+=abcdefghij"
PROMPT = "12+34=abcdefghij"  # 16 characters: every prompt has the same length, so neither side pads
LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo", "cispo")


# ---- the shared pieces -------------------------------------------------------------------------------

@reward(isolation="inline")
def digit_share(completion: str) -> float:
    """The share of digits in the text: varied and cheap, so every group has a spread of rewards."""
    return sum(c.isdigit() for c in completion) / len(completion) if completion else 0.0


def _tokenizer() -> Any:
    """Characters for prompts, and a filler word for every other id, so any sampled id decodes to text."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<unk>", *ALPHABET]
    words += [f"w{i}" for i in range(VOCAB - len(words))]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    core.add_special_tokens(["<pad>", "<eos>", "<unk>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    tokenizer.padding_side = "left"
    return tokenizer


def build_model(folder: Path) -> None:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=4864, num_hidden_layers=LAYERS,
                         num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, pad_token_id=0, eos_token_id=1, bos_token_id=None)
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    _tokenizer().save_pretrained(folder)


def _our_config(folder: Path, args: argparse.Namespace, steps: int) -> Any:
    from rewardforge.trainer.config import TrainConfig

    return TrainConfig.model_validate({
        "seed": 0, "steps": steps, "prompts_per_step": args.prompts, "micro_batch_size": args.prompts * args.group,
        "model": {"name_or_path": str(folder), "dtype": "float32", "chat_template": False},
        "data": {"path": str(folder / "prompts.jsonl")}, "reward": "trainer_vs_trl:digit_share",
        "rollout": {"group_size": args.group, "max_new_tokens": args.completion, "temperature": 1.0},
        "loss": {"loss_type": "dapo"}, "optim": {"lr": 1e-6, "max_grad_norm": 1.0},
        "scoring": {"timeout": None}, "output": {"save_model": False, "plot_every": 1000, "checkpoint_every": 1000},
    })


def _trl_trainer(folder: Path, args: argparse.Namespace, steps: int, out: Path, beta: float = 0.0,
                 loss_type: str = "dapo") -> Any:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    def digit_share_for_trl(prompts: list[str], completions: list[str], **_: Any) -> list[float]:
        """The same reward through the same engine, in TRL's reward-function shape."""
        return [s.value if s.value is not None else float("nan") for s in rf.score(digit_share, [
            {"prompt": p, "completion": c} for p, c in zip(prompts, completions, strict=True)])]

    config = GRPOConfig(
        output_dir=str(out), per_device_train_batch_size=args.prompts * args.group, num_generations=args.group,
        gradient_accumulation_steps=1, max_completion_length=args.completion, temperature=1.0, top_k=0,
        learning_rate=1e-6, max_grad_norm=1.0, lr_scheduler_type="constant", warmup_steps=0, max_steps=steps,
        beta=beta, loss_type=loss_type, epsilon=0.2, epsilon_high=5.0 if loss_type == "cispo" else 0.2,
        use_bias_correction_kl=False,  # TRL's default weights the KL by the ratio; the k3 KL of both sides is plain
        logging_steps=1, report_to=[], save_strategy="no", use_cpu=True, bf16=False, seed=0, shuffle_dataset=False,
    )
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    data = Dataset.from_list([{"prompt": PROMPT}] * (args.prompts * max(steps, 1) * 4))
    return GRPOTrainer(model=model, reward_funcs=[digit_share_for_trl], args=config, train_dataset=data,
                       processing_class=tokenizer)


class RSSPeak:
    """Highest resident set size seen by a sampling thread (ms resolution), relative to the start."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = self.start = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * self.page

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.001)

    def __enter__(self) -> RSSPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def delta_mib(self) -> float:
        return (self.peak - self.start) / 2**20


# ---- the identical rollout -----------------------------------------------------------------------------

def make_rollout(folder: Path, args: argparse.Namespace) -> None:
    """One rollout from our backend, with advantages and perturbed old/ref log-probs, saved for every child."""
    from rewardforge.trainer.objective import token_logprobs
    from rewardforge.trainer.policy import load_policy
    from rewardforge.trainer.rollout import TransformersBackend

    config = _our_config(folder, args, 1)
    policy = load_policy(config.model, 0)
    torch.manual_seed(1)
    rollout = TransformersBackend(config.rollout).generate(policy, [policy.prompt_ids(PROMPT)] * args.prompts,
                                                           args.group)
    # A random-weight model almost never samples its end token, and with every completion full-length all the
    # loss types' normalisations coincide: end each completion at a random point instead (as if sampled there).
    g = torch.Generator().manual_seed(2)
    width = rollout.completion_ids.shape[1]
    lengths = torch.randint(width // 4, width + 1, (len(rollout),), generator=g)
    positions = torch.arange(width).unsqueeze(0)
    rollout.completion_mask = positions < lengths.unsqueeze(1)
    ended = lengths < width
    rollout.completion_ids[ended, lengths[ended] - 1] = int(policy.tokenizer.eos_token_id)
    rollout.completion_ids[~rollout.completion_mask] = int(policy.tokenizer.pad_token_id)
    rollout.truncated = ~ended
    current, _ = token_logprobs(policy, rollout, 1.0, 64)
    torch.save({
        "prompt_ids": rollout.prompt_ids, "prompt_mask": rollout.prompt_mask,
        "completion_ids": rollout.completion_ids, "completion_mask": rollout.completion_mask,
        "truncated": rollout.truncated, "texts": rollout.texts,
        "advantages": torch.randn(len(rollout), generator=g),
        "old": current + 0.05 * torch.randn(current.shape, generator=g),
        "ref": current + 0.05 * torch.randn(current.shape, generator=g),
    }, folder / "rollout.pt")


def _our_batch(data: dict[str, Any], group: int) -> Any:
    from collections import Counter

    from rewardforge.trainer.batch import Batch
    from rewardforge.trainer.rollout import Rollout
    from rewardforge.trainer.scoring import Scored

    rollout = Rollout(data["prompt_ids"], data["prompt_mask"], data["completion_ids"], data["completion_mask"],
                      data["truncated"], data["texts"])
    n = len(rollout)
    scored = Scored(torch.zeros(n, dtype=torch.float64), {}, Counter(), 0, 0.0)
    return Batch(rollout, scored, data["advantages"], data["old"], torch.zeros_like(data["old"]), data["ref"],
                 torch.zeros(n // group, dtype=torch.bool), group, mask_truncated=False)


def _trl_inputs(data: dict[str, Any], with_ref: bool) -> dict[str, Any]:
    mask = data["completion_mask"].int()
    inputs = {
        "prompt_ids": data["prompt_ids"], "prompt_mask": data["prompt_mask"].int(),
        "completion_ids": data["completion_ids"], "completion_mask": mask,
        "advantages": data["advantages"], "old_per_token_logps": data["old"],
        "num_items_in_batch": mask.sum(),
    }
    if with_ref:
        inputs["ref_per_token_logps"] = data["ref"]
    return inputs


# ---- the children ------------------------------------------------------------------------------------------

def child_loss(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Both losses on the identical rollout and weights, for every loss type, with and without KL."""
    from rewardforge.trainer.config import LossConfig
    from rewardforge.trainer.objective import policy_loss
    from rewardforge.trainer.policy import load_policy

    data = torch.load(folder / "rollout.pt", weights_only=False)
    batch = _our_batch(data, args.group)
    policy = load_policy(_our_config(folder, args, 1).model, 0)
    tokens = int(batch.loss_mask.sum())
    rows = []
    with tempfile.TemporaryDirectory() as out:
        trl = _trl_trainer(folder, args, 1, Path(out))
        trl.model.load_state_dict(policy.model.state_dict())
        trl.model.eval()  # TRL's eval mode: the loss of this batch alone, no accumulation scaling
        for loss_type in LOSS_TYPES:
            for beta in (0.0, 0.04):
                high = 5.0 if loss_type == "cispo" else 0.2
                # the settings _compute_loss reads; a trainer per case would load the model ten times
                trl.loss_type, trl.beta, trl.epsilon_high = loss_type, beta, high
                with torch.no_grad():
                    theirs = float(trl._compute_loss(trl.model, _trl_inputs(data, beta > 0)))
                    batch.ref_logprobs = data["ref"] if beta > 0 else None
                    config = LossConfig(loss_type=loss_type, beta=beta, epsilon_high=high)
                    ours = float(policy_loss(policy, batch, config, 1.0, tokens, args.completion).loss)
                rows.append({"loss_type": loss_type, "beta": beta, "ours": ours, "trl": theirs,
                             "abs_diff": abs(ours - theirs)})
    return {"cases": rows, "max_abs_diff": max(r["abs_diff"] for r in rows)}


def child_update(folder: Path, args: argparse.Namespace, system: str) -> dict[str, Any]:
    """One training step on the identical rollout (after a warm-up step): time and peak memory."""
    from rewardforge.trainer.config import LossConfig
    from rewardforge.trainer.objective import policy_loss
    from rewardforge.trainer.policy import load_policy

    data = torch.load(folder / "rollout.pt", weights_only=False)
    if system == "ours":
        policy = load_policy(_our_config(folder, args, 1).model, 0)
        model = policy.model
        batch = _our_batch(data, args.group)
        tokens = int(batch.loss_mask.sum())
        config = LossConfig(loss_type="dapo")

        def loss() -> torch.Tensor:
            return policy_loss(policy, batch, config, 1.0, tokens, args.completion).loss
    else:
        tmp = tempfile.TemporaryDirectory()
        trl = _trl_trainer(folder, args, 1, Path(tmp.name))
        trl.current_gradient_accumulation_steps = 1  # set by Trainer.train(); one batch, no accumulation
        model = trl.model
        inputs = _trl_inputs(data, with_ref=False)

        def loss() -> torch.Tensor:
            return trl._compute_loss(model, inputs)

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)

    def step(free_grads: bool) -> float:
        optimizer.zero_grad(set_to_none=free_grads)
        value = loss()
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return float(value)

    step(True)  # warm-up: Adam's state and the allocator's pools exist before the measured steps
    measured: dict[str, list[float]] = {"seconds": [], "peak_mib": [], "transient_mib": []}
    for _ in range(args.repeats):
        for free_grads in (True, False):
            if free_grads:
                optimizer.zero_grad(set_to_none=True)  # the gradients are allocated inside the measured step
            with RSSPeak() as peak:
                start = time.perf_counter()
                step(free_grads)
                elapsed = time.perf_counter() - start
            if free_grads:
                measured["seconds"].append(elapsed)
                measured["peak_mib"].append(peak.delta_mib)
            else:
                measured["transient_mib"].append(peak.delta_mib)
    return {"seconds": statistics.median(measured["seconds"]), "peak_mib": max(measured["peak_mib"]),
            "transient_mib": max(measured["transient_mib"]), "all": measured}


def child_loop(folder: Path, args: argparse.Namespace, system: str) -> dict[str, Any]:
    """Each trainer's own loop: seconds per step (generation, reward, update), median after the first."""
    import resource

    from rich.console import Console

    with tempfile.TemporaryDirectory() as out:
        if system == "ours":
            from rewardforge.trainer.loop import train

            result = train(_our_config(folder, args, args.steps), Path(out) / "run", console=Console(quiet=True))
            seconds = [row["step_time_s"] for row in result.metrics]
        else:
            from transformers import TrainerCallback

            times: list[float] = []

            class Clock(TrainerCallback):  # type: ignore[misc]
                def on_step_begin(self, *a: Any, **k: Any) -> None:
                    self.start = time.perf_counter()

                def on_step_end(self, *a: Any, **k: Any) -> None:
                    times.append(time.perf_counter() - self.start)

            trl = _trl_trainer(folder, args, args.steps, Path(out))
            trl.add_callback(Clock())
            trl.train()
            seconds = times
    return {"seconds": statistics.median(seconds[1:]), "all_seconds": seconds,
            "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# ---- the parent ---------------------------------------------------------------------------------------------

def run_child(kind: str, system: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, "--system", system, "--folder", str(folder),
               "--prompts", str(args.prompts), "--group", str(args.group), "--completion", str(args.completion),
               "--steps", str(args.steps), "--repeats", str(args.repeats)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind}/{system} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--completion", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--parts", default="loss,update,loop", help="which measurements to run, comma-separated")
    parser.add_argument("--child", choices=["loss", "update", "loop"])
    parser.add_argument("--system", choices=["ours", "trl", "both"], default="both")
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.child:
        if args.child == "loss":
            result = child_loss(args.folder, args)
        elif args.child == "update":
            result = child_update(args.folder, args, args.system)
        else:
            result = child_loop(args.folder, args, args.system)
        print(json.dumps(result))
        return

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build_model(folder)
        (folder / "prompts.jsonl").write_text(json.dumps({"prompt": PROMPT}) + "\n")
        make_rollout(folder, args)
        parts = set(args.parts.split(","))
        loss = update = loop = None
        if "loss" in parts:
            loss = run_child("loss", "both", folder, args)
            print(f"loss agreement: max |ours - trl| = {loss['max_abs_diff']:.2e} over {len(loss['cases'])} cases",
                  flush=True)
        if "update" in parts:
            update = {system: run_child("update", system, folder, args) for system in ("trl", "ours")}
            for system, row in update.items():
                print(f"update step {system}: {row['seconds']:.2f} s, peak +{row['peak_mib']:.0f} MiB, transient "
                      f"+{row['transient_mib']:.0f} MiB", flush=True)
        if "loop" in parts:
            loop = {system: run_child("loop", system, folder, args) for system in ("trl", "ours")}
            for system, row in loop.items():
                print(f"loop {system}: {row['seconds']:.2f} s/step ({row['all_seconds']})", flush=True)

    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
                    "torch": torch.__version__, "trl": version("trl"), "transformers": version("transformers")},
        "load_before": load_before, "load_after": os.getloadavg(),
        "shape": {"vocab": VOCAB, "hidden": HIDDEN, "layers": LAYERS, "prompts": args.prompts, "group": args.group,
                  "completion_tokens": args.completion, "prompt_tokens": len(PROMPT)},
        "loss": loss, "update": update, "loop": loop,
        "ratios": {
            **({} if update is None else {
                "update_peak_memory_ours_over_trl": update["ours"]["peak_mib"] / update["trl"]["peak_mib"],
                "update_transient_memory_ours_over_trl": update["ours"]["transient_mib"] / update["trl"]["transient_mib"],
                "update_time_ours_over_trl": update["ours"]["seconds"] / update["trl"]["seconds"]}),
            **({} if loop is None else {"loop_time_ours_over_trl": loop["ours"]["seconds"] / loop["trl"]["seconds"]}),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["ratios"], indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
