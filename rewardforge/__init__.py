"""rewardforge: typed, composable, tested reward functions and verifiers for LLM RL.

```python
import rewardforge as rf

scores = rf.score("exact_match", [{"completion": "Paris", "reference": "Paris"}])
```
"""

import warnings

from rewardforge.core.cache import VerdictCache
from rewardforge.core.compose import (
    Aggregate,
    Component,
    Gate,
    LinearSchedule,
    StepSchedule,
    WeightedSum,
    gate,
    maximum,
    minimum,
    product,
    weighted_sum,
)
from rewardforge.core.engine import ascore, score
from rewardforge.core.errors import RewardError, RewardforgeError, SampleError, UsageError
from rewardforge.core.registry import Registry, default_registry, resolve
from rewardforge.core.types import (
    BaseReward,
    FunctionReward,
    Reward,
    RewardContext,
    Sample,
    Score,
    reward,
)

__version__ = "0.1.0"

__all__ = [
    "Aggregate",
    "BaseReward",
    "Component",
    "FunctionReward",
    "Gate",
    "LinearSchedule",
    "Registry",
    "Reward",
    "RewardContext",
    "RewardError",
    "RewardforgeError",
    "Sample",
    "SampleError",
    "Score",
    "StepSchedule",
    "UsageError",
    "VerdictCache",
    "WeightedSum",
    "__version__",
    "ascore",
    "default_registry",
    "gate",
    "maximum",
    "minimum",
    "product",
    "resolve",
    "reward",
    "score",
    "weighted_sum",
]


def __getattr__(name: str) -> object:
    """`rf.registry()` was a function under a noun's name; it is `rf.default_registry()` now."""
    if name == "registry":
        warnings.warn("rewardforge.registry() is deprecated; use rewardforge.default_registry()",
                      DeprecationWarning, stacklevel=2)
        return default_registry
    raise AttributeError(f"module 'rewardforge' has no attribute {name!r}")
