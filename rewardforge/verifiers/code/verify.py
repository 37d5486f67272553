"""Code verification: test cases -> one sandbox job per program -> per-test verdicts judged here.

The job runs `harness.py` (the in-sandbox driver) with the program, the public part of the tests
(stdin inputs, call arguments) and, on stdin, a per-job nonce and MAC key plus any opaque check code. The
driver reports each test as a frame on stdout that starts with the nonce and ends with a MAC of the frame;
only whole frames with both count, so nothing the program prints, and no exit code, can pass a test (not
even a line spliced onto the start of a genuine frame). Expected outputs and return values of formats 1
and 2 never enter the sandbox: they are compared here, on values that came back as data.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import importlib.util
import json
import logging
import marshal
import secrets
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import orjson

from rewardforge.sandbox.base import ExecRequest, ExecResult, Limits, SandboxBackend
from rewardforge.verifiers.code import harness
from rewardforge.verifiers.code.cases import CallCase, CheckCase, StdioCase, TestCase
from rewardforge.verifiers.code.compare import (
    PYTHON_EQ,
    CompareOptions,
    compare_stdout,
    describe,
    values_equal,
)
from rewardforge.verifiers.code.languages import LanguageSpec

Verdict = Literal["pass", "wrong_answer", "runtime_error", "timeout", "output_limit", "unsupported_value",
                  "no_result", "not_run"]
JobStatus = Literal["ok", "syntax_error", "compile_error", "error"]

logger = logging.getLogger(__name__)

DRIVER_FILE = "rf_driver.py"
JOB_FILE = "rf_job.bin"
_FRAME_OVERHEAD = 16 << 10


@dataclass(frozen=True)
class JudgeOptions:
    """Limits and comparison rules for one program's tests."""

    timeout_s: float = 3.0
    memory_mb: int = 512
    total_timeout_s: float | None = None
    output_bytes: int = 1 << 20
    fail_fast: bool = False
    compare: CompareOptions = field(default_factory=CompareOptions)
    float_tol: float | None = None  # stdout numeric-token tolerance


@dataclass(frozen=True)
class TestVerdict:
    __test__ = False  # not a pytest test class, despite the name

    verdict: Verdict
    kind: Literal["stdio", "call", "check"]
    time_s: float | None = None
    detail: str | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def as_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"verdict": self.verdict, "kind": self.kind}
        if self.time_s is not None:
            info["time_s"] = round(self.time_s, 4)
        if self.detail:
            info["detail"] = self.detail
        return info


