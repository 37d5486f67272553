"""`rewardforge train` as a user runs it: one config, a comparison, and a config with a mistake."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest
import yaml
from rf_test_support import RF
from rf_trainer_support import tiny_dict
from typer.testing import CliRunner

from rewardforge.cli import app

runner = CliRunner()


def _config(path: Path, **changes: object) -> Path:
    path.write_text(yaml.safe_dump(tiny_dict(steps=2, **changes), sort_keys=False))
    return path


def _run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RF, "train", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def test_compare_trains_each_config_and_draws_one_plot(tmp_path: Path, cli_env: dict[str, str]) -> None:
    sparse = _config(tmp_path / "sparse.yaml", reward="exact_match")
    partial = _config(tmp_path / "partial.yaml", reward="rewardforge.trainer.toys:position_match")
    done = _run("--compare", str(sparse), str(partial), "--output-dir", "out", "--set", "eval.size=3",
                cwd=tmp_path, env=cli_env)
    assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path / "out"
    assert (out / "compare.png").read_bytes().startswith(b"\x89PNG")
    for name in ("sparse", "partial"):
        assert len((out / name / "metrics.jsonl").read_text().splitlines()) == 2
        assert (out / name / "reward_curve.png").is_file()
    assert "held-out accuracy" in done.stdout and "sparse" in done.stdout and "partial" in done.stdout

    again = _run(str(sparse), "--output-dir", "out/sparse", cwd=tmp_path, env=cli_env)
    assert again.returncode == 2 and "already holds a run: pass --resume" in again.stderr


def test_a_mistake_in_the_config_is_one_line_naming_the_key(tmp_path: Path) -> None:
    config = _config(tmp_path / "run.yaml")
    out = str(tmp_path / "out")
    done = runner.invoke(app, ["train", str(config), "--output-dir", out, "--set", "loss.clip=0.2"])
    assert done.exit_code == 2
    assert "run.yaml: loss: unknown key 'clip'" in done.output and "Traceback" not in done.output
    done = runner.invoke(app, ["train", str(config), str(config), "--output-dir", out])
    assert done.exit_code == 2 and "pass --compare" in done.output
    assert not (tmp_path / "out").exists()  # nothing was started


def test_help_reads_like_the_readme() -> None:
    text = " ".join(runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output.split())
    for placeholder in ("--output-dir -o DIR", "--set KEY=VALUE", "--compare", "--resume", "CONFIGS..."):
        assert placeholder in text, placeholder
    assert "<bool>" not in text and "<list" not in text


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_a_stopped_run_names_its_checkpoint_and_resumes_where_it_stopped(tmp_path: Path, cli_env: dict[str, str],
                                                                          signum: int, code: int) -> None:
    config = _config(tmp_path / "run.yaml", eval={"data": None}, output={"checkpoint_every": 1, "plot_every": 1000})
    metrics = tmp_path / "out" / "metrics.jsonl"
    process = subprocess.Popen([*RF, "train", str(config), "--output-dir", "out", "--set", "steps=100000"],
                               cwd=tmp_path, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 3):
        assert process.poll() is None and time.monotonic() < deadline, process.stdout and process.stdout.read()
        time.sleep(0.1)
    process.send_signal(signum)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == code, output
    assert "continue with --resume" in output and "Traceback" not in output

    done = len(metrics.read_text().splitlines())
    resumed = _run(str(config), "--output-dir", "out", "--resume", "--set", f"steps={done + 1}", cwd=tmp_path,
                   env=cli_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    steps = [orjson.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert steps == list(range(1, done + 2))  # no step lost, none repeated
