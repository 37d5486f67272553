"""Reward-hacking probes: correctness rewards must not give full credit to completions with no answer."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rewardforge.cli import app
from rewardforge.core.registry import Registry
from rewardforge.testing.probes import PROBES, run_probes

REGISTRY = Registry.load(plugins=False)
CORRECTNESS = ["exact_match", "math_equivalence", "numeric_closeness", "code_tests", "regex_match",
               "regex_format", "tag_format", "code_block_format"]


@pytest.mark.parametrize("name", CORRECTNESS)
def test_correctness_rewards_resist_every_probe_with_default_settings(name: str) -> None:
    results = run_probes(REGISTRY, name)
    assert results, f"{name}: no probe ran"
    default_cases = {i for i, case in enumerate(REGISTRY.entry(name).golden) if not case.params}
    exploited = [(r.probe, r.case_index, r.score.value) for r in results
                 if r.exploited and r.case_index in default_cases]
    assert not exploited, f"{name} gives full credit to: {exploited}"


def test_probes_detect_a_lenient_setting() -> None:
    """The answer spray beats `on_conflict=last`: the probe finds what it is meant to find."""
    results = run_probes(REGISTRY, "math_equivalence")
    lenient = [i for i, c in enumerate(REGISTRY.entry("math_equivalence").golden)
               if c.params.get("on_conflict") == "last"]
    assert lenient
    assert any(r.exploited and r.probe == "answer_spray" and r.case_index in lenient for r in results)


def test_shaping_rewards_are_reported_not_judged() -> None:
    """An empty completion is not overlong: shaping rewards pass it, and the report says so."""
    results = run_probes(REGISTRY, "overlong_penalty")
    assert any(r.exploited and r.probe == "empty" for r in results)


def test_every_probe_is_named_and_described() -> None:
    assert len({p.name for p in PROBES}) == len(PROBES)
    assert all(p.description for p in PROBES)


def test_cli_reports_probes() -> None:
    result = CliRunner().invoke(app, ["test", "exact_match", "overlong_penalty", "--probes"])
    assert result.exit_code == 0, result.output
    assert "reward-hacking probes" in result.output and "empty (case 0)" in result.output
