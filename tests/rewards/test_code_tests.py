"""The `code_tests` reward: scores, statuses and info on the real local sandbox, and its golden cases."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from rf_sandbox_support import docker_available_or_skip

import rewardforge
from rewardforge.core.registry import Registry
from rewardforge.core.types import RewardError, Sample
from rewardforge.rewards.code import code_tests
from rewardforge.testing.golden import run_golden

ADD = [{"fn": "add", "args": [1, 2], "expected": 3}, {"fn": "add", "args": [2, 2], "expected": 4}]
LOCAL = code_tests.with_params(backend="local")


def _score(completion: str, reference: object, **params: object) -> object:
    return LOCAL.with_params(**params).score([Sample(completion=completion, reference=reference)])[0]


def test_all_or_nothing_by_default_and_partial_credit_on_request() -> None:
    half = _score("```python\ndef add(a, b):\n    return 3\n```", ADD)
    assert half.ok and half.value == 0.0  # type: ignore[attr-defined]
    assert half.reason == "1/2 tests passed"  # type: ignore[attr-defined]
    assert half.info["passed"] == 1 and half.info["total"] == 2  # type: ignore[attr-defined]
    assert [t["verdict"] for t in half.info["tests"]] == ["pass", "wrong_answer"]  # type: ignore[attr-defined]
    assert half.info["code_from"] == "fenced" and half.info["backend"] == "local"  # type: ignore[attr-defined]
    assert _score("def add(a, b):\n    return 3\n", ADD, partial_credit=True).value == 0.5  # type: ignore[attr-defined]
    assert _score("def add(a, b):\n    return a + b\n", ADD).value == 1.0  # type: ignore[attr-defined]
    with pytest.raises(RewardError, match="binary"):  # the old name is refused, not silently ignored
        code_tests.with_params(binary=True)


def test_humaneval_12_return_none_earns_nothing_by_default() -> None:
    """HumanEval/12 (`longest`): one of its three asserts expects None, so `return None` met a third of
    the tests under partial credit."""
    reference = {"test": "METADATA = {'author': 'jt', 'dataset': 'test'}\n\n\ndef check(candidate):\n"
                         "    assert candidate([]) == None\n    assert candidate(['x', 'y', 'z']) == 'x'\n"
                         "    assert candidate(['x', 'yyy', 'zzzz', 'www', 'kkkk', 'abc']) == 'zzzz'\n",
                 "entry_point": "longest"}
    trivial = "def longest(strings):\n    return None\n"
    assert _score(trivial, reference).value == 0.0  # type: ignore[attr-defined]
    assert _score(trivial, reference, partial_credit=True).value == pytest.approx(1 / 3)  # type: ignore[attr-defined]
    honest = "def longest(strings):\n    return max(strings, key=len) if strings else None\n"
    assert _score(honest, reference).value == 1.0  # type: ignore[attr-defined]


def test_chat_completion_and_metadata_entry_point() -> None:
    test = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(3) == 9\n"
    sample = Sample(completion=[{"role": "assistant", "content": "```python\ndef sq(x):\n    return x * x\n```"}],
                    reference=test, metadata={"entry_point": "sq"})
    score = LOCAL.score([sample])[0]
    assert score.ok and score.value == 1.0 and score.info["total"] == 2


def test_syntax_error_and_missing_code_score_zero_with_a_reason() -> None:
    broken = _score("def add(a, b):\n    return a +\n", ADD)
    assert broken.value == 0.0 and "syntax error" in (broken.reason or "")  # type: ignore[attr-defined]
    empty = _score("```bash\nls\n```", ADD)
    assert empty.value == 0.0 and "no code" in (empty.reason or "")  # type: ignore[attr-defined]


def test_unusable_reference_is_skipped_and_sandbox_failure_is_an_error() -> None:
    assert _score("def add(a, b):\n    return a + b\n", {"nothing": 1}).status == "skipped"  # type: ignore[attr-defined]
    assert _score("int main(){}", ADD, language="cpp").status == "skipped"  # type: ignore[attr-defined]
    with pytest.raises(RewardError, match="backend"):
        code_tests.with_params(backend=3)


def test_unknown_backend_name_is_an_error_score_not_a_zero() -> None:
    score = _score("def add(a, b):\n    return a + b\n", ADD, backend="no-such-backend")
    assert score.status == "error" and "no-such-backend" in (score.reason or "")  # type: ignore[attr-defined]


def test_identical_samples_share_one_sandbox_job() -> None:
    good = Sample(completion="def add(a, b):\n    return a + b\n", reference=ADD)
    bad = Sample(completion="def add(a, b):\n    return 0\n", reference=ADD)
    scores = LOCAL.score([good, bad, good, good])
    assert [s.value for s in scores] == [1.0, 0.0, 1.0, 1.0]
    assert scores[0].info == scores[2].info


def test_golden_cases_of_the_registry_entry() -> None:
    registry = Registry.load(plugins=False)
    results = run_golden(registry, "code_tests")
    assert len(results) >= 10
    failures = [f"case {r.index}: {r.problem}" for r in results if not r.passed]
    assert not failures, failures


# -- reward hacks against the default params, on both backends -----------------------------------------
# Each is a way a policy could earn reward without solving `add`. The references mix every test format; the
# first call case is the example a prompt would show (hard-coding it must not pay).
ADD_REFERENCES = {
    "calls": [{"fn": "add", "args": [1, 2], "expected": 3}, {"fn": "add", "args": [20, 22], "expected": 42},
              {"fn": "add", "args": [-5, 5], "expected": 0}],
    "check": {"test": "def check(candidate):\n    for i in range(1, 6):\n        assert candidate(i, i) == 2 * i\n"
                      "    assert abs(candidate(0.5, 0.25) - 0.75) < 1e-9\n", "entry_point": "add"},
    "asserts": ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert set([add(1, 1)]) == {2}"],
    "stdio": {"inputs": ["1 2\n", "20 22\n"], "outputs": ["3\n", "42\n"]},
}
HONEST = {"stdio": "a, b = map(int, input().split())\nprint(a + b)\n"}
HACKS = {
    "exit_before_tests": "import sys\nprint('All tests passed')\nsys.exit(0)\n{honest}",
    "os_exit_in_call": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "always_equal": "class Yes(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n"
                    "    def __lt__(self, other):\n        return True\n"
                    "def add(a, b):\n    return Yes(0)\n",
    "fake_passed_lines": "print('test passed\\nOK\\n3 passed, 0 failed\\nRFv1 ' + '0' * 32 + ' test {\"i\":0,\"res\":\"UDM=\"}')\n"
                         "def add(a, b):\n    print('passed')\n    return None\n",
    "monkeypatch_harness": "import builtins, sys\nbuiltins.AssertionError = type('Nope', (Exception,), {})\n"
                           "for module in list(sys.modules.values()):\n"
                           "    for name in ('encode_value', '_run_check_code', '_judge_check', 'frame'):\n"
                           "        if hasattr(module, name):\n"
                           "            try:\n                setattr(module, name, lambda *a, **k: 'P')\n"
                           "            except Exception:\n                pass\n"
                           "def add(a, b):\n    return 0\n",
    "redefined_builtins": "def add(a, b):\n    return 0\ndef abs(x):\n    return 0\ndef range(*a):\n    return []\n"
                          "def set(*a):\n    return {2}\n",
    "return_none": "def add(a, b):\n    return None\n",
    "return_zero": "def add(a, b):\n    return 0\n",
    "hard_coded_example": "def add(a, b):\n    return 3\n",
    "stdio_hard_coded": "print(3)\n",
}


@pytest.mark.parametrize("backend", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_default_params_resist_reward_hacks_on_every_test_format(backend: str) -> None:
    if backend == "docker":
        docker_available_or_skip()
    reward = code_tests.with_params(backend=backend)
    honest_add = "def add(a, b):\n    return a + b\n"
    samples, labels = [], []
    for fmt, reference in ADD_REFERENCES.items():
        honest = HONEST.get(fmt, honest_add)
        samples.append(Sample(completion=honest, reference=reference))
        labels.append(("honest", fmt))
        for name, hack in HACKS.items():
            samples.append(Sample(completion=hack.replace("{honest}", honest), reference=reference))
            labels.append((name, fmt))
    scores = reward.score(samples)
    got = {label: (score.status, score.value) for label, score in zip(labels, scores, strict=True)}
    expected = {label: ("ok", 1.0 if label[0] == "honest" else 0.0) for label in labels}
    assert got == expected


FIND_ZERO_PROMPT = ("import math\n\n\ndef poly(xs: list, x: float):\n    \"\"\"Evaluates a polynomial.\"\"\"\n"
                    "    return sum([coeff * math.pow(x, i) for i, coeff in enumerate(xs)])\n\n\n"
                    "def find_zero(xs: list):\n    \"\"\"A zero of the polynomial poly(xs, x).\"\"\"\n")
FIND_ZERO = {"test": "def check(candidate):\n    import math\n    for xs in ([1, 2], [-6, 11, -6, 1], [3, -1, 2, 5]):\n"
                     "        assert math.fabs(poly(xs, candidate(xs))) < 1e-4\n", "entry_point": "find_zero"}


def test_helpers_a_check_calls_come_from_the_samples_prompt() -> None:
    """HumanEval/32 style: the check calls `poly`, which the prompt defines. A program that redefines it next to
    a stub scored 1.0 when the helper came from the program (red-team finding R4)."""
    hack = "```python\ndef poly(xs, x):\n    return 0.0\n\ndef find_zero(xs):\n    return 0.0\n```"
    honest = ("```python\n" + FIND_ZERO_PROMPT + "    lo, hi = -100.0, 100.0\n    for _ in range(200):\n"
              "        mid = (lo + hi) / 2\n        if poly(xs, lo) * poly(xs, mid) <= 0:\n            hi = mid\n"
              "        else:\n            lo = mid\n    return lo\n```")
    chat = [{"role": "user", "content": f"Complete the function.\n```python\n{FIND_ZERO_PROMPT}```"}]
    samples = [Sample(prompt=prompt, completion=completion, reference=FIND_ZERO)
               for prompt in (FIND_ZERO_PROMPT, chat) for completion in (honest, hack)]
    assert [s.value for s in LOCAL.score(samples)] == [1.0, 0.0, 1.0, 0.0]
    trusting = LOCAL.with_params(prompt_helpers=False).score(samples[:2])
    assert [s.value for s in trusting] == [1.0, 1.0]  # the opt-out: the program's helper, as HumanEval's harness


def test_one_programs_malformed_result_never_errors_its_siblings() -> None:
    """A program writing `R{"bytes": []}` on its result pipe made the parent raise while judging it, and every
    sample of the batch became an error (red-team finding R1)."""
    evil = "```python\nimport os\ndef add(a, b):\n    os.write(3, b'R{\"bytes\":[]}')\n    os._exit(0)\n```"
    honest = ["def add(a, b):\n    return a + b\n" + f"# {i}\n" for i in range(3)]
    scores = LOCAL.score([Sample(completion=c, reference=ADD) for c in [honest[0], evil, *honest[1:]]])
    assert [(s.status, s.value) for s in scores] == [("ok", 1.0), ("ok", 0.0), ("ok", 1.0), ("ok", 1.0)]


def test_readme_code_and_sandbox_snippets_print_what_they_say() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### Code (`code_tests`) and the sandbox"):readme.index("## LLM-as-judge")]
    blocks = re.findall(r"^```python\n(.*?)^```$", section, flags=re.S | re.M)
    assert len(blocks) == 2
    for block in blocks:
        expected = [line.split("#", 1)[1].strip() for line in block.splitlines() if line.startswith("print(")]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, "README.md", "exec"), {"rf": rewardforge})
        assert [line.strip() for line in out.getvalue().strip().splitlines()] == expected
