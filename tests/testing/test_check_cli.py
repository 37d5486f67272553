"""`rewardforge test`: any target, cases from anywhere, reports that show the failure, honest exit codes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from rf_test_support import ROOT

HACKABLE = "examples/hackable_reward.py:boxed_answer"


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_a_registry_name_passes(rf: Any) -> None:
    result = rf("test", "exact_match")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "exact_match" in result.stdout and "5/5" in result.stdout and "passed: 1 reward(s)" in result.stdout


def test_a_dotted_path_with_its_own_cases_and_orderings(rf: Any) -> None:
    result = rf("test", "rf_kit_rewards:keywords")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4/4" in result.stdout and "1/1" in result.stdout  # four cases, one ordering


def test_a_python_file_target_from_another_directory(rf: Any, tmp_path: Path) -> None:
    result = rf("test", str(ROOT / HACKABLE))
    assert result.returncode == 0, result.stdout + result.stderr  # its golden cases pass; probes not asked
    assert "2/2" in result.stdout


def test_a_stack_file_with_a_cases_file(rf: Any, tmp_path: Path) -> None:
    stack = write(tmp_path / "stack.yaml", """
        name: fmt_and_answer
        type: weighted_sum
        components:
          - {reward: tag_format, weight: 0.5}
          - {reward: exact_match, weight: 0.5}
        """)
    cases = write(tmp_path / "cases.yaml", """
        - {name: both, completion: "<think>x</think><answer>4</answer>", reference: "<think>x</think><answer>4</answer>", expected: 1.0}
        - {name: format, completion: "<think>x</think><answer>5</answer>", reference: "4", expected: 0.5}
        - {name: neither, completion: "5", reference: "4", expected: 0.0}
        - {order: "both > format > neither"}
        """)
    result = rf("test", str(stack), "--cases", str(cases))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3/3" in result.stdout and "1/1" in result.stdout


def test_a_failed_golden_case_exits_1_naming_case_params_and_values(rf: Any, tmp_path: Path) -> None:
    cases = write(tmp_path / "cases.yaml", """
        - {completion: "paris", reference: "Paris", params: {case_sensitive: true}, expected: 1.0, note: wrong on purpose}
        """)
    result = rf("test", "exact_match", "--cases", str(cases))
    assert result.returncode == 1
    assert 'case 5 {"case_sensitive":true}: expected 1.0, got 0.0' in result.stdout
    assert "FAILED: 1 golden case(s) or order(s) failed" in result.stdout


def test_a_failed_ordering_exits_1(rf: Any, tmp_path: Path) -> None:
    cases = write(tmp_path / "cases.yaml", """
        - {name: right, completion: "Paris", reference: "Paris", expected: 1.0}
        - {name: wrong, completion: "Lyon", reference: "Paris", expected: 0.0}
        - {order: "wrong > right"}
        """)
    result = rf("test", "exact_match", "--cases", str(cases))
    assert result.returncode == 1
    assert "order 'wrong > right': expected wrong > right, got wrong=0, right=1" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["test", "exact_matchh"], "unknown reward 'exact_matchh'"),
    (["test", "rf_kit_rewards:nothing"], "has no attribute 'nothing'"),
    (["test", "missing_file.py:f"], "no such Python file: missing_file.py"),
    (["test", "--cases", "cases.yaml"], "--cases gives golden cases for the named TARGETs"),
    (["test", "exact_match", "--cases", "nowhere.yaml"], "cases file not found: nowhere.yaml"),
    (["test", "exact_match", "--probes", "--allow", "emtpy"], "no such probe or probe family (did you mean 'empty'?)"),
    (["test", "exact_match", "--probe", "answer_sprya"], "no such probe (did you mean 'answer_spray'?)"),
    (["test", "--plugin", "not-installed-anywhere"], "no installed plugin named 'not-installed-anywhere'"),
], ids=["unknown-name", "unknown-attr", "missing-file", "cases-without-target", "missing-cases", "allow-typo",
        "probe-typo", "plugin-not-installed"])
def test_usage_errors_exit_2_with_one_line(rf: Any, args: list[str], message: str) -> None:
    result = rf(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in " ".join(result.stderr.split())
    assert "golden cases" not in result.stdout  # nothing ran


def test_unknown_name_suggests_the_close_one(rf: Any) -> None:
    """The registry's "did you mean" (issue #16) reaches `rewardforge test` with exit code 2."""
    result = rf("test", "exact_matchh")
    assert result.returncode == 2
    assert "did you mean" in result.stderr and "exact_match" in result.stderr


