"""Fixtures for the test-kit tests: installed plugin distributions (good and broken) and the CLI runner."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from rf_test_support import RF, TESTS


class Site:
    """A folder of installed distributions, as pip leaves them: a package and its `.dist-info` with
    entry points. Put on PYTHONPATH, importlib.metadata finds them like any installed plugin."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def install(self, dist: str, files: dict[str, str], entry_points: dict[str, dict[str, str]]) -> None:
        for relative, text in files.items():
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        info = self.root / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text("".join(
            f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items()) + "\n"
            for group, points in entry_points.items()))

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(self.root), str(TESTS), env.get("PYTHONPATH", "")])
        env["COLUMNS"] = "200"
        return env

    def rf(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run `rewardforge ARGS` with these distributions installed."""
        return subprocess.run([*RF, *args], env=self.env(), capture_output=True, text=True, cwd=cwd or self.root,
                              timeout=300)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path / "site")


@pytest.fixture
def rf(site: Site) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`rewardforge ...` as a user runs it, with no extra plugin installed."""
    site.root.mkdir(parents=True, exist_ok=True)
    return site.rf
