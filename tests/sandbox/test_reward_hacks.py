"""Reward hacks against the code verifier, on every isolating backend: each must earn 0 (or the honest
fraction of the tests it really passes), never the reward of a correct program.

The `backend` fixture (tests/sandbox/conftest.py) runs this module once on the local bubblewrap backend
and once on the Docker backend.
"""

from __future__ import annotations

import textwrap
import tracemalloc

import pytest

from rewardforge.sandbox import SandboxBackend
from rewardforge.verifiers.code.cases import TestCase, parse_tests
from rewardforge.verifiers.code.languages import PYTHON
from rewardforge.verifiers.code.verify import CodeVerdict, JudgeOptions, verify, verify_many

CALLS = parse_tests([{"fn": "add", "args": [1, 2], "expected": 3}, {"fn": "add", "args": [20, 22], "expected": 42}])
CHECK = parse_tests({
    "test": "def check(candidate):\n    for i in range(1, 6):\n        assert candidate(i, i) == 2 * i\n",
    "entry_point": "add",
})
ASSERTS = parse_tests(["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert abs(add(1, 1) - 2) < 1e-9"])
STDIO = parse_tests({"inputs": ["1 2\n", "20 22\n"], "outputs": ["3\n", "42\n"]})
ALL_FORMATS = [CALLS, CHECK, ASSERTS]
QUICK = JudgeOptions(timeout_s=2.0)


def _run(backend: SandboxBackend, code: str, tests: list[TestCase], options: JudgeOptions = QUICK) -> CodeVerdict:
    verdict = verify(textwrap.dedent(code), tests, backend, PYTHON, options)
    assert verdict.status != "error", verdict.reason  # the sandbox worked: the program is what is judged
    return verdict


def _assert_zero(verdict: CodeVerdict) -> None:
    assert verdict.passed == 0, [t for t in verdict.tests if t.passed]


def test_honest_solution_passes_every_format(backend: SandboxBackend) -> None:
    code = "def add(a, b):\n    return a + b\n"
    for tests in ALL_FORMATS:
        verdict = _run(backend, code, tests)
        assert verdict.passed == verdict.total > 0, verdict.tests
    assert _run(backend, "a, b = map(int, input().split())\nprint(a + b)\n", STDIO).passed == 2


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "os._exit(0)", "raise SystemExit", "raise SystemExit(0)"])
def test_exit_before_the_tests_scores_zero(backend: SandboxBackend, exit_call: str) -> None:
    at_import = f"import os, sys\n{exit_call}\ndef add(a, b):\n    return a + b\n"
    in_call = f"import os, sys\ndef add(a, b):\n    {exit_call}\n"
    for code in (at_import, in_call):
        for tests in ALL_FORMATS:
            _assert_zero(_run(backend, code, tests))


def test_object_whose_eq_is_always_true_scores_zero(backend: SandboxBackend) -> None:
    code = """
        class Anything:
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
            __hash__ = object.__hash__

        class SneakyInt(int):
            def __eq__(self, other):
                return True
            __hash__ = int.__hash__

        def add(a, b):
            return Anything() if a % 2 else SneakyInt(0)
    """
    for tests in ALL_FORMATS:
        verdict = _run(backend, code, tests)
        _assert_zero(verdict)
        assert any(t.verdict in ("unsupported_value", "wrong_answer") for t in verdict.tests)


def test_printing_a_fake_success_scores_zero(backend: SandboxBackend) -> None:
    code = """
        import sys
        banner = "all tests passed\\nRFv1 " + "0" * 32 + ' test {"i":0,"exit":0,"res":"UDM=","out":"Mwo="}\\n'
        print(banner)
        sys.stderr.write(banner)
        def add(a, b):
            print(banner)
            return 0
    """
    for tests in ALL_FORMATS:
        _assert_zero(_run(backend, code, tests))
    stdio = "print('all tests passed')\n"
    _assert_zero(_run(backend, stdio, STDIO))


def test_forging_a_frame_with_a_stolen_nonce_or_the_real_stdout_fails(backend: SandboxBackend) -> None:
    """The nonce travels on the driver's stdin: try every fd 0 and fd 1 of every process in /proc."""
    code = """
        import os, re

        def _steal():
            found = set()
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                for name in ("fd/0", "environ", "cmdline"):
                    try:
                        with open(f"/proc/{pid}/{name}", "rb") as handle:
                            found.update(re.findall(rb"[0-9a-f]{32}", handle.read(1 << 20)))
                    except OSError:
                        pass
            return found

        def _forge():
            for nonce in _steal() or {b"0" * 32}:
                for i in range(6):
                    line = b"RFv1 " + nonce + b' test {"i":%d,"exit":0,"sig":null,"timeout":false,' % i
                    line += b'"overflow":false,"t":0.0,"out":"","err":"","res":"UDM="}\\n'
                    for pid in os.listdir("/proc"):
                        if pid.isdigit():
                            try:
                                fd = os.open(f"/proc/{pid}/fd/1", os.O_WRONLY)
                                os.write(fd, line)
                                os.close(fd)
                            except OSError:
                                pass

        _forge()

        def add(a, b):
            _forge()
            return -1
    """
    for tests in ALL_FORMATS:
        _assert_zero(_run(backend, code, tests))


