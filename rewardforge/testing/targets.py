"""What `rewardforge test` and the pytest helpers can test: any reward, wherever it comes from.

A target is a registry name (built-in or plugin), a dotted path `pkg.module:attr`, a Python file
`path/to/rewards.py:attr`, a stack YAML file, or a Reward object. Its golden cases are gathered from
every place they can live: the registry entry's `golden:` list, the reward's own
`@reward(cases=[...])`, and cases given by the caller (`--cases cases.yaml`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rewardforge.core.cases import CaseSet, parse_cases
from rewardforge.core.registry import Registry, default_registry, import_object, instantiate
from rewardforge.core.stack import load_stack
from rewardforge.core.types import Reward, RewardError
from rewardforge.core.yaml_files import read_yaml_file

RewardSpec = Reward | str | Path


@dataclass
class TestTarget:
    """One reward under test: how to build it with a case's params, and everything known about it."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    source: str
    build: Callable[[dict[str, Any]], Reward]
    cases: CaseSet = field(default_factory=CaseSet)
    defaults: dict[str, Any] = field(default_factory=dict)  # params every case starts from
    allow: dict[str, str] = field(default_factory=dict)  # probe or family -> why it is expected to pass
    tags: frozenset[str] = frozenset()
    range: tuple[float, float] | None = None

    def params_in_force(self, case_params: dict[str, Any]) -> dict[str, Any]:
        """The params a case is scored with, as reports show them: defaults, then the case's own."""
        return {**self.defaults, **case_params}

    def with_cases(self, extra: CaseSet) -> TestTarget:
        """The same target with more cases (e.g. from `--cases`); names must stay unique."""
        try:
            combined = self.cases + extra
        except ValueError as exc:
            raise RewardError(f"{self.name}: {exc}") from None
        return replace(self, cases=combined)


def load_cases_file(path: str | Path) -> CaseSet:
    """A YAML list of cases in the `registry.yaml` `golden:` form; errors name the file and the case."""
    data = read_yaml_file(path, "cases file")
    if isinstance(data, dict) and "golden" in data:  # a registry entry's shape is accepted too
        data = data["golden"]
    if not isinstance(data, list):
        raise RewardError(f"{path}: expected a YAML list of cases, got {type(data).__name__}")
    return parse_cases(data, origin=str(path))


def own_cases(obj: Any) -> CaseSet:
    """Cases a reward object carries itself: `@reward(cases=...)`, or a `cases` attribute of a class."""
    cases = getattr(obj, "cases", None)
    if isinstance(cases, CaseSet):
        return cases
    if isinstance(cases, list | tuple) and cases:
        return parse_cases(list(cases), origin=f"{getattr(obj, 'name', obj)!r}.cases")
    return CaseSet()


def load_target(spec: RewardSpec, *, registry: Registry | None = None) -> TestTarget:
    """The target `spec` names; raises RewardError saying why it cannot be found."""
    if isinstance(spec, Path) or (isinstance(spec, str) and spec.endswith((".yaml", ".yml"))):
        return _stack_target(Path(spec))
    if not isinstance(spec, str):  # a Reward, a Reward class or a plain function
        name = getattr(spec, "name", None) or getattr(spec, "__name__", None) or repr(spec)
        return _object_target(spec, name=str(name), source="object")
    if ":" in spec:
        return _object_target(import_object(spec), name=spec, source="dotted path")
    return registry_target(registry or default_registry(), spec)


def registry_target(registry: Registry, name: str) -> TestTarget:
    entry = registry.entry(name)
    cases = entry.cases()
    try:
        extra = own_cases(import_object(entry.target))
    except RewardError:  # e.g. its optional extra is missing: building it fails with the reason, per reward
        extra = CaseSet()
    if extra:
        try:
            cases = cases + extra
        except ValueError as exc:
            raise RewardError(f"reward {name!r}: {exc}") from None
    return TestTarget(
        name=name, source=entry.source, build=lambda params: registry.get(name, params), cases=cases,
        defaults=dict(entry.params), allow=dict(entry.allow), tags=frozenset(entry.tags), range=entry.range,
    )


def _object_target(obj: Any, *, name: str, source: str) -> TestTarget:
    origin = name

    def build(params: dict[str, Any]) -> Reward:
        return instantiate(obj, params, origin=origin)

    build({})  # fail now, naming the target, if it cannot be built at all
    return TestTarget(name=name, source=source, build=build, cases=own_cases(obj),
                      tags=frozenset(getattr(obj, "tags", ()) or ()))


def _stack_target(path: Path) -> TestTarget:
    stack = load_stack(path)

    def build(params: dict[str, Any]) -> Reward:
        if params:
            raise RewardError(f"{path}: a stack takes no params per case; set them inside the file")
        return stack

    return TestTarget(name=str(path), source="stack file", build=build)


def plugin_names(registry: Registry, plugin: str) -> list[str]:
    """The registry names an installed plugin provides (by distribution or top-level package name)."""
    wanted = _normalise(plugin)
    return [name for name, entry in registry.entries.items()
            if entry.source.startswith("plugin ") and wanted in _plugin_keys(entry.source, entry.target)]


def plugin_failures_of(registry: Registry, plugin: str) -> list[str]:
    wanted = _normalise(plugin)
    return [f"{f.source}: {f.error}" for f in registry.failures if wanted in _plugin_keys(f.source, "")]


def installed_plugins(registry: Registry) -> list[str]:
    sources = [e.source for e in registry.entries.values()] + [f.source for f in registry.failures]
    return sorted({s.split()[1] for s in sources if s.startswith("plugin ")})


def _plugin_keys(source: str, target: str) -> set[str]:
    """Names a plugin answers to: its distribution, and the top-level package of its targets."""
    keys = {_normalise(source.split()[1])} if source.startswith("plugin ") and len(source.split()) > 1 else set()
    match = re.search(r"= ([\w.]+)", source)
    for module in (target.split(":")[0], match.group(1) if match else ""):
        if module:
            keys.add(_normalise(module.split(".")[0]))
    return keys


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
