"""What can be tested: every way of naming a reward, and where its cases come from."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import rewardforge as rf
from rewardforge import RewardError
from rewardforge.core.cases import parse_cases
from rewardforge.core.registry import Registry, RewardEntry
from rewardforge.core.workers import shared_pool
from rewardforge.rewards.basic import exact_match
from rewardforge.rewards.math import MathEquivalence
from rewardforge.testing import load_target, run_golden
from rewardforge.testing.targets import plugin_names


def test_registry_name_brings_its_cases_defaults_tags_and_range() -> None:
    target = load_target("code_tests")
    assert target.source == "builtin" and target.defaults["language"] == "python"
    assert "code" in target.tags and target.range == (0.0, 1.0) and len(target.cases.cases) >= 10
    assert target.params_in_force({"partial_credit": True})["partial_credit"] is True


def test_objects_classes_and_plain_functions_are_targets() -> None:
    assert load_target(exact_match).name == "exact_match"
    assert load_target(MathEquivalence).build({"on_conflict": "last"}).score(
        [rf.Sample(completion="\\boxed{1} \\boxed{2}", reference="2")])[0].value == 1.0

    def shout(completion: str) -> float:
        return float(completion.isupper())

    target = load_target(shout)
    assert target.build({}).score([rf.Sample(completion="HI")])[0].value == 1.0


def test_a_file_target_scores_in_warm_workers_started_before_it_was_importable(tmp_path: Path) -> None:
    """Process-isolated rewards are unpickled in workers: a worker started before the file's folder went
    on sys.path must not be reused for it."""
    shared_pool().warm(1)
    folder = tmp_path / "late_rewards"
    folder.mkdir()
    (folder / "late_reward_module.py").write_text(textwrap.dedent("""
        from rewardforge import reward

        @reward(cases=[{"completion": "yes", "expected": 1.0}, {"completion": "no", "expected": 0.0}])
        def says_yes(completion: str) -> float:
            return float(completion == "yes")
        """))
    results = run_golden(f"{folder}/late_reward_module.py:says_yes", timeout=60)
    assert [r.score.value for r in results] == [1.0, 0.0], [r.score for r in results]


def test_a_stack_takes_no_params_per_case(tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text("name: s\ntype: weighted_sum\ncomponents:\n  - {reward: exact_match}\n")
    target = load_target(stack).with_cases(parse_cases(
        [{"completion": "a", "reference": "a", "expected": 1.0},
         {"completion": "a", "reference": "a", "params": {"case_sensitive": True}, "expected": 1.0}], origin="t"))
    results = run_golden(target)
    assert results[0].passed
    assert "a stack takes no params per case" in (results[1].problem or "")


def test_extra_cases_must_keep_names_unique() -> None:
    target = load_target("rf_kit_rewards:keywords")
    with pytest.raises(RewardError, match=r"^rf_kit_rewards:keywords: case name 'all' is used by cases 0 and 4$"):
        target.with_cases(parse_cases([{"name": "all", "completion": "x", "reference": ["x"], "expected": 1.0}],
                                      origin="extra"))


def test_a_case_with_params_the_reward_rejects_fails_with_the_reason() -> None:
    target = load_target("exact_match").with_cases(parse_cases(
        [{"completion": "a", "reference": "a", "params": {"case_sensitiv": True}, "expected": 1.0}], origin="t"))
    [bad] = [r for r in run_golden(target) if not r.passed]
    assert "cannot build the reward with these params" in (bad.problem or "")
    assert "case_sensitiv" in (bad.problem or "")


def test_plugins_are_found_by_distribution_or_package_name() -> None:
    registry = Registry.load(plugins=False)
    registry.add(RewardEntry(name="kw", target="acme_rewards.rewards:kw",
                             source="plugin acme-rewards (rewardforge.rewards: kw = acme_rewards.rewards:kw)"))
    for spelling in ("acme-rewards", "acme_rewards", "Acme.Rewards"):
        assert plugin_names(registry, spelling) == ["kw"]
    assert plugin_names(registry, "acme") == []