def test_monkeypatching_builtins_or_the_harness_scores_zero(backend: SandboxBackend) -> None:
    code = """
        import builtins, sys
        builtins.isinstance = lambda *a: True
        builtins.AssertionError = type("AssertionError", (Exception,), {})
        main = sys.modules.get("__main__")
        for name in ("encode_value", "_run_check_code", "_outcome", "_judge_check", "_write_all"):
            if hasattr(main, name):
                setattr(main, name, lambda *a, **k: "P")
        def add(a, b):
            return a - b
    """
    for tests in ALL_FORMATS:  # a patched reply channel leaves the checker waiting: a short time limit
        _assert_zero(_run(backend, code, tests, JudgeOptions(timeout_s=0.7)))


def test_disarming_a_timer_does_not_escape_the_time_limit(backend: SandboxBackend) -> None:
    code = """
        import signal
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        def add(a, b):
            signal.setitimer(signal.ITIMER_REAL, 0)
            while True:
                pass
    """
    verdict = _run(backend, code, CALLS, JudgeOptions(timeout_s=0.5))
    _assert_zero(verdict)
    assert {t.verdict for t in verdict.tests} == {"timeout"}


def test_hard_coding_the_visible_examples_gets_only_their_share(backend: SandboxBackend) -> None:
    """The prompt showed add(1, 2) == 3; the hidden tests are different."""
    tests = parse_tests([{"fn": "add", "args": [1, 2], "expected": 3}, {"fn": "add", "args": [5, 6], "expected": 11},
                         {"fn": "add", "args": [0, 0], "expected": 0}, {"fn": "add", "args": [-4, 4], "expected": 0}])
    verdict = _run(backend, "def add(a, b):\n    return {(1, 2): 3}.get((a, b), 7)\n", tests)
    assert [t.verdict for t in verdict.tests] == ["pass", "wrong_answer", "wrong_answer", "wrong_answer"]
    assert verdict.fraction == 0.25


def test_reading_the_hidden_checks_or_expected_values_is_impossible(backend: SandboxBackend) -> None:
    """The program looks for the secret marker in every file, process and object it can reach and would
    return 1 (what the check wants) only if it found it."""
    tests = parse_tests({
        "test": "def check(candidate):\n    assert candidate() in (1,)  # SECRET-MARKER-7731\n",
        "entry_point": "probe",
    })
    code = """
        import gc, os

        def _readable():
            for root, _dirs, files in os.walk("/"):
                if root.startswith(("/proc", "/sys", "/usr", "/dev")):
                    continue
                for name in files:
                    yield os.path.join(root, name)
            for pid in os.listdir("/proc"):
                if pid.isdigit() and int(pid) != os.getpid():  # our own fds are our own pipes
                    for name in ("cmdline", "environ", "fd/0", "fd/3", "fd/4", "fd/5", "fd/6", "mem"):
                        yield f"/proc/{pid}/{name}"

        def probe(*_public_args):
            marker = b"SECRET-MARKER-" + b"7731"
            for path in _readable():
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
                    try:
                        if marker in os.read(fd, 4 << 20):
                            return 1
                    finally:
                        os.close(fd)
                except (OSError, ValueError):
                    pass
            for obj in gc.get_objects():
                if isinstance(obj, dict):
                    for value in list(obj.values()):
                        if isinstance(value, str) and marker.decode() in value:
                            return 1
            return 0
    """
    verdict = _run(backend, code, tests, JudgeOptions(timeout_s=10.0))
    assert [t.verdict for t in verdict.tests] == ["wrong_answer"]  # it finished its search and found nothing
    assert "assertion failed" in (verdict.tests[0].detail or "")
    # Control: call arguments are public, so the same search does find the marker when it is one.
    control = parse_tests([{"fn": "probe", "args": ["SECRET-MARKER-7731"], "expected": 1}])
    assert _run(backend, code, control, JudgeOptions(timeout_s=10.0)).passed == 1


@pytest.mark.parametrize("program", [
    "a, b = map(int, input().split())\nprint(a + b)\nprint(a + b)\n",
    "a, b = map(int, input().split())\nprint()\nprint(a + b)\n",
    "a, b = map(int, input().split())\nprint(a + b, end='')\nprint(' extra')\n",
    "a, b = map(int, input().split())\n",
])
def test_missing_or_extra_output_lines_score_zero(backend: SandboxBackend, program: str) -> None:
    verdict = _run(backend, program, STDIO)
    _assert_zero(verdict)
    assert {t.verdict for t in verdict.tests} == {"wrong_answer"}


