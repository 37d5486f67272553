"""Checkpoints: ``DIR/checkpoints/step-N/``, the newest ``keep`` of them, written whole or not at all.

A checkpoint holds the trainable weights (the LoRA adapter only, for a LoRA policy), the frozen
reference's weights when it is a separate copy, the optimizer and LR scheduler states, and the run state
(step, held-out results, status counts, the config). Every random draw of a step is seeded from
(seed, step), so a resumed run repeats the next step exactly as the uninterrupted one would have.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from rewardforge.trainer.policy import Policy

PREFIX = "step-"


def _weights(policy: Policy) -> dict[str, torch.Tensor]:
    if hasattr(policy.model, "disable_adapter"):  # LoRA: the base weights reload from the model id
        return {name: p.detach().clone() for name, p in policy.model.named_parameters() if p.requires_grad}
    return policy.model.state_dict()


def save_checkpoint(run_dir: Path, step: int, policy: Policy, reference: Policy | None,
                    optimizer: torch.optim.Optimizer, scheduler: Any, state: dict[str, Any], keep: int = 2) -> Path:
    root = run_dir / "checkpoints"
    final = root / f"{PREFIX}{step:06d}"
    partial = root / f".{final.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    torch.save(_weights(policy), partial / "policy.pt")
    if reference is not None and reference.model is not policy.model:
        torch.save(reference.model.state_dict(), partial / "reference.pt")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, partial / "optim.pt")
    (partial / "state.json").write_text(json.dumps({**state, "step": step}, indent=1), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    for old in checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.name.startswith(PREFIX) and (p / "state.json").is_file())


def read_state(checkpoint: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((checkpoint / "state.json").read_text(encoding="utf-8"))
    return state


def load_weights(checkpoint: Path, policy: Policy, reference: Policy | None) -> None:
    lora = hasattr(policy.model, "disable_adapter")
    weights = torch.load(checkpoint / "policy.pt", map_location=policy.device, weights_only=True)
    result = policy.model.load_state_dict(weights, strict=not lora)  # LoRA: the base weights are not in the file
    if result.unexpected_keys:
        raise RuntimeError(f"{checkpoint}: weights do not fit this model ({result.unexpected_keys[:3]} ...)")
    if reference is not None and reference.model is not policy.model:
        reference.model.load_state_dict(torch.load(checkpoint / "reference.pt", map_location=policy.device,
                                                   weights_only=True))


def load_optimizer(checkpoint: Path, optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
    states = torch.load(checkpoint / "optim.pt", weights_only=True)
    optimizer.load_state_dict(states["optimizer"])
    scheduler.load_state_dict(states["scheduler"])
