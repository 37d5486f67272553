"""The code verifier end to end on the real local (bubblewrap) sandbox."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from rewardforge.sandbox import LocalBackend, SandboxBackend
from rewardforge.verifiers.code.cases import parse_tests
from rewardforge.verifiers.code.languages import CPP, PYTHON
from rewardforge.verifiers.code.verify import JudgeOptions, verify, verify_many

ADD_TESTS = parse_tests([{"fn": "add", "args": [1, 2], "expected": 3}, {"fn": "add", "args": [-1, 1], "expected": 0},
                         {"fn": "add", "args": [10, 5], "expected": 15}])
SUM_STDIO = parse_tests({"inputs": ["1 2\n", "5 5\n"], "outputs": ["3\n", "10\n"]})


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxBackend]:
    backend = LocalBackend()
    problem = backend.unavailable_reason()
    if problem is not None:
        pytest.fail(f"the local sandbox cannot run jobs here ({problem}); run scripts/setup_sandbox.sh", pytrace=False)
    yield backend
    backend.close()


def test_call_cases_pass_and_fail_per_test(sandbox: SandboxBackend) -> None:
    good = verify("def add(a, b):\n    return a + b\n", ADD_TESTS, sandbox, PYTHON)
    assert good.status == "ok" and (good.passed, good.total) == (3, 3)
    assert all(t.kind == "call" and t.time_s is not None for t in good.tests)
    partial = verify("def add(a, b):\n    return a + b if a > 0 else 7\n", ADD_TESTS, sandbox, PYTHON)
    assert [t.verdict for t in partial.tests] == ["pass", "wrong_answer", "pass"]
    assert partial.tests[1].detail == "expected 0, got 7"


def test_leetcode_style_methods_and_keyword_arguments(sandbox: SandboxBackend) -> None:
    tests = parse_tests(["assert Solution().twoSum([2, 7, 11], 9) == [0, 1]", "assert scale(2, by=3) == 6"])
    code = ("class Solution:\n    def twoSum(self, nums, target):\n"
            "        seen = {}\n        for i, n in enumerate(nums):\n"
            "            if target - n in seen:\n                return [seen[target - n], i]\n"
            "            seen[n] = i\n"
            "def scale(x, by=1):\n    return x * by\n")
    verdict = verify(code, tests, sandbox, PYTHON)
    assert [t.verdict for t in verdict.tests] == ["pass", "pass"]


def test_strict_types_apply_to_returned_values(sandbox: SandboxBackend) -> None:
    tests = parse_tests([{"fn": "f", "args": [], "expected": 1}, {"fn": "g", "args": [], "expected_literal": "(1, 2)"}])
    verdict = verify("def f():\n    return True\ndef g():\n    return [1, 2]\n", tests, sandbox, PYTHON)
    assert [t.verdict for t in verdict.tests] == ["wrong_answer", "wrong_answer"]
    loose = JudgeOptions(compare=JudgeOptions().compare.__class__(strict_types=False, tuple_list_equal=True))
    assert verify("def f():\n    return True\ndef g():\n    return [1, 2]\n", tests, sandbox, PYTHON,
                  loose).passed == 2


def test_runtime_errors_timeouts_and_early_exits_are_per_test(sandbox: SandboxBackend) -> None:
    code = ("import os, time\n"
            "def f(x):\n"
            "    if x == 0: raise ValueError('boom')\n"
            "    if x == 1: time.sleep(100)\n"
            "    if x == 2: os._exit(0)\n"
            "    if x == 3: return [0] * (10 ** 9)\n"
            "    return x\n")
    tests = parse_tests([{"fn": "f", "args": [i], "expected": i} for i in range(5)])
    verdict = verify(code, tests, sandbox, PYTHON, JudgeOptions(timeout_s=1.0, memory_mb=256))
    assert [t.verdict for t in verdict.tests] == ["runtime_error", "timeout", "no_result", "runtime_error", "pass"]
    assert "ValueError: boom" in (verdict.tests[0].detail or "")
    assert "MemoryError" in (verdict.tests[3].detail or "")
    assert verdict.tests[1].time_s is not None and verdict.tests[1].time_s < 3.0


def test_asserts_of_one_check_run_in_one_child_but_fail_alone(sandbox: SandboxBackend) -> None:
    """The simple asserts of a `check()` share one forked child (as they shared one program); a call that
    hangs or ends the child fails alone and the calls after it still run, each under its own limit."""
    check = "def check(candidate):\n" + "".join(f"    assert candidate({i}) == {i}\n" for i in range(6))
    tests = parse_tests({"test": check, "entry_point": "f"})
    assert {t.group for t in tests} == {0}  # type: ignore[union-attr]
    code = ("import os, time\nCALLS = []\n"
            "def f(x):\n    CALLS.append(x)\n"
            "    if x == 1: time.sleep(100)\n"
            "    if x == 3: os._exit(0)\n"
            "    if x == 5: return len(CALLS)\n"  # 2: calls 4 and 5 ran in one fresh child after the exit
            "    return x\n")
    verdict = verify(code, tests, sandbox, PYTHON, JudgeOptions(timeout_s=0.7))
    assert [t.verdict for t in verdict.tests] == ["pass", "timeout", "pass", "no_result", "pass", "wrong_answer"]
    assert verdict.tests[5].detail == "assert candidate(5) == 5: expected 5, got 2"
    assert all(t.time_s is not None and t.time_s < 0.7 for t in verdict.tests if t.passed)


def test_syntax_error_is_a_zero_with_its_reason(sandbox: SandboxBackend) -> None:
    for tests in (ADD_TESTS, SUM_STDIO):
        verdict = verify("def add(a, b:\n    return a\n", tests, sandbox, PYTHON)
        assert verdict.status == "syntax_error" and verdict.fraction == 0.0
        assert "line 1" in (verdict.reason or "")


def test_failure_while_loading_fails_every_test(sandbox: SandboxBackend) -> None:
    verdict = verify("import nonexistent_module_xyz\ndef add(a, b):\n    return a + b\n", ADD_TESTS, sandbox, PYTHON)
    assert verdict.status == "ok" and verdict.passed == 0
    assert "ModuleNotFoundError" in (verdict.reason or "")
    slow = verify("while True:\n    pass\n", ADD_TESTS, sandbox, PYTHON, JudgeOptions(timeout_s=0.5))
    assert slow.passed == 0 and "took over" in (slow.reason or "")


def test_stdio_cases_compare_output_strictly(sandbox: SandboxBackend) -> None:
    good = verify("a, b = map(int, input().split())\nprint(a + b)\n", SUM_STDIO, sandbox, PYTHON)
    assert good.passed == 2 and all(t.kind == "stdio" for t in good.tests)
    crash = verify("import sys\nprint(3)\nsys.exit(2)\n", SUM_STDIO, sandbox, PYTHON)
    assert crash.tests[0].verdict == "runtime_error" and "exit code 2" in (crash.tests[0].detail or "")


def test_opaque_check_code_runs_against_the_candidate(sandbox: SandboxBackend) -> None:
    test = ("def check(candidate):\n    import random\n    for _ in range(20):\n"
            "        x = random.randint(0, 100)\n        assert candidate(x) == helper(x) + 1\n")
    tests = parse_tests({"test": test, "entry_point": "inc"})
    good = verify("def helper(x):\n    return x\ndef inc(x):\n    return x + 1\n", tests, sandbox, PYTHON)
    assert [t.verdict for t in good.tests] == ["pass"] and good.tests[0].kind == "check"
    bad = verify("def helper(x):\n    return x\ndef inc(x):\n    return x + (x != 50)\n",
                 parse_tests({"test": test.replace("random.randint(0, 100)", "50"), "entry_point": "inc"}),
                 sandbox, PYTHON)
    assert bad.tests[0].verdict == "wrong_answer" and "assertion failed" in (bad.tests[0].detail or "")


def test_opaque_check_sees_exceptions_and_in_place_changes(sandbox: SandboxBackend) -> None:
    test = ("def check(candidate):\n    items = [3, 1, 2]\n    candidate(items)\n    assert items == [1, 2, 3]\n"
            "    try:\n        candidate(None)\n    except AttributeError:\n        pass\n    else:\n"
            "        raise AssertionError('no AttributeError')\n")
    tests = parse_tests({"test": test, "entry_point": "sort_in_place"})
    verdict = verify("def sort_in_place(xs):\n    xs.sort()\n", tests, sandbox, PYTHON)
    assert verdict.passed == 1, verdict.tests


def test_many_programs_run_concurrently_in_order(sandbox: SandboxBackend) -> None:
    codes = [f"def add(a, b):\n    return a + b + {k}\n" for k in range(6)]
    verdicts = verify_many([(code, ADD_TESTS) for code in codes], sandbox, PYTHON)
    assert [v.passed for v in verdicts] == [3, 0, 0, 0, 0, 0]


def test_a_sandbox_failure_is_an_error_never_a_zero() -> None:
    broken = LocalBackend(bwrap="/nonexistent/bwrap", method="bwrap")
    verdict = verify("def add(a, b):\n    return a + b\n", ADD_TESTS, broken, PYTHON)
    assert verdict.status == "error" and "sandbox failed" in (verdict.reason or "")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed on this machine")
def test_cpp_stdio_program_compiles_and_runs(sandbox: SandboxBackend) -> None:
    good = ("#include <iostream>\nint main(){long a,b; std::cin>>a>>b; std::cout<<a+b<<\"\\n\";}\n")
    verdict = verify(good, SUM_STDIO, sandbox, CPP)
    assert verdict.status == "ok" and verdict.passed == 2, verdict
    wrong = verify(good.replace("a+b", "a*b"), SUM_STDIO, sandbox, CPP)
    assert [t.verdict for t in wrong.tests] == ["wrong_answer", "wrong_answer"]
    broken = verify("int main( {", SUM_STDIO, sandbox, CPP)
    assert broken.status == "compile_error" and "error" in (broken.reason or "")
