"""What opaque test code needs, and which of it comes from the dataset's prompt instead of the program."""

from __future__ import annotations

import time

import pytest

from rewardforge.verifiers.code.cases import CheckCase, parse_tests
from rewardforge.verifiers.code.checks import bound_names, needed_names, prompt_code, trusted_helpers
from rewardforge.verifiers.code.harness import CodecError, decode_value

PROMPT = '''import math
from typing import List
import numpy as np  # never needed below: must not be carried into a check


def poly(xs: list, x: float):
    """Evaluates a polynomial."""
    return sum(coeff * power(x, i) for i, coeff in enumerate(xs))


def power(x, i):
    return math.pow(x, i)


def find_zero(xs: list):
    """The function the program writes: a stub here."""


def todo(x):
    raise NotImplementedError
'''
CHECK = "def check(candidate):\n    assert abs(poly([1, 2], candidate([1, 2]))) < 1e-6\n"


def test_needed_and_bound_names() -> None:
    code = "import math\nX = 1\ndef h(y):\n    return helper(y) + X + len(y)\nassert h(f(1)) == math.pi\n"
    assert needed_names(code) == ("f", "helper")
    assert bound_names(code) == {"math", "X", "h"}
    assert bound_names("") == set()


def test_prompt_code_keeps_complete_definitions_and_imports() -> None:
    code = prompt_code(PROMPT)
    assert list(code.definitions) == ["poly", "power"]  # stubs (docstring only, NotImplementedError) left out
    assert [names for names, _ in code.imports] == [{"math"}, {"List"}, {"np"}]


def test_trusted_helpers_bring_what_they_use_and_nothing_else() -> None:
    helpers = trusted_helpers(("poly",), PROMPT, frozenset({"find_zero"}))
    assert "def poly" in helpers and "def power" in helpers and "import math" in helpers
    assert "numpy" not in helpers and "List" not in helpers and "find_zero" not in helpers
    exec(helpers + "assert poly([1, 2], 3) == 7\n", {})  # runnable on its own
    assert trusted_helpers(("poly",), PROMPT, frozenset({"poly"})) == ""  # the entry point never comes from here
    assert trusted_helpers(("find_zero", "todo"), PROMPT, frozenset()) == ""  # stubs are the program's to write
    assert trusted_helpers(("poly",), "this prompt is prose, not code", frozenset()) == ""


def test_parse_tests_puts_the_prompts_helpers_before_the_check() -> None:
    reference = {"test": CHECK, "entry_point": "find_zero"}
    (plain,) = parse_tests(reference)
    (trusted,) = parse_tests(reference, prompt=PROMPT)
    assert isinstance(plain, CheckCase) and isinstance(trusted, CheckCase)
    assert plain.needs == ("poly",) and trusted.needs == ()
    assert trusted.code.endswith(CHECK) and "def poly" in trusted.code
    chat = f"Write find_zero.\n\n```python\n{PROMPT}```\n"
    assert parse_tests(reference, prompt=chat) == [trusted]  # the prompt's code in a fenced block
    assert parse_tests({**reference, "prompt": PROMPT}) == [trusted]  # a whole HumanEval row as the reference
    # Loose assert lines name no function under test: the prompt is not used, the program's helper is.
    (loose,) = parse_tests(["assert abs(poly([1, 2], find_zero([1, 2]))) < 1e-6"], prompt=PROMPT)
    assert isinstance(loose, CheckCase) and loose.needs == ("find_zero", "poly")
    (named,) = parse_tests(["assert abs(poly([1, 2], find_zero([1, 2]))) < 1e-6"], entry_point="find_zero",
                           prompt=PROMPT)
    assert isinstance(named, CheckCase) and named.needs == ("find_zero",)


def test_statements_that_assert_nothing_are_context_not_tests() -> None:
    tests = parse_tests("import math\nX = 2\ndef helper(x):\n    return x\n\nassert f(X) == 4\nassert f(2) == 4\n")
    assert len(tests) == 2
    first, second = tests
    assert isinstance(first, CheckCase) and first.needs == ("f",) and "X = 2" in first.code
    assert not isinstance(second, CheckCase)  # a simple assert on a name the test does not define: a call case
    (own,) = parse_tests("def f(x):\n    return x\nassert f(2) == 2\n")
    assert isinstance(own, CheckCase) and own.needs == ()  # the test's own f, never the program's
    with pytest.raises(Exception, match="holds no assertions"):
        parse_tests("import math\nX = 2\n")


def test_decoding_refuses_many_members_that_share_a_hash_and_is_fast() -> None:
    step = (1 << 61) - 1
    colliding = [i * step for i in range(1, 40_000)]
    started = time.process_time()
    for document in ({"set": colliding}, {"frozenset": colliding}, {"dict": [[m, 0] for m in colliding]}):
        with pytest.raises(CodecError, match="share one hash"):
            decode_value(document)
    assert time.process_time() - started < 1.0
    honest = list(range(100_000))
    assert decode_value({"set": honest}) == set(honest)
    assert decode_value({"set": [-1, -2] * 1}) == {-1, -2}  # hash(-1) == hash(-2): a few shared hashes are fine
