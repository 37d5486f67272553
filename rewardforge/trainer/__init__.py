"""A thin GRPO trainer: one readable loop (``loop.py``) over swappable pieces.

```python
from pathlib import Path
from rewardforge.trainer import load_runs, train

(config,) = load_runs(Path("examples/grpo_toy.yaml"), {"steps": 20}).values()
result = train(config, Path("out/toy"))
print(result.accuracy_before, result.accuracy_final)
```

Pieces: ``config`` (pydantic, YAML, overrides), ``policy`` (HF model or a tiny one, LoRA),
``rollout`` (transformers generate | vLLM), ``scoring`` (the engine, status policy), ``advantages``,
``objective`` (the fused kernels' loss), ``sft`` (warm start), ``evaluate`` (held-out accuracy),
``metrics`` / ``display`` / ``plots`` / ``checkpoint`` (what a run leaves behind), ``compare``.

Names are imported on first use, so reading a config (and failing on a bad one) does not wait for
torch and transformers to load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rewardforge.trainer.advantages import ESTIMATORS, compute_advantages
    from rewardforge.trainer.compare import compare
    from rewardforge.trainer.config import TrainConfig, load_runs
    from rewardforge.trainer.errors import ConfigError, RewardFailure
    from rewardforge.trainer.loop import RunResult, train

_HOMES = {
    "ESTIMATORS": "advantages", "compute_advantages": "advantages", "compare": "compare", "ConfigError": "errors",
    "RewardFailure": "errors",
    "TrainConfig": "config", "load_runs": "config", "RunResult": "loop", "train": "loop",
}

__all__ = ["ESTIMATORS", "ConfigError", "RewardFailure", "RunResult", "TrainConfig", "compare", "compute_advantages", "load_runs",
           "train"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'rewardforge.trainer' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rewardforge.trainer.{_HOMES[name]}"), name)
