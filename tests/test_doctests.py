"""The `>>>` examples in the public API's docstrings run, so the documentation cannot drift.

The same examples run with `pytest --doctest-modules rewardforge/core/compose.py` (and the others
listed here); this module makes them part of the ordinary suite.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "rewardforge.core.compose",
    "rewardforge.core.engine",
    "rewardforge.core.errors",
    "rewardforge.core.samples",
    "rewardforge.core.types",
]
FINDER = doctest.DocTestFinder(exclude_empty=True)
EXAMPLES = [test for name in MODULES for test in FINDER.find(importlib.import_module(name)) if test.examples]


def test_every_compose_helper_has_an_example() -> None:
    documented = {test.name.rsplit(".", 1)[-1] for test in EXAMPLES if test.name.startswith("rewardforge.core.compose.")}
    assert {"weighted_sum", "gate", "minimum", "maximum", "product", "StepSchedule", "LinearSchedule"} <= documented


@pytest.mark.parametrize("test", EXAMPLES, ids=[test.name for test in EXAMPLES])
def test_docstring_examples_run(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures: list[str] = []
    runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)
