"""The verl adapter inside verl's own reward code: `load_reward_manager` and `run_single` with the
naive and DAPO managers, sync and async `compute_score`, in verl's own virtualenv.

verl pins an older transformers than the dev extra, so it lives in `.venv-verl`, made by
`scripts/setup_verl.sh` (which `scripts/test.sh` runs). Without it these tests fail: CI makes it.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rf_integration_support import DATA

import rewardforge as rf

pytestmark = pytest.mark.slow  # one run of verl's import chain in its own interpreter

ROOT = Path(__file__).resolve().parents[2]
VERL_PYTHON = ROOT / ".venv-verl" / "bin" / "python"
STACK = str(DATA / "qa_stack.yaml")

CASES = [  # the response text, the ground truth; None: the reference-based part skips
    {"prompt": "Task capital of France ?", "response": "Paris", "ground_truth": "Paris", "data_source": "geo"},
    {"prompt": "Task ?", "response": "4 5 4 5 4", "ground_truth": None, "data_source": "geo"},
    {"prompt": "Task ?", "response": "Yes", "ground_truth": None, "data_source": "geo"},
    {"prompt": "Task ?", "response": "Lyon", "ground_truth": "Paris", "data_source": "math",
     "extra_info": {"level": 3}},
]


def reward_map(tmp: Path) -> str:
    path = tmp / "rewards.yaml"
    path.write_text(f"geo: {STACK}\nmath: {{reward: exact_match, params: {{case_sensitive: true}}}}\n")
    return str(path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    if not VERL_PYTHON.exists():
        pytest.fail(f"{VERL_PYTHON} is missing: run `bash scripts/setup_verl.sh` (scripts/test.sh does)")
    mapping = reward_map(tmp_path_factory.mktemp("verl"))
    specs = [
        {"manager": manager, "function": function, "reward_kwargs": kwargs, "cases": CASES}
        for manager in ("naive", "dapo")
        for function in ("compute_score", "acompute_score")
        for kwargs in ({"reward": STACK}, {"reward_map": mapping})
    ]
    done = subprocess.run([str(VERL_PYTHON), str(Path(__file__).with_name("verl_runner.py"))],
                          input=json.dumps(specs), capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    return [{**spec, **result} for spec, result in zip(specs, results, strict=True)]


def expected(spec: dict[str, Any], text: str, case: dict[str, Any]) -> rf.Score:
    if "reward" in spec["reward_kwargs"]:
        reward, params = spec["reward_kwargs"]["reward"], None
    else:
        reward, params = (STACK, None) if case["data_source"] == "geo" else ("exact_match", {"case_sensitive": True})
    [score] = rf.score(reward, [{"completion": text, "reference": case["ground_truth"]}], params=params)
    return score


def test_each_manager_and_function_ran(runs: list[dict[str, Any]]) -> None:
    classes = {(r["manager"], r["function"]): r["manager_class"] for r in runs}
    assert classes == {("naive", "compute_score"): "NaiveRewardManager", ("naive", "acompute_score"): "NaiveRewardManager",
                       ("dapo", "compute_score"): "DAPORewardManager", ("dapo", "acompute_score"): "DAPORewardManager"}
    for run in runs:
        assert run["is_async"] == (run["function"] == "acompute_score"), "verl saw the async twin as async"


@pytest.mark.parametrize("index", range(8))
def test_verl_used_the_scores_rf_gives(runs: list[dict[str, Any]], index: int) -> None:
    run = runs[index]
    assert run["texts"][:3] == ["Paris", "4 5 4 5 4", "Yes"], "verl decoded the responses we built"
    for i, (text, case) in enumerate(zip(run["texts"], CASES, strict=True)):
        score = expected(run, text, case)
        want = score.value if score.ok else 0.0  # the default policy: 0.0, counted in rf_skipped / rf_error
        assert run["scores"][i] == pytest.approx(want), (i, score)
        assert run["extra"]["rf_ok"][i] == float(score.ok)
        assert run["extra"]["rf_skipped"][i] == float(score.status == "skipped")
    assert run["rm_scores_row_sums"] == pytest.approx(run["scores"]), "the score lands on the last response token"
    assert any(run["extra"]["rf_skipped"]), "a skipped sample is counted, not hidden in a 0"


@pytest.mark.parametrize("index", range(8))
def test_every_sample_reports_the_same_numeric_keys(runs: list[dict[str, Any]], index: int) -> None:
    run = runs[index]
    assert {"score", "rf_ok", "rf_skipped", "rf_error"} <= set(run["keys"])
    if "reward" in run["reward_kwargs"]:
        assert {"gated", "gated.format", "gated.accuracy", "repetition"} <= set(run["keys"])
    for key, values in run["extra"].items():
        assert len(values) == len(CASES), key
        assert all(isinstance(v, float) and math.isfinite(v) for v in values), (key, values)
