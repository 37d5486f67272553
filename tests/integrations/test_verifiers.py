"""The verifiers adapter inside verifiers' own scoring: a Task with rewards plugged by path through
`TaskConfig(rewards={... RewardFunctionConfig(fn=...)})`, then `await task.score(trace)` on traces
built by hand, as a harness would have recorded them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

vf = pytest.importorskip("verifiers.v1", reason="the verifiers tests need verifiers >= 0.4 (in the dev extra)")

from rf_integration_support import DATA  # noqa: E402
from verifiers.v1.configs.agent import AgentConfig  # noqa: E402
from verifiers.v1.configs.task import RewardFunctionConfig, TaskConfig  # noqa: E402
from verifiers.v1.graph import MessageNode  # noqa: E402
from verifiers.v1.task import Task, WireTaskData  # noqa: E402
from verifiers.v1.trace import AgentInfo, Trace, TraceTask  # noqa: E402
from verifiers.v1.types import AssistantMessage, ToolMessage, UserMessage  # noqa: E402

import rewardforge as rf  # noqa: E402

PLUGGED = str(DATA / "vf_rewards.py")


def trace_for(data: Any, *replies: Any) -> Any:
    """A finished trace: the user's prompt, then the messages the agent produced."""
    nodes = [MessageNode(message=UserMessage(content=data.prompt))]
    for message in replies:
        nodes.append(MessageNode(parent=len(nodes) - 1, message=message, sampled=isinstance(message, AssistantMessage)))
    return Trace(task=TraceTask(type="Task", data=data), agent=AgentInfo(config=AgentConfig()), nodes=nodes)


def task_for(data: Any, **rewards: float) -> Any:
    config = TaskConfig(rewards={name: RewardFunctionConfig(fn=f"{PLUGGED}:{name}", weight=weight)
                                 for name, weight in rewards.items()})
    return Task(data, config)


CASES = [("Paris", "Paris"), ("Lyon", "Paris"), ("Yes", None), ("4 5 4 5 4", "4")]


@pytest.mark.parametrize(("reply", "answer"), CASES, ids=["right", "wrong", "no-answer", "repeats"])
def test_task_score_records_what_rf_gives(reply: str, answer: str | None) -> None:
    data = WireTaskData(prompt="Capital of France?", answer=answer) if answer else WireTaskData(prompt="Capital?")
    trace = trace_for(data, AssistantMessage(content=reply))
    asyncio.run(task_for(data, correct=1.0, shaped=0.5).score(trace))

    # metrics and reasons go under the reward's own name (`reward_fn(..., name=)` changes it)
    for name, reward, prefix in (("correct", "exact_match", "exact_match"),
                                 ("shaped", str(DATA / "qa_stack.yaml"), "qa_stack")):
        [score] = rf.score(reward, [{"prompt": "Capital of France?", "completion": reply, "reference": answer}])
        assert trace.rewards[name].score == pytest.approx(score.value if score.ok else 0.0), (name, score)
        assert trace.metrics[f"{prefix}/skipped"] == float(score.status == "skipped")
        assert trace.metrics[f"{prefix}/error"] == float(score.status == "error")
        if not score.ok:
            assert trace.info["rewardforge"][prefix]["reason"] == score.reason
        for component, value in score.components.items():  # what the stack computed, and only that
            assert trace.metrics.get(f"{prefix}/{component}") == (pytest.approx(value) if value is not None else None)
    assert trace.rewards["shaped"].weight == 0.5
    # verifiers sums every reward on a trace: the stack is one reward, its parts are metrics
    assert set(trace.rewards) == {"correct", "shaped"}
    assert trace.reward == pytest.approx(trace.rewards["correct"].value + trace.rewards["shaped"].value)


def test_the_last_assistant_message_is_judged_not_a_tool_result() -> None:
    data = WireTaskData(prompt="Capital of France?", answer="Paris")
    trace = trace_for(data, AssistantMessage(content="Let me look it up"), ToolMessage(content="Lyon", tool_call_id="1"),
                      AssistantMessage(content="Paris"))
    asyncio.run(task_for(data, correct=1.0).score(trace))
    assert trace.rewards["correct"].score == 1.0


def test_raise_policy_becomes_a_task_error() -> None:
    data = WireTaskData(prompt="Capital?")
    trace = trace_for(data, AssistantMessage(content="Paris"))
    with pytest.raises(Exception, match="skipped"):
        asyncio.run(task_for(data, strict=1.0).score(trace))
