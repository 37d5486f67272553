"""The trainer's two failures a user acts on, in rewardforge's exception tree (``core.errors``).

Both are light to import (no torch), so the CLI can catch them without loading the trainer.
"""

from __future__ import annotations

from rewardforge.core.errors import RewardforgeError


class ConfigError(RewardforgeError, ValueError):
    """A config file, override or data source that cannot be used; the message names the key at fault."""


class RewardFailure(RewardforgeError, RuntimeError):
    """A verdict met the ``fail`` policy, or so much of a batch was dropped that the reward looks broken."""
