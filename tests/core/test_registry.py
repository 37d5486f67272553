from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rf_test_support import RF

import rewardforge as rf
from rewardforge import RewardError
from rewardforge.core.registry import Registry, RewardEntry, default_registry
from rewardforge.core.stack import parse_stack


def test_builtins_load_with_their_sources() -> None:
    registry = Registry.load(plugins=False)
    assert {"exact_match", "regex_match"} <= set(registry.names())
    assert registry.entries["exact_match"].source == "builtin"


def test_unknown_reward_is_a_clear_error() -> None:
    with pytest.raises(RewardError, match="unknown reward 'nope'"):
        rf.resolve("nope")


def test_registry_params_override_defaults_and_are_validated() -> None:
    reward = default_registry().get("regex_match", {"pattern": "a+", "mode": "search"})
    assert [s.value for s in reward.score([rf.Sample(completion="baa")])] == [1.0]
    with pytest.raises(RewardError, match="invalid param 'mode'"):
        default_registry().get("regex_match", {"pattern": "a", "mode": "sometimes"})


def test_dotted_paths_work_where_names_do() -> None:
    [verdict] = rf.score("rewardforge.rewards.basic:exact_match", [{"completion": "x", "reference": "x"}])
    assert verdict.value == 1.0
    [verdict] = rf.score("rf_test_rewards:sleepy", [{"completion": "x"}], params={"seconds": 0})
    assert verdict.value == 1.0
    with pytest.raises(RewardError, match="has no attribute"):
        rf.resolve("rewardforge.rewards.basic:nothing_here")
    with pytest.raises(RewardError, match="cannot import"):
        rf.resolve("no_such_module_xyz:thing")


def test_a_python_file_works_where_a_name_does(tmp_path: Path) -> None:
    path = tmp_path / "rf_file_rewards_for_test.py"
    path.write_text("import rewardforge as rf\n\n@rf.reward\ndef shout(completion: str) -> float:\n"
                    "    return float(completion.isupper())\n")
    verdicts = rf.score(f"{path}:shout", [{"completion": "HEY"}, {"completion": "hey"}])  # in worker processes
    assert [v.value for v in verdicts] == [1.0, 0.0]
    with pytest.raises(RewardError, match=r"has no attribute 'shuot' \(did you mean 'shout'\?\)"):
        rf.resolve(f"{path}:shuot")
    with pytest.raises(RewardError, match="no such Python file"):
        rf.resolve(f"{tmp_path / 'absent.py'}:shout")


def test_name_clash_reports_both_sources() -> None:
    registry = Registry.load(plugins=False)
    registry.add(RewardEntry(name="exact_match", target="elsewhere:thing", source="plugin other"))
    assert registry.entries["exact_match"].source == "builtin"
    assert "defined by builtin and by plugin other" in registry.clashes[0]


def test_yaml_stack_with_weights_gate_and_schedule(tmp_path: Path) -> None:
    stack_file = tmp_path / "stack.yaml"
    stack_file.write_text(textwrap.dedent("""
        name: graded
        type: weighted_sum
        components:
          - name: gated_answer
            reward:
              type: gate
              gate: {reward: regex_match, params: {pattern: "<answer>.*</answer>"}, name: fmt}
              then: {reward: exact_match, name: answer}
              otherwise: -1.0
          - reward: rf_test_rewards:sleepy
            name: late_bonus
            weight: {at: 5, before: 0.0, after: 0.5}
    """))
    samples = [
        {"completion": "<answer>x</answer>", "reference": "<answer>x</answer>"},
        {"completion": "x", "reference": "x"},
    ]
    early = rf.score(stack_file, samples, step=0)
    assert [v.value for v in early] == [1.0, -1.0]
    assert early[0].components["gated_answer.fmt"] == 1.0 and early[0].components["gated_answer.answer"] == 1.0
    late = rf.score(str(stack_file), samples, step=5)
    assert [v.value for v in late] == [1.5, -0.5]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "weighted_sum", "components": []}, "components"),
        ({"type": "mean", "components": [{"reward": "exact_match"}]}, "type"),
        ({"type": "weighted_sum", "components": [{"reward": "exact_match", "wieght": 2}]}, "wieght"),
        ({"type": "weighted_sum", "components": [{"reward": "regex_match", "params": {"pattern": 3}}]}, "pattern"),
    ],
)
def test_bad_stack_errors_name_the_problem(data: dict, message: str) -> None:
    with pytest.raises(RewardError, match=message):
        parse_stack(data)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("type: weighted_sum\ncomponents:\n  - reward: math_equivalance\n",
         "components[0] (math_equivalance): unknown reward 'math_equivalance' (did you mean 'math_equivalence'?)"),
        ("type: weighted_sum\ncomponents:\n  - reward: exact_match\n  - reward: regex_match\n    name: fmt\n"
         "    weight: {at: 100, befor: 0.0, after: 0.5}\n",
         "components[1] (fmt).weight: unknown key 'befor' (did you mean 'before'?)"),
        ("type: weighted_sum\ncomponents:\n  - reward: exact_match\n    wieght: 2\n",
         "components[0] (exact_match): unknown key 'wieght' (did you mean 'weight'?)"),
        ("type: weighted_sum\ncomponents:\n  - reward: exact_match\n    weight: heavy\n",
         "components[0] (exact_match).weight: Input should be a valid number"),
        ("type: weighted_sum\non_skiped: drop\ncomponents:\n  - reward: exact_match\n",
         "unknown key 'on_skiped' (did you mean 'on_skipped'?)"),
        ("type: weighted_sum\non_skipped: renormalise\ncomponents:\n  - reward: exact_match\n",
         "on_skipped: 'renormalise' is not one of 'renormalize', 'drop', 'zero' or 'propagate' "
         "(did you mean 'renormalize'?)"),
        ("type: weighted_summ\ncomponents:\n  - reward: exact_match\n",
         "type: unknown type 'weighted_summ'; expected one of weighted_sum, gate, min, max, product "
         "(did you mean 'weighted_sum'?)"),
        ("type: weighted_sum\ncomponents:\n  - name: inner\n    reward:\n      type: gate\n"
         "      gate: {reward: exact_match}\n      then: {reward: regex_match, params: {pattern: 3}}\n",
         "components[0] (inner).then (regex_match): reward 'regex_match': invalid param 'pattern'"),
        ("type: weighted_sum\ncomponents:\n  - reward:\n      type: min\n      components:\n"
         "        - {reward: exact_match, weight: {start_step: 0, end_stp: 10}}\n",
         "components[0] (min).reward.components[0] (exact_match).weight: unknown key 'end_stp' "
         "(did you mean 'end_step'?)"),
        ("- reward: exact_match\n", "a stack is a mapping with `type` and `components`, got list"),
        ("", "a stack is a mapping with `type` and `components`, got an empty file"),
    ],
    ids=["unknown-reward", "schedule-key", "component-key", "weight-type", "stack-key", "policy", "type",
         "nested-param", "nested-schedule", "not-a-mapping", "empty"],
)
def test_stack_file_errors_name_the_file_the_component_and_the_key(tmp_path: Path, yaml_text: str,
                                                                   message: str) -> None:
    stack_file = tmp_path / "my_stack.yaml"
    stack_file.write_text(yaml_text)
    with pytest.raises(RewardError) as info:
        rf.resolve(stack_file)
    assert str(info.value).startswith(f"{stack_file}: ")
    assert message in str(info.value)


