"""Finding rewards by name: the built-in catalog, plugins, dotted paths and YAML stacks.

Sources, in order (the first to claim a name keeps it; clashes are reported with both sources):
1. `registry.yaml` shipped inside the package (the built-ins);
2. entry-point group `rewardforge.registries`: each points at a plugin's own `registry.yaml`
   (a `module:attr` whose attr is a path, or a module whose directory holds `registry.yaml`);
3. entry-point group `rewardforge.rewards`: the entry point's name is the reward's name, its
   object a Reward (e.g. a `@reward` function).

A plugin that fails to import is recorded in `Registry.failures` and does not break the others.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import importlib.util
import inspect
import re
import sys
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rewardforge.core.cases import CaseSet, GoldenCase, Ordering, split_cases
from rewardforge.core.errors import RewardError, did_you_mean, first_error, format_location, install_hint
from rewardforge.core.types import FunctionReward, Reward, reward
from rewardforge.core.yaml_files import read_yaml_file

ENTRY_POINT_REWARDS = "rewardforge.rewards"
ENTRY_POINT_REGISTRIES = "rewardforge.registries"


class RewardEntry(BaseModel):
    """One catalog entry: where the reward lives, its default params, and how it must behave."""

    model_config = ConfigDict(extra="forbid")

    name: str
    target: str
    params: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    golden: list[GoldenCase] = Field(default_factory=list)
    orderings: list[Ordering] = Field(default_factory=list)
    allow: dict[str, str] = Field(default_factory=dict)  # probe -> why this reward rightly lets it through
    range: tuple[float, float] | None = None  # the values the reward may give, for property tests
    source: str = ""

    @model_validator(mode="before")
    @classmethod
    def _split_golden(cls, data: Any) -> Any:
        """`golden:` holds cases and `{order: ...}` items together; orderings are kept apart."""
        if isinstance(data, dict) and "golden" in data:
            split = split_cases(data["golden"])
            data = {**data, "golden": split["cases"], "orderings": [*data.get("orderings", []), *split["orderings"]]}
        return data

    @model_validator(mode="after")
    def _cases_hold_together(self) -> RewardEntry:
        self.cases()
        return self

    def cases(self) -> CaseSet:
        """The golden cases with their orderings, names checked."""
        return CaseSet(cases=self.golden, orderings=self.orderings)


class RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    rewards: list[RewardEntry] = Field(default_factory=list)


class PluginFailure(BaseModel):
    source: str
    error: str
    names: list[str] = Field(default_factory=list)  # the rewards it would have provided, where known


def builtin_registry_path() -> Path:
    """The catalog shipped in the wheel; in a source checkout, the repo-root file."""
    packaged = Path(str(importlib.resources.files("rewardforge"))) / "registry.yaml"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "registry.yaml"


def read_registry_file(path: Path, source: str) -> list[RewardEntry]:
    """Parse a registry.yaml; errors name the file and the entry at fault."""
    data = read_yaml_file(path, "registry file") or {}
    try:
        parsed = RegistryFile.model_validate(data)
    except ValidationError as exc:
        loc, message = first_error(exc)
        where = format_location(loc)
        if len(loc) > 1 and isinstance(loc[1], int):  # name the entry, not only its position
            entries = data.get("rewards") if isinstance(data, dict) else None
            entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
            if isinstance(entry, dict) and "name" in entry:
                where += f" (reward {entry['name']!r})"
        raise RewardError(f"{path}: {where}: {message}") from None
    return [entry.model_copy(update={"source": source}) for entry in parsed.rewards]


def import_object(target: str) -> Any:
    """Import `pkg.module:attr` or `path/to/file.py:attr` (attr may be dotted)."""
    path, sep, attr = target.rpartition(":")
    if sep and path.endswith(".py"):
        module_name, where = _module_from_file(Path(path)), path
    else:
        module_name, sep, attr = target.partition(":")
        if not sep or not module_name or not attr:
            raise RewardError(f"{target!r} is not a dotted path of the form 'pkg.module:attr' "
                              "(or path/to/file.py:attr)")
        where = module_name
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise RewardError(f"cannot import {module_name!r} for {target!r}: {exc}{install_hint(exc)}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [name for name in dir(obj) if not name.startswith("_")]
            raise RewardError(f"{where!r} has no attribute {attr!r}{did_you_mean(part, names)}") from None
    return obj


_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _module_from_file(path: Path) -> str:
    """The module name under which a Python file imports. Its folder goes on sys.path (worker
    processes inherit it), so process-isolated rewards defined there can be unpickled in workers."""
    if not path.is_file():
        raise RewardError(f"no such Python file: {path}")
    if not _MODULE_NAME.fullmatch(path.stem):
        raise RewardError(f"{path}: the file name must be a valid module name to import it")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    existing = sys.modules.get(path.stem)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() != path.resolve():
        raise RewardError(f"{path}: a different module named {path.stem!r} is already imported")
    if importlib.util.find_spec(path.stem) is None:
        raise RewardError(f"cannot import {path}")
    return path.stem


def instantiate(obj: Any, params: dict[str, Any], *, origin: str) -> Reward:
    """Make a configured Reward from what a target points at: a Reward, a Reward class, or a function."""
    if isinstance(obj, FunctionReward):
        return obj.with_params(**params)
    if inspect.isclass(obj):
        try:
            instance = obj(**params)
        except (TypeError, ValueError) as exc:
            raise RewardError(f"{origin}: bad params {sorted(params)}: {exc}") from None
        if not isinstance(instance, Reward):
            raise RewardError(f"{origin}: {obj.__name__} does not build a Reward")
        return instance
    if isinstance(obj, Reward):
        if not params:
            return obj
        with_params = getattr(obj, "with_params", None)
        if callable(with_params):
            configured: Reward = with_params(**params)
            return configured
        raise RewardError(
            f"{origin}: params {sorted(params)} cannot be applied to a reward object that is already built "
            f"({type(obj).__name__} has no with_params); pass them when you build it, or pass the reward's "
            "registry name or dotted path together with params")
    if callable(obj):
        return instantiate(reward(obj), params, origin=origin)
    raise RewardError(f"{origin}: {obj!r} is not a Reward, a Reward class or a function")


class Registry:
    """All rewards known to this process. Build with `Registry.load()`, or use `default_registry()`."""

    def __init__(self) -> None:
        self.entries: dict[str, RewardEntry] = {}
        self.clashes: list[str] = []
        self.failures: list[PluginFailure] = []
        self._objects: dict[str, Any] = {}

    @classmethod
    def load(cls, *, plugins: bool = True) -> Registry:
        registry = cls()
        for entry in read_registry_file(builtin_registry_path(), "builtin"):
            registry.add(entry)
        if plugins:
            registry._load_plugin_registries()
            registry._load_plugin_rewards()
        return registry

    def add(self, entry: RewardEntry, obj: Any = None) -> None:
        existing = self.entries.get(entry.name)
        if existing is not None:
            self.clashes.append(
                f"reward {entry.name!r} is defined by {existing.source} and by {entry.source}; "
                f"keeping {existing.source} (use the dotted path {entry.target!r} for the other)"
            )
            return
        self.entries[entry.name] = entry
        if obj is not None:
            self._objects[entry.name] = obj

    def _load_plugin_registries(self) -> None:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_REGISTRIES):
            source = f"plugin {_dist_name(ep)} ({ENTRY_POINT_REGISTRIES}: {ep.name} = {ep.value})"
            try:
                path = _plugin_registry_path(ep)
                for entry in read_registry_file(path, source):
                    self.add(entry)
            except Exception as exc:
                self.failures.append(PluginFailure(source=source, error=f"{type(exc).__name__}: {exc}",
                                                   names=_names_in_registry(ep)))

    def _load_plugin_rewards(self) -> None:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_REWARDS):
            source = f"plugin {_dist_name(ep)} ({ENTRY_POINT_REWARDS}: {ep.name} = {ep.value})"
            try:
                obj = ep.load()
                if not (isinstance(obj, Reward) or inspect.isclass(obj)):
                    raise RewardError(f"{ep.value} is {type(obj).__name__}, not a Reward")
            except Exception as exc:
                self.failures.append(PluginFailure(source=source, error=f"{type(exc).__name__}: {exc}",
                                                   names=[ep.name]))
                continue
            description = getattr(obj, "description", "") or (inspect.getdoc(obj) or "").split("\n")[0]
            self.add(RewardEntry(name=ep.name, target=ep.value, description=description, source=source), obj)

    def names(self) -> list[str]:
        return sorted(self.entries)

    def entry(self, name: str) -> RewardEntry:
        try:
            return self.entries[name]
        except KeyError:
            raise RewardError(self._unknown(name)) from None

    def _unknown(self, name: str) -> str:
        """Why `name` is unknown; a plugin that failed to load is named when it may have provided it."""
        for failure in self.failures:
            if name in failure.names:
                return f"reward {name!r} comes from {failure.source}, which failed to load: {failure.error}"
        hint = did_you_mean(name, self.entries) or "; `rewardforge list` shows the known ones"
        message = f"unknown reward {name!r}{hint}"
        if self.failures:
            broken = "; ".join(f"{f.source}: {f.error}" for f in self.failures)
            message += f" ({len(self.failures)} plugin(s) failed to load: {broken})"
        return message

    def target(self, name: str) -> Any:
        """What an entry points at: a Reward, a Reward class or a function (imported on first use)."""
        entry = self.entry(name)
        obj = self._objects.get(name)
        return obj if obj is not None else import_object(entry.target)

    def get(self, name: str, params: dict[str, Any] | None = None) -> Reward:
        """A configured reward by registry name; `params` override the entry's defaults."""
        entry = self.entry(name)
        built = instantiate(self.target(name), {**entry.params, **(params or {})}, origin=f"reward {name!r}")
        if isinstance(built, FunctionReward) and built.name != name:
            built.name = name
        return built


