"""rewardforge: typed, composable, tested reward functions and verifiers for LLM RL.

```python
import rewardforge as rf

scores = rf.score("exact_match", [{"completion": "Paris", "reference": "Paris"}])
```
"""

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
from rewardforge.core.registry import Registry, default_registry, resolve
from rewardforge.core.types import (
    BaseReward,
    FunctionReward,
    Reward,
    RewardContext,
    RewardError,
    Sample,
    Score,
    reward,
)

registry = default_registry

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
    "Sample",
    "Score",
    "StepSchedule",
    "VerdictCache",
    "WeightedSum",
    "__version__",
    "ascore",
    "default_registry",
    "gate",
    "maximum",
    "minimum",
    "product",
    "registry",
    "resolve",
    "reward",
    "score",
    "weighted_sum",
]
