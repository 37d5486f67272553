"""The kernel benchmark scripts run end to end (tiny sizes) and fail clearly where they cannot run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the script would run the full benchmark")
def test_gpu_benchmark_says_it_needs_cuda() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kernels_gpu.py")], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert "needs a CUDA GPU" in proc.stderr and "nothing was measured" in proc.stderr


@pytest.mark.slow  # three subprocesses that each import torch
def test_memory_benchmark_runs_variants_in_subprocesses(tmp_path: Path) -> None:
    out = tmp_path / "kernels_memory.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "kernels_memory.py"), "--rows", "512", "--hidden", "32",
         "--vocab", "3001", "--variants", "ours,ours_fused,naive", "--output", str(out)],
        capture_output=True, text=True, timeout=240, check=False, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    naive = report["results"]["naive"]
    assert "error" not in naive and naive["peak_bytes_above_inputs"] > 0
    for name in ("ours", "ours_fused"):
        ours = report["results"][name]
        assert "error" not in ours, ours
        assert ours["max_rel_diff_vs_naive"] <= 1e-5 and ours["seconds"] > 0
        assert report["targets"][name]["values_within_1e-5_rel"] is True
