"""Test cases from a sample's `reference`, in the three formats the code verifier accepts.

1. stdin/stdout: `[{"input": ..., "output": ...}]` or `{"inputs": [...], "outputs": [...]}` (APPS style).
2. call-based: `[{"fn": "f", "args": [...], "kwargs": {...}, "expected": ...}]`, or APPS/TACO style
   `{"fn_name": "f", "inputs": [[args]...], "outputs": [...]}`. `args_literal` / `expected_literal` give
   Python literals (tuples, sets, bytes) that JSON cannot express.
3. HumanEval/MBPP: `{"test": "<code defining check(candidate)>", "entry_point": "f"}`, or assert lines
   (`["assert f(1) == 2", ...]`, `{"test_list": [...], "test_setup_code": ...}`, or one string).
   Simple `assert f(<literals>) == <literal>` lines become call cases, so their expected values stay in the
   parent; anything else is an opaque check run by the in-sandbox checker against the candidate's calls.
   The call cases converted from one `check()` keep its semantics: they run in order in one forked child
   (`group`), each with its own time limit; a call that hangs or crashes fails alone. Loose test code keeps
   its context: the imports, helpers and variables before an assert run before it, and are never the
   program's. Helpers a check calls that the dataset's prompt defines come from the prompt (`checks`).

A reference stored as a JSON string is decoded first.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from rewardforge.core.errors import RewardforgeError
from rewardforge.verifiers.code.checks import BUILTIN_NAMES, bound_names, needed_names, trusted_helpers


class TestSpecError(RewardforgeError, ValueError):
    """The reference does not describe tests this verifier understands."""

    __test__ = False  # not a pytest test class, despite the name


@dataclass(frozen=True)
class StdioCase:
    input: str
    output: str


@dataclass(frozen=True)
class CallCase:
    """Call `fn(*args, **kwargs)` in the sandbox; compare the returned value with `expected` here.
    `python_eq`: compare with Python's `==` (an assert line's meaning) instead of the strict rules."""

    fn: str
    args: tuple[Any, ...]
    expected: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    python_eq: bool = False
    label: str | None = None
    group: int | None = None  # cases converted from one test program run in one forked child, in order


@dataclass(frozen=True)
class CheckCase:
    """Opaque test code, run by the checker process with proxies to the candidate's functions.

    `needs`: the global names the test code reads without defining them and that are not builtins (a
    helper such as HumanEval's `poly`). Only these are looked up in the solution: the checker always sees
    the real builtins, so a solution defining `abs`, `range` or `set` cannot change what a test computes,
    and names the test defines itself are never replaced."""

    code: str
    entry_point: str | None = None
    label: str | None = None
    needs: tuple[str, ...] = ()


def check_case(code: str, *, entry_point: str | None = None, label: str | None = None) -> CheckCase:
    """A CheckCase for `code` (which must parse), with the names it needs from the solution."""
    return CheckCase(code=code, entry_point=entry_point, label=label, needs=needed_names(code))


TestCase = StdioCase | CallCase | CheckCase


def parse_tests(reference: Any, *, entry_point: str | None = None, prompt: str | None = None) -> list[TestCase]:
    """The test cases `reference` describes; raises TestSpecError saying what is wrong.

    `prompt`: the dataset's prompt the tests were written against (HumanEval's holds helpers such as `poly`).
    Helpers an opaque check needs are then taken from it, never from the program (see `checks`); a dict
    reference's own "prompt" (a whole HumanEval row) is used first. Only when the function under test is
    known (`entry_point`), so that it is never taken from the prompt."""
    if isinstance(reference, str):
        text = reference.strip()
        if text[:1] in "[{":
            try:
                return parse_tests(json.loads(text), entry_point=entry_point, prompt=prompt)
            except json.JSONDecodeError:
                pass
        cases = asserts_to_cases(reference, entry_point=entry_point)
    elif isinstance(reference, dict):
        cases = _from_dict(reference, entry_point)
        entry_point = reference.get("entry_point") or entry_point
        if isinstance(reference.get("prompt"), str):
            prompt = reference["prompt"]
    elif isinstance(reference, list):
        cases = _from_list(reference, entry_point)
    else:
        raise TestSpecError(f"reference must be a dict, list or string of tests, got {type(reference).__name__}")
    if not cases:
        raise TestSpecError("the reference holds no test cases")
    return _with_prompt_helpers(cases, prompt, entry_point) if prompt else cases


def _with_prompt_helpers(cases: list[TestCase], prompt: str, entry_point: str | None) -> list[TestCase]:
    """Each opaque check with the prompt's definitions of the helpers it needs put before its own code."""
    done: list[TestCase] = []
    for case in cases:
        entry = case.entry_point or entry_point if isinstance(case, CheckCase) else None
        if isinstance(case, CheckCase) and entry and case.needs:
            helpers = trusted_helpers(case.needs, prompt, frozenset({entry}))
            if helpers:
                case = check_case(helpers + case.code, entry_point=case.entry_point, label=case.label)
        done.append(case)
    return done


