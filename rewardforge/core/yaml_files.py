"""Reading a YAML file a user named (a stack, a cases file, a registry, a config): one set of messages.

A missing file, an unreadable one and malformed YAML each become a `RewardError` that names the file
and the problem in one line, never a traceback from the YAML parser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rewardforge.core.errors import RewardError


def read_yaml_file(path: str | Path, what: str) -> Any:
    """The parsed content of `path`; `what` names the file's role in messages ("reward stack file")."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RewardError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise RewardError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RewardError(f"cannot read {what} {path}: not UTF-8 text") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RewardError(f"{path}: not valid YAML: {exc}") from None
