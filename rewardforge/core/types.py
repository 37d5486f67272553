"""Core types: what a reward reads (`Sample`), what it returns (`Score`), and what it is (`Reward`).

Every reward in rewardforge, built-in, plugin or composed, speaks this one interface, so the
engine, the CLI, the trainer adapters and the HTTP server never special-case a reward.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import inspect
import math
import numbers
import os
import pickle
import re
import sys
import threading
import traceback
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, TypeVar, overload, runtime_checkable

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from rewardforge.core.errors import RewardError, describe_validation_error, format_location, install_hint

if TYPE_CHECKING:
    from rewardforge.core.cases import CaseSet

Status: TypeAlias = Literal["ok", "skipped", "error"]
Message: TypeAlias = dict[str, Any]
Text: TypeAlias = str | list[Message]

#: The Sample fields a per-sample reward function may ask for by parameter name.
SAMPLE_FIELDS: frozenset[str] = frozenset({"prompt", "completion", "reference", "metadata", "group_id"})


ParamsT = TypeVar("ParamsT", bound=BaseModel)


def validate_params(model: type[ParamsT], params: dict[str, Any], *, reward_name: str) -> ParamsT:
    """A reward's params model from raw params; a bad one raises RewardError naming the param."""
    try:
        return model(**params)
    except ValidationError as exc:
        known = list(model.model_fields)
        loc, message = describe_validation_error(exc, known_keys=known, noun="param")
        if loc:  # a value that was rejected
            raise RewardError(f"reward {reward_name!r}: invalid param {format_location(loc)!r}: {message}",
                              param=str(loc[0])) from None
        if message.startswith("unknown"):
            message += f"; {reward_name} takes {', '.join(known)}" if known else f"; {reward_name} takes no params"
        raise RewardError(f"reward {reward_name!r}: {message}") from None


def message_text(value: Text) -> str:
    """The text a reward should judge: a plain string, or the last message's content of a chat."""
    if isinstance(value, str):
        return value
    if not value:
        return ""
    content = value[-1].get("content", "")
    if isinstance(content, list):  # multimodal content parts: keep the text ones
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


