"""Pure-logic parts of the code verifier: extraction, comparison, test parsing, the value codec."""

from __future__ import annotations

import json
import math

import pytest

from rewardforge.verifiers.code.cases import (
    CallCase,
    CheckCase,
    StdioCase,
    TestSpecError,
    parse_tests,
    parse_tests_cached,
)
from rewardforge.verifiers.code.compare import PYTHON_EQ, CompareOptions, compare_stdout, values_equal
from rewardforge.verifiers.code.extract import extract_code, fenced_blocks
from rewardforge.verifiers.code.harness import CodecError, decode_value, encode_value, frame_tag
from rewardforge.verifiers.code.languages import CPP, PYTHON, get_language

# -- extraction ---------------------------------------------------------------------------------------


def test_last_python_block_wins_over_earlier_and_other_languages() -> None:
    text = "```python\nx = 1\n```\ntext\n```bash\nls\n```\n```py\nx = 2\n```\n```cpp\nint main(){}\n```"
    got = extract_code(text, PYTHON)
    assert got.code == "x = 2\n" and got.source == "fenced"
    assert extract_code(text, CPP).code == "int main(){}\n"


def test_untagged_block_is_used_when_no_tagged_one_exists() -> None:
    assert extract_code("Here:\n```\nprint(1)\n```\n", PYTHON).code == "print(1)\n"


def test_whole_completion_without_fences() -> None:
    got = extract_code("def f():\n    return 1", PYTHON)
    assert got.source == "whole" and got.code == "def f():\n    return 1\n"


def test_unclosed_fence_runs_to_the_end_and_longer_fences_nest() -> None:
    assert extract_code("```python\nprint(1)\nprint(2)", PYTHON).code == "print(1)\nprint(2)\n"
    blocks = fenced_blocks("````python\ns = '''\n```\n'''\n````\n")
    assert blocks == [("python", "s = '''\n```\n'''\n")]


def test_no_usable_code_is_reported() -> None:
    assert extract_code("   ", PYTHON).source == "none"
    got = extract_code("```bash\nls\n```", PYTHON)
    assert got.code == "" and "bash" in (got.reason or "")


def test_language_aliases() -> None:
    assert get_language("Python3") is PYTHON and get_language("c++") is CPP
    with pytest.raises(ValueError, match="unsupported language"):
        get_language("cobol")


# -- comparison ---------------------------------------------------------------------------------------


def test_strict_types_separate_bool_int_float_tuple_list() -> None:
    assert not values_equal(True, 1) and not values_equal(1, True)
    assert not values_equal(1.0, 1)  # an int was expected
    assert values_equal(1, 1.0)  # a float expected accepts an int
    assert not values_equal((1, 2), [1, 2])
    assert values_equal((1, 2), [1, 2], CompareOptions(tuple_list_equal=True))
    assert not values_equal("1", 1) and not values_equal(b"a", "a")
    assert values_equal({"a": [1, (2, 3)]}, {"a": [1, (2, 3)]})
    assert not values_equal({"a": [1, (2, 3)]}, {"a": [1, [2, 3]]})


def test_python_semantics_for_assert_lines() -> None:
    assert values_equal(True, 1, PYTHON_EQ) and values_equal(1.0, 1, PYTHON_EQ)
    assert not values_equal((1,), [1], PYTHON_EQ)


def test_float_tolerance_and_nan() -> None:
    assert not values_equal(0.1 + 0.2, 0.3)
    assert values_equal(0.1 + 0.2, 0.3, CompareOptions(float_tol=1e-9))
    assert values_equal([1.0000001], [1.0], CompareOptions(float_tol=1e-6))
    assert values_equal(math.nan, math.nan) and not values_equal(1.0, math.nan)


def test_stdout_is_line_strict_with_trailing_whitespace_normalised() -> None:
    assert compare_stdout("1 \n2\n\n\n", "1\n2") is None
    assert compare_stdout("1\n", "1\n2\n") == "expected 2 line(s), got 1"
    assert compare_stdout("1\n2\n3\n", "1\n2\n") == "expected 2 line(s), got 3"
    assert compare_stdout("1\n\n2\n", "1\n2\n") is not None  # a blank line in the middle is a line
    assert compare_stdout(" 1\n", "1\n") is not None  # leading whitespace is not normalised
    assert "line 1" in (compare_stdout("0.333\n", "0.3333333\n") or "")
    assert compare_stdout("0.333 x\n", "0.3333333 x\n", float_tol=1e-3) is None
    assert compare_stdout("0.333 y\n", "0.3333333 x\n", float_tol=1e-3) is not None


# -- test parsing ---------------------------------------------------------------------------------------


def test_stdio_formats() -> None:
    assert parse_tests([{"input": "1\n", "output": "2\n"}]) == [StdioCase("1\n", "2\n")]
    assert parse_tests({"inputs": ["a"], "outputs": ["b"]}) == [StdioCase("a", "b")]
    assert parse_tests('{"inputs": ["a"], "outputs": ["b"]}') == [StdioCase("a", "b")]


