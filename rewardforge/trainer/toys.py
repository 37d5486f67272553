"""Toy tasks small enough to learn on a CPU in minutes, with a fixed train / held-out split.

- ``arithmetic``: ``"12+7="`` -> ``"<answer>19</answer>"``, scored by ``tag_format`` and
  ``math_equivalence``. Every problem of the operand range exists once; a stable hash of the prompt puts
  ``heldout_frac`` of them in the held-out split, so evaluation never sees a training problem.
- ``sort``: ``"3142>"`` -> ``"1234"`` (the policy-gradient lecture's toy), for comparing a sparse reward
  (``exact_match``) with partial credit (``position_match`` below).

Rows carry the gold completion too, for the supervised warm start.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rewardforge.core.errors import first_error
from rewardforge.core.types import Score, reward


class ArithmeticParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    low: int = 0
    high: int = Field(default=19, description="operands run over low..high inclusive")
    ops: list[Literal["+", "-", "*"]] = Field(default=["+"], min_length=1)
    carries: bool = Field(default=True, description="false: only sums whose digits add up without a carry")
    heldout_frac: float = Field(default=0.2, gt=0, lt=1)


class SortParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    length: int = Field(default=4, ge=2, le=12)
    digits: str = Field(default="0123456789", min_length=2)
    pool: int = Field(default=4000, ge=10, description="distinct lists drawn (from a fixed seed) before the split")
    heldout_frac: float = Field(default=0.2, gt=0, lt=1)


def _heldout(prompt: str, frac: float) -> bool:
    return zlib.crc32(prompt.encode()) % 10_000 < frac * 10_000


def _pick(rows: list[dict[str, Any]], split: str, frac: float) -> list[dict[str, Any]]:
    if split not in ("train", "heldout"):
        raise ValueError(f"toy tasks have the splits train and heldout, not {split!r}")
    return [row for row in rows if _heldout(row["prompt"], frac) == (split == "heldout")]


def arithmetic(params: dict[str, Any], split: str) -> list[dict[str, Any]]:
    p = _parse(ArithmeticParams, params, "arithmetic")
    compute = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}
    rows = []
    for op in p.ops:
        for a in range(p.low, p.high + 1):
            for b in range(p.low, p.high + 1):
                if not p.carries and op == "+" and _carries(a, b):
                    continue
                answer = str(compute[op](a, b))
                rows.append({"prompt": f"{a}{op}{b}=", "reference": answer,
                             "completion": f"<answer>{answer}</answer>"})
    return _pick(rows, split, p.heldout_frac)


def _carries(a: int, b: int) -> bool:
    while a or b:
        if a % 10 + b % 10 >= 10:
            return True
        a, b = a // 10, b // 10
    return False


def sort(params: dict[str, Any], split: str) -> list[dict[str, Any]]:
    p = _parse(SortParams, params, "sort")
    draw = random.Random(0)  # the pool (hence the split) depends on the params only, never on the run's seed
    seen: dict[str, None] = {}
    for _ in range(p.pool * 4):
        seen.setdefault("".join(draw.choice(p.digits) for _ in range(p.length)))
        if len(seen) >= p.pool:
            break
    order = {digit: rank for rank, digit in enumerate(p.digits)}
    rows = []
    for items in seen:
        answer = "".join(sorted(items, key=order.__getitem__))
        rows.append({"prompt": f"{items}>", "reference": answer, "completion": answer})
    return _pick(rows, split, p.heldout_frac)


TASKS: dict[str, Callable[[dict[str, Any], str], list[dict[str, Any]]]] = {"arithmetic": arithmetic, "sort": sort}


def _parse(model: type[BaseModel], params: dict[str, Any], task: str) -> Any:
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        loc, message = first_error(exc)
        raise ValueError(f"task {task!r}: param {'.'.join(map(str, loc)) or '?'}: {message}") from None


@reward(isolation="inline")
def position_match(completion: str, reference: Any, *, unit: Literal["char", "word"] = "char") -> float | Score:
    """Partial credit: the fraction of positions where the completion has the reference's item.

    Items are characters (``unit=char``) or whitespace-separated words. Dividing by the longer of the
    two lengths makes extra items cost as much as missing ones.
    """
    if reference is None:
        return Score.skipped("no reference to compare with")
    split = list if unit == "char" else str.split
    got, want = split(completion.strip()), split(str(reference).strip())
    if not want:
        return Score.skipped("empty reference")
    return sum(a == b for a, b in zip(got, want, strict=False)) / max(len(got), len(want))
