"""Judge cost on a GRPO-shaped batch: `llm_judge` vs the plain patterns users write with the openai SDK.

TRL (1.16) ships no LLM judge; a TRL user writes a reward function that calls the judge once
per completion. We run, side by side in one process against the same loopback OpenAI-compatible
server (tests/judge_server.py, each reply delayed by --latency seconds to stand in for the judge's
generation time, requests served concurrently like vLLM does):

- `sequential`: a synchronous reward function, one `client.chat.completions.create` per completion;
- `gather`: an async reward function, one call per completion, all in flight at once;
- `llm_judge`: rewardforge's reward (dedup of identical judge prompts, max_concurrency=32), cold
  cache, then the same batch again (warm cache: a re-scored or resumed batch).

The batch: --prompts prompts x --group completions whose final answers repeat within a group, as
GRPO rollouts do. Reported: wall seconds and judge calls (server hits).

    .venv/bin/python benchmarks/judge_grpo_batch.py [--prompts 32] [--group 8] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import openai

from rewardforge.core.cache import reset_shared_caches
from rewardforge.core.types import Sample
from rewardforge.rewards.judge import LLMJudge
from rewardforge.verifiers.judge.prompts import builtin_rubric, quote, render

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from judge_server import JudgeServer, Slow, Verdict, running_judge_server  # noqa: E402

RESULTS = HERE / "results" / "judge_grpo_batch.json"


def make_batch(prompts: int, group: int, seed: int = 0) -> list[Sample]:
    rng = random.Random(seed)
    samples = []
    for p in range(prompts):
        answers = [f"After working it out, the answer is {p + k}." for k in range(3)]
        for _ in range(group):
            samples.append(Sample(prompt=f"Problem {p}: compute the value.", completion=rng.choice(answers),
                                  group_id=p))
    return samples


def messages_for(sample: Sample) -> list[dict[str, Any]]:
    """The same judge prompt `llm_judge` sends, so every contender asks the same question."""
    raw = {"prompt": sample.prompt_text, "completion": sample.completion_text, "reference": None}
    return render(builtin_rubric("binary"), {
        "prompt": quote(sample.prompt_text, "task"), "completion": quote(sample.completion_text), "reference": None,
        "raw": raw, "metadata": {}, "group_id": None, "logprobs": False, "scale_min": 1, "scale_max": 10,
    })


def sequential(server: JudgeServer, samples: list[Sample]) -> list[float]:
    client = openai.OpenAI(base_url=server.base_url, api_key="EMPTY")
    values = []
    for sample in samples:
        reply = client.chat.completions.create(model="judge-model", messages=messages_for(sample),  # type: ignore[arg-type]
                                               temperature=0.0, max_tokens=8)
        values.append(1.0 if (reply.choices[0].message.content or "").strip() == "Yes" else 0.0)
    client.close()
    return values


def gather(server: JudgeServer, samples: list[Sample]) -> list[float]:
    async def main() -> list[float]:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="EMPTY")

        async def one(sample: Sample) -> float:
            reply = await client.chat.completions.create(model="judge-model", messages=messages_for(sample),  # type: ignore[arg-type]
                                                         temperature=0.0, max_tokens=8)
            return 1.0 if (reply.choices[0].message.content or "").strip() == "Yes" else 0.0

        try:
            return list(await asyncio.gather(*(one(s) for s in samples)))
        finally:
            await client.close()

    return asyncio.run(main())


def ours(server: JudgeServer, samples: list[Sample]) -> list[float]:
    scores = LLMJudge(base_url=server.base_url, model="judge-model", max_tokens=8).score(samples)
    return [s.value if s.value is not None else float("nan") for s in scores]


def timed(server: JudgeServer, fn: Callable[[JudgeServer, list[Sample]], list[float]],
          samples: list[Sample]) -> dict[str, Any]:
    hits_before = server.hits
    start = time.perf_counter()
    values = fn(server, samples)
    return {"seconds": round(time.perf_counter() - start, 3), "judge_calls": server.hits - hits_before,
            "mean_reward": round(sum(values) / len(values), 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    samples = make_batch(args.prompts, args.group)
    unique = len({(s.prompt_text, s.completion_text) for s in samples})
    results: dict[str, Any] = {}
    with running_judge_server() as server:
        server.default = lambda request: Slow(args.latency, Verdict("Yes" if "is 1" in request.user_text else "No"))
        reset_shared_caches()  # llm_judge starts cold, as in a fresh process
        results["sequential"] = timed(server, sequential, samples)
        results["gather"] = timed(server, gather, samples)
        results["llm_judge_cold"] = timed(server, ours, samples)
        results["llm_judge_warm"] = timed(server, ours, samples)
    report = {
        "benchmark": "judge_grpo_batch",
        "machine": "2-core x86_64 CPU, 24 GiB, shared with other jobs",
        "python": platform.python_version(),
        "openai": version("openai"),
        "batch": {"prompts": args.prompts, "group": args.group, "samples": len(samples), "unique_judge_prompts": unique},
        "server_latency_s": args.latency,
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
