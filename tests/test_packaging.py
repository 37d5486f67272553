"""A plain, non-editable install must still find the catalog (registry.yaml ships in the wheel)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from rf_test_support import ROOT


@pytest.mark.slow
def test_wheel_ships_registry_and_a_non_editable_install_finds_it(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(ROOT)], check=True, capture_output=True)
    [wheel] = dist.glob("rewardforge-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("rewardforge/registry.yaml") == (ROOT / "registry.yaml").read_bytes()
        assert "rewardforge/py.typed" in archive.namelist()  # type checkers read our annotations

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(wheel)], check=True, capture_output=True)
    probe = ("import rewardforge, rewardforge.core.registry as r; "
             "print(rewardforge.__file__); print(r.builtin_registry_path()); "
             "print(rewardforge.score('exact_match', [{'completion': 'a', 'reference': 'a'}])[0].value)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                            cwd=tmp_path, check=True)
    module_file, registry_path, value = result.stdout.split()
    assert module_file.startswith(str(site)) and registry_path.startswith(str(site))
    assert value == "1.0"
