"""GRPO in one loop. Setup first, then every step does the same three things:

1. rollout: draw B prompts (from the seed and the step, so a resumed run draws the same), sample G
   completions each, score them on the scoring thread while the old (and reference) log-probs are
   computed here, then the advantages. With DAPO's dynamic sampling, groups whose rewards are all equal
   are dropped and more prompts are sampled, for up to ``max_sampling_rounds`` rounds.
2. update: ``mu`` passes over the batch. Each pass accumulates the micro-batches' gradients under the
   whole batch's normaliser, clips the gradient norm, steps the optimizer and the LR schedule, and
   pushes the new weights to the rollout engine.
3. record: a ``metrics.jsonl`` line, the live display, ``reward_curve.png``, held-out accuracy and
   checkpoints (every sampled completion goes to ``rollouts.jsonl`` as it is scored).

Steps are numbered from 1; a checkpoint's step is the last one completed.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from rewardforge.trainer.advantages import compute_advantages
from rewardforge.trainer.batch import Batch
from rewardforge.trainer.checkpoint import (
    checkpoints,
    load_optimizer,
    load_weights,
    read_state,
    save_checkpoint,
)
from rewardforge.trainer.config import OptimConfig, TrainConfig
from rewardforge.trainer.data import draw_prompts, load_rows, torch_seed
from rewardforge.trainer.display import Display
from rewardforge.trainer.errors import ConfigError
from rewardforge.trainer.evaluate import evaluate
from rewardforge.trainer.metrics import MetricsLog, RolloutLog, UpdateTotals, step_metrics
from rewardforge.trainer.objective import accumulation_share, policy_loss, token_logprobs
from rewardforge.trainer.plots import component_names, plot_run
from rewardforge.trainer.policy import load_policy
from rewardforge.trainer.rollout import make_backend
from rewardforge.trainer.scoring import Scorer, build_reward, samples_for
from rewardforge.trainer.sft import warm_start


@dataclass
class RunResult:
    out_dir: Path
    metrics: list[dict[str, Any]]
    evals: list[dict[str, Any]]
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def accuracy_before(self) -> float | None:
        return next((e["accuracy"] for e in self.evals if e["step"] == 0), None)

    @property
    def accuracy_final(self) -> float | None:
        return self.evals[-1]["accuracy"] if self.evals and self.evals[-1]["step"] > 0 else None


def train(config: TrainConfig, out_dir: Path, *, resume: bool = False, console: Console | None = None) -> RunResult:
    """Run GRPO as ``config`` says, writing everything into ``out_dir``; see the module docstring."""
    cfg, console = config, console or Console()
    group, temperature, micro = cfg.rollout.group_size, cfg.rollout.temperature, cfg.micro_batch_size

    # ---- setup ------------------------------------------------------------------------------------
    start = _prepare(out_dir, cfg, resume)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    policy = load_policy(cfg.model, cfg.seed)
    pad = int(policy.tokenizer.pad_token_id)
    reward = build_reward(cfg.reward)
    eval_reward = reward if cfg.eval.reward is None else build_reward(cfg.eval.reward, "eval.reward")
    train_rows = load_rows(cfg.data)
    heldout = load_rows(cfg.eval.data) if cfg.eval.data is not None else []
    backend = make_backend(cfg.rollout, cfg.model, policy, cfg.seed)
    state: dict[str, Any] = read_state(start) if start else {"step": 0, "evals": [], "statuses": {}}
    state["config"] = cfg.model_dump(mode="json")

    def held_out(step: int, stage: str) -> None:
        result = evaluate(policy, backend, heldout, eval_reward, cfg.eval, cfg.scoring.timeout, step=step, stage=stage)
        state["evals"].append(result.as_dict())
        _write_evals(out_dir, state["evals"])
        console.print(f"held-out accuracy {stage}: [bold]{100 * result.accuracy:.1f}%[/] (n={result.n}, greedy)",
                      highlight=False)

    if start is None:
        if cfg.sft is not None:
            sft_rows = load_rows(cfg.sft.data or cfg.data, need_completion=True)
            began = time.perf_counter()
            with Progress(TextColumn("warm start"), BarColumn(), MofNCompleteColumn(), TextColumn("epochs"),
                          console=console, transient=True) as bar:
                epochs = bar.add_task("sft", total=cfg.sft.epochs)
                losses = warm_start(policy, sft_rows, cfg.sft, cfg.seed, on_epoch=lambda *_: bar.advance(epochs))
            console.print(f"warm start: {cfg.sft.examples} examples x {cfg.sft.epochs} epochs, loss "
                          f"{losses[0]:.3f} -> {losses[-1]:.3f} ({time.perf_counter() - began:.0f} s)", highlight=False)
            backend.sync(policy)
        if heldout:
            held_out(0, "after SFT" if cfg.sft is not None else "before training")
    reference = policy.reference() if cfg.loss.beta > 0 else None
    optimizer = torch.optim.AdamW(policy.trainable(), lr=cfg.optim.lr, betas=cfg.optim.betas,
                                  weight_decay=cfg.optim.weight_decay)
    scheduler = lr_schedule(optimizer, cfg.optim, cfg.steps * cfg.loss.mu)
    if start is not None:
        load_weights(start, policy, reference)
        load_optimizer(start, optimizer, scheduler)
        backend.sync(policy)
        console.print(f"resumed from {start}", highlight=False)
    scorer = Scorer(reward, cfg.scoring)
    log = MetricsLog(out_dir / "metrics.jsonl", keep_through=state["step"])
    rollout_log = RolloutLog(out_dir / "rollouts.jsonl", keep_through=state["step"])
    every = cfg.output.rollouts_every
    _write_evals(out_dir, state["evals"])
    statuses: Counter[str] = Counter(state["statuses"])
    policy.model.train()

    try:
        with Display(console, cfg.steps, state["step"], f"GRPO {out_dir.name}") as display:
            for step in range(state["step"] + 1, cfg.steps + 1):
                started = time.perf_counter()

                # ---- 1. rollout -----------------------------------------------------------------
                sampled: list[Batch] = []  # everything generated this step (metrics)
                kept: list[Batch] = []  # what the update learns from
                rounds = cfg.advantage.max_sampling_rounds if cfg.advantage.dynamic_sampling else 1
                for round_ in range(rounds):
                    rows = draw_prompts(train_rows, cfg.prompts_per_step, cfg.seed, step, round_)
                    torch.manual_seed(torch_seed(cfg.seed, step, round_))
                    rollout = backend.generate(policy, [policy.prompt_ids(row["prompt"]) for row in rows], group,
                                               seed=torch_seed(cfg.seed, step, round_))
                    pending = scorer.submit(samples_for(rows, rollout.texts, group, round_ * len(rows)), step)
                    old, entropy = token_logprobs(policy, rollout, temperature, micro, with_entropy=True)
                    ref = None if reference is None else token_logprobs(reference, rollout, temperature, micro)[0]
                    scored = pending.result()
                    adv = compute_advantages(scored.rewards, group, cfg.advantage.estimator, cfg.advantage.eps)
                    part = Batch(rollout, scored, adv.values, old, entropy, ref, adv.zero_std, group,
                                 cfg.loss.mask_truncated)
                    sampled.append(part)
                    if every and step % every == 0:
                        rollout_log.append(step, round_, rows, part)
                    kept.append(part.groups(~adv.zero_std) if cfg.advantage.dynamic_sampling else part)
                    if sum(len(b) for b in kept) >= cfg.prompts_per_step * group:
                        break
                batch = Batch.concat(kept, pad)
                batch = batch.rows(torch.arange(min(len(batch), cfg.prompts_per_step * group)))
                seen = Batch.concat(sampled, pad)

                # ---- 2. update ------------------------------------------------------------------
                lr = optimizer.param_groups[0]["lr"]
                totals = UpdateTotals()
                tokens = int(batch.loss_mask.sum())
                parts = list(batch.micro_batches(micro))
                for _ in range(cfg.loss.mu):
                    optimizer.zero_grad(set_to_none=True)
                    for part in parts if tokens else []:  # no tokens (all groups equal, all dropped): no grads
                        share = accumulation_share(cfg.loss.loss_type, len(part), len(batch), len(parts))
                        out = policy_loss(policy, part, cfg.loss, temperature, tokens, cfg.rollout.max_new_tokens)
                        (out.loss * share).backward()
                        totals.add(out, share, int(part.loss_mask.sum()))
                    if cfg.optim.max_grad_norm is not None:
                        torch.nn.utils.clip_grad_norm_(policy.trainable(), cfg.optim.max_grad_norm)
                    optimizer.step()  # parameters without a gradient are left alone
                    scheduler.step()
                    backend.sync(policy)
                    totals.end_pass()

                # ---- 3. record ------------------------------------------------------------------
                row = step_metrics(step, seen, totals, lr, time.perf_counter() - started)
                log.append(row)
                statuses.update(seen.scored.statuses)
                state["statuses"] = dict(statuses)
                display.step(row, component_names([row]), seen.scored.dropped)
                if seen.scored.dropped:
                    display.note(f"step {step}: {seen.scored.dropped} samples dropped by the scoring policy "
                                 f"({'; '.join(seen.scored.reasons[:2])})")
                if step % cfg.output.plot_every == 0 and step < cfg.steps:  # the last one is drawn below
                    _plot(out_dir, log.rows, state["evals"], cfg)
                if heldout and (step == cfg.steps or (cfg.eval.every and step % cfg.eval.every == 0)):
                    held_out(step, "after GRPO" if step == cfg.steps else f"at step {step}")
                if step % cfg.output.checkpoint_every == 0 or step == cfg.steps:
                    state["step"] = step
                    save_checkpoint(out_dir, step, policy, reference, optimizer, scheduler, state)
    except KeyboardInterrupt:
        saved = checkpoints(out_dir)
        where = f"the last checkpoint is {saved[-1].name}: continue with --resume" if saved else "no checkpoint yet"
        console.print(f"[yellow]interrupted[/]; {where}", highlight=False)
        raise
    finally:
        scorer.close()

    _plot(out_dir, log.rows, state["evals"], cfg)
    if cfg.output.save_model:
        policy.save(out_dir / "model")
    result = RunResult(out_dir, log.rows, state["evals"], statuses)
    (out_dir / "summary.json").write_text(json.dumps({"steps": cfg.steps, "statuses": dict(statuses),
                                                      "evals": state["evals"]}, indent=1), encoding="utf-8")
    if result.accuracy_before is not None and result.accuracy_final is not None:
        gain = 100 * (result.accuracy_final - result.accuracy_before)
        console.print(f"held-out accuracy: {100 * result.accuracy_before:.1f}% {state['evals'][0]['stage']} -> "
                      f"[bold]{100 * result.accuracy_final:.1f}%[/] after GRPO ({gain:+.1f} points)", highlight=False)
    if statuses["skipped"] or statuses["error"]:
        console.print(f"rewards not ok: {statuses['skipped']} skipped, {statuses['error']} errors "
                      f"(policy: skipped -> {cfg.scoring.on_skipped}, error -> {cfg.scoring.on_error})", highlight=False)
    return result


def lr_schedule(optimizer: torch.optim.Optimizer, config: OptimConfig, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over ``warmup_steps`` updates, then constant, linear or cosine decay to 0 at ``total``."""
    def factor(update: int) -> float:
        if update < config.warmup_steps:
            return (update + 1) / config.warmup_steps
        progress = min(1.0, (update - config.warmup_steps) / max(1, total - config.warmup_steps))
        if config.schedule == "linear":
            return 1.0 - progress
        if config.schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _plot(out_dir: Path, rows: list[dict[str, Any]], evals: list[dict[str, Any]], cfg: TrainConfig) -> None:
    if rows:
        plot_run(rows, evals, out_dir / "reward_curve.png", window=cfg.output.rolling_window,
                 title=f"{out_dir.name}: {cfg.rollout.group_size} completions x {cfg.prompts_per_step} prompts "
                       f"per step, {cfg.advantage.estimator} advantages, {cfg.loss.loss_type} loss")


