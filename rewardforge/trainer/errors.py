"""The trainer's two failures a user acts on; both light to import (no torch), so the CLI catches them cheaply."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config file, override or data source that cannot be used; the message names the key at fault."""


class RewardFailure(RuntimeError):
    """A verdict met the ``fail`` policy, or so much of a batch was dropped that the reward looks broken."""
