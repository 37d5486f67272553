"""Fused ops for RL training that never materialise [tokens x vocab] float32 copies.

Each op has a PyTorch reference, a chunked PyTorch path (the CPU default) and a Triton path (the CUDA
default); ``RF_KERNELS=reference|chunked|triton`` or ``impl=`` forces one (see ``dispatch``).
For training, ``fused_linear_grpo_loss`` goes from hidden states to the loss in one pass (gradients built
in forward); ``fused_linear_logprobs`` + ``grpo_loss`` is the general pair (recomputes in backward).
"""

from .dispatch import KERNEL_PATHS, KernelPath, resolve_path
from .fused_linear import fused_linear_logprobs
from .fused_linear_grpo import fused_linear_grpo_loss
from .grpo_loss import (
    IMPORTANCE_SAMPLING_LEVELS,
    LOSS_TYPES,
    GRPOLossOutput,
    GRPOMetrics,
    grpo_loss,
    grpo_loss_from_logits,
)
from .logprobs import selective_log_softmax

__all__ = [
    "IMPORTANCE_SAMPLING_LEVELS",
    "KERNEL_PATHS",
    "LOSS_TYPES",
    "GRPOLossOutput",
    "GRPOMetrics",
    "KernelPath",
    "fused_linear_grpo_loss",
    "fused_linear_logprobs",
    "grpo_loss",
    "grpo_loss_from_logits",
    "resolve_path",
    "selective_log_softmax",
]
