"""`rewardforge new-plugin NAME`: a plugin package that is tested from its first commit.

It writes a pyproject with the entry points, a reward, its registry.yaml with golden cases and an
ordering, a plugin probe, tests that use the pytest helpers, the probes and Hypothesis, a README and a
CI script. The templates live in `plugin_template/`; `__DIST__` and `__PACKAGE__` are replaced.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from rewardforge.core.types import RewardError

# template file -> where it goes in the new package ({package} is the import name)
LAYOUT: dict[str, str] = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "ci.sh.tmpl": "ci.sh",
    "workflow.yml.tmpl": ".github/workflows/ci.yml",
    "__init__.py.tmpl": "src/{package}/__init__.py",
    "rewards.py.tmpl": "src/{package}/rewards.py",
    "probes.py.tmpl": "src/{package}/probes.py",
    "registry.yaml.tmpl": "src/{package}/registry.yaml",
    "test_rewards.py.tmpl": "tests/test_rewards.py",
    "cases.yaml.tmpl": "tests/cases.yaml",
}
_DIST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*")


@dataclass(frozen=True)
class PluginNames:
    dist: str  # the distribution name, as given: my-rewards
    package: str  # the import name: my_rewards


def plugin_names(name: str) -> PluginNames:
    """The distribution and import names for NAME; RewardError says what is wrong with it."""
    if not _DIST.fullmatch(name):
        raise RewardError(f"plugin name {name!r}: use letters, digits, '-', '_' or '.', starting with a letter")
    package = re.sub(r"[-.]+", "_", name).lower()
    if keyword.iskeyword(package) or package == "rewardforge":
        raise RewardError(f"plugin name {name!r}: its import name {package!r} is reserved")
    return PluginNames(name, package)


def write_plugin(name: str, directory: Path, *, force: bool = False) -> list[Path]:
    """Write the package into `directory` (which must be empty or absent, unless `force`)."""
    names = plugin_names(name)
    if directory.exists() and not directory.is_dir():
        raise RewardError(f"{directory} exists and is not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise RewardError(f"{directory} is not empty; choose another --dir or pass --force to overwrite")
    templates = files("rewardforge.testing") / "plugin_template"
    written = []
    for template, target in LAYOUT.items():
        text = (templates / template).read_text(encoding="utf-8")
        text = text.replace("__DIST__", names.dist).replace("__PACKAGE__", names.package)
        path = directory / target.format(package=names.package)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    (directory / "ci.sh").chmod(0o755)
    return written
