"""Deprecated home of the reward contract, kept for one release: import from `rewardforge` or
`rewardforge.core.types` instead. Plugins written against 0.1 keep working, with a warning."""

import warnings

from rewardforge.core import types as _types

globals().update({name: value for name, value in vars(_types).items() if not name.startswith("__")})

warnings.warn(
    "rewardforge.rewards.core moved to rewardforge.core.types (or import from rewardforge directly); "
    "the old path goes away in the next release",
    DeprecationWarning,
    stacklevel=2,
)