def _dist_name(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else "?"


def _names_in_registry(ep: importlib.metadata.EntryPoint) -> list[str]:
    """Best effort: the reward names a plugin's registry.yaml declares, even when it does not validate."""
    try:
        spec = importlib.util.find_spec(ep.value.partition(":")[0])  # locates the package without running it
        locations = spec.submodule_search_locations if spec is not None else None
        path = Path(locations[0]) / "registry.yaml" if locations else _plugin_registry_path(ep)
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return [str(item["name"]) for item in data["rewards"] if isinstance(item, dict) and "name" in item]
    except Exception:
        return []


def _plugin_registry_path(ep: importlib.metadata.EntryPoint) -> Path:
    if ":" in ep.value:
        value = ep.load()
        path = Path(str(value))
    else:
        module = importlib.import_module(ep.value)
        path = Path(str(importlib.resources.files(module))) / "registry.yaml"
    if not path.is_file():
        raise RewardError(f"no registry file at {path}")
    return path


_default: Registry | None = None


def default_registry(*, reload: bool = False) -> Registry:
    """The process-wide registry, loaded on first use."""
    global _default
    if _default is None or reload:
        _default = Registry.load()
    return _default


def target_of(spec: str) -> Any:
    """What a registry name or a dotted path points at (a Reward, a Reward class or a function)."""
    return import_object(spec) if ":" in spec else default_registry().target(spec)


def params_model_of(target: Any) -> type[BaseModel] | None:
    """The pydantic model of a reward's params, when it declares one (`@reward` functions and the
    built-in reward classes do), so that front ends can describe params and read them by type."""
    model = getattr(target, "params_model", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def resolve(spec: Reward | str | Path, params: dict[str, Any] | None = None) -> Reward:
    """A Reward from anything the API accepts: a Reward, a registry name, `pkg.module:attr`, a YAML stack."""
    params = params or {}
    if isinstance(spec, Path) or (isinstance(spec, str) and spec.endswith((".yaml", ".yml"))):
        if params:
            raise RewardError("params cannot be given for a YAML stack; set them inside the file")
        from rewardforge.core.stack import load_stack

        return load_stack(Path(spec))
    if isinstance(spec, str):
        if ":" in spec:
            return instantiate(import_object(spec), params, origin=spec)
        return default_registry().get(spec, params)
    if isinstance(spec, Reward):
        return instantiate(spec, params, origin=spec.name) if params else spec
    raise RewardError(f"cannot make a reward from {type(spec).__name__}")