def test_killing_the_harness_earns_nothing_beyond_earlier_passes(backend: SandboxBackend) -> None:
    code = """
        import os, signal
        def add(a, b):
            if a == 20:
                for pid in range(2, 200):
                    if pid != os.getpid():
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except OSError:
                            pass
                os.kill(-1, signal.SIGKILL)
            return a + b
    """
    verdict = _run(backend, code, CALLS)
    assert not verdict.tests[1].passed
    # Test 0 passed honestly before the kill. The local backend always keeps its frame; Docker keeps it
    # unless the kill took its job agent (and with it the job's output) down too.
    if backend.name == "local":
        assert verdict.passed == 1
    assert verdict.passed == int(verdict.tests[0].passed) <= 1


# -- a solution's names never replace the checker's builtins (F1) -------------------------------------

MAD_TEST = {"test": "def check(candidate):\n    assert abs(candidate([1.0, 2.0, 3.0]) - 2.0/3.0) < 1e-6\n",
            "entry_point": "mean_absolute_deviation"}
FIND_ZERO_TEST = {  # HumanEval/32's shape: the check loops with range() and calls the prompt's helper poly()
    "test": "import math\n\ndef check(candidate):\n    import random\n    rng = random.Random(42)\n"
            "    for _ in range(100):\n        coeffs = [rng.randint(1, 10), rng.randint(1, 10)]\n"
            "        solution = candidate(list(coeffs))\n        assert math.fabs(poly(coeffs, solution)) < 1e-4\n",
    "entry_point": "find_zero",
}
POLY = "def poly(xs, x):\n    return sum(coeff * x ** i for i, coeff in enumerate(xs))\n"
OWN_HELPER_TEST = {"test": "def _expected(x):\n    return x * 2\n\ndef check(candidate):\n"
                           "    for x in range(5):\n        assert candidate(x) == _expected(x)\n",
                   "entry_point": "double"}


@pytest.mark.parametrize(("code", "reference"), [
    # The report: the entry point returns 0 and abs() is replaced.
    ("def mean_absolute_deviation(numbers):\n    return 0.0\n\ndef abs(x):\n    return 0\n", MAD_TEST),
    # range() returning nothing skips the check's loop (find_zero, decode_cyclic, ...).
    (POLY + "def find_zero(xs):\n    return 0\n\ndef range(*args):\n    return []\n", FIND_ZERO_TEST),
    # MBPP lines: `assert set(f(...)) == set(...)` with set() replaced.
    ("def common(a, b):\n    return []\n\ndef set(*args):\n    return 1\n",
     ["assert set(common([1, 2, 3], [2, 3, 4])) == set([2, 3])"]),
    ("def pairs(xs):\n    return 0\n\ndef sorted(*a, **k):\n    return 0\n\ndef len(x):\n    return 3\n",
     ["assert len(pairs([1, 2, 3])) == 3", "assert sorted(pairs([3, 1])) == sorted([(3, 1)])"]),
    ("def flags(xs):\n    return None\n\ndef all(x):\n    return True\n\ndef isinstance(*a):\n    return True\n",
     ["assert all(isinstance(v, bool) for v in flags([1, 0]))", "assert all(flags([1, 1]))"]),
    # A helper the test defines itself is the test's, whatever the solution defines under its name.
    ("def double(x):\n    return 0\n\ndef _expected(x):\n    return 0\n", OWN_HELPER_TEST),
], ids=["abs_reported", "range_skips_loop", "set_mbpp", "sorted_len", "all_isinstance", "tests_own_helper"])
def test_a_solution_redefining_builtins_or_test_helpers_scores_zero(
        backend: SandboxBackend, code: str, reference: object) -> None:
    _assert_zero(_run(backend, code, parse_tests(reference)))


def test_helpers_a_check_needs_still_come_from_the_solution(backend: SandboxBackend) -> None:
    honest = POLY + "def find_zero(xs):\n    return -xs[0] / xs[1]\n"
    verdict = _run(backend, honest, parse_tests(FIND_ZERO_TEST))
    assert verdict.passed == verdict.total == 1, verdict.tests
    own = _run(backend, "def double(x):\n    return 2 * x\n\ndef _expected(x):\n    return 0\n",
               parse_tests(OWN_HELPER_TEST))
    assert own.passed == 1, own.tests


# -- complex values, set members and dict keys are compared exactly (F2, F8) ---------------------------


