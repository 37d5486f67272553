"""Input builders and comparison helpers shared by the kernel tests."""

from __future__ import annotations

import torch

# fp32 agreement between a streaming path and the reference: a few ulps of accumulated rounding.
RTOL = 1e-5
ATOL = 1e-5


def assert_close(actual: torch.Tensor | None, expected: torch.Tensor | None, what: str,
                 rtol: float = RTOL, atol: float = ATOL) -> None:
    assert actual is not None and expected is not None, f"{what}: missing tensor"
    torch.testing.assert_close(actual.detach().cpu().float(), expected.detach().cpu().float(), rtol=rtol,
                               atol=atol, msg=lambda m: f"{what}: {m}")


def make_logits(shape: tuple[int, ...], vocab: int, kind: str, generator: torch.Generator) -> tuple[torch.Tensor,
                                                                                                    torch.Tensor]:
    """(logits [*shape, vocab], index [*shape]) of a named kind: normal, peaked, negative, wide."""
    logits = torch.randn(*shape, vocab, generator=generator)
    index = torch.randint(0, vocab, shape, generator=generator)
    if kind == "peaked":  # the chosen token dominates: log-probs near 0, everything else near -15
        logits.scatter_add_(-1, index.unsqueeze(-1), torch.full((*shape, 1), 15.0))
    elif kind == "negative":  # all logits far below zero: a max started at 0 instead of -inf would break
        logits = logits - 60.0
    elif kind == "wide":
        logits = logits * 8.0
    return logits, index