@dataclass
class CodeVerdict:
    """The verdict on one program. `status="error"` means the sandbox failed, not the program."""

    status: JobStatus
    tests: list[TestVerdict] = field(default_factory=list)
    reason: str | None = None
    wall_s: float = 0.0
    backend: str = ""

    @property
    def passed(self) -> int:
        return sum(test.passed for test in self.tests)

    @property
    def total(self) -> int:
        return len(self.tests)

    @property
    def fraction(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass(frozen=True)
class PreparedJob:
    request: ExecRequest
    nonce: str
    key: bytes  # the frames' MAC key (see harness.frame_tag): never written anywhere the program can read
    tests: tuple[TestCase, ...]
    language: LanguageSpec
    options: JudgeOptions


# Compiling the driver's source costs more CPU than starting the interpreter, so jobs also carry it
# compiled by this interpreter. The bootstrap runs that code when the sandbox's Python has the same
# bytecode magic number (e.g. any 3.11.x for a 3.11 parent), and compiles the source otherwise. A backend
# that preloads the driver in its warm workers (`SandboxBackend.preload_python`) spares every job both:
# the bootstrap then finds it in sys.modules under the name given as its second argument.
BOOTSTRAP = (
    "import sys\n"
    "driver = sys.modules.get(sys.argv[2])\n"
    "if driver is None:\n"
    "    import marshal\n"
    "    data = open('rf_driver.pyc', 'rb').read()\n"
    "    magic = sys.modules['_frozen_importlib_external'].MAGIC_NUMBER\n"
    "    code = marshal.loads(data[16:]) if data[:4] == magic else "
    "compile(open('rf_driver.py', 'rb').read(), 'rf_driver.py', 'exec')\n"
    "    driver = type(sys)('rf_driver')\n"
    "    exec(code, driver.__dict__)\n"
    "driver.main(sys.argv)\n"
)


@cache
def _driver_source() -> tuple[str, str]:
    """The driver's source and the module name it is preloaded under (versioned by its content)."""
    source = Path(harness.__file__).read_text(encoding="utf-8")
    return source, "rf_driver_" + hashlib.sha256(source.encode()).hexdigest()[:16]


@cache
def _driver_files() -> dict[str, str | bytes]:
    source, _ = _driver_source()
    compiled = importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(compile(source, DRIVER_FILE, "exec"))
    return {DRIVER_FILE: source, DRIVER_FILE + "c": compiled}


def check_runnable(tests: Sequence[TestCase], language: LanguageSpec) -> None:
    """Raises ValueError when `tests` cannot be run in `language` (none at all, or calls in a language that
    only reads stdin)."""
    if not tests:
        raise ValueError("no tests to run")
    if not language.supports_calls and any(not isinstance(t, StdioCase) for t in tests):
        raise ValueError(f"{language.name} supports stdin/stdout tests only")


def _kind(test: TestCase) -> Literal["stdio", "call", "check"]:
    return "stdio" if isinstance(test, StdioCase) else "call" if isinstance(test, CallCase) else "check"


def prepare(code: str, tests: Sequence[TestCase], language: LanguageSpec, options: JudgeOptions,
            *, driver_preloaded: bool = False) -> PreparedJob:
    """The sandbox job for `code` against `tests`. Raises ValueError for tests the language cannot run.
    `driver_preloaded`: the backend's interpreters already hold the driver, so the job does not carry it."""
    check_runnable(tests, language)
    nonce = secrets.token_hex(16)
    key = secrets.token_bytes(32)
    memory = options.memory_mb << 20
    files: dict[str, str | bytes] = {**({} if driver_preloaded else _driver_files()), language.source_file: code}
    job_tests: list[dict[str, Any]] = []
    checks: dict[int, tuple[str, list[str]]] = {}
    for index, test in enumerate(tests):
        entry: dict[str, Any] = {"kind": _kind(test), "timeout_s": options.timeout_s, "cpu_s": options.timeout_s,
                                 "memory_bytes": memory}
        if isinstance(test, StdioCase):
            entry["input_path"] = f"rf_in/{index}.txt"
            files[entry["input_path"]] = test.input
        elif isinstance(test, CallCase):
            entry.update(fn=test.fn, args=test.args, kwargs=test.kwargs, group=test.group)
        else:
            entry["entry_point"] = test.entry_point
            checks[index] = (test.code, list(test.needs))
        job_tests.append(entry)
    job = {
        "mode": language.mode,
        "source": code,
        "source_path": language.source_file,
        "preload": any(not isinstance(t, StdioCase) for t in tests),
        "load_timeout_s": options.timeout_s,
        "compile_argv": list(language.compile_argv),
        "compile_limits": {"cpu_s": language.compile_timeout_s, "memory_bytes": language.compile_memory_mb << 20},
        "run_argv": list(language.run_argv),
        "tests": job_tests,
        "output_cap": options.output_bytes,
        "fail_fast": options.fail_fast,
    }
    try:
        files[JOB_FILE] = marshal.dumps(job, 4)
    except ValueError as exc:  # args that are not plain data
        raise ValueError(f"test arguments must be plain data: {exc}") from None
    compile_s = language.compile_timeout_s if language.compile_argv else 0.0
    wall = options.timeout_s * (len(tests) + 1) + compile_s + 5.0
    if options.total_timeout_s is not None:
        wall = min(wall, options.total_timeout_s)
    limits = Limits(
        wall_s=wall,
        cpu_s=wall,
        memory_mb=max(options.memory_mb, language.compile_memory_mb if language.compile_argv else 0) + 64,
        output_bytes=len(tests) * (options.output_bytes * 4 // 3 + _FRAME_OVERHEAD) + _FRAME_OVERHEAD,
    )
    request = ExecRequest(
        files=files,
        argv=["python3", "-I", "-S", "-B", "-c", BOOTSTRAP, JOB_FILE, _driver_source()[1]],
        stdin=marshal.dumps({"nonce": nonce, "key": key, "checks": checks}, 4),
        limits=limits,
        trusted_init=True,  # the driver runs the program only in forked children
    )
    return PreparedJob(request=request, nonce=nonce, key=key, tests=tuple(tests), language=language,
                       options=options)


def _frames(result: ExecResult, nonce: str, key: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The driver's frames, in order. Lines without the nonce, or whose MAC does not match, are the
    program's, forgeries or splices: ignored."""
    prefix = f"{harness.FRAME_MAGIC} {nonce} ".encode("ascii")
    frames = []
    for line in result.stdout.split(b"\n"):
        if not line.startswith(prefix):
            continue
        content, _, tag = line[len(prefix):].rpartition(b" ")
        if not hmac.compare_digest(tag, harness.frame_tag(key, content)):
            continue
        kind, _, body = content.partition(b" ")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            continue
        if isinstance(payload, dict):
            frames.append((kind.decode("ascii", "replace"), payload))
    return frames


def _b64(frame: dict[str, Any], key: str) -> bytes:
    try:
        return binascii.a2b_base64(frame.get(key) or "")
    except binascii.Error:
        return b""


def _failure(frame: dict[str, Any]) -> tuple[Verdict, str] | None:
    """Why a run ended without a usable result, from the driver's view of it, or None."""
    if frame.get("overflow"):
        return "output_limit", "output exceeded the per-test limit"
    if frame.get("timeout"):
        return "timeout", "time limit exceeded"
    sig = frame.get("sig")
    if sig is not None:
        if sig == 24:  # SIGXCPU
            return "timeout", "CPU time limit exceeded"
        return "runtime_error", f"killed by signal {sig}" + _stderr_tail(frame)
    return None


def _stderr_tail(frame: dict[str, Any]) -> str:
    err = str(frame.get("err") or "").strip()
    return f": {err[-300:]}" if err else ""


Judged = tuple[Verdict, str | None]


def _judge_call(test: CallCase, frame: dict[str, Any], options: JudgeOptions) -> Judged:
    raw = _b64(frame, "res")
    if not raw:
        failure = _failure(frame)
        if failure:
            return failure
        return "no_result", f"exited with code {frame.get('exit')} before returning a result" + _stderr_tail(frame)
    tag, body = raw[:1], raw[1:]
    if tag == b"E":
        return "runtime_error", body.decode("utf-8", "replace")[:500]
    if tag == b"U":
        return "unsupported_value", "returned a value that is not plain data: " + body.decode("utf-8", "replace")[:300]
    if tag != b"R":
        return "no_result", "malformed result"
    try:  # stdlib json: unlike orjson it takes big ints and lone surrogates, which are valid values
        value = harness.decode_value(json.loads(body))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and CodecError are ValueErrors
        return "no_result", f"malformed result: {exc}"
    compare = PYTHON_EQ if test.python_eq else options.compare
    if values_equal(value, test.expected, compare):
        return "pass", None
    return "wrong_answer", f"expected {describe(test.expected)}, got {describe(value)}"


def _judge_stdio(test: StdioCase, frame: dict[str, Any], options: JudgeOptions) -> Judged:
    failure = _failure(frame)
    if failure:
        return failure
    if frame.get("exit") != 0:
        return "runtime_error", f"exit code {frame.get('exit')}" + _stderr_tail(frame)
    output = _b64(frame, "out").decode("utf-8", "replace")
    mismatch = compare_stdout(output, test.output, options.float_tol)
    return ("wrong_answer", mismatch) if mismatch else ("pass", None)


def _judge_check(frame: dict[str, Any]) -> Judged:
    verdict = _b64(frame, "res")
    if verdict == b"P":
        return "pass", None
    if verdict.startswith(b"F"):
        return "wrong_answer", verdict[1:].decode("utf-8", "replace")[:500]
    failure = _failure(frame)
    return failure or ("no_result", "the check did not finish" + _stderr_tail(frame))


def judge(job: PreparedJob, result: ExecResult) -> CodeVerdict:
    """Per-test verdicts from what the sandbox run produced."""
    base: dict[str, Any] = {"wall_s": result.wall_s, "backend": result.backend}
    if result.status == "sandbox_error":
        return CodeVerdict("error", reason=f"sandbox failed: {result.reason}", **base)
    frames = _frames(result, job.nonce, job.key)
    kinds = [kind for kind, _ in frames]
    if "ready" not in kinds and _killed_by_the_job(result):
        reason = f"the program killed the sandbox job before any result came back ({result.reason})"
        return CodeVerdict("ok", [TestVerdict("not_run", _kind(t), detail=reason) for t in job.tests], reason, **base)
    if "ready" not in kinds:
        tail = result.stderr_text.strip()[-400:]
        return CodeVerdict("error", reason=f"the sandbox driver did not start ({result.status}: {result.reason}) "
                           f"{tail}".strip(), **base)
    by_kind = dict(frames)
    compiled = by_kind.get("compile")
    compile_err = str((compiled or {}).get("err") or "")
    if compiled is not None and compiled.get("exit") == harness.EXEC_FAILED and compile_err.startswith("cannot run "):
        # The compiler is not in the sandbox (the default Docker image has none): no program's fault.
        return CodeVerdict("error", reason=f"the sandbox cannot compile {job.language.name}: {compile_err[:300]} "
                           "(the local backend uses the host's compiler; a Docker image needs one)", **base)
    if compiled is not None and compiled.get("exit") != 0:
        why = _failure(compiled)
        why_text = why[1] if why else str(compiled.get("err") or "").strip()[-800:]
        return CodeVerdict("compile_error", reason=f"compilation failed: {why_text}", **base)
    load = by_kind.get("load", {"status": "loaded"})
    if load.get("status") == "syntax":
        return CodeVerdict("syntax_error", reason=str(load.get("detail")), **base)
    load_problem = None
    if load.get("status") != "loaded":
        load_problem = f"the program failed while loading: {load.get('detail')}"
    results = {frame.get("i"): frame for kind, frame in frames if kind == "test"}
    ended = _ended(result, kinds, load_problem)
    verdicts = []
    for index, test in enumerate(job.tests):
        frame = results.get(index)
        if frame is None:
            verdicts.append(TestVerdict("not_run", _kind(test), detail=ended))
            continue
        judged: Judged
        if isinstance(test, CallCase):
            judged = _judge_call(test, frame, job.options)
        elif isinstance(test, StdioCase):
            judged = _judge_stdio(test, frame, job.options)
        else:
            judged = _judge_check(frame)
        verdict, detail = judged
        label = getattr(test, "label", None)
        if label and verdict != "pass":
            detail = f"{label}: {detail}" if detail else str(label)
        verdicts.append(TestVerdict(verdict, _kind(test), time_s=frame.get("t"), detail=detail))
    return CodeVerdict("ok", verdicts, reason=load_problem, **base)


def _killed_by_the_job(result: ExecResult) -> bool:
    """A backend that loses all output when the job kills its agent (Docker) reports SIGKILL and nothing
    else. The driver prints its first frame before any program code runs, so on a backend that keeps
    output a missing first frame is never the program's doing."""
    return result.signal == signal.SIGKILL and not result.stdout and result.status in ("runtime_error", "memory")


def _ended(result: ExecResult, kinds: list[str], load_problem: str | None) -> str:
    if load_problem:
        return load_problem
    if "lost" in kinds:
        return "the test runner was killed by the program"
    if "done" in kinds:
        return "skipped after an earlier failure (fail_fast)"
    return f"the sandbox run ended early ({result.status}: {result.reason or 'killed'})"


def verify(code: str, tests: Sequence[TestCase], backend: SandboxBackend, language: LanguageSpec,
           options: JudgeOptions = JudgeOptions()) -> CodeVerdict:
    """Run `code` against `tests` in one sandbox job and judge it."""
    return verify_many([(code, tests)], backend, language, options)[0]


def verify_many(items: Sequence[tuple[str, Sequence[TestCase]]], backend: SandboxBackend, language: LanguageSpec,
                options: JudgeOptions = JudgeOptions(), max_workers: int | None = None) -> list[CodeVerdict]:
    """Judge many programs, up to `max_workers` (default: the backend's `concurrency`) at once.

    Each job is prepared when it starts and judged the moment its result comes back; only the verdict is
    kept. So the parent holds the output of the jobs running now, never of the whole batch (a 20-test
    program can print tens of MB: 256 of them held until the end would be gigabytes). Raises ValueError,
    before anything runs, for tests that cannot run in `language`."""
    for _, tests in items:
        check_runnable(tests, language)
    source, module = _driver_source()
    preloaded = backend.preload_python(module, source)

    def run_one(item: tuple[str, Sequence[TestCase]]) -> CodeVerdict:
        job = prepare(item[0], item[1], language, options, driver_preloaded=preloaded)
        result = backend.run(job.request)
        try:
            return judge(job, result)
        except Exception as exc:  # a bug here must cost this program its verdict, never its siblings theirs
            logger.exception("judging a program's sandbox output failed")
            return CodeVerdict("error", reason=f"internal error while judging the program's output: "
                               f"{type(exc).__name__}: {exc}", wall_s=result.wall_s, backend=result.backend)

    workers = max(1, min(max_workers or backend.concurrency, len(items)))
    if workers == 1:
        return [run_one(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_one, items))


# The "CheckCase" import is part of this module's public surface for callers building tests by hand.
__all__ = ["CallCase", "CheckCase", "CodeVerdict", "JudgeOptions", "StdioCase", "TestVerdict", "check_runnable", "judge",
           "prepare", "verify", "verify_many"]
