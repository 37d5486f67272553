"""`rewardforge new-plugin`: the generated package installs, its tests pass, and `rewardforge test` passes it."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rewardforge.testing.scaffold import LAYOUT


def venv_over_this_one(path: Path) -> Path:
    """A fresh virtualenv that sees this environment's packages (rewardforge, pytest, hypothesis,
    hatchling) without copying them: its own site-packages gets a .pth that adds ours."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    ours = site.getsitepackages()[0]
    Path(own, "_parent_env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


@pytest.mark.slow
def test_generated_plugin_installs_passes_its_tests_and_rewardforge_test(rf: Any, tmp_path: Path) -> None:
    made = rf("new-plugin", "acme-rewards", "--dir", str(tmp_path / "acme-rewards"))
    assert made.returncode == 0, made.stderr
    plugin = tmp_path / "acme-rewards"
    assert {str(p.relative_to(plugin)) for p in plugin.rglob("*") if p.is_file()} == {
        target.format(package="acme_rewards") for target in LAYOUT.values()}
    assert "pip install -e '.[test]'" in made.stdout

    python = venv_over_this_one(tmp_path / "venv")
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                              str(plugin)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    ci = subprocess.run(["bash", "ci.sh"], cwd=plugin, capture_output=True, text=True, timeout=600,
                        env={**env, "RF_SKIP_INSTALL": "1", "PYTHON": str(python), "COLUMNS": "160"})
    assert ci.returncode == 0, ci.stdout[-3000:] + ci.stderr[-3000:]
    assert "8 passed" in ci.stdout  # the scaffold's tests, through rewardforge's pytest plugin
    report = json.loads((plugin / "rewardforge-test.json").read_text())
    [target] = report["targets"]
    assert report["passed"] and target["name"] == "acme_rewards_coverage"
    assert target["probes"]["attempts"] > 20 and len(target["orderings"]) == 1

    # the plugin probe ships with the package and runs against built-ins too
    listed = subprocess.run([str(python), "-m", "rewardforge.cli", "test", "--list-probes"], env=env,
                            capture_output=True, text=True)
    assert "keyword_stuffing" in listed.stdout

    # break the reward: its own golden cases and `rewardforge test --plugin` must fail CI
    installed = subprocess.run([str(python), "-c", "import acme_rewards.rewards as m; print(m.__file__)"],
                               env=env, capture_output=True, text=True, check=True).stdout.strip()
    source = Path(installed)
    source.write_text(source.read_text().replace("len(covered) / len(wanted)", "1.0"))
    broken = subprocess.run([str(python), "-m", "rewardforge.cli", "test", "--plugin", "acme-rewards", "--probes"],
                            env={**env, "COLUMNS": "160"}, capture_output=True, text=True)
    assert broken.returncode == 1
    assert "expected 0.0, got 1.0" in broken.stdout  # the `none` case


@pytest.mark.parametrize("args, message", [
    (["new-plugin", "1bad"], "plugin name '1bad': use letters, digits"),
    (["new-plugin", "class"], "its import name 'class' is reserved"),
])
def test_bad_names_are_refused(rf: Any, args: list[str], message: str) -> None:
    result = rf(*args)
    assert result.returncode == 2 and message in result.stderr


def test_a_folder_that_is_not_empty_is_refused_without_force(rf: Any, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    result = rf("new-plugin", "taken", "--dir", str(target))
    assert result.returncode == 2 and "is not empty" in result.stderr
    assert rf("new-plugin", "taken", "--dir", str(target), "--force").returncode == 0
    assert (target / "keep.txt").read_text() == "mine" and (target / "src/taken/registry.yaml").is_file()
