"""`rewardforge export`: write a file a trainer loads to use a reward, e.g. OpenRLHF's reward `.py`."""

from __future__ import annotations

import os
import pprint
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from rewardforge.cli.console import fail, out, reward_params
from rewardforge.core.types import RewardError
from rewardforge.core.yaml_files import read_yaml_file
from rewardforge.integrations.openrlhf import DEFAULT_SPECIAL_TOKENS, OpenRLHFReward

app = typer.Typer(help="Write a file a trainer loads to use a reward.", no_args_is_help=True)

TEMPLATE = '''"""OpenRLHF reward file for the rewardforge reward {name!r}.

Written by `rewardforge export openrlhf`; use it with
    --remote_rm_url {path}
OpenRLHF calls reward_func(queries, prompts, labels): the prompt and special tokens are stripped
from each query, the labels are the references, and skipped or errored samples score the policy's
value and are counted in extra_logs (rf_skipped, rf_error).
"""

from rewardforge.integrations.openrlhf import OpenRLHFReward

reward_func = OpenRLHFReward(
    {spec},
    params={params},
    on_skipped={on_skipped!r},
    on_error={on_error!r},
    special_tokens={tokens},
    label_format={label_format!r},
    timeout={timeout!r},
)
'''


def _policy(option: str, raw: str) -> float | str:
    if raw == "raise":
        return raw
    try:
        return float(raw)
    except ValueError:
        fail(f"{option} must be a number or 'raise', got {raw!r}")


def _spec(reward: str) -> Any:
    """A stack YAML is embedded in the file, so the file works where the YAML is not."""
    if not reward.endswith((".yaml", ".yml")):
        return reward
    try:
        return read_yaml_file(reward, "reward stack file")
    except RewardError as exc:
        fail(str(exc))


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(tmp, path)


@app.command("openrlhf")
def openrlhf(
    reward: Annotated[str, typer.Option("--reward", "-r", help="registry name, pkg.module:attr, file.py:attr, or stack YAML")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the reward .py file to write")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE reward param")] = None,
    on_skipped: Annotated[str, typer.Option(help="value for skipped samples, or 'raise'")] = "0.0",
    on_error: Annotated[str, typer.Option(help="value for errored samples, or 'raise'")] = "0.0",
    strip_token: Annotated[list[str] | None, typer.Option(
        "--strip-token", help="special token to strip from responses (repeat; default: common chat markers)")] = None,
    label_format: Annotated[str, typer.Option(help="'text', or 'json' to parse each label")] = "text",
    timeout: Annotated[float | None, typer.Option(help="per-sample wall-clock limit, seconds")] = None,
) -> None:
    """A reward file for OpenRLHF's `--remote_rm_url reward.py`."""
    if label_format not in ("text", "json"):
        fail(f"--label-format must be 'text' or 'json', got {label_format!r}")
    if output.suffix != ".py":
        fail(f"--output must be a .py file (OpenRLHF loads reward files by that suffix), got {output}")
    spec = _spec(reward)
    try:
        params = reward_params(reward, param or []).values
    except RewardError as exc:
        fail(str(exc))
    tokens = tuple(strip_token) if strip_token else DEFAULT_SPECIAL_TOKENS
    policies = _policy("--on-skipped", on_skipped), _policy("--on-error", on_error)
    try:  # build it once here, so a bad name or param fails now and not on the training cluster
        built = OpenRLHFReward(spec, params=params, on_skipped=policies[0], on_error=policies[1],
                               special_tokens=tokens, label_format=label_format,  # type: ignore[arg-type]
                               timeout=timeout)
    except (RewardError, ValueError) as exc:
        fail(str(exc))
    text = TEMPLATE.format(name=built.bound.name, path=output.resolve(), spec=pprint.pformat(spec, indent=4, sort_dicts=False),
                           params=pprint.pformat(params, sort_dicts=False), on_skipped=policies[0], on_error=policies[1],
                           tokens=pprint.pformat(list(tokens), compact=True, width=100),
                           label_format=label_format, timeout=timeout)
    _write_atomically(output, text)
    out.print(f"wrote {output} (reward {built.bound.name!r}); use: --remote_rm_url {output.resolve()}",
              highlight=False, soft_wrap=True)
