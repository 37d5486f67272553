"""The trainers' own wire protocols on the reward server: OpenRLHF's `/get_reward` and slime's `/slime`.

The conversions are the adapters' (`integrations.openrlhf`, `integrations.slime`), the same code
their in-process reward files run, so a reward scores the same whether a trainer imports it or
calls it over HTTP. Only the HTTP part lives here: parsing, limits, picking the reward
(`?reward=NAME`, else the server's default), and merging each request into the shared batches.

- OpenRLHF: `{"query": [...], "prompts": [...], "labels": [...]}` -> `{"rewards", "scores",
  "extra_logs"}`. Each query is prompt + response with special tokens kept; the prompt and the
  tokens (`--strip-token`) are removed to get the response. Skipped and errored samples score
  `--on-skipped` / `--on-error`, and `extra_logs` carries `rf_ok` / `rf_skipped` / `rf_error` and
  each component, so OpenRLHF's logged means show how many were not ok.
- slime: `{"prompt", "response", "label"}` (and `metadata`, `group_index`) -> the reward, a number;
  with `?reward_key=KEY` (slime's `--reward-key`), a dict with the value under KEY, each component
  and the status flags.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from rewardforge.core.types import Reward, Sample
from rewardforge.integrations.common import StatusPolicy, check_component_names, composite_component_names
from rewardforge.integrations.openrlhf import merge_scores, request_samples, to_response
from rewardforge.integrations.server_guard import ApiError, json_response, read_body
from rewardforge.integrations.slime import to_reward, to_sample

if TYPE_CHECKING:
    from rewardforge.integrations.server import RewardService


class OpenRLHFRequest(BaseModel):
    """OpenRLHF's remote reward request (newer fields it may add are ignored)."""

    model_config = ConfigDict(extra="ignore")

    query: list[str]
    prompts: list[Any] | None = None
    labels: list[Any] | None = None


class SlimeRequest(BaseModel):
    """slime's remote reward request: one sample."""

    model_config = ConfigDict(extra="ignore")

    prompt: Any = ""
    response: str
    label: Any = None
    metadata: dict[str, Any] | None = None
    group_index: int | str | None = None


def component_names(rewards: list[Reward]) -> dict[str, list[str]]:
    """Each reward's component names, checked once at start-up against the keys the protocols report."""
    names = {reward.name: composite_component_names(reward) for reward in rewards}
    for components in names.values():
        check_component_names(components)
    return names


def add_protocol_routes(app: FastAPI, service: RewardService, guard: Callable[[Request], None]) -> None:
    """`POST /get_reward` and `POST /slime` on `app`, scoring through `service` (a RewardService)."""
    settings = service.settings
    policy = StatusPolicy.make(settings.on_skipped, settings.on_error, allow_none=False, trainer="the server")
    components = component_names([batcher.reward for batcher in service.batchers.values()])

    @app.post("/get_reward")
    async def openrlhf(request: Request) -> Response:
        guard(request)
        body = await read_body(request, OpenRLHFRequest, max_bytes=settings.max_body_bytes, counted="query",
                               max_items=settings.max_samples)
        prompts = body.prompts if body.prompts is not None else [""] * len(body.query)
        for field, values in (("prompts", prompts), ("labels", body.labels)):
            if values is not None and len(values) != len(body.query):
                raise ApiError(422, field, f"{len(values)} {field} for {len(body.query)} queries; they must match")
        parsed = request_samples(body.query, prompts, body.labels, special_tokens=settings.strip_tokens,
                                 label_format=settings.label_format)
        batcher = service.batcher(request.query_params.get("reward"))
        scores = await batcher.score([item for item in parsed if isinstance(item, Sample)])
        name = batcher.reward.name
        reply = to_response(merge_scores(parsed, scores), policy=policy, components=components[name],
                            reward_name=name)
        return json_response(reply)

    @app.post("/slime")
    async def slime(request: Request) -> Response:
        guard(request)
        body = await read_body(request, SlimeRequest, max_bytes=settings.max_body_bytes)
        batcher = service.batcher(request.query_params.get("reward"))
        [verdict] = await batcher.score([to_sample(body.model_dump())])
        value = policy.value(verdict)
        reward = to_reward(verdict, value if value is not None else 0.0, components[batcher.reward.name],
                           request.query_params.get("reward_key"))
        return json_response(reward)