#: Config keys a resumed run may change: more steps, other logging or evaluation.
RESUMABLE_CHANGES = {"steps", "output", "eval"}


def _prepare(out_dir: Path, cfg: TrainConfig, resume: bool) -> Path | None:
    """The checkpoint to resume from (None for a fresh run); refuses to mix two runs in one folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = checkpoints(out_dir)
    if resume:
        if not saved:
            raise ConfigError(f"{out_dir} holds no checkpoint to resume from")
        before = read_state(saved[-1]).get("config", {})
        now = cfg.model_dump(mode="json")
        changed = [key for key in now if key not in RESUMABLE_CHANGES and before.get(key) != now[key]]
        if changed:
            raise ConfigError(f"cannot resume {out_dir}: the config's {changed[0]!r} section differs from the run's "
                              f"(a resumed run may change only {', '.join(sorted(RESUMABLE_CHANGES))})")
        return saved[-1]
    if saved or (out_dir / "metrics.jsonl").exists():
        raise ConfigError(f"{out_dir} already holds a run: pass --resume to continue it, or choose another "
                          "--output-dir")
    (out_dir / "config.json").write_text(json.dumps(cfg.model_dump(mode="json"), indent=1), encoding="utf-8")
    return None


def _write_evals(out_dir: Path, evals: list[dict[str, Any]]) -> None:
    """``eval.jsonl``, rewritten whole: after a resume it holds exactly the results up to the checkpoint."""
    (out_dir / "eval.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals), encoding="utf-8")
