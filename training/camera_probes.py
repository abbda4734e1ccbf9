"""Cheap probes of camera use: the epsilon loss of a model with the true camera and with altered ones.

No sampling, so they can follow a training run (its validation log) and compare checkpoints
(``benchmarks/bench_camera_use.py``). Pairs are noised at fixed timesteps with fixed noise, and the
epsilon loss of the model (no conditioning dropout) is measured with:

- ``true``: the camera vector of the target relative to the input view;
- ``identity``: the camera vector of the input view itself (no motion; never seen in training);
- ``shuffled``: the camera vector of another pair of the batch;
- ``mirrored``: the target mirrored across the input camera's vertical plane (``mirror_target``), which
  turns a turn of +a about a point ahead of the camera into -a: the same |angle|, the other direction;
- ``no input view``: the true camera with the concat latent zeroed (what the input view is worth).

A model that ignores the camera scores the same on the first four rows; one that has learnt how far the
camera turns but not which way (issue 27) separates ``shuffled`` from ``true`` but not ``mirrored``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from zeronvs_core.model import ZeroNVSModel
from zeronvs_core.noise_schedule import add_noise, alphas_cumprod

from .objective import batch_conditioning

ROWS = ("true", "identity", "shuffled", "mirrored", "no input view")

# OpenGL camera frame (x right, y up, z backwards): the mirror x -> -x across the camera's vertical plane.
_MIRROR_X = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0]))


def mirror_target(target_c2w: torch.Tensor, cond_c2w: torch.Tensor) -> torch.Tensor:
    """``target_c2w [B,4,4]`` mirrored across the vertical plane of ``cond_c2w [B,4,4]`` (OpenGL c2w).

    With ``P = cond^-1 target`` the target's pose in the input camera's frame and ``M = diag(-1,1,1,1)``,
    the mirrored target is ``cond M P M``: ``M P M`` is again a rigid pose (the reflection is applied on
    both sides, so the rotation keeps determinant +1), its translation has x negated, and a rotation by
    +a about the camera's up axis becomes one by -a.
    """
    mirror = _MIRROR_X.to(target_c2w)
    return cond_c2w @ mirror @ torch.linalg.inv(cond_c2w) @ target_c2w @ mirror


@torch.no_grad()
def camera_losses(
    model: ZeroNVSModel, batch: dict[str, torch.Tensor], timesteps, seed: int = 0
) -> dict[int, dict[str, float]]:
    """``{t: {row: loss}}``: the epsilon loss at each timestep ``t`` of every row of ``ROWS``.

    ``batch`` is a collated batch of pairs (``data.pairs.collate_pairs``); ``seed`` fixes the VAE sample
    and the noise, so two checkpoints are compared on the same draws."""
    clip, concat, camera = batch_conditioning(model, batch)
    _, _, identity = batch_conditioning(model, {**batch, "target_c2w": batch["cond_c2w"]})
    mirrored_c2w = mirror_target(batch["target_c2w"], batch["cond_c2w"])
    _, _, mirrored = batch_conditioning(model, {**batch, "target_c2w": mirrored_c2w})
    generator = torch.Generator().manual_seed(seed)
    latents = model.encode(batch["target_image"].to(model.device) * 2.0 - 1.0, generator=generator)
    alphas = alphas_cumprod(model.config).to(model.device)
    rows = {
        "true": (camera, concat),
        "identity": (identity, concat),
        "shuffled": (camera.roll(1, 0), concat),
        "mirrored": (mirrored, concat),
        "no input view": (camera, torch.zeros_like(concat)),
    }
    losses = {}
    for t in timesteps:
        noise = torch.randn(latents.shape, generator=generator).to(model.device)
        noisy = add_noise(latents, noise, alphas[t])
        steps = torch.full((len(latents),), t, device=model.device)
        losses[t] = {
            name: F.mse_loss(model(noisy, steps, clip, cam, view), noise).item() for name, (cam, view) in rows.items()
        }
    return losses


def relative_gain(losses: dict[int, dict[str, float]], row: str) -> float:
    """Mean over timesteps of ``loss[row] / loss["true"] - 1``: how much worse the altered camera is."""
    gains = [by_row[row] / by_row["true"] - 1.0 for by_row in losses.values()]
    return sum(gains) / len(gains)
