"""Everything rewardforge raises on purpose, under one root, and the helpers that word its messages.

```
RewardforgeError                     catch this to catch anything rewardforge raises on purpose
├── RewardError                      a reward cannot be built or configured: unknown name, bad params, bad stack
│   └── SampleError (ValueError)     the samples given to score() are malformed (also a UsageError)
├── UsageError (ValueError)          a call's argument is invalid: a timeout ≤ 0, a weight that is not a number
├── RecordError (ValueError)         records.py: a JSONL line that cannot become a sample
├── SandboxError (RuntimeError)      sandbox/base.py: the sandbox could not run a program
├── ImageBuildError (RuntimeError)   sandbox/image.py: the sandbox image could not be built
├── WorkerTimeout (TimeoutError)     core/workers/pool.py: a worker call ran past its limit and was killed
├── WorkerCrashed (RuntimeError)     core/workers/pool.py: a worker process died mid-call
├── WorkerCancelled (RuntimeError)   core/workers/pool.py: a worker call was cancelled; its worker killed
├── UnpicklableCall (TypeError)      core/workers/pool.py: a call's function or arguments cannot be pickled
├── TokenizerError (ValueError)      rewards/counting.py: a tokenizer cannot be loaded
├── TestSpecError (ValueError)       verifiers/code/cases.py: code test cases are malformed
├── VerdictError (ValueError)        verifiers/judge/parse.py: a judge's reply holds no verdict
└── ScoreStatusError (RuntimeError)  integrations/common.py: a skipped or errored sample under policy "raise"
```

Each class keeps the built-in base it had before the tree existed, so `except ValueError` and
`except RuntimeError` clauses written against older versions still work. Exceptions used only as
signals inside one module (the math layers' `NotNumeric`, the harness codec) stay outside the tree:
they never reach a caller.

This module imports nothing else of rewardforge, so every part (the sandbox and kernels included)
may import it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError


class RewardforgeError(Exception):
    """The root of every exception rewardforge raises on purpose."""


class RewardError(RewardforgeError):
    """A reward could not be built or configured (bad params, unknown name, bad YAML).

    `param` names the reward param at fault when there is one, so that a front end (the CLI) can
    add advice about how the value was read.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class UsageError(RewardforgeError, ValueError):
    """An argument of a rewardforge call is invalid: a timeout ≤ 0, a weight that is not a number."""


class SampleError(UsageError, RewardError):
    """The samples given to `score` are malformed: not a collection of samples, or a bad field."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest choice, or an empty string when none is close.

    >>> did_you_mean("befor", ["at", "before", "after"])
    " (did you mean 'before'?)"
    >>> did_you_mean("zzz", ["at", "before"])
    ''
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


#: The optional dependencies rewards import, and the extra that installs each.
EXTRA_OF_MODULE = {
    "sympy": "math", "latex2sympy2_extended": "math", "math_verify": "math",
    "lingua": "language",
    "openai": "judge", "httpx": "judge", "jinja2": "judge",
    "torch": "trainer", "transformers": "trainer",
    "vllm": "vllm", "docker": "docker", "ray": "ray", "triton": "kernels",
}


def install_hint(exc: BaseException) -> str:
    """`; pip install 'rewardforge[language]'` when `exc` is a missing optional dependency, else ''.

    >>> install_hint(ModuleNotFoundError("No module named 'lingua'", name="lingua"))
    "; lingua comes with an extra: pip install 'rewardforge[language]'"
    """
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return ""
    top = exc.name.partition(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    return f"; {top} comes with an extra: pip install 'rewardforge[{extra}]'" if extra else ""


def first_error(exc: ValidationError) -> tuple[tuple[str | int, ...], str]:
    """Where (the location path) and what for the first error pydantic found: messages name one thing."""
    first = exc.errors()[0]
    return tuple(first["loc"]), first["msg"].removeprefix("Value error, ")


def format_location(loc: Sequence[str | int], *, skip: Iterable[str] = ()) -> str:
    """`('components', 1, 'weight')` -> `components[1].weight`; `skip` drops union tags from the path.

    >>> format_location(["stack", "components", 1, "weight", "step"], skip={"stack", "step"})
    'components[1].weight'
    """
    skipped = set(skip)
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in skipped:
            text += f".{part}" if text else str(part)
    return text


def describe_validation_error(
    exc: ValidationError, *, skip: Iterable[str] = (), known_keys: Iterable[str] = (), noun: str = "key"
) -> tuple[tuple[str | int, ...], str]:
    """The first error of a pydantic validation as (location, message) in plain words.

    An unknown key says so and suggests the closest of `known_keys`; a missing key names itself
    (`noun` is what a key is called there: a YAML key, a reward param). Union members tried and
    rejected along the way (`skip`) are left out of the location.
    """
    errors = exc.errors()
    error: dict[str, Any] = dict(errors[0])
    if error["type"] == "missing":  # a misspelt key shows as missing + unknown: the unknown one says more
        parent = tuple(error["loc"][:-1])
        unknown = [e for e in errors if e["type"] == "extra_forbidden" and tuple(e["loc"][:-1]) == parent]
        error = dict(unknown[0]) if unknown else error
    skipped = set(skip)
    loc = tuple(part for part in error["loc"] if part not in skipped)
    kind = error["type"]
    if kind == "extra_forbidden" and loc:
        key = str(loc[-1])
        return loc[:-1], f"unknown {noun} {key!r}{did_you_mean(key, known_keys)}"
    if kind == "missing" and loc:
        return loc[:-1], f"missing {noun} {str(loc[-1])!r}"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if kind in {"literal_error", "enum"} and isinstance(value, str):
        expected = error.get("ctx", {}).get("expected", "")
        choices = [part.strip(" '") for part in expected.replace(" or ", ", ").split(",")]
        message = f"{value!r} is not one of {expected}{did_you_mean(value, choices)}"
    return loc, message