def test_a_malformed_cases_file_names_the_file_and_case(rf: Any, tmp_path: Path) -> None:
    cases = write(tmp_path / "cases.yaml", """
        - {completion: "Paris", reference: "Paris", expected: 1.0}
        - {completion: "Lyon", reference: "Paris"}
        """)
    result = rf("test", "exact_match", "--cases", str(cases))
    assert result.returncode == 2
    assert f"{cases}: case 1: an ok golden case needs" in " ".join(result.stderr.split())


def test_probes_catch_the_hackable_example_with_everything_in_the_report(rf: Any, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = rf("test", HACKABLE, "--probes", "--json", str(report), cwd=ROOT)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "probe attempt(s) broke their property" in out
    # probe (and variant), case, params in force, the shortened completion and both scores
    assert "format_only (tags around an empty box) · case 0 · params (defaults)" in out
    assert "completion: <think>Let me solve this.</think>\\n<answer>\\boxed{}</answer>" in out
    assert "scored 1; the correct answer scored 1 (must be below it)" in out
    data = json.loads(report.read_text())
    assert data["passed"] is False
    [target] = data["targets"]
    failures = {f["probe"] for f in target["probes"]["failures"]}
    assert failures == {"format_only", "answer_spray", "hedging", "smuggled_reference", "confusables"}
    failure = target["probes"]["failures"][0]
    assert failure["score"]["value"] == 1.0 and failure["bound"] == "correct" and failure["bound_score"]["value"] == 1.0
    assert failure["params"] == {} and failure["case"] == 0 and failure["completion"]


def test_allow_records_a_limitation_and_the_run_passes(rf: Any) -> None:
    result = rf("test", HACKABLE, "--probes", "--allow", "answer=the example pays for any box on purpose",
                "--allow", "format_only", "--json", "-", cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    [target] = data["targets"]
    assert target["probes"]["failures"] == []
    reasons = {a["probe"]: a["allowed"] for a in target["probes"]["allowed"]}
    assert reasons["hedging"] == "the example pays for any box on purpose"
    assert reasons["format_only"] == "allowed with --allow"
    assert "allowed (why)" in result.stderr and "pays for any box on purpose" in result.stderr


def test_probing_uses_each_case_params_and_case_allowances(rf: Any) -> None:
    """math_equivalence's lenient case (on_conflict=last) is probed with that setting: the spray ending on
    the reference beats it, and the case documents this as allowed."""
    result = rf("test", "math_equivalence", "--probe", "answer_spray", "--probe", "hedging", "--json", "-")
    data = json.loads(result.stdout)
    [target] = data["targets"]
    lenient = [a for a in target["probes"]["allowed"] if a["params"].get("on_conflict") == "last"]
    assert lenient, target["probes"]
    assert all("on_conflict=last judges only the last answer" in a["allowed"] for a in lenient)
    assert all(f["params"].get("on_conflict") != "last" for f in target["probes"]["failures"])


def test_list_probes_states_each_property(rf: Any) -> None:
    result = rf("test", "--list-probes")
    assert result.returncode == 0
    for name in ("empty", "hedging", "smuggled_reference", "confusables", "judge_injection", "exit_before_tests",
                 "always_equal", "builtin_override", "trivial_return"):
        assert name in result.stdout
    assert "earns no more than a stub that raises" in " ".join(result.stdout.split())


BROKEN_REWARD_PLUGIN = {"broken_rewards/__init__.py": "raise ImportError('broken on purpose')\n"}
BAD_REGISTRY_PLUGIN = {
    "bad_registry/__init__.py": "",
    "bad_registry/registry.yaml": "version: 1\nrewards:\n  - name: bad_one\n    target: bad_registry:f\n"
                                  "    golden:\n      - {completion: x}\n",
}


def test_a_broken_plugin_fails_the_run_and_is_named(site: Any) -> None:
    site.install("broken-rewards", BROKEN_REWARD_PLUGIN,
                 {"rewardforge.rewards": {"broken_reward": "broken_rewards:thing"}})
    result = site.rf("test", "exact_match")
    assert result.returncode == 1
    assert "5/5" in result.stdout  # the rest still ran
    assert "plugin failed to load: plugin broken-rewards" in result.stdout and "broken on purpose" in result.stdout
    assert "1 plugin(s) failed to load" in result.stdout


def test_score_names_the_plugin_that_failed_to_provide_a_reward(site: Any, tmp_path: Path) -> None:
    site.install("broken-rewards", BROKEN_REWARD_PLUGIN,
                 {"rewardforge.rewards": {"broken_reward": "broken_rewards:thing"}})
    site.install("bad-registry", BAD_REGISTRY_PLUGIN, {"rewardforge.registries": {"bad_registry": "bad_registry"}})
    data = write(tmp_path / "in.jsonl", '{"completion": "x"}\n')
    for name, plugin, error in (("broken_reward", "plugin broken-rewards", "broken on purpose"),
                                ("bad_one", "plugin bad-registry", "an ok golden case needs")):
        result = site.rf("score", "-r", name, "-i", str(data), "-o", "-")
        message = " ".join(result.stderr.split())
        assert result.returncode == 2, result.stderr
        assert f"reward '{name}' comes from {plugin}" in message and "which failed to load" in message
        assert error in message


def test_plugin_option_tests_one_plugin_and_fails_when_it_is_broken(site: Any) -> None:
    site.install("good-plugin", {"good_plugin/__init__.py": "",
                                 "good_plugin/rewards.py": "from rf_kit_rewards import keywords\n"},
                 {"rewardforge.rewards": {"good_keywords": "good_plugin.rewards:keywords"}})
    result = site.rf("test", "--plugin", "good-plugin", "--probes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "good_keywords" in result.stdout and "exact_match" not in result.stdout
    site.install("bad-registry", BAD_REGISTRY_PLUGIN, {"rewardforge.registries": {"bad_registry": "bad_registry"}})
    result = site.rf("test", "--plugin", "bad_registry")
    assert result.returncode == 1
    assert "plugin failed to load: plugin bad-registry" in result.stdout


def test_a_broken_probe_plugin_fails_the_run(site: Any) -> None:
    site.install("bad-probes", {"bad_probes/__init__.py": "PROBES = ['not a probe']\n"},
                 {"rewardforge.probes": {"bad": "bad_probes:PROBES"}})
    result = site.rf("test", "exact_match", "--probes")
    assert result.returncode == 1
    assert "plugin bad-probes (rewardforge.probes: bad = bad_probes:PROBES)" in result.stdout
    assert "is not a Probe or a list of Probes" in result.stdout


def test_a_plugin_probe_runs_against_every_reward(site: Any) -> None:
    probes = textwrap.dedent("""
        from rewardforge.testing.probes import Attempt, Probe

        def _shout(case):
            return [Attempt(case.completion.upper(), "upper-cased")] if case.completion.strip() else None

        PROBES = [Probe("shouting", "answer", "the answer in capitals earns less than the answer", _shout)]
        """)
    site.install("shout-probes", {"shout_probes/__init__.py": probes},
                 {"rewardforge.probes": {"shout": "shout_probes:PROBES"}})
    result = site.rf("test", "exact_match", "--probe", "shouting", "--json", "-")
    data = json.loads(result.stdout)
    [target] = data["targets"]
    # exact_match folds case by default: "PARIS" is the answer, and the plugin probe says so
    assert {f["probe"] for f in target["probes"]["failures"]} == {"shouting"}
    assert result.returncode == 1
