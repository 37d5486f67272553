"""A training batch: a rollout with its rewards, advantages and the log-probs taken when it was sampled.

Rows stay grouped (G consecutive rows per prompt), so dynamic sampling can keep or drop whole groups.
``loss_mask`` is the completion mask minus the samples the scoring policy dropped and, with
``mask_truncated``, minus completions cut at ``max_new_tokens``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from rewardforge.trainer.rollout import Rollout
from rewardforge.trainer.scoring import Scored


@dataclass
class Batch:
    rollout: Rollout
    scored: Scored
    advantages: torch.Tensor  # [N]
    old_logprobs: torch.Tensor  # [N, T], from the no_grad pass at rollout time
    entropy: torch.Tensor  # [N, T]
    ref_logprobs: torch.Tensor | None  # [N, T] when beta > 0
    zero_std: torch.Tensor  # [groups] bool
    group_size: int
    mask_truncated: bool

    def __len__(self) -> int:
        return len(self.rollout)

    @property
    def loss_mask(self) -> torch.Tensor:
        mask = self.rollout.completion_mask & self.scored.kept.to(self.rollout.completion_mask.device)[:, None]
        if self.mask_truncated:
            mask = mask & ~self.rollout.truncated[:, None]
        return mask

    def rows(self, index: torch.Tensor) -> Batch:
        device_index = index.to(self.old_logprobs.device)
        return Batch(
            self.rollout.rows(device_index), self.scored.rows(index.cpu()), self.advantages[index.cpu()],
            self.old_logprobs[device_index], self.entropy[device_index],
            None if self.ref_logprobs is None else self.ref_logprobs[device_index],
            self.zero_std[index.cpu()[:: self.group_size] // self.group_size], self.group_size, self.mask_truncated,
        )

    def groups(self, keep: torch.Tensor) -> Batch:
        """The groups where ``keep`` ([groups] bool) is true."""
        rows = (keep.nonzero().squeeze(-1)[:, None] * self.group_size + torch.arange(self.group_size)).reshape(-1)
        return self.rows(rows)

    def micro_batches(self, size: int) -> Iterator[Batch]:
        for start in range(0, len(self), size):
            yield self.rows(torch.arange(start, min(start + size, len(self))))

    @staticmethod
    def concat(parts: list[Batch], pad_id: int) -> Batch:
        if len(parts) == 1:
            return parts[0]
        rollout = Rollout.concat([part.rollout for part in parts], pad_id)
        width = rollout.completion_ids.shape[1]

        def padded(t: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.pad(t, (0, width - t.shape[1]))

        refs = [part.ref_logprobs for part in parts]
        return Batch(
            rollout, Scored.concat([part.scored for part in parts]), torch.cat([part.advantages for part in parts]),
            torch.cat([padded(part.old_logprobs) for part in parts]), torch.cat([padded(part.entropy) for part in parts]),
            None if refs[0] is None else torch.cat([padded(ref) for ref in refs if ref is not None]),
            torch.cat([part.zero_std for part in parts]), parts[0].group_size, parts[0].mask_truncated,
        )