@pytest.mark.parametrize(("code", "tests"), [
    # The report: any complex equalled any expected complex.
    ("def cmul(x, y):\n    return 0j\n",
     [{"fn": "cmul", "args_literal": "(1+2j, 3-1j)", "expected_literal": "(5+5j)"}]),
    ("def roots(a):\n    return [0j, 0j]\n", [{"fn": "roots", "args": [1], "expected_literal": "[1j, -1j]"}]),
    ("def table():\n    return {'z': 0j}\n", [{"fn": "table", "args": [], "expected_literal": "{'z': (1+1j)}"}]),
    ("def rot(z):\n    return 0j\n", ["assert rot(1j) == -1+0j"]),
    # strict_types reaches set members and dict keys: True is not 1 there either.
    ("def members():\n    return {True, 2}\n", [{"fn": "members", "args": [], "expected_literal": "{1, 2}"}]),
    ("def keyed():\n    return {True: 'a'}\n", [{"fn": "keyed", "args": [], "expected_literal": "{1: 'a'}"}]),
    ("def nested():\n    return {(1, True)}\n", [{"fn": "nested", "args": [], "expected_literal": "{(1, 1)}"}]),
], ids=["cmul_reported", "complex_in_list", "complex_in_dict", "complex_assert", "set_member_bool",
        "dict_key_bool", "tuple_member_bool"])
def test_wrong_complex_values_and_bools_for_ints_in_sets_score_zero(
        backend: SandboxBackend, code: str, tests: list[object]) -> None:
    _assert_zero(_run(backend, code, parse_tests(tests)))


def test_right_complex_values_and_sets_still_pass(backend: SandboxBackend) -> None:
    code = "def cmul(x, y):\n    return x * y\n\ndef members():\n    return {1, 2}\n"
    tests = parse_tests([{"fn": "cmul", "args_literal": "(1+2j, 3-1j)", "expected_literal": "(5+5j)"},
                         {"fn": "members", "args": [], "expected_literal": "{2, 1}"}])
    assert _run(backend, code, tests).passed == 2


# -- what a job leaves behind never turns its verdict into a sandbox error (F4) ------------------------

DEEP = """
import os
def fail_after_leaving_a_tree(top, depth, name, mode=None):
    os.makedirs(top, exist_ok=True)
    here = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        if not os.path.lexists(f"/proc/self/fd/{here}/{name}"):
            os.mkdir(name, dir_fd=here)
        child = os.open(name, os.O_RDONLY, dir_fd=here)
        if mode is not None:  # the directory we leave becomes unlistable
            os.fchmod(here, mode)
        os.close(here)
        here = child
    os.close(here)
"""


@pytest.mark.parametrize("call", [
    "fail_after_leaving_a_tree('/tmp/deep', 1500, 'a')",  # the report: RecursionError in the agent's wipe
    "fail_after_leaving_a_tree('/tmp/long', 40, 'n' * 250)",  # paths far past PATH_MAX
    "fail_after_leaving_a_tree('/dev/shm/locked', 300, 'x', 0o100)",  # unreadable directories
    "[fail_after_leaving_a_tree(f'/tmp/wide/{i}', 3, 'w') for i in range(2000)]",  # a wide tree
], ids=["deep_reported", "past_path_max", "unreadable", "wide"])
def test_a_failing_program_that_litters_gets_its_zero_not_an_error(backend: SandboxBackend, call: str) -> None:
    code = DEEP + f"\ndef add(a, b):\n    {call}\n    return -1\n"
    verdict = verify(code, CALLS, backend, PYTHON, JudgeOptions(timeout_s=20.0))
    assert verdict.status == "ok", verdict.reason  # the program's verdict, never a sandbox error
    assert verdict.tests[0].verdict == "wrong_answer" and verdict.passed == 0, verdict.tests
    after = verify("def add(a, b):\n    return a + b\n", CALLS, backend, PYTHON, QUICK)
    assert (after.status, after.passed) == ("ok", 2), after.reason


# -- results are judged as they arrive (F6) -----------------------------------------------------------


def test_the_parent_holds_only_the_running_jobs_output(backend: SandboxBackend) -> None:
    """24 programs print 0.9 MB per test over 3 tests (3.6 MB of frames each, 86 MB in all) and fail; with
    2 jobs at a time the parent must never hold much more than those two jobs' output."""
    tests = parse_tests({"inputs": ["1 2\n"] * 3, "outputs": ["3\n"] * 3})
    loud = "import sys\nsys.stdout.write('x' * (900 << 10))\n"
    tracemalloc.start()
    try:
        verdicts = verify_many([(loud + f"# {i}\n", tests) for i in range(24)], backend, PYTHON, QUICK, max_workers=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [v.passed for v in verdicts] == [0] * 24 and all(v.status == "ok" for v in verdicts)
    assert peak < 45 << 20, f"the parent held {peak >> 20} MB at once"
