"""``Scene``: the radiance field and its proposal network, rendered from cameras.

Cameras are OpenGL camera-to-world ``[B,4,4]`` with a vertical FOV in degrees (see ``cameras.py``).
Rays start at the camera centre; distances (and depth) are along unit ray directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..cameras import camera_rays
from .field import FieldConfig, ProposalNetwork, RadianceField
from .ray_sampling import ProposalLevel, sample_along_rays
from .rendering import render_along_rays

__all__ = ["SceneRender", "Scene"]


@dataclass
class SceneRender:
    """Images rendered from ``B`` cameras at ``H x W`` (channels last, as rays are laid out)."""

    rgb: torch.Tensor
    """``[B,H,W,3]`` composited colour in [0,1]."""
    depth: torch.Tensor
    """``[B,H,W]`` expected distance along each ray (0 where nothing is hit)."""
    opacity: torch.Tensor
    """``[B,H,W]`` accumulated weight."""
    normal: torch.Tensor | None
    """``[B,H,W,3]`` ``(normalize(sum w n) + 1) / 2 * opacity`` when normals were asked for."""
    orient: torch.Tensor | None
    """Orientation penalty ``sum w.detach() max(0, n.d)^2 / #(opacity > 0)`` when normals were asked for."""
    proposal_loss_inputs: tuple[torch.Tensor, torch.Tensor, list[ProposalLevel]]
    """``(edges, transmittance, levels)`` for ``ray_sampling.proposal_loss``."""


class Scene(nn.Module):
    """A distilled scene: ``RadianceField`` + ``ProposalNetwork`` with the official sampling settings."""

    def __init__(self, config: FieldConfig | None = None):
        super().__init__()
        config = config if config is not None else FieldConfig()
        self.config = config
        self.field = RadianceField(config)
        self.proposal = ProposalNetwork(config)

    def render(
        self,
        c2w: torch.Tensor,
        fov_deg,
        height: int,
        width: int,
        background: torch.Tensor,
        near: float,
        far: float,
        proposal_samples: int = 64,
        samples: int = 64,
        stratified: bool = False,
        normals: bool = False,
        generator: torch.Generator | None = None,
        ray_offset: torch.Tensor | None = None,
    ) -> SceneRender:
        """Render ``B`` cameras.

        Args:
            c2w: ``[B,4,4]`` OpenGL camera-to-world.
            fov_deg: vertical FOV, float or ``[B]``.
            height, width: image size, pixels.
            background: ``[3]`` or ``[B,3]`` solid background colour.
            near, far: sampling range along the rays (official in-the-wild: 0.5, 1000).
            proposal_samples, samples: proposal and final samples per ray (official 64 and 64).
            stratified: jitter samples (training).
            normals: also compute analytic normals, the normal image and the orientation penalty.
            generator: random source of the jitter.
            ray_offset: ``[2,3]`` constant offsets added to every ray's origin and direction (before the
                direction is renormalised), threestudio's ``rays_noise_scale`` jitter of the input view.
        """
        origins, directions = camera_rays(c2w, fov_deg, height, width)
        if ray_offset is not None:
            origins = origins + ray_offset[0].to(origins)
            directions = F.normalize(directions + ray_offset[1].to(directions), dim=-1)
        batch = origins.shape[0]
        origins, directions = origins.reshape(-1, 3), directions.reshape(-1, 3)
        rays = origins.shape[0]

        def proposal_density(t_starts, t_ends):
            points = origins[:, None] + directions[:, None] * ((t_starts + t_ends) / 2)[..., None]
            return self.proposal(points.reshape(-1, 3)).reshape(t_starts.shape)

        t_starts, t_ends, levels, edges = sample_along_rays(
            [proposal_density], [proposal_samples], samples, rays, near, far, stratified, generator, origins.device
        )
        points = (origins[:, None] + directions[:, None] * ((t_starts + t_ends) / 2)[..., None]).reshape(-1, 3)
        if normals:
            density, albedo, normal = self.field.density_and_normals(points)
        else:
            density, albedo = self.field(points)
        background = background.reshape(-1, 3).expand(batch, 3).repeat_interleave(height * width, dim=0)
        out = render_along_rays(
            t_starts, t_ends, density.reshape(rays, samples), albedo.reshape(rays, samples, 3), background
        )
        normal_image = orient = None
        if normals:
            normal = normal.reshape(rays, samples, 3)
            summed = (out.weights[..., None] * normal).sum(dim=1)
            normal_image = (F.normalize(summed, dim=-1) + 1.0) / 2.0 * out.opacity[:, None]
            facing = (normal * directions[:, None]).sum(dim=-1).clamp_min(0.0) ** 2
            orient = (out.weights.detach() * facing).sum() / (out.opacity > 0).sum().clamp_min(1)
            normal_image = normal_image.reshape(batch, height, width, 3)
        return SceneRender(
            rgb=out.rgb.reshape(batch, height, width, 3),
            depth=out.depth.reshape(batch, height, width),
            opacity=out.opacity.reshape(batch, height, width),
            normal=normal_image,
            orient=orient,
            proposal_loss_inputs=(edges, out.transmittance, levels),
        )
