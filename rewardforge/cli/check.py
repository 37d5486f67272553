"""`rewardforge test`: golden cases and reward-hacking probes for registry rewards."""

from __future__ import annotations

from typing import Annotated

import typer

from rewardforge.cli.console import fail, folded_table, out
from rewardforge.core.registry import Registry, default_registry
from rewardforge.core.types import RewardError
from rewardforge.testing.golden import run_golden
from rewardforge.testing.probes import run_probes


def test(
    names: Annotated[list[str] | None, typer.Argument(help="rewards to test (default: all)")] = None,
    timeout: Annotated[float, typer.Option(help="per-case wall-clock limit, seconds")] = 30.0,
    probes: Annotated[bool, typer.Option("--probes", help="also run the reward-hacking probes")] = False,
) -> None:
    """Run the golden cases of rewards from the registry (built-ins and plugins), and optionally the
    reward-hacking probes (reported, not failed: shaping rewards rightly let some through)."""
    registry = default_registry()
    chosen = names or registry.names()
    failed = 0
    table = folded_table("golden cases", "reward", "passed", "problems")
    for name in chosen:
        try:
            results = run_golden(registry, name, timeout=timeout)
        except RewardError as exc:
            failed += 1
            table.add_row(name, "-", f"cannot run: {exc}")
            continue
        problems = [f"case {r.index}: {r.problem}" for r in results if not r.passed]
        failed += len(problems)
        table.add_row(name, f"{len(results) - len(problems)}/{len(results)}", "\n".join(problems))
    out.print(table)
    if probes:
        _report_probes(registry, chosen, timeout)
    if failed:
        fail(f"{failed} golden case(s) failed", code=1)


def _report_probes(registry: Registry, names: list[str], timeout: float) -> None:
    title = "reward-hacking probes (a probe exploits a reward when it earns full credit)"
    table = folded_table(title, "reward", "probes run", "exploited by")
    for name in names:
        try:
            results = run_probes(registry, name, timeout=timeout)
        except RewardError as exc:
            table.add_row(name, "-", f"cannot run: {exc}")
            continue
        exploited = sorted({f"{r.probe} (case {r.case_index})" for r in results if r.exploited})
        table.add_row(name, str(len(results)) if results else "none (no full-credit golden case)",
                      ", ".join(exploited) or "-")
    out.print(table)