PARSE_CACHE_SIZE = 1024
_parsed: OrderedDict[tuple[str, str | None, str | None], tuple[TestCase, ...] | str] = OrderedDict()
_parsed_lock = threading.Lock()
_PLAIN_SCALARS = (str, int, float, bool, type(None))


def parse_tests_cached(reference: Any, *, entry_point: str | None = None,
                       prompt: str | None = None) -> list[TestCase]:
    """`parse_tests`, remembered for the last PARSE_CACHE_SIZE distinct references made of plain data.

    A GRPO batch repeats each prompt's reference once per completion, and epochs repeat prompts; parsing
    assert code (ast work) is most of the parent's cost per sample. Test cases are frozen and never
    mutated, so sharing them between samples is safe."""
    if not _is_plain(reference, 0):
        return parse_tests(reference, entry_point=entry_point, prompt=prompt)
    key = (repr(reference), entry_point, prompt)
    with _parsed_lock:
        found = _parsed.get(key)
        if found is not None:
            _parsed.move_to_end(key)
    if found is None:
        try:
            found = tuple(parse_tests(reference, entry_point=entry_point, prompt=prompt))
        except TestSpecError as exc:
            found = str(exc)
        with _parsed_lock:
            _parsed[key] = found
            while len(_parsed) > PARSE_CACHE_SIZE:
                _parsed.popitem(last=False)
    if isinstance(found, str):
        raise TestSpecError(found)
    return list(found)


