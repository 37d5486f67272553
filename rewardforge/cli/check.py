"""`rewardforge test`: golden cases, orderings and reward-hacking probes for any reward.

Exit codes: 0 everything passed; 1 a golden case, an ordering or a probe failed, a target could not be
tested, or an installed plugin failed to load; 2 the command itself is wrong (an unknown reward or
probe, an unreadable cases file, a plugin that is not installed).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from rewardforge.cli.console import err, fail, folded_table, out
from rewardforge.core.registry import Registry, default_registry
from rewardforge.core.types import RewardError
from rewardforge.testing.probes import ProbeLibrary, ProbeResult, load_probes, shorten
from rewardforge.testing.suite import SuiteReport, run_target
from rewardforge.testing.targets import (
    TestTarget,
    installed_plugins,
    load_cases_file,
    load_target,
    plugin_failures_of,
    plugin_names,
    registry_target,
)


def test(
    targets: Annotated[list[str] | None, typer.Argument(
        help="registry names, pkg.module:attr, path/to/file.py:attr, or stack YAML files")] = None,
    all_rewards: Annotated[bool, typer.Option("--all", help="every installed reward: built-ins and plugins")] = False,
    plugin: Annotated[list[str] | None, typer.Option(
        "--plugin", help="every reward of an installed plugin (distribution or package name)")] = None,
    cases: Annotated[Path | None, typer.Option(
        "--cases", help="YAML list of golden cases (registry.yaml's `golden:` form) for the named TARGETs")] = None,
    probes: Annotated[bool, typer.Option("--probes", help="also run the reward-hacking probes")] = False,
    probe: Annotated[list[str] | None, typer.Option("--probe", help="run only this probe (implies --probes)")] = None,
    allow: Annotated[list[str] | None, typer.Option(
        "--allow", help="PROBE[=WHY]: a probe or probe family this run accepts as an intentional limitation")] = None,
    json_path: Annotated[str | None, typer.Option("--json", help="write the full report as JSON ('-': stdout)")] = None,
    list_probes: Annotated[bool, typer.Option("--list-probes", help="list the probes and what each checks")] = False,
    timeout: Annotated[float, typer.Option(help="per-sample wall-clock limit, seconds")] = 30.0,
) -> None:
    """Test rewards: golden cases, orderings and (--probes) reward-hacking probes.

    Without a TARGET, --all or --plugin, every installed reward is tested. Exit code 1 when a case, an
    ordering or a probe fails or a plugin failed to load; 2 when the command is wrong."""
    library = load_probes()
    if list_probes:
        _print_probes(library)
        return
    registry = default_registry()
    chosen = _targets(registry, targets or [], all_rewards, plugin or [], cases)
    allowed = _allowances(allow or [], library)
    only = _only(probe or [], library)
    run_probes = probes or bool(only)
    if json_path not in (None, "-") and not Path(json_path).resolve().parent.is_dir():
        fail(f"--json {json_path}: the folder {Path(json_path).resolve().parent} does not exist")
    report = SuiteReport(plugin_failures=_plugin_failures(registry, library), probes_run=run_probes)
    with err.status("") as status:  # a live line on a terminal only
        for target in chosen:
            status.update(f"testing {escape(target.name)}" + (" with probes" if run_probes else ""))
            report.targets.append(run_target(target, probes=library if run_probes else None, only=only,
                                             allow=allowed, timeout=timeout))
    console = err if json_path == "-" else out
    _print_report(report, console)
    if json_path is not None:
        data = orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2, default=repr)
        if json_path == "-":
            out.file.write(data.decode() + "\n")
        else:
            Path(json_path).write_bytes(data + b"\n")
    if not report.passed:
        raise typer.Exit(1)


def _targets(registry: Registry, names: list[str], all_rewards: bool, plugins: list[str],
             cases: Path | None) -> list[TestTarget]:
    """Resolve everything asked for before running anything: a mistake exits 2 at once."""
    if cases is not None and not names:
        fail("--cases gives golden cases for the named TARGETs; name at least one")
    chosen: list[TestTarget] = []
    try:
        extra = load_cases_file(cases) if cases is not None else None
        for name in names:
            target = load_target(name, registry=registry)
            chosen.append(target.with_cases(extra) if extra is not None else target)
        for plugin in plugins:
            provided = plugin_names(registry, plugin)
            if not provided and not plugin_failures_of(registry, plugin):
                installed = installed_plugins(registry)
                hint = _did_you_mean(plugin, installed)
                fail(f"no installed plugin named {plugin!r}{hint}; installed plugins: {', '.join(installed) or 'none'}")
            chosen.extend(registry_target(registry, name) for name in provided)
        if all_rewards or not (names or plugins):
            chosen.extend(registry_target(registry, name) for name in registry.names())
    except RewardError as exc:
        fail(str(exc))
    unique: dict[str, TestTarget] = {}
    for target in chosen:
        unique.setdefault(target.name, target)
    return list(unique.values())


def _allowances(pairs: list[str], library: ProbeLibrary) -> dict[str, str]:
    known = set(library.names()) | {p.family for p in library.probes}
    allowed = {}
    for pair in pairs:
        name, _, why = pair.partition("=")
        if name not in known:
            fail(f"--allow {name!r}: no such probe or probe family{_did_you_mean(name, sorted(known))}")
        allowed[name] = why or "allowed with --allow"
    return allowed


def _only(names: list[str], library: ProbeLibrary) -> list[str] | None:
    for name in names:
        if name not in library.names():
            fail(f"--probe {name!r}: no such probe{_did_you_mean(name, library.names())}")
    return names or None


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _plugin_failures(registry: Registry, library: ProbeLibrary) -> list[str]:
    return [f"{f.source}: {f.error}" for f in registry.failures] + list(library.failures)


_SHOWN_PER_PROBE = 3  # failures listed per reward and probe; --json has them all


def _print_probes(library: ProbeLibrary) -> None:
    table = folded_table("reward-hacking probes", "probe", "family", "a sound reward keeps this property")
    for p in library.probes:
        table.add_row(p.name, p.family, escape(p.property + (f" (not for: {', '.join(sorted(p.skip_tags))})"
                                                              if p.skip_tags else "")))
    out.print(table)
    for failure in library.failures:
        err.print(f"[red]probe plugin failed to load:[/] {escape(failure)}", highlight=False)


def _print_report(report: SuiteReport, console: Console) -> None:
    table = folded_table("golden cases", "reward", "cases", "orders", "problems")
    for t in report.targets:
        if t.error is not None:
            table.add_row(escape(t.target.name), "-", "-", escape(f"cannot test: {t.error}"))
            continue
        problems = [f"{r.label} {_params(r.params)}: {r.problem}" for r in t.golden_failures]
        problems += [f"order {r.ordering.order!r}: {r.problem}" for r in t.ordering_failures]
        table.add_row(escape(t.target.name), f"{len(t.golden) - len(t.golden_failures)}/{len(t.golden)}",
                      f"{len(t.orderings) - len(t.ordering_failures)}/{len(t.orderings)}" if t.orderings else "-",
                      escape("\n".join(problems)))
    console.print(table)
    if report.probes_run:
        _print_probes_table(report, console)
    for failure in report.plugin_failures:
        console.print(f"[bold red]plugin failed to load:[/] {escape(failure)}", highlight=False, soft_wrap=True)
    console.print(_verdict(report), highlight=False)


def _print_probes_table(report: SuiteReport, console: Console) -> None:
    title = "reward-hacking probes (each must keep its property; `rewardforge test --list-probes`)"
    table = folded_table(title, "reward", "attempts", "failed", "allowed (why)")
    for t in report.targets:
        if t.probes is None:
            continue
        allowed: dict[str, set[str]] = {}
        for r in t.probes.allowed:
            allowed.setdefault(r.allowed or "", set()).add(r.probe)
        unscored = sum(not r.score.ok for r in t.probes.results)
        attempts = str(len(t.probes.results)) if t.probes.results else "none: no full-credit golden case"
        if unscored:  # skipped or errored attempts earn nothing, but tell nothing either
            attempts += f" ({unscored} not scored)"
        notes = [f"{', '.join(sorted(names))}: {why}" for why, names in allowed.items()] + t.probes.skipped_cases
        failed = sorted({r.probe for r in t.probe_failures})
        table.add_row(escape(t.target.name), attempts, ", ".join(failed) or "-", escape("\n".join(notes)))
    console.print(table)
    failures = [r for t in report.targets for r in t.probe_failures]
    if failures:
        console.print(f"[bold red]{len(failures)} probe attempt(s) broke their property:[/]")
        shown: dict[tuple[str, str], int] = {}
        for r in failures:
            key = (r.reward, r.probe)
            shown[key] = shown.get(key, 0) + 1
            if shown[key] <= _SHOWN_PER_PROBE:
                console.print(_failure_text(r), highlight=False, soft_wrap=True)
        hidden = sum(n - _SHOWN_PER_PROBE for n in shown.values() if n > _SHOWN_PER_PROBE)
        if hidden:
            console.print(f"  … and {hidden} more attempt(s) of the same probes (all of them: --json)", highlight=False)


def _failure_text(r: ProbeResult) -> str:
    bound = "the correct answer" if r.bound == "correct" else "the do-nothing baseline"
    relation = "must be below" if r.bound == "correct" else "must not be above"
    return (f"  [bold]{escape(r.reward)}[/] · {r.probe} ({escape(r.variant)}) · {r.case_label} · "
            f"params {escape(_params(r.params))}\n"
            f"    completion: {escape(shorten(r.completion))}\n"
            f"    scored {_value(r.score.value)}; {bound} scored {_value(r.bound_score.value)} ({relation} it)")


def _verdict(report: SuiteReport) -> str:
    golden = sum(len(t.golden_failures) + len(t.ordering_failures) for t in report.targets)
    probes = sum(len(t.probe_failures) for t in report.targets)
    untested = sum(t.error is not None for t in report.targets)
    if report.passed:
        attempts = sum(len(t.probes.results) for t in report.targets if t.probes)
        cases = sum(len(t.golden) for t in report.targets)
        tail = f", {attempts} probe attempts" if report.probes_run else ""
        return f"[bold green]passed:[/] {len(report.targets)} reward(s), {cases} golden case(s){tail}"
    parts = [f"{n} {what}" for n, what in ((golden, "golden case(s) or order(s) failed"),
                                           (probes, "probe attempt(s) broke their property"),
                                           (untested, "reward(s) could not be tested"),
                                           (len(report.plugin_failures), "plugin(s) failed to load")) if n]
    return "[bold red]FAILED:[/] " + "; ".join(parts)


def _params(params: dict[str, object]) -> str:
    return orjson.dumps(params, default=repr).decode() if params else "(defaults)"


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
