"""Old import paths that plugins written against 0.1 use keep working for one release, with a warning."""

from __future__ import annotations

import subprocess
import sys


def test_the_old_core_path_warns_and_gives_the_same_objects() -> None:
    code = (
        "import warnings\n"
        "warnings.simplefilter('error', DeprecationWarning)\n"
        "try:\n"
        "    import rewardforge.rewards.core\n"
        "except DeprecationWarning as exc:\n"
        "    print('warned:', exc)\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        "import importlib, sys\n"
        "sys.modules.pop('rewardforge.rewards.core', None)\n"
        "old = importlib.import_module('rewardforge.rewards.core')\n"
        "import rewardforge as rf\n"
        "assert old.reward is rf.reward and old.Sample is rf.Sample and old.Score is rf.Score\n"
        "assert old.BaseReward is rf.BaseReward and old.RewardError is rf.RewardError\n"
        "@old.reward\n"
        "def shout(completion: str) -> float:\n"
        "    return float(completion.isupper())\n"
        "print([s.value for s in rf.score(shout, [{'completion': 'HI'}, {'completion': 'hi'}])])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("warned: rewardforge.rewards.core moved to rewardforge.core.types")
    assert lines[1] == "[1.0, 0.0]"
