"""The house rules: arrows point down. Each part of the package may import only the parts below it.

Every import is read from the source with `ast`, including imports inside functions (lazy imports
are still dependencies), so moving a file cannot quietly add an upward arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rewardforge"

# part -> the parts it may import besides itself. A part is a subpackage or a top-level module.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "sandbox": set(),
    "kernels": set(),
    "verifiers": {"core", "sandbox"},
    "rewards": {"core", "verifiers", "sandbox"},
    "records": {"core"},
    "summary": {"core"},
    "testing": {"core", "verifiers", "sandbox", "rewards", "records", "summary"},
    "integrations": {"core", "verifiers", "sandbox", "rewards", "records", "summary"},
    "trainer": {"core", "verifiers", "sandbox", "rewards", "records", "summary", "kernels"},
    "cli": {"core", "verifiers", "sandbox", "rewards", "records", "summary", "kernels", "testing",
            "integrations", "trainer", "__init__"},
    "__init__": {"core"},
}


#: Modules every part may import: the exception tree is the floor the whole package stands on.
FLOOR = {("core", "errors")}


def part_of(path: Path, package: Path = PACKAGE) -> str:
    return path.relative_to(package).parts[0].removesuffix(".py")


def is_part(package: Path, name: str) -> bool:
    return (package / name).is_dir() or (package / f"{name}.py").is_file()


def imported_parts(path: Path, package: Path = PACKAGE) -> set[tuple[str, int]]:
    """(part, line) for every rewardforge module this file imports."""
    found: set[tuple[str, int]] = set()
    here = list(path.relative_to(package.parent).with_suffix("").parts)
    here = here[:-1] if here[-1] == "__init__" else here
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[list[str]] = []
        if isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = here if is_package else here[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = base + (node.module.split(".") if node.module else [])
            else:
                target = (node.module or "").split(".")
            # `from rewardforge import x` names a part when x is one, else the package root
            targets = [[*target, alias.name] if len(target) == 1 and is_part(package, alias.name) else target
                       for alias in node.names]
        for target in targets:
            if target[0] != "rewardforge" or tuple(target[1:3]) in FLOOR:
                continue
            found.add((target[1] if len(target) > 1 else "__init__", node.lineno))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_part_has_a_rule() -> None:
    parts = {part_of(path) for path in SOURCES}
    assert parts <= set(ALLOWED), f"parts without a layering rule: {sorted(parts - set(ALLOWED))}"


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES])
def test_imports_point_down(path: Path) -> None:
    part = part_of(path)
    allowed = ALLOWED[part] | {part}
    upward = sorted(f"line {line}: imports rewardforge.{target}" for target, line in imported_parts(path)
                    if target not in allowed)
    assert not upward, f"{part} may import only {sorted(allowed)}:\n" + "\n".join(upward)


def test_the_checker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The rule is only as good as the walker: it must see imports inside functions and `from ..x`."""
    package = tmp_path / "rewardforge"
    module = package / "verifiers" / "math" / "sneaky.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "from . import extract\n"
        "from ...core import types\n"
        "def late():\n"
        "    from rewardforge.rewards import math\n"
        "    import rewardforge.cli\n"
        "    from rewardforge import __version__\n"
    )
    assert imported_parts(module, package) == {
        ("verifiers", 1), ("core", 2), ("rewards", 4), ("cli", 5), ("__init__", 6)}
    assert part_of(module, package) == "verifiers"
