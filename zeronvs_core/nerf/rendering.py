"""Volume rendering of samples along rays with nerfacc's batched ``[rays, samples]`` functions (they run
on every device), composited over a solid background.

For sample intervals ``[t0_i, t1_i]`` with density ``sigma_i``: ``alpha_i = 1 - exp(-sigma_i (t1_i - t0_i))``,
transmittance ``T_i = prod_{j<i} (1 - alpha_j)``, weight ``w_i = T_i alpha_i``; then
``opacity = sum w_i``, ``depth = sum w_i (t0_i + t1_i) / 2`` (distance along the unit ray direction, not
z-depth, and not divided by the opacity, as threestudio), ``rgb = sum w_i c_i + (1 - opacity) background``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["RayRender", "render_along_rays"]


@dataclass
class RayRender:
    """Per-ray outputs of ``render_along_rays``."""

    rgb: torch.Tensor
    """``[R,3]`` composited colour."""
    depth: torch.Tensor
    """``[R]`` expected distance along the ray, weighted by the (un-normalised) ray weights."""
    opacity: torch.Tensor
    """``[R]`` accumulated weight, in [0,1]."""
    weights: torch.Tensor
    """``[R,S]`` weight of each sample."""
    transmittance: torch.Tensor
    """``[R,S]`` transmittance before each sample (what the proposal loss is trained against)."""


def render_along_rays(
    t_starts: torch.Tensor,
    t_ends: torch.Tensor,
    densities: torch.Tensor,
    colors: torch.Tensor,
    background: torch.Tensor,
) -> RayRender:
    """Composite samples along each ray.

    Args:
        t_starts, t_ends: ``[R,S]`` sample interval bounds, distances along unit ray directions.
        densities: ``[R,S]`` non-negative densities.
        colors: ``[R,S,C]`` sample colours (C = 3 for RGB; normals work too).
        background: ``[C]`` or ``[R,C]`` colour behind the scene.
    """
    from nerfacc import render_weight_from_density

    weights, transmittance, _ = render_weight_from_density(t_starts, t_ends, densities)
    opacity = weights.sum(dim=-1)
    depth = (weights * (t_starts + t_ends) * 0.5).sum(dim=-1)
    rgb = (weights[..., None] * colors).sum(dim=-2) + (1.0 - opacity[..., None]) * background
    return RayRender(rgb=rgb, depth=depth, opacity=opacity, weights=weights, transmittance=transmittance)
