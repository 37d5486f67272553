"""Row-wise softmax statistics over column blocks, in fp32 (fp64 for fp64 inputs) PyTorch: the maths of the
chunked paths.

A block is a ``[rows, cols]`` slice of logits already divided by the temperature. Statistics are merged
with an online logsumexp (running max starts at -inf), so the full row never has to exist at once; the
backward pass recomputes each block and turns it into its gradient in place. Only the per-row logsumexp
(and the entropy, when asked for) is kept between forward and backward. The logsumexp is kept in two
parts, the row max and log(sum(exp(z - max))): ``(z - max) - log_sum`` is then as exact as torch's
``log_softmax``, where ``z - (max + log_sum)`` would lose the ulp of max |z| (2e-6 at |z| = 20).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class RowStats:
    """Running statistics for a set of rows: max m, sum of exp(z - m), sum of exp(z - m) * (z - m), target z."""

    running_max: torch.Tensor
    sum_exp: torch.Tensor
    sum_exp_shifted: torch.Tensor | None
    target: torch.Tensor

    @classmethod
    def empty(cls, rows: int, device: torch.device, with_entropy: bool, dtype: torch.dtype = torch.float32
              ) -> RowStats:
        zeros = torch.zeros(rows, dtype=dtype, device=device)
        return cls(
            running_max=torch.full((rows,), float("-inf"), dtype=dtype, device=device),
            sum_exp=zeros,
            sum_exp_shifted=zeros.clone() if with_entropy else None,
            target=zeros.clone(),
        )

    def update(self, block: torch.Tensor, index: torch.Tensor, col_start: int) -> None:
        """Fold one block (rows x cols, fp32 or fp64, temperature applied) into the statistics; ``block`` is consumed."""
        cols = block.shape[1]
        local = index - col_start
        inside = (local >= 0) & (local < cols)
        picked = block.gather(1, local.clamp(0, cols - 1).unsqueeze(1)).squeeze(1)
        self.target = torch.where(inside, picked, self.target)

        new_max = torch.maximum(self.running_max, block.amax(dim=1))
        rescale = torch.exp(self.running_max - new_max)
        if self.sum_exp_shifted is not None:
            shifted = block.sub_(new_max.unsqueeze(1))
            weighted = torch.exp(shifted)
            # Re-centre the old sum on the new max; the first block has nothing to move (and -inf * 0 is nan).
            moved = torch.where(self.sum_exp > 0, self.running_max - new_max, 0.0) * self.sum_exp
            # exp(-inf) * -inf is nan for -inf logits; those columns carry no probability, so nansum drops them.
            self.sum_exp_shifted = (self.sum_exp_shifted + moved) * rescale + shifted.mul_(weighted).nansum(dim=1)
            self.sum_exp = self.sum_exp * rescale + weighted.sum(dim=1)
        else:
            block.sub_(new_max.unsqueeze(1)).exp_()
            self.sum_exp = self.sum_exp * rescale + block.sum(dim=1)
        self.running_max = new_max

    def finish(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(log-prob of the target, row max, log-sum, entropy or None); logsumexp = row max + log-sum."""
        log_sum = torch.log(self.sum_exp)
        entropy = None if self.sum_exp_shifted is None else log_sum - self.sum_exp_shifted / self.sum_exp
        return (self.target - self.running_max) - log_sum, self.running_max, log_sum, entropy


def block_grad_(
    block: torch.Tensor,
    index: torch.Tensor,
    col_start: int,
    row_max: torch.Tensor,
    log_sum: torch.Tensor,
    grad_logp: torch.Tensor,
    entropy: torch.Tensor | None,
    grad_entropy: torch.Tensor | None,
    inv_temperature: float,
) -> torch.Tensor:
    """Overwrite a block (fp32 or fp64) of scaled logits with d(loss)/d(raw logits) and return it.

    d logp_y / dz_j = 1[j=y] - p_j and d H / dz_j = -p_j (log p_j + H); the chain through z = x / T adds 1/T.
    """
    block.sub_(row_max.unsqueeze(1)).sub_(log_sum.unsqueeze(1))  # log p
    probs = torch.exp(block)
    if entropy is not None and grad_entropy is not None:
        block.add_(entropy.unsqueeze(1)).mul_(grad_entropy.neg().unsqueeze(1))
        block.sub_(grad_logp.unsqueeze(1)).mul_(probs)
        grad = block
    else:
        grad = probs.mul_(grad_logp.neg().unsqueeze(1))
    cols = grad.shape[1]
    local = index - col_start
    rows = ((local >= 0) & (local < cols)).nonzero().squeeze(1)
    grad[rows, local[rows]] += grad_logp[rows]
    if inv_temperature != 1.0:
        grad.mul_(inv_temperature)
    return grad
