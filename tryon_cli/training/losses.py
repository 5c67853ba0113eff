"""The training objective of section 3.6: L = L_LDM + lambda * L_TRA (Eq. 7).

`tra_loss` is Eq. 6 as a pure function of attention maps, so it can be tested without a model.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


def diffusion_target(scheduler, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """What the U-Net regresses (Eq. 1): the noise for epsilon-prediction (SD1.5), the velocity for v-prediction."""
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(latents, noise, timesteps)
    raise ValueError(f"unsupported prediction type {kind!r}")


def ldm_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 1: mean squared error, in float32 whatever the compute precision."""
    return F.mse_loss(prediction.float(), target.float())


def tra_loss(attention_maps: Sequence[torch.Tensor], gammas: Sequence[float]) -> torch.Tensor:
    """Temporal regularised attention loss, Eq. 6: sum_i sum_{j=2..T} gamma_i |A_i^(j) - A_i^(j-1)|.

    `attention_maps[i]` is the PASA self-attention map of layer i laid out (B, T, ..., Q, K): frames on dim 1,
    each row over the last dim a softmax distribution over keys (any head dims in between). The paper leaves the
    norm |.| unspecified; we take the L1 distance between corresponding attention rows (sum over keys, so each
    term lies in [0, 2]) averaged over queries, heads and the batch, so the loss does not grow with resolution.
    Frame pairs and layers are summed, as in Eq. 6. Clips of one frame give 0.
    """
    if len(attention_maps) != len(gammas):
        raise ValueError(f"{len(attention_maps)} attention maps but {len(gammas)} gammas")
    total = attention_maps[0].new_zeros((), dtype=torch.float32)
    for maps, gamma in zip(attention_maps, gammas):
        change = (maps[:, 1:].float() - maps[:, :-1].float()).abs().sum(dim=-1)  # (B, T-1, ..., Q)
        per_pair = change.transpose(0, 1).flatten(1).mean(dim=1)  # (T-1,)
        total = total + gamma * per_pair.sum()
    return total