_CANCEL_POLL_S = 0.1


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_sync(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion from sync code, even when this thread already runs a loop.

    In that case the coroutine runs on a helper thread; an exception in the waiting thread (a Ctrl-C)
    cancels it there, so the caller is interrupted promptly and the coroutine's cleanup still runs.
    """
    if not _loop_running():  # outside the except clause, so errors are not chained to its RuntimeError
        return asyncio.run(coroutine)
    started = threading.Event()
    handle: dict[str, Any] = {}

    async def tracked() -> Any:
        handle["loop"], handle["task"] = asyncio.get_running_loop(), asyncio.current_task()
        started.set()
        return await coroutine

    context = contextvars.copy_context()  # the engine's options and cancel scope carry over

    def run() -> None:
        try:
            handle["result"] = context.run(asyncio.run, tracked())
        except BaseException as exc:
            handle["error"] = exc
        finally:
            started.set()

    helper = threading.Thread(target=run, name="rewardforge-run-sync", daemon=True)
    helper.start()
    # This thread's own loop is blocked meanwhile: its SIGINT handler (asyncio.run's, 3.11+) can only
    # mark the calling task cancelled, so watch for that too.
    outer = asyncio.current_task()
    try:
        while helper.is_alive():
            helper.join(_CANCEL_POLL_S)
            if outer is not None and getattr(outer, "cancelling", lambda: 0)():
                raise asyncio.CancelledError()
    except BaseException:
        started.wait()
        if "task" in handle:
            with contextlib.suppress(RuntimeError):  # the loop may have finished meanwhile
                handle["loop"].call_soon_threadsafe(handle["task"].cancel)
        helper.join(5.0)
        raise
    if "error" in handle:
        raise handle["error"]
    return handle["result"]


_KEY_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


class Sample(BaseModel):
    """One completion to score, with everything a reward may need to judge it."""

    model_config = ConfigDict(extra="forbid")

    prompt: Text = ""
    completion: Text
    reference: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    group_id: str | int | None = None

    @field_validator("completion")
    @classmethod
    def _has_a_final_message(cls, value: Text) -> Text:
        """Rewards judge the last message of a chat: one without text is bad input, not a wrong answer."""
        if isinstance(value, str):
            return value
        if not value:
            raise ValueError("an empty message list has no final message to judge")
        content = value[-1].get("content")
        if content is None:
            role = value[-1].get("role", "?")
            raise ValueError(f"the last message ({role}) has no content to judge")
        if not isinstance(content, str | list):
            raise ValueError(f"the last message's content is {type(content).__name__}, expected text")
        return value

    @property
    def completion_text(self) -> str:
        return message_text(self.completion)

    @property
    def prompt_text(self) -> str:
        return message_text(self.prompt)

    def key(self, fields: frozenset[str] = SAMPLE_FIELDS) -> bytes | None:
        """A stable byte key over `fields`, used to dedup and cache identical work.

        JSON for plain data; a pickle for what JSON cannot hold exactly (a lone surrogate, an integer
        past 64 bits such as a big gold answer, a set, an object);
        None when neither can encode a value completely: such a sample is scored on its own and its
        verdict is never cached.
        """
        data = {name: getattr(self, name) for name in sorted(fields)}
        try:
            return orjson.dumps(data, option=_KEY_OPTIONS)
        except (orjson.JSONEncodeError, TypeError):
            pass
        try:
            return b"\0pickle" + pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return None


class Score(BaseModel):
    """A reward's verdict on one sample.

    `value` is set exactly when `status == "ok"`. `skipped` means the reward does not apply
    (e.g. the gold answer cannot be parsed); `error` means it failed (judge down, sandbox broken).
    Neither is ever silently a 0: consumers choose an explicit policy for them.
    """

    model_config = ConfigDict(extra="forbid")

    value: float | None = None
    status: Status = "ok"
    reason: str | None = None
    components: dict[str, float | None] = Field(default_factory=dict)
    info: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _value_matches_status(self) -> Score:
        if self.status == "ok":
            if self.value is None:
                raise ValueError("an ok Score needs a value")
            if not math.isfinite(self.value):
                raise ValueError(f"an ok Score needs a finite value, got {self.value}")
            self.value += 0.0  # -0.0 becomes 0.0: a sign on zero means nothing to a reward and confuses readers
        elif self.value is not None:
            raise ValueError(f"a {self.status} Score carries no value")
        for name, component in self.components.items():
            if component == 0.0:
                self.components[name] = 0.0
        return self

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def of(cls, value: float, **extra: Any) -> Score:
        return cls(value=float(value), **extra)

    @classmethod
    def skipped(cls, reason: str, **extra: Any) -> Score:
        return cls(status="skipped", reason=reason, **extra)

    @classmethod
    def error(cls, reason: str, **extra: Any) -> Score:
        return cls(status="error", reason=reason, **extra)


class RewardContext(BaseModel):
    """What a reward may know beyond the samples: the training step and the engine's limits."""

    model_config = ConfigDict(frozen=True)

    step: int = 0
    timeout: float | None = None


@runtime_checkable
class Reward(Protocol):
    """Anything with a name that scores a batch of samples, in order, one Score per sample."""

    name: str

    def score(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]: ...

    async def ascore(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]: ...


class BaseReward:
    """Defaults for the optional attributes the engine reads from a reward.

    - `batched`: the reward needs the whole batch at once (e.g. batch-relative length), so the
      engine neither splits nor dedups it.
    - `fields`: which Sample fields the value depends on; identical samples over these fields are
      scored once.
    - `isolation`: "process" asks the engine to run the reward in a killable worker when a timeout is
      set; "inline" rewards enforce their own limits (sandbox, judge deadlines, sympy workers).
    """

    name: str = "reward"
    batched: bool = False
    fields: frozenset[str] = SAMPLE_FIELDS
    isolation: Literal["inline", "process"] = "inline"

    def score(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        raise NotImplementedError

    async def ascore(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        return await asyncio.to_thread(self.score, samples, context)

    def cache_key(self, context: RewardContext) -> str | None:
        """Identity of this reward's verdicts for caching, or None when they must not be cached."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def as_score(result: Any, *, reward_name: str) -> Score:
    """Turn what a reward function returned into a Score; anything odd becomes a typed error.

    Numbers become values: ints, floats, numpy scalars, and booleans (True is 1.0, False is 0.0,
    so `return answer == gold` works). NaN, infinities and anything else (None, a string, a
    tensor) are errors that say what came back.
    """
    if isinstance(result, Score):
        return result
    if type(result).__module__ == "numpy" and hasattr(result, "item"):  # numpy scalars, np.bool_ included
        result = result.item()
    if isinstance(result, numbers.Real):
        value = float(result)
        if not math.isfinite(value):
            return Score.error(f"{reward_name} returned a non-finite value ({value})")
        return Score(value=value)
    hint = " (call .item() on a one-element tensor)" if hasattr(result, "item") else ""
    return Score.error(f"{reward_name} returned {type(result).__name__}, expected a number, a bool or a Score{hint}")


TRACEBACK_FRAMES = 5


def exception_score(exc: BaseException) -> Score:
    """An exception inside a reward is an error with its text, never a 0; `info` names the exception
    and the last frames of its traceback (file, line, function), where the fault is."""
    name = type(exc).__name__
    text = str(exc) or ("out of memory" if isinstance(exc, MemoryError) else "")
    frames = traceback.extract_tb(exc.__traceback__)[-TRACEBACK_FRAMES:]
    info: dict[str, Any] = {"exception": name}
    if frames:
        info["traceback"] = [{"file": f.filename, "line": f.lineno, "function": f.name} for f in frames]
    return Score.error((f"{name}: {text}" if text else name) + install_hint(exc), info=info)


#: Strings in `Score.info` and `Score.reason` longer than this are cut (head and tail kept), and lists
#: or mappings longer than INFO_MAX_ITEMS are shortened, so one huge answer cannot bloat every row.
INFO_MAX_CHARS = int(os.environ.get("RF_INFO_MAX_CHARS", "16384") or 0)
INFO_MAX_ITEMS = 1000
_MAX_DEPTH = 32


def bounded(score: Score, max_chars: int | None = None) -> Score:
    """`score` with huge strings and collections in `info` and `reason` cut to size; the same object
    when nothing needs cutting. `max_chars` defaults to INFO_MAX_CHARS (0 turns the cap off)."""
    limit = INFO_MAX_CHARS if max_chars is None else max_chars
    if limit <= 0:
        return score
    info, info_cut = _bounded_value(score.info, limit, 0)
    reason, reason_cut = _bounded_value(score.reason, limit, 0)
    if not (info_cut or reason_cut):
        return score
    return score.model_copy(update={"info": info, "reason": reason})


def cut_middle(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters with its head and tail kept (a completion's final
    answer is at its end), the middle replaced by how much was cut."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 3 // 4], text[len(text) - limit // 4:]
    return f"{head} … [{len(text) - len(head) - len(tail)} chars cut] … {tail}"


def _bounded_value(value: Any, limit: int, depth: int) -> tuple[Any, bool]:
    if isinstance(value, str):
        return cut_middle(value, limit), len(value) > limit
    if depth >= _MAX_DEPTH:
        return value, False
    if isinstance(value, dict):
        items = list(value.items())
        pairs = [(k, _bounded_value(v, limit, depth + 1)) for k, v in items[:INFO_MAX_ITEMS]]
        cut = len(items) > INFO_MAX_ITEMS or any(changed for _, (_, changed) in pairs)
        if not cut:
            return value, False
        result = {k: v for k, (v, _) in pairs}
        if len(items) > INFO_MAX_ITEMS:
            result["…"] = f"{len(items) - INFO_MAX_ITEMS} more entries cut"
        return result, True
    if isinstance(value, list | tuple):
        parts = [_bounded_value(v, limit, depth + 1) for v in value[:INFO_MAX_ITEMS]]
        cut = len(value) > INFO_MAX_ITEMS or any(changed for _, changed in parts)
        if not cut:
            return value, False
        kept = [v for v, _ in parts]
        if len(value) > INFO_MAX_ITEMS:
            kept.append(f"… {len(value) - INFO_MAX_ITEMS} more items cut")
        return kept, True
    return value, False


_CONTEXT_PARAMS = frozenset({"sample", "samples", "context", "step"})


class FunctionReward(BaseReward):
    """A Reward made from a plain function by `@reward`.

    Keyword-only parameters of the function are the reward's params, validated by a pydantic
    model built from their annotations. Positional parameters name what the function reads:
    Sample fields (`completion`, `reference`, ...), `sample`, `step` or `context`; a batched
    function takes `samples` instead and returns one result per sample.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        batched: bool = False,
        isolation: Literal["inline", "process"] = "process",
        params: dict[str, Any] | None = None,
        cases: Sequence[Any] | CaseSet = (),
    ) -> None:
        from rewardforge.core.cases import CaseSet, parse_cases  # cases.py builds on this module

        self.fn = fn
        self.name = name or fn.__name__
        self.batched = batched
        self.isolation = isolation
        self.description = inspect.getdoc(fn) or ""
        # golden cases the reward carries itself, for `rewardforge test` and the pytest helpers
        self.cases = cases if isinstance(cases, CaseSet) else parse_cases(list(cases), origin=f"reward {self.name!r}")
        self._inputs = [p.name for p in inspect.signature(fn).parameters.values() if p.kind is not p.KEYWORD_ONLY]
        self._check_inputs()
        self._params_model: type[BaseModel] | None = None
        if params is None:  # as decorated: defaults only; required params come with `with_params`
            fields = self.params_model.model_fields
            self.params = {k: f.get_default(call_default_factory=True) for k, f in fields.items()
                           if not f.is_required()}
            self.missing = [k for k, f in fields.items() if f.is_required()]
        else:
            self.params = self._validate(params)
            self.missing = []
        self.fields = self._fields_read()

    @property
    def params_model(self) -> type[BaseModel]:
        """The pydantic model of the params; built on first use (a worker that only scores never needs it)."""
        if self._params_model is None:
            try:  # resolve string annotations (from __future__ import annotations) in the function's module
                signature = inspect.signature(self.fn, eval_str=True)
            except NameError as exc:
                raise RewardError(f"reward {self.name!r}: cannot resolve a type annotation: {exc}") from None
            self._params_model = _params_model(self.name, signature, self.description)
        return self._params_model

    @property
    def reads_step(self) -> bool:
        """Whether the verdict may depend on the training step (so it is part of the cache key)."""
        return "step" in self._inputs or "context" in self._inputs

    def _check_inputs(self) -> None:
        allowed = (SAMPLE_FIELDS | _CONTEXT_PARAMS) - {"samples"}
        if self.batched:
            allowed = frozenset({"samples", "context", "step"})
        unknown = [n for n in self._inputs if n not in allowed]
        if unknown:
            raise RewardError(
                f"reward {self.name!r}: positional parameter(s) {unknown} are not inputs; "
                f"use names from {sorted(allowed)} or make params keyword-only (after '*')"
            )

    def _fields_read(self) -> frozenset[str]:
        if "sample" in self._inputs or self.batched:
            return SAMPLE_FIELDS
        return frozenset(n for n in self._inputs if n in SAMPLE_FIELDS)

    def _validate(self, params: dict[str, Any]) -> dict[str, Any]:
        return validate_params(self.params_model, params, reward_name=self.name).model_dump()

    def with_params(self, **params: Any) -> FunctionReward:
        """A copy with some params changed; unknown or ill-typed params raise RewardError naming them."""
        return FunctionReward(
            self.fn, name=self.name, batched=self.batched, isolation=self.isolation,
            params={**self.params, **params}, cases=self.cases,
        )

    def _inputs_for(self, sample: Sample, context: RewardContext) -> dict[str, Any]:
        values: dict[str, Any] = {"sample": sample, "context": context, "step": context.step}
        for field in SAMPLE_FIELDS:
            values[field] = getattr(sample, field)
        if isinstance(sample.completion, list):
            values["completion"] = sample.completion_text
        return {name: values[name] for name in self._inputs}

    def score(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        context = context or RewardContext()
        if self.missing:
            raise RewardError(f"reward {self.name!r} needs param(s) {self.missing}; set them with with_params()")
        if self.batched:
            return self._score_batch(samples, context)
        scores = []
        for sample in samples:
            try:
                result = self.fn(**self._inputs_for(sample, context), **self.params)
            except (Exception, SystemExit) as exc:  # a reward's sys.exit() fails its sample, not the batch
                scores.append(exception_score(exc))
                continue
            scores.append(as_score(result, reward_name=self.name))
        return scores

    def _score_batch(self, samples: Sequence[Sample], context: RewardContext) -> list[Score]:
        inputs = {"samples": list(samples), "context": context, "step": context.step}
        try:
            results = list(self.fn(**{n: inputs[n] for n in self._inputs}, **self.params))
        except (Exception, SystemExit) as exc:
            return [exception_score(exc) for _ in samples]
        if len(results) != len(samples):
            return [Score.error(f"{self.name} returned {len(results)} results for {len(samples)} samples")
                    for _ in samples]
        return [as_score(r, reward_name=self.name) for r in results]

    def cache_key(self, context: RewardContext) -> str | None:
        """Name and params, and the step when the function reads it (`step` or `context`). The engine
        adds the fingerprint of the code and the package versions (core/fingerprint.py)."""
        params = orjson.dumps(self.params, option=orjson.OPT_SORT_KEYS, default=repr).decode()
        step = f":step={context.step}" if self.reads_step else ""
        return f"{self.fn.__module__}:{self.fn.__qualname__}:{params}{step}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly, e.g. in a unit test."""
        return self.fn(*args, **{**self.params, **kwargs})

    def __reduce__(self) -> tuple[Any, ...]:
        """By reference when a worker can import it (the module attribute is this object, not the raw
        function); else by value, which needs cloudpickle (rewards in `__main__`, a REPL, `python -c`,
        a spawn child's `__mp_main__`, or inside a function): the engine's workers use it."""
        if _importable(self.fn):
            return (_rebuild_function_reward, (self.fn.__module__, self.fn.__qualname__, self.params, self.name))
        state = {k: v for k, v in self.__dict__.items() if k != "_params_model"}
        return (_restore_function_reward, (state,))


_SCRIPT_MODULES = frozenset({"__main__", "__mp_main__"})  # a worker cannot import the caller's script


def _importable(fn: Callable[..., Any]) -> bool:
    """Whether `module:qualname` of `fn` names the @reward wrapping it, in a module a worker can import."""
    module = sys.modules.get(fn.__module__)
    if module is None or fn.__module__ in _SCRIPT_MODULES or getattr(module, "__spec__", None) is None:
        return False
    obj: Any = module
    for part in fn.__qualname__.split("."):
        obj = getattr(obj, part, None)
    return isinstance(obj, FunctionReward) and obj.fn is fn


def _rebuild_function_reward(
    module: str, qualname: str, params: dict[str, Any], name: str | None = None
) -> FunctionReward:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, FunctionReward):
        raise RewardError(f"{module}:{qualname} is not a @reward function")
    rebuilt = obj.with_params(**params)
    rebuilt.name = name or rebuilt.name
    return rebuilt


def _restore_function_reward(state: dict[str, Any]) -> FunctionReward:
    restored = FunctionReward.__new__(FunctionReward)
    restored.__dict__.update(state, _params_model=None)
    return restored


def _params_model(name: str, signature: inspect.Signature, doc: str = "") -> type[BaseModel]:
    """A pydantic model of the keyword-only params; descriptions come from the docstring's Args section."""
    described = param_docs(doc)
    fields: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.kind is not param.KEYWORD_ONLY:
            continue
        annotation = Any if param.annotation is inspect.Parameter.empty else param.annotation
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, Field(default, description=described.get(param.name)))
    model: type[BaseModel] = create_model(
        f"{name}_params", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True), **fields
    )
    return model


