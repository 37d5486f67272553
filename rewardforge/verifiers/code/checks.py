"""What opaque test code needs from outside itself, and where each name may come from.

A check such as HumanEval/32's `assert math.fabs(poly(coeffs, solution)) < 1e-4` calls a helper (`poly`) that
the test never defines: HumanEval's prompt does, and the program is expected to repeat it. Taken from the
program, a helper is an oracle the program writes: `def poly(xs, x): return 0` next to `return 0` passes
HumanEval/32, and an identity `encode_cyclic` or `encode_shift` next to an identity decoder passes /38 and
/50. So a helper the dataset's own prompt defines in full comes from the prompt (trusted code, run in the
checker with the real builtins); only what neither the test nor the prompt defines is looked up in the
program. The function under test (the entry point) and stubs the prompt leaves to the program (a signature
and a docstring) are never taken from the prompt.
"""

from __future__ import annotations

import ast
import builtins
import symtable
from dataclasses import dataclass
from functools import lru_cache

from rewardforge.verifiers.code.extract import fenced_blocks

BUILTIN_NAMES = frozenset(dir(builtins))
_PARSE_ERRORS = (SyntaxError, ValueError, MemoryError, RecursionError)


def needed_names(code: str) -> tuple[str, ...]:
    """Global names `code` reads in any scope but never binds at module level (by assignment, import, def,
    class or a `global` statement), builtins excluded."""
    top = symtable.symtable(code, "<tests>", "exec")
    defined: set[str] = set()
    used: set[str] = set()
    tables = [top]
    while tables:
        table = tables.pop()
        for symbol in table.get_symbols():
            name = symbol.get_name()
            if table is top:
                if symbol.is_assigned() or symbol.is_imported() or symbol.is_namespace():
                    defined.add(name)
                elif symbol.is_referenced():
                    used.add(name)
            elif symbol.is_global():
                if symbol.is_declared_global() and symbol.is_assigned():
                    defined.add(name)
                elif symbol.is_referenced():
                    used.add(name)
        tables.extend(table.get_children())
    return tuple(sorted(used - defined - BUILTIN_NAMES))


def bound_names(code: str) -> set[str]:
    """Names `code` binds at module level (by assignment, import, def, class or a `global` statement)."""
    if not code.strip():
        return set()
    top = symtable.symtable(code, "<tests>", "exec")
    return {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}


@dataclass(frozen=True)
class PromptCode:
    """The complete top-level definitions of a prompt's Python, in prompt order, and its imports."""

    definitions: dict[str, str]  # name -> source of a def or class with a real body
    imports: tuple[tuple[frozenset[str], str], ...]  # (names bound, source) per import statement


@lru_cache(maxsize=256)
def prompt_code(prompt: str) -> PromptCode:
    """The Python in `prompt`: the whole prompt when it parses (HumanEval's prompts are code), else each
    fenced block that does (a chat prompt that shows code)."""
    try:
        modules = [ast.parse(prompt)]
    except _PARSE_ERRORS:
        modules = []
        for _, body in fenced_blocks(prompt):
            try:
                modules.append(ast.parse(body))
            except _PARSE_ERRORS:
                continue
    definitions: dict[str, str] = {}
    imports: list[tuple[frozenset[str], str]] = []
    for module in modules:
        for node in module.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = frozenset((alias.asname or alias.name).partition(".")[0] for alias in node.names)
                imports.append((names, ast.unparse(node)))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and not _is_stub(node):
                definitions[node.name] = ast.unparse(node)
    return PromptCode(definitions, tuple(imports))


def _is_stub(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> bool:
    """A definition the program is asked to write: only a docstring, `pass`, `...` or NotImplementedError."""
    if isinstance(node, ast.ClassDef):
        return False
    for statement in node.body:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # a docstring or `...`
        if isinstance(statement, ast.Raise) and "NotImplementedError" in ast.unparse(statement):
            continue
        return False
    return True


def trusted_helpers(needs: tuple[str, ...], prompt: str, exclude: frozenset[str]) -> str:
    """Source defining the names in `needs` that `prompt` defines in full (with the prompt definitions and
    imports they use in turn), `exclude` left out; "" when the prompt defines none of them."""
    code = prompt_code(prompt)
    chosen: list[str] = []
    pending = [name for name in needs if name in code.definitions and name not in exclude]
    used: set[str] = set()
    while pending:
        name = pending.pop()
        if name in chosen:
            continue
        chosen.append(name)
        uses = set(needed_names(code.definitions[name]))
        used |= uses
        pending += [n for n in uses if n in code.definitions and n not in exclude and n not in chosen]
    if not chosen:
        return ""
    order = list(code.definitions)
    imports = [source for names, source in code.imports if names & used]
    return "\n".join([*imports, *(code.definitions[name] for name in sorted(chosen, key=order.index))]) + "\n"