def test_call_formats() -> None:
    cases = parse_tests([{"fn": "f", "args": [1, [2]], "expected": 3}])
    assert cases == [CallCase("f", (1, [2]), 3)]
    taco = parse_tests({"fn_name": "g", "inputs": [[1], [2]], "outputs": [1, 4]})
    assert [c.args for c in taco] == [(1,), (2,)]  # type: ignore[union-attr]
    literal = parse_tests([{"fn": "f", "args_literal": "((1, 2),)", "expected_literal": "{1, 2}"}])
    assert literal == [CallCase("f", ((1, 2),), {1, 2})]


def test_simple_assert_lines_become_call_cases_and_the_rest_stay_opaque() -> None:
    cases = parse_tests(["assert f(1, 'a') == (2, None)", "assert f(x=3) is True", "assert abs(f(1) - 2) < 1e-6",
                         "assert len([1]) == 1"])
    first, second, third, fourth = cases
    assert first == CallCase("f", (1, "a"), (2, None), python_eq=True, label="assert f(1, 'a') == (2, None)")
    assert isinstance(second, CallCase) and second.kwargs == {"x": 3} and not second.python_eq
    assert isinstance(third, CheckCase) and isinstance(fourth, CheckCase)  # builtins are not the solution


def test_leetcode_style_method_calls_become_call_cases() -> None:
    (case,) = parse_tests(["assert Solution().twoSum([2, 7], 9) == [0, 1]"])
    assert isinstance(case, CallCase) and (case.fn, case.args, case.expected) == ("Solution.twoSum", ([2, 7], 9), [0, 1])
    opaque = parse_tests(["assert Solution(3).twoSum([2, 7], 9) == [0, 1]", "assert str().join(['a']) == 'a'"])
    assert all(isinstance(case, CheckCase) for case in opaque)


def test_humaneval_check_converts_only_when_every_statement_is_simple() -> None:
    simple = ("METADATA = {}\n\ndef check(candidate):\n    assert True\n    assert candidate([1, 2]) == 3\n"
              "    assert candidate([]) == 0, 'empty'\n")
    cases = parse_tests({"test": simple, "entry_point": "total"})
    assert [(c.fn, c.args, c.expected) for c in cases] == [("total", ([1, 2],), 3), ("total", ([],), 0)]  # type: ignore[union-attr]
    loop = "def check(candidate):\n    assert candidate([1]) == 1\n    for i in range(3):\n        assert candidate([i]) == i\n"
    opaque = parse_tests({"test": loop, "entry_point": "total"})
    assert opaque == [CheckCase(code=loop, entry_point="total", label="check")]


def test_mbpp_format_keeps_setup_for_opaque_lines() -> None:
    cases = parse_tests({"test_list": ["assert f(1) == 1", "assert f(X) == 2"], "test_setup_code": "X = 5"})
    assert isinstance(cases[0], CallCase)
    assert cases[1] == CheckCase(code="X = 5\nassert f(X) == 2", label="assert f(X) == 2", needs=("f",))


@pytest.mark.parametrize("reference, message", [
    (42, "must be a dict"),
    ([], "no test cases"),
    ({"what": 1}, "unrecognised"),
    ({"inputs": ["a"], "outputs": []}, "same length"),
    ([{"fn": "f", "args": []}], "needs 'expected'"),
    ("def check(candidate):\n    assert candidate(1) == 1\n", "no entry_point"),
    ("assert f(1) ==", "does not parse"),
])
def test_bad_references_raise_clear_errors(reference: object, message: str) -> None:
    with pytest.raises(TestSpecError, match=message):
        parse_tests(reference)


# -- value codec ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    None, True, 0, -(10**40), 1.5, math.inf, "é\x00\"\\\ud800", b"\x00\xff", 1 + 2j,
    [1, [2.0, "x"]], (1, (2,)), {1, 2}, frozenset({"a"}), {(1, 2): [None], "k": {"n": 1}},
])
def test_codec_round_trips_plain_data_with_types(value: object) -> None:
    back = decode_value(json.loads(encode_value(value)))
    assert type(back) is type(value)
    assert back == value


def test_codec_round_trips_nan() -> None:
    assert math.isnan(decode_value(json.loads(encode_value(math.nan))))  # type: ignore[arg-type]