_SECTION = re.compile(r"^(\s*)(Args|Arguments|Params|Parameters|Keyword Args|Keyword Arguments):\s*$")
_ENTRY = re.compile(r"^(\s*)(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def param_docs(doc: str) -> dict[str, str]:
    """Descriptions of params from a Google-style `Args:` (or `Params:`) section of a docstring.

    >>> param_docs("Score it.\\n\\nArgs:\\n    strict: no partial credit.\\n    n (int): how many,\\n        at most.\\n")
    {'strict': 'no partial credit.', 'n': 'how many, at most.'}
    """
    found: dict[str, str] = {}
    section_indent: int | None = None
    entry_indent: int | None = None
    current: str | None = None
    for line in doc.splitlines():
        if section_indent is None:
            header = _SECTION.match(line)
            if header:
                section_indent = len(header.group(1))
            continue
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent <= section_indent:  # the section ended
            break
        entry = _ENTRY.match(line)
        if entry and (entry_indent is None or indent == entry_indent):
            entry_indent, current = indent, entry.group(2)
            found[current] = entry.group(3).strip()
        elif current is not None:
            found[current] = f"{found[current]} {line.strip()}".strip()
    return found


def without_param_docs(doc: str) -> str:
    """The docstring up to its `Args:` section, for showing next to a table of the params."""
    lines = doc.splitlines()
    end = next((i for i, line in enumerate(lines) if _SECTION.match(line)), len(lines))
    return "\n".join(lines[:end]).rstrip()


@overload
def reward(fn: Callable[..., Any], /) -> FunctionReward: ...


@overload
def reward(
    *,
    name: str | None = None,
    batched: bool = False,
    isolation: Literal["inline", "process"] = "process",
    cases: Sequence[Any] = (),
) -> Callable[[Callable[..., Any]], FunctionReward]: ...


def reward(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    batched: bool = False,
    isolation: Literal["inline", "process"] = "process",
    cases: Sequence[Any] = (),
) -> FunctionReward | Callable[[Callable[..., Any]], FunctionReward]:
    """Turn a plain typed function into a Reward.

    ```python
    @reward
    def exact(completion: str, reference: str, *, strip: bool = True) -> float:
        '''1.0 when the completion is the reference.

        Args:
            strip: ignore surrounding whitespace.
        '''

    @reward(batched=True)
    def relative_length(samples: list[Sample], *, scale: float = 1.0) -> list[float]: ...

    @reward(cases=[{"completion": "Paris", "reference": "Paris", "expected": 1.0}])
    def city(completion: str, reference: str) -> float: ...
    ```

    `cases` are golden cases in the `registry.yaml` format (see `rewardforge.core.cases`); they travel
    with the reward, so `rewardforge test pkg.module:city` and the pytest helpers find them. A malformed
    case raises RewardError when the module is imported.

    The docstring is the reward's description, and its `Args:` section describes the params
    (`rewardforge show` prints them).
    """

    def wrap(func: Callable[..., Any]) -> FunctionReward:
        return FunctionReward(func, name=name, batched=batched, isolation=isolation, cases=cases)

    return wrap(fn) if fn is not None else wrap
