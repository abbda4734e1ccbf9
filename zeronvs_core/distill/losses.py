"""The losses of a distillation step: score distillation (spec section 5) and the regularisers, with their
weights as one explicit mapping from term name to ``DistillConfig`` field."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..model import ZeroNVSModel
from ..nerf.scene import SceneRender
from .config import DistillConfig

__all__ = ["loss_weights", "regularisers", "sds_input", "sds_loss"]


def loss_weights(config: DistillConfig) -> dict[str, float]:
    """The weight of every loss term by its name in ``DistillResult.history`` (``proposal`` is not weighted:
    the proposal network trains on its own loss)."""
    return {
        "sds": config.lambda_sds,
        "rgb": config.lambda_rgb,
        "normal_smooth": config.lambda_normal_smooth,
        "orient": config.lambda_orient,
        "opaque": config.lambda_opaque,
    }


def sds_loss(latents: torch.Tensor, noise: torch.Tensor, eps_guided: torch.Tensor, alphas_cumprod_t: torch.Tensor):
    """Score distillation: ``0.5 sum(z - stopgrad(z - g))^2 / B`` with ``g = w(t) (eps_guided - noise)``,
    ``w(t) = 1 - alpha_bar_t``, so the gradient reaching ``latents [B,4,h,w]`` is ``g / B``."""
    weight = (1.0 - alphas_cumprod_t).view(-1, 1, 1, 1)
    grad = torch.nan_to_num(weight * (eps_guided - noise))
    target = (latents - grad).detach()
    return 0.5 * F.mse_loss(latents, target, reduction="sum") / latents.shape[0]


def sds_input(rgb: torch.Tensor, model: ZeroNVSModel) -> torch.Tensor:
    """Renders ``[B,H,W,3]`` in [0,1] as the VAE's input: ``[B,3,r,r]`` in [-1,1] at the model's resolution."""
    resolution = model.config.resolution
    return (
        F.interpolate(rgb.permute(0, 3, 1, 2), (resolution, resolution), mode="bilinear", align_corners=False) * 2 - 1
    )


def regularisers(sds_view: SceneRender, ref_view: SceneRender, config: DistillConfig) -> dict[str, torch.Tensor]:
    """Normal smoothness and orientation on both passes (when computed), opacity entropy when weighted."""
    terms = {}
    if sds_view.normal is not None:
        terms["normal_smooth"] = _normal_smoothness(sds_view.normal) + _normal_smoothness(ref_view.normal)
        terms["orient"] = sds_view.orient + ref_view.orient
    if config.lambda_opaque > 0:
        terms["opaque"] = _opacity_entropy(sds_view.opacity) + _opacity_entropy(ref_view.opacity)
    return terms


def _normal_smoothness(normal: torch.Tensor) -> torch.Tensor:
    """Mean squared finite differences of a normal image ``[B,H,W,3]`` along H plus along W."""
    return (normal[:, 1:] - normal[:, :-1]).square().mean() + (normal[:, :, 1:] - normal[:, :, :-1]).square().mean()


def _opacity_entropy(opacity: torch.Tensor) -> torch.Tensor:
    """Binary entropy of each pixel's opacity ``[B,H,W]`` (clamped to [1e-3, 1 - 1e-3]), averaged."""
    clamped = opacity.clamp(1e-3, 1.0 - 1e-3)
    return F.binary_cross_entropy(clamped, clamped)