def test_unknown_names_suggest_the_closest_known_one() -> None:
    with pytest.raises(RewardError, match=r"unknown reward 'exact_mach' \(did you mean 'exact_match'\?\)"):
        rf.resolve("exact_mach")
    with pytest.raises(RewardError, match="unknown reward 'zzzz'; `rewardforge list` shows the known ones"):
        rf.resolve("zzzz")


def test_registry_function_has_a_noun_free_name_and_the_old_one_warns() -> None:
    with pytest.warns(DeprecationWarning, match="use rewardforge.default_registry"):
        old = rf.registry
    assert old is rf.default_registry


def test_missing_stack_file() -> None:
    with pytest.raises(RewardError, match="not found"):
        rf.resolve("does/not/exist.yaml")


PLUGIN_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "rf-demo-plugin"
version = "0.1.0"

[tool.setuptools]
packages = ["rf_demo_plugin"]

[tool.setuptools.package-data]
rf_demo_plugin = ["registry.yaml"]

[project.entry-points."rewardforge.rewards"]
shouty = "rf_demo_plugin.rewards:shouty"
broken_plugin = "rf_demo_plugin.broken:thing"

[project.entry-points."rewardforge.registries"]
rf_demo_plugin = "rf_demo_plugin"
"""

PLUGIN_REWARDS = '''
from rewardforge import reward

@reward
def shouty(completion: str, *, bonus: float = 0.0) -> float:
    """1.0 for an all-caps completion."""
    return float(completion.isupper()) + bonus
'''

PLUGIN_REGISTRY = """
version: 1
rewards:
  - name: shouty_strict
    target: rf_demo_plugin.rewards:shouty
    params: {bonus: 0.5}
    description: shouty with a bonus, from the plugin's own registry.yaml
    golden:
      - {completion: "HEY", expected: 1.5}
      - {completion: "hey", expected: 0.5}
  - name: exact_match
    target: rf_demo_plugin.rewards:shouty
    description: clashes with the built-in
"""


@pytest.mark.slow
def test_plugin_package_is_built_installed_listed_and_scores(tmp_path: Path, cli_env: dict[str, str]) -> None:
    source = tmp_path / "plugin"
    package = source / "rf_demo_plugin"
    package.mkdir(parents=True)
    (source / "pyproject.toml").write_text(PLUGIN_PYPROJECT)
    (package / "__init__.py").write_text("")
    (package / "rewards.py").write_text(PLUGIN_REWARDS)
    (package / "broken.py").write_text("raise ImportError('this plugin is broken on purpose')\n")
    (package / "registry.yaml").write_text(PLUGIN_REGISTRY)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True,
    )
    env = {**cli_env, "PYTHONPATH": f"{target}:{cli_env['PYTHONPATH']}"}

    listed = subprocess.run([*RF, "list"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "shouty" in listed.stdout and "shouty_strict" in listed.stdout and "rf-demo-plugin" in listed.stdout
    assert "broken_plugin" in listed.stderr and "broken on purpose" in listed.stderr
    assert "name clash" in listed.stderr and "exact_match" in listed.stderr

    data = tmp_path / "in.jsonl"
    data.write_text('{"completion": "HELLO"}\n{"completion": "hello"}\n')
    scored = subprocess.run([*RF, "score", "-r", "shouty", "-i", str(data), "-o", "-", "--param", "bonus=0.25"],
                            env=env, capture_output=True, text=True, cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert '"reward":1.25' in scored.stdout and '"reward":0.25' in scored.stdout

    tested = subprocess.run([*RF, "test", "shouty_strict"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert "2/2" in tested.stdout, tested.stdout + tested.stderr
    # the broken plugin installed next to it fails the run, naming itself (a plugin author's CI goes red)
    assert tested.returncode == 1 and "broken on purpose" in tested.stdout
