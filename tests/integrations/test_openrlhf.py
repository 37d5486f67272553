"""The OpenRLHF adapter inside OpenRLHF 0.11's own code: `SingleTurnAgentExecutor` loads the file
`rewardforge export openrlhf` wrote (its `--remote_rm_url x.py` mode), calls `reward_func` on the
query it decoded with special tokens kept, and `_process_response_into_experience` turns the reply
into the Experience the trainer learns from.

OpenRLHF needs deepspeed, flash-attn and vLLM (GPU packages), so `scripts/setup_openrlhf.sh`
installs the package alone into `.venv-openrlhf`. The generation engine (vLLM) and Ray are stubbed,
as OpenRLHF's own tests/test_agent.py does; everything between them is OpenRLHF's code.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rf_integration_support import DATA, openrlhf_modules, word_tokenizer  # noqa: E402
from rf_test_support import RF  # noqa: E402

import rewardforge as rf  # noqa: E402
from rewardforge.integrations.common import StatusPolicy  # noqa: E402
from rewardforge.integrations.openrlhf import request_samples, response_from_query, to_response  # noqa: E402

STACK = str(DATA / "qa_stack.yaml")


@pytest.fixture(scope="module")
def openrlhf() -> Any:
    """OpenRLHF's agent and samples-generator modules, GPU-only neighbours stubbed."""
    patch = pytest.MonkeyPatch()
    yield openrlhf_modules(patch)
    patch.undo()


@pytest.fixture(scope="module")
def reward_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("openrlhf") / "reward.py"
    done = subprocess.run([*RF, "export", "openrlhf", "--reward", STACK, "-o", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return path


class Engine:
    """Stands in for vLLM: 'generates' the given response's tokens, then EOS."""

    def __init__(self, tokenizer: Any, response: str) -> None:
        self.ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]

    async def generate(self, token_ids: list[int], params: Any, **kwargs: Any) -> Any:
        return SimpleNamespace(outputs=[SimpleNamespace(token_ids=self.ids, finish_reason="stop", logprobs=None)])


CASES = [("Paris", "Paris"), ("Yes", ""), ("4 5 4 5 4", "4"), ("Lyon", "Paris")]


@pytest.mark.parametrize(("response", "label"), CASES, ids=["right", "no-label", "repeats", "wrong"])
def test_openrlhf_executes_the_exported_reward_file(openrlhf: Any, reward_file: Path, response: str,
                                                    label: str) -> None:
    tok = word_tokenizer()
    prompt = tok.apply_chat_template([{"role": "user", "content": "Task capital of France ?"}], tokenize=False,
                                     add_generation_prompt=True)
    executor = openrlhf.agent.SingleTurnAgentExecutor(remote_rm_url=str(reward_file))
    assert executor.reward_func is not None, "OpenRLHF loaded reward_func from the file"
    params = SimpleNamespace(max_tokens=8, logprobs=None)
    out = asyncio.run(executor.execute(prompt, label or None, params, 64, tok, Engine(tok, response)))

    [score] = rf.score(STACK, [{"completion": response, "reference": label or None}])
    want = score.value if score.ok else 0.0
    assert out["reward"].tolist() == pytest.approx([want]) and out["scores"].tolist() == pytest.approx([want])
    logs = {k: v.tolist() for k, v in out["extra_logs"].items()}
    assert logs["rf_ok"] == [float(score.ok)] and logs["rf_skipped"] == [float(score.status == "skipped")]
    assert {"gated", "gated.format", "gated.accuracy", "repetition"} <= set(logs)

    experience = openrlhf.samples_generator.SamplesGenerator._process_response_into_experience(None, out, max_len=64)
    assert experience.rewards.flatten().tolist() == pytest.approx([want])
    for key in logs:  # OpenRLHF turns each extra log into a one-element tensor for its metrics
        assert experience.info[key].flatten().tolist() == pytest.approx(logs[key]), key
        assert math.isfinite(experience.info[key].item())


def test_query_is_split_after_the_prompt_and_special_tokens_go() -> None:
    prompt = "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n"
    assert response_from_query(prompt + "The answer is 4.<|im_end|><|endoftext|>", prompt) == "The answer is 4."
    # a BOS the prompt string lacks does not hide the prompt
    assert response_from_query("<s>" + prompt + "4</s>", prompt) == "4"
    assert response_from_query("4<|eot_id|>", prompt) is None, "a query without its prompt is not guessed at"
    assert response_from_query("Q? 4 <EOT>", "Q?", special_tokens=["<EOT>"]) == "4"
    # a decode that respaces the prompt (word-level tokenizers) still splits where the prompt ends
    assert response_from_query("<|im_start|> user Q ? <|im_end|> <|im_start|> assistant 4 </s>", prompt) == "4"


def test_http_shape_is_numeric_and_keeps_order() -> None:
    parsed = request_samples(["P: 2 xx", "P: 3", "nope"], ["P:", "P:", "P:"], ["2", "[1, 2]", "2"],
                             label_format="json")
    assert [type(p).__name__ for p in parsed] == ["Sample", "Sample", "Score"]
    scores = [rf.Score.of(1.0, components={"a": 1.0}), rf.Score.skipped("no"), parsed[2]]
    reply = to_response(scores, policy=StatusPolicy.make(0.0, -1.0, allow_none=False), components=["a"],
                        reward_name="r")
    assert reply["rewards"] == [1.0, 0.0, -1.0] and reply["scores"] == reply["rewards"]
    assert reply["extra_logs"] == {"a": [1.0, 0.0, 0.0], "rf_ok": [1.0, 0.0, 0.0],
                                   "rf_skipped": [0.0, 1.0, 0.0], "rf_error": [0.0, 0.0, 1.0]}


def test_export_refuses_a_bad_reward_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run([*RF, "export", "openrlhf", "--reward", "no_such_reward", "-o", str(tmp_path / "r.py")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no_such_reward" in done.stderr and not (tmp_path / "r.py").exists()


def test_the_module_itself_is_a_reward_file_named_by_the_environment(openrlhf: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import rewardforge.integrations.openrlhf as module

    monkeypatch.setenv("REWARDFORGE_REWARD", "exact_match")
    monkeypatch.setenv("REWARDFORGE_PARAMS", '{"case_sensitive": true}')
    executor = openrlhf.agent.SingleTurnAgentExecutor(remote_rm_url=module.__file__)
    reply = executor.reward_func(["Q: Paris</s>", "Q: paris</s>"], ["Q:", "Q:"], ["Paris", "Paris"])
    assert reply["rewards"].tolist() == [1.0, 0.0], "case_sensitive came from REWARDFORGE_PARAMS"
