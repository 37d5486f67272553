"""The same isolation wherever a reward was defined: a script, `python -c`, `python -`, the REPL,
inside a function, a module in the current directory, and spawn / forkserver pool children.

Each case scores [a good sample, one whose reward calls `os._exit`, a good sample]: run inline, the
exit would kill the caller; isolated, it is that sample's error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DEFINE_AND_SCORE = """
import json, os
import rewardforge as rf

@rf.reward
def kw(completion: str) -> rf.Score:
    if completion == "die":
        os._exit(3)
    return rf.Score.of(float("x" in completion), info={"pid": os.getpid()})

verdicts = rf.score(kw, [{"completion": "x"}, {"completion": "die"}, {"completion": "y"}])
again = rf.score(kw, [{"completion": "x"}], cache=True)
again = rf.score(kw, [{"completion": "x"}], cache=True)  # the cache can key a reward with no source file
print(json.dumps([[v.status for v in verdicts], [v.value for v in verdicts],
                  verdicts[0].info["pid"] != os.getpid(), again[0].value]))
"""
EXPECTED = [["ok", "error", "ok"], [1.0, None, 0.0], True, 1.0]


def run_python(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=120, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})


def last_json(output: str) -> object:
    lines = [line.strip().removeprefix(">>> ").removeprefix("... ") for line in output.splitlines()]
    return json.loads([line for line in lines if line.startswith("[")][-1])


@pytest.mark.parametrize("how", ["script", "python -c", "python -", "repl"])
def test_a_reward_defined_in_the_running_script_is_isolated(how: str, tmp_path: Path) -> None:
    source = textwrap.dedent(DEFINE_AND_SCORE)
    if how == "script":
        (tmp_path / "run.py").write_text(source)
        result = run_python(["run.py"], tmp_path)
    elif how == "python -c":
        result = run_python(["-c", source], tmp_path)
    elif how == "python -":
        result = run_python(["-"], tmp_path, stdin=source)
    else:  # the interactive interpreter, fed line by line (a blank line closes each block)
        result = run_python(["-i", "-q"], tmp_path, stdin=source.replace("\nverdicts", "\n\nverdicts") + "\n")
    assert result.returncode == 0, result.stderr
    assert last_json(result.stdout) == EXPECTED, result.stderr
    assert "No module named" not in result.stderr


def test_a_module_in_the_current_directory_is_found_by_workers_from_python_c(tmp_path: Path) -> None:
    (tmp_path / "kwcov.py").write_text(textwrap.dedent("""
        import rewardforge as rf

        @rf.reward
        def coverage(completion: str, *, word: str = "x") -> float:
            return float(word in completion)
    """))
    code = ("import json, kwcov, rewardforge as rf; "
            "print(json.dumps([(v.status, v.value, v.reason) for v in "
            "rf.score(kwcov.coverage, [{'completion': 'x'}, {'completion': 'y'}], timeout=30)]))")
    result = run_python(["-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert last_json(result.stdout) == [["ok", 1.0, None], ["ok", 0.0, None]]


POOL_SCRIPT = """
import json, multiprocessing, os, sys
import rewardforge as rf

@rf.reward
def kw(completion: str) -> float:
    if completion == "die":
        os._exit(3)
    return float("x" in completion)

def job(completion):
    [verdict] = rf.score(kw, [{"completion": completion}], timeout=30)
    return verdict.status, verdict.value

if __name__ == "__main__":
    with multiprocessing.get_context(sys.argv[1]).Pool(1) as pool:
        print(json.dumps(pool.map(job, ["x", "die", "y"])))
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_reward_defined_in_the_main_script_works_in_spawn_and_forkserver_children(
    method: str, tmp_path: Path
) -> None:
    (tmp_path / "pooled.py").write_text(textwrap.dedent(POOL_SCRIPT))
    result = run_python(["pooled.py", method], tmp_path)
    assert result.returncode == 0, result.stderr
    assert last_json(result.stdout) == [["ok", 1.0], ["error", None], ["ok", 0.0]]
