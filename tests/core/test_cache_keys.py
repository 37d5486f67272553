"""The verdict cache keys on everything that can change a verdict, so it never serves a stale one.

Runs across processes use real scripts sharing one SQLite cache, as separate runs of a user's
evaluation would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from rf_fault_rewards import reads_step
from rf_test_rewards import counting
from rf_test_support import TESTS, count_calls

import rewardforge as rf


def run_script(path: Path, source: str, *args: str, pythonpath: list[Path] | None = None) -> Any:
    """Write and run a script; it prints one JSON value."""
    path.write_text(textwrap.dedent(source))
    paths = [str(p) for p in (pythonpath or [])] + [str(TESTS), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    result = subprocess.run([sys.executable, str(path), *args], env=env, cwd=path.parent,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_reward_that_reads_the_step_is_cached_per_step() -> None:
    cache = rf.VerdictCache()
    values = [rf.score(reads_step, [{"completion": "x"}], step=step, cache=cache)[0].value for step in (0, 5, 100)]
    assert values == [0.0, 5.0, 100.0]
    assert rf.score(reads_step, [{"completion": "x"}], step=5, cache=cache)[0].value == 5.0
    assert cache.hits == 1


def test_a_reward_that_ignores_the_step_is_cached_across_steps(call_log: Path) -> None:
    tracked = counting.with_params(log=str(call_log))
    cache = rf.VerdictCache()
    for step in (0, 5, 100):
        assert rf.score(tracked, [{"completion": "a", "reference": "a"}], step=step, cache=cache)[0].value == 1.0
    assert count_calls(call_log) == 1


def test_rewards_made_by_one_factory_with_different_closures_do_not_share_verdicts() -> None:
    def at_least(threshold: int) -> rf.FunctionReward:
        @rf.reward(isolation="inline")
        def long_enough(completion: str) -> float:
            return float(len(completion) >= threshold)

        return long_enough

    cache = rf.VerdictCache()
    sample = [{"completion": "abcd"}]
    assert rf.score(at_least(3), sample, cache=cache)[0].value == 1.0
    assert rf.score(at_least(10), sample, cache=cache)[0].value == 0.0


QUALITY_SCRIPT = """
import json, sys
import rewardforge as rf

@rf.reward
def quality(completion: str) -> float:
    return {value}

cache = rf.VerdictCache(sys.argv[1])
print(json.dumps([[v.value for v in rf.score(quality, [{{"completion": "same"}}], cache=cache)], cache.hits]))
"""


def test_two_scripts_with_a_reward_of_the_same_name_do_not_share_verdicts(tmp_path: Path) -> None:
    cache = str(tmp_path / "verdicts.sqlite")
    first = run_script(tmp_path / "a.py", QUALITY_SCRIPT.format(value=0.25), cache)
    second = run_script(tmp_path / "b.py", QUALITY_SCRIPT.format(value=0.75), cache)
    again = run_script(tmp_path / "a.py", QUALITY_SCRIPT.format(value=0.25), cache)
    assert first == [[0.25], 0] and second == [[0.75], 0]
    assert again == [[0.25], 1]  # the same script's verdict is still reused


MODULE_USER = """
import json, sys
import rewardforge as rf
from judged import verdict

cache = rf.VerdictCache(sys.argv[1])
print(json.dumps([[v.value for v in rf.score(verdict, [{"completion": "same"}], cache=cache)], cache.hits]))
"""


def test_an_edited_reward_does_not_keep_its_old_verdicts(tmp_path: Path) -> None:
    module = tmp_path / "judged.py"
    cache = str(tmp_path / "verdicts.sqlite")
    module.write_text("import rewardforge as rf\n\n@rf.reward\ndef verdict(completion: str) -> float:\n    return 0.0\n")
    assert run_script(tmp_path / "user.py", MODULE_USER, cache) == [[0.0], 0]
    assert run_script(tmp_path / "user.py", MODULE_USER, cache) == [[0.0], 1]
    module.write_text(module.read_text().replace("return 0.0", "return 1.0"))
    assert run_script(tmp_path / "user.py", MODULE_USER, cache) == [[1.0], 0]


PLUGIN_USER = """
import importlib.metadata, json, sys
import rewardforge as rf

fake_rewardforge = sys.argv[2]
if fake_rewardforge != "-":  # as if rewardforge had been upgraded
    real = importlib.metadata.version
    importlib.metadata.version = lambda name: fake_rewardforge if name == "rewardforge" else real(name)
cache = rf.VerdictCache(sys.argv[1])
verdicts = rf.score("fakeplug.rewards:shout", [{"completion": "same"}], cache=cache)
print(json.dumps([[v.value for v in verdicts], cache.hits]))
"""


def make_plugin(root: Path, version: str) -> None:
    """An installed distribution `fakeplug` (dist-info and all), as pip would leave it."""
    package = root / "fakeplug"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "rewards.py").write_text(
        "import rewardforge as rf\n\n@rf.reward\ndef shout(completion: str) -> float:\n    return 1.0\n")
    for old in root.glob("fakeplug-*.dist-info"):
        for file in old.iterdir():
            file.unlink()
        old.rmdir()
    info = root / f"fakeplug-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakeplug\nVersion: {version}\n")
    (info / "top_level.txt").write_text("fakeplug\n")


def test_an_upgrade_of_a_plugin_or_of_rewardforge_does_not_keep_old_verdicts(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    cache = str(tmp_path / "verdicts.sqlite")
    script = tmp_path / "user.py"

    def run(fake_rewardforge: str = "-") -> Any:
        return run_script(script, PLUGIN_USER, cache, fake_rewardforge, pythonpath=[site])

    make_plugin(site, "1.0")
    assert run() == [[1.0], 0]
    assert run() == [[1.0], 1]
    make_plugin(site, "1.1")  # same code, new release: its verdicts may differ (data, dependencies)
    assert run() == [[1.0], 0]
    assert run("99.0") == [[1.0], 0]
    assert run() == [[1.0], 1]