def _is_plain(value: Any, depth: int) -> bool:
    """Only exact builtin types: their repr identifies the value (a subclass could override __repr__)."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    if depth > 32:
        return False
    if kind is list or kind is tuple:
        return all(_is_plain(item, depth + 1) for item in value)
    if kind is dict:
        return all(type(k) is str and _is_plain(item, depth + 1) for k, item in value.items())
    return False


def _from_dict(reference: dict[str, Any], entry_point: str | None) -> list[TestCase]:
    entry = reference.get("entry_point") or entry_point
    if "test" in reference and isinstance(reference["test"], str):
        return asserts_to_cases(reference["test"], entry_point=entry, setup=reference.get("test_setup_code", ""))
    if "test_list" in reference:
        setup = "\n".join([*reference.get("test_imports", []), reference.get("test_setup_code", "")])
        return _assert_lines(reference["test_list"], setup)
    if "inputs" in reference and "outputs" in reference:
        inputs, outputs = reference["inputs"], reference["outputs"]
        if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
            raise TestSpecError("'inputs' and 'outputs' must be lists of the same length")
        if reference.get("fn_name"):
            return [_call_case({"fn": reference["fn_name"], "args": args, "expected": out}, i)
                    for i, (args, out) in enumerate(zip(inputs, outputs, strict=True))]
        return [_stdio_case({"input": i, "output": o}, n) for n, (i, o) in enumerate(zip(inputs, outputs, strict=True))]
    if "tests" in reference:
        return parse_tests(reference["tests"], entry_point=entry)
    if "fn" in reference:
        return [_call_case(reference, 0)]
    if "input" in reference and "output" in reference:
        return [_stdio_case(reference, 0)]
    raise TestSpecError(f"unrecognised test reference with keys {sorted(reference)[:8]}")


def _from_list(reference: list[Any], entry_point: str | None) -> list[TestCase]:
    if not reference:
        return []
    if all(isinstance(item, str) for item in reference):
        return _assert_lines(reference, "")
    cases: list[TestCase] = []
    for index, item in enumerate(reference):
        if not isinstance(item, dict):
            raise TestSpecError(f"test {index}: expected an object, got {type(item).__name__}")
        if "fn" in item or "fn_name" in item:
            cases.append(_call_case(item, index))
        elif "input" in item or "output" in item:
            cases.append(_stdio_case(item, index))
        else:
            raise TestSpecError(f"test {index}: needs 'input'/'output' or 'fn'/'args'/'expected'")
    return cases


def _stdio_case(item: dict[str, Any], index: int) -> StdioCase:
    data, expected = item.get("input", ""), item.get("output")
    if isinstance(data, list):
        data = "\n".join(map(str, data)) + "\n"
    if isinstance(expected, list):
        expected = "\n".join(map(str, expected)) + "\n"
    if not isinstance(data, str) or not isinstance(expected, str):
        raise TestSpecError(f"test {index}: 'input' and 'output' must be strings")
    return StdioCase(input=data, output=expected)


def _literal(text: Any, index: int, what: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise TestSpecError(f"test {index}: {what} is not a Python literal ({exc})") from None


def _call_case(item: dict[str, Any], index: int) -> CallCase:
    fn = item.get("fn") or item.get("fn_name")
    if not isinstance(fn, str) or not fn:
        raise TestSpecError(f"test {index}: 'fn' must name a function")
    args = _literal(item["args_literal"], index, "args_literal") if "args_literal" in item else item.get("args", [])
    if "expected_literal" in item:
        expected = _literal(item["expected_literal"], index, "expected_literal")
    elif "expected" in item:
        expected = item["expected"]
    else:
        raise TestSpecError(f"test {index}: call case needs 'expected' (or 'expected_literal')")
    kwargs = item.get("kwargs", {})
    if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
        raise TestSpecError(f"test {index}: 'args' must be a list and 'kwargs' an object")
    return CallCase(fn=fn, args=tuple(args), kwargs=dict(kwargs), expected=expected)


# -- assert code -------------------------------------------------------------------------------------

# Module-level statements of HumanEval-style test code that do not stop conversion to call cases.
_HARMLESS = (ast.Import, ast.ImportFrom)


def asserts_to_cases(code: str, *, entry_point: str | None = None, setup: str = "") -> list[TestCase]:
    """Test code -> cases. `def check(candidate)` code becomes call cases when every statement of `check`
    is a simple assert (else one opaque check); loose assert lines become one case each."""
    try:
        module = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise TestSpecError(f"the test code does not parse: {exc}") from None
    check = next((n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    if check is None:
        return _assert_lines([ast.get_source_segment(code, n) or ast.unparse(n) for n in module.body], setup)
    if not entry_point:
        raise TestSpecError("test code defines check(candidate) but no entry_point names the function")
    others = [n for n in module.body if n is not check and not _is_metadata(n)]
    if check.args.args and all(isinstance(n, _HARMLESS) for n in others):
        param = check.args.args[0].arg
        cases = [_simple_assert(stmt, {param: entry_point}) for stmt in check.body if not _is_noise(stmt)]
        if cases and all(case is not None for case in cases):
            return [dataclasses.replace(case, group=0) for case in cases if case is not None]
    return [check_case(f"{setup}\n{code}" if setup else code, entry_point=entry_point, label="check")]


def _assert_lines(lines: list[str], setup: str) -> list[TestCase]:
    """Test statements in order -> cases. Each assert (or statement holding asserts: a loop, an `if`) is a test;
    every other statement (imports, definitions, assignments) is context that runs before each later test, as
    it would in one test program. So a test's own helpers and variables are never looked up in the program,
    and a statement that asserts nothing is never a test that always passes."""
    statements: list[tuple[ast.stmt, str]] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            nodes = ast.parse(line).body
        except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
            raise TestSpecError(f"test line does not parse: {line[:80]!r}: {exc}") from None
        statements += [(node, line if len(nodes) == 1 else ast.get_source_segment(line, node) or ast.unparse(node))
                       for node in nodes]
    context = [setup] if setup.strip() else []
    bound = bound_names(setup)
    cases: list[TestCase] = []
    for node, source in statements:
        if not _asserts(node):
            context.append(source)
            bound |= bound_names(source)
            continue
        if _is_noise(node):
            continue
        case = _simple_assert(node, None)
        if case is not None and case.fn.partition(".")[0] not in bound:
            cases.append(case)
        else:
            cases.append(check_case("\n".join([*context, source]), label=source.strip()[:200]))
    if not cases:
        raise TestSpecError("the test code holds no assertions")
    return cases


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)


def _asserts(node: ast.stmt) -> bool:
    """Whether a test statement tests something when it runs: an assert, or a statement holding one that is
    not a definition (a helper that asserts is context until a test calls it)."""
    if isinstance(node, ast.Assert):
        return True
    return not isinstance(node, _DEFINITIONS) and any(isinstance(n, ast.Assert) for n in ast.walk(node))


def _is_metadata(node: ast.stmt) -> bool:
    return isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)


def _is_noise(node: ast.stmt) -> bool:
    """`assert True`, docstrings, `pass` and `print(...)`: statements that test nothing."""
    if isinstance(node, ast.Pass):
        return True
    if isinstance(node, ast.Assert) and isinstance(node.test, ast.Constant) and node.test.value is True:
        return True
    if isinstance(node, ast.Expr):
        value = node.value
        if isinstance(value, ast.Constant):
            return True
        return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "print" and all(
            isinstance(arg, ast.Constant) for arg in value.args)
    return False


def _simple_assert(node: ast.stmt, rename: dict[str, str] | None) -> CallCase | None:
    """`assert f(<literals>) == <literal>` (either side; also `is True/False/None`) as a CallCase."""
    if not isinstance(node, ast.Assert) or not isinstance(node.test, ast.Compare):
        return None
    test = node.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq | ast.Is):
        return None
    left, right = test.left, test.comparators[0]
    if not isinstance(left, ast.Call):
        left, right = right, left
    call = _call_parts(left, rename)
    if call is None:
        return None
    try:
        expected = ast.literal_eval(right)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    is_identity = isinstance(test.ops[0], ast.Is)
    if is_identity and expected not in (True, False, None):
        return None
    fn, args, kwargs = call
    return CallCase(fn=fn, args=args, kwargs=kwargs, expected=expected, python_eq=not is_identity,
                    label=ast.unparse(node)[:200])


def _callee(func: ast.expr) -> str | None:
    """`f` for `f(...)`, `Cls.m` for `Cls().m(...)` (LeetCode style); None for anything else."""
    if isinstance(func, ast.Name):
        return func.id
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
            and not func.value.args and not func.value.keywords):
        return f"{func.value.func.id}.{func.attr}"
    return None


def _call_parts(node: ast.expr, rename: dict[str, str] | None) -> tuple[str, tuple[Any, ...], dict[str, Any]] | None:
    if not isinstance(node, ast.Call):
        return None
    name = _callee(node.func)
    if name is None:
        return None
    if rename is not None:
        if name not in rename:
            return None
        name = rename[name]
    elif name.partition(".")[0] in BUILTIN_NAMES:
        return None
    if any(isinstance(arg, ast.Starred) for arg in node.args) or any(kw.arg is None for kw in node.keywords):
        return None
    try:
        args = tuple(ast.literal_eval(arg) for arg in node.args)
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return name, args, kwargs
