"""The judge benchmark script runs end to end at a tiny size, so the command in BENCHMARKS.md keeps working."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_judge_benchmark_runs_and_llm_judge_calls_each_unique_prompt_once(tmp_path: Path) -> None:
    out = tmp_path / "judge_grpo_batch.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "judge_grpo_batch.py"), "--prompts", "2", "--group", "4",
         "--latency", "0", "--output", str(out)],
        capture_output=True, text=True, timeout=240, check=False, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    results, unique = report["results"], report["batch"]["unique_judge_prompts"]
    assert results["sequential"]["judge_calls"] == results["gather"]["judge_calls"] == 8
    assert results["llm_judge_cold"]["judge_calls"] == unique < 8  # dedup within the batch
    assert results["llm_judge_warm"]["judge_calls"] == 0            # the cache across calls
    assert len({r["mean_reward"] for r in results.values()}) == 1   # every contender judged alike
