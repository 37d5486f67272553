"""What a cached verdict depends on besides the reward's params and the sample: its code and versions.

The engine keys a cached verdict on the reward's own `cache_key(context)` (its name and params, and
the step for rewards that read it), the sample's fields that the reward reads, and `fingerprint()`:

- the code: for a `@reward` function, its bytecode (constants and nested functions included), its
  defaults and closure values, and the source of its module; for a reward class, the source of every
  module in its MRO. Code with no source file (`python -c`, a REPL) is fingerprinted by pickling it
  by value, which takes in the globals it reads;
- the versions: rewardforge's, and that of the installed distribution the reward's module comes from
  (a plugin).

So an edited reward, an upgrade of rewardforge or of a plugin, and two scripts that each define a
`quality` reward never share verdicts. A reward whose code cannot be fingerprinted (a closure over an
object with no stable encoding) is not cached at all: a miss costs a recomputation, a stale hit a
silent wrong answer.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import pickle
import sys
import threading
import types
import weakref
from collections.abc import Mapping
from typing import Any

import cloudpickle

from rewardforge.core.types import FunctionReward, Reward

_SIMPLE = (str, bytes, int, float, complex, bool, type(None))
_memo: weakref.WeakKeyDictionary[Any, str | None] = weakref.WeakKeyDictionary()
_module_digests: dict[str, bytes | None] = {}
_lock = threading.Lock()


class _Unstable(Exception):
    """A value with no encoding that is the same in every run."""


def fingerprint(reward: Reward) -> str | None:
    """A digest of the reward's code and package versions, or None when it cannot be computed."""
    target: Any = reward.fn if isinstance(reward, FunctionReward) else type(reward)
    with _lock:
        if target in _memo:
            return _memo[target]
    try:
        digest = hashlib.blake2b(digest_size=16)
        if isinstance(target, types.FunctionType):
            _function_digest(target, digest)
            modules = {target.__module__}
        else:
            modules = {cls.__module__ for cls in target.__mro__ if cls.__module__ != "builtins"}
            for name in sorted(modules):
                digest.update(_module_source(name) or _by_value(target))
        digest.update(_versions(modules).encode())
        result: str | None = digest.hexdigest()
    except _Unstable:
        result = None
    with _lock:
        _memo[target] = result
    return result


def _function_digest(fn: types.FunctionType, digest: Any) -> None:
    source = _module_source(fn.__module__)
    if source is None:  # no file to read: pickle it by value (code, the globals it reads, closure)
        digest.update(_by_value(fn))
        return
    digest.update(source)
    _code_digest(fn.__code__, digest)
    for value in (fn.__defaults__, fn.__kwdefaults__):
        digest.update(_value_bytes(value))
    for cell in fn.__closure__ or ():
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell
            contents = None
        digest.update(_value_bytes(contents))


def _code_digest(code: types.CodeType, digest: Any) -> None:
    digest.update(code.co_code)
    digest.update(repr((code.co_names, code.co_varnames, code.co_flags)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(const, digest)
        else:
            digest.update(_value_bytes(const))


def _value_bytes(value: Any) -> bytes:
    """An encoding of `value` that is the same in every run (set order and object ids vary)."""
    if isinstance(value, _SIMPLE):
        return repr(value).encode()
    if isinstance(value, tuple | list):
        return b"(" + b",".join(_value_bytes(v) for v in value) + b")"
    if isinstance(value, frozenset | set):
        return b"{" + b",".join(sorted(_value_bytes(v) for v in value)) + b"}"
    if isinstance(value, dict):
        return b"{" + b",".join(sorted(_value_bytes(k) + b":" + _value_bytes(v) for k, v in value.items())) + b"}"
    if isinstance(value, FunctionReward):
        value = value.fn
    if isinstance(value, types.FunctionType):  # a helper in a closure or default: its code and module
        digest = hashlib.blake2b(value.__module__.encode(), digest_size=16)
        _code_digest(value.__code__, digest)
        return digest.digest()
    try:
        return pickle.dumps(value, protocol=4)
    except Exception:
        raise _Unstable(type(value).__qualname__) from None


def _by_value(obj: Any) -> bytes:
    try:
        return hashlib.blake2b(cloudpickle.dumps(obj, protocol=4), digest_size=16).digest()
    except Exception:
        raise _Unstable(getattr(obj, "__qualname__", type(obj).__qualname__)) from None


def _module_source(name: str) -> bytes | None:
    """A digest of the module's source file, read once per process; None when it has none."""
    with _lock:
        if name in _module_digests:
            return _module_digests[name]
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    source: bytes | None = None
    if path:
        try:
            with open(path, "rb") as handle:
                source = hashlib.blake2b(handle.read(), digest_size=16).digest()
        except OSError:
            source = None
    with _lock:
        _module_digests[name] = source
    return source


_NOT_DISTRIBUTED = frozenset({"rewardforge", "__main__", "__mp_main__"})  # no scan of site-packages for these


@functools.lru_cache(maxsize=1)
def _distributions() -> Mapping[str, list[str]]:
    """Top-level import name -> the installed distributions that ship it (scanned once per process)."""
    return importlib.metadata.packages_distributions()


def _versions(modules: set[str]) -> str:
    """rewardforge's version and those of the distributions that ship `modules` (a plugin's)."""
    names = {"rewardforge"}
    for top in {module.partition(".")[0] for module in modules} - _NOT_DISTRIBUTED:
        names.update(_distributions().get(top, []))
    found = []
    for name in sorted(names):
        try:
            found.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name}==?")
    return ";".join(found)