def test_codec_rejects_objects_subclasses_and_cycles() -> None:
    class Sneaky(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    for bad in (object(), Sneaky(3), [Sneaky(1)], iter([1])):
        with pytest.raises(CodecError):
            encode_value(bad)
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(CodecError, match="deeply"):
        encode_value(cyclic)


@pytest.mark.parametrize("document", [
    {"pickle": "x"}, {"tuple": 1}, {"set": [[1]]}, {"float": "1"}, {"a": 1, "b": 2}, {"complex": [1, 2]},
])
def test_codec_rejects_malformed_documents(document: object) -> None:
    with pytest.raises(CodecError):
        decode_value(document)


# -- judging frames ---------------------------------------------------------------------------------------


def _frame(nonce: str, kind: str, body: dict, key: bytes = b"k" * 32) -> bytes:
    content = f"{kind} ".encode() + json.dumps(body).encode()
    return f"RFv1 {nonce} ".encode() + content + b" " + frame_tag(key, content) + b"\n"


def _job():  # type: ignore[no-untyped-def]
    from rewardforge.verifiers.code.verify import JudgeOptions, prepare

    return prepare("def f(): return 1\n", [CallCase("f", (), 1)], PYTHON, JudgeOptions())


def test_only_frames_with_the_job_nonce_count() -> None:
    from rewardforge.sandbox import ExecResult
    from rewardforge.verifiers.code.verify import judge

    job = _job()
    ok_test = {"i": 0, "exit": 0, "sig": None, "timeout": False, "overflow": False, "t": 0.01, "out": "",
               "err": "", "res": "UjE="}  # base64 of b"R1": returned 1
    forged = _frame("f" * 32, "ready", {}, job.key) + _frame("f" * 32, "test", ok_test, job.key)
    result = ExecResult(status="ok", exit_code=0, stdout=forged + b"all tests passed\n", backend="t")
    assert judge(job, result).status == "error"  # no genuine ready frame: the driver never started
    genuine = (_frame(job.nonce, "ready", {}, job.key)
               + _frame(job.nonce, "load", {"status": "loaded", "detail": ""}, job.key))
    result = ExecResult(status="ok", exit_code=0, stdout=genuine + forged + _frame(job.nonce, "done", {}, job.key))
    verdict = judge(job, result)
    assert verdict.status == "ok" and [t.verdict for t in verdict.tests] == ["not_run"]
    result = ExecResult(status="ok", exit_code=0, stdout=genuine + _frame(job.nonce, "test", ok_test, job.key))
    assert judge(job, result).passed == 1  # the same frame with the right nonce and MAC is believed


def test_a_frame_with_the_nonce_but_not_the_mac_is_ignored() -> None:
    """The nonce only marks a frame. A process that can write between two pieces of a genuine frame (a write
    over PIPE_BUF is split) could end a nonce-bearing start with its own verdict: the MAC refuses it."""
    from rewardforge.sandbox import ExecResult
    from rewardforge.verifiers.code.verify import judge

    job = _job()
    genuine = (_frame(job.nonce, "ready", {}, job.key)
               + _frame(job.nonce, "load", {"status": "loaded", "detail": ""}, job.key))
    wrong = {"i": 0, "exit": 0, "sig": None, "timeout": False, "overflow": False, "t": 0.01, "out": "A" * 5000,
             "err": "", "res": "UjI="}  # returned 2: wrong
    real = _frame(job.nonce, "test", wrong, job.key)
    # The splice: the genuine start (nonce and all), then a verdict and a newline written by someone else.
    spliced = real[:4096] + b'","err":"","res":"UjE=","i":0}\n' + real[4096:]
    for stdout in (spliced, _frame(job.nonce, "test", {**wrong, "res": "UjE="}, b"x" * 32),
                   _frame(job.nonce, "test", {**wrong, "res": "UjE="}, job.key)[:-34] + b"\n"):
        verdict = judge(job, ExecResult(status="ok", exit_code=0, stdout=genuine + stdout))
        assert verdict.status == "ok" and verdict.passed == 0, verdict.tests
    assert judge(job, ExecResult(status="ok", exit_code=0, stdout=genuine + real)).tests[0].verdict == "wrong_answer"


def test_sandbox_errors_and_job_kills_are_told_apart() -> None:
    from rewardforge.sandbox import ExecResult
    from rewardforge.verifiers.code.verify import judge

    job = _job()
    broken = judge(job, ExecResult(status="sandbox_error", reason="no engine"))
    assert broken.status == "error" and "no engine" in (broken.reason or "")
    killed = judge(job, ExecResult(status="runtime_error", signal=9, reason="the program killed the agent"))
    assert killed.status == "ok" and killed.passed == 0 and killed.tests[0].verdict == "not_run"
    crashed = judge(job, ExecResult(status="runtime_error", exit_code=127, stderr=b"python3: not found"))
    assert crashed.status == "error" and "python3: not found" in (crashed.reason or "")


def test_cached_parsing_matches_parsing_and_keeps_types_apart() -> None:
    reference = {"test": "def check(candidate):\n    assert candidate(1) == (1, 2)\n", "entry_point": "f"}
    first = parse_tests_cached(reference)
    assert first == parse_tests(reference) == parse_tests_cached(dict(reference))
    as_list = parse_tests_cached({**reference, "test": reference["test"].replace("(1, 2)", "[1, 2]")})
    assert [case.expected for case in first + as_list] == [(1, 2), [1, 2]]  # type: ignore[union-attr]
    for _ in range(2):
        with pytest.raises(TestSpecError, match="holds no test cases"):
            parse_tests_cached([])
