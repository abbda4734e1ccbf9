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
from .ray_sampling import ProposalLevel, RaySettings, sample_along_rays
from .rendering import render_along_rays

__all__ = ["RayShading", "SceneRender", "Scene"]


@dataclass
class RayShading:
    """Per-ray outputs of ``Scene.shade`` for ``R`` rays of ``S`` samples."""

    rgb: torch.Tensor
    """``[R,3]`` composited colour."""
    depth: torch.Tensor
    """``[R]`` expected distance."""
    opacity: torch.Tensor
    """``[R]`` accumulated weight."""
    normal: torch.Tensor | None
    """``[R,3]`` ``(normalize(sum w n) + 1) / 2 * opacity`` (normals asked for)."""
    orient: torch.Tensor | None
    """``[R]`` ``sum_samples w.detach() max(0, n.d)^2``, the ray's share of the orientation penalty."""
    transmittance: torch.Tensor
    """``[R,S]`` transmittance before each sample (for the proposal loss)."""


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
    orient_rays: torch.Tensor | None
    """``[B,H,W]`` each ray's numerator of ``orient`` (``orient = orient_rays.sum() / #(opacity > 0)``)."""
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
        rays: RaySettings | None = None,
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
            rays: range along the rays and samples per ray (``None``: ``RaySettings()``, the official in-the-wild
                0.5 to 1000 with 64 proposal and 64 field samples).
            stratified: jitter samples (training).
            normals: also compute analytic normals, the normal image and the orientation penalty.
            generator: random source of the jitter.
            ray_offset: ``[2,3]`` constant offsets added to every ray's origin and direction (before the
                direction is renormalised), threestudio's ``rays_noise_scale`` jitter of the input view.
        """
        rays = rays if rays is not None else RaySettings()
        origins, directions = self.rays(c2w, fov_deg, height, width, ray_offset)
        batch = c2w.shape[0]
        t_starts, t_ends, levels, edges = self.sample(origins, directions, rays, stratified, generator)
        background = background.reshape(-1, 3).expand(batch, 3).repeat_interleave(height * width, dim=0)
        out = self.shade(origins, directions, t_starts, t_ends, background, normals)
        return SceneRender(
            rgb=out.rgb.reshape(batch, height, width, 3),
            depth=out.depth.reshape(batch, height, width),
            opacity=out.opacity.reshape(batch, height, width),
            normal=None if out.normal is None else out.normal.reshape(batch, height, width, 3),
            orient=None if out.orient is None else out.orient.sum() / (out.opacity > 0).sum().clamp_min(1),
            orient_rays=None if out.orient is None else out.orient.reshape(batch, height, width),
            proposal_loss_inputs=(edges, out.transmittance, levels),
        )

    def rays(self, c2w: torch.Tensor, fov_deg, height: int, width: int, ray_offset: torch.Tensor | None = None):
        """``(origins [R,3], directions [R,3])`` of ``R = B*H*W`` rays in ``render``'s order and jitter."""
        origins, directions = camera_rays(c2w, fov_deg, height, width)
        if ray_offset is not None:
            origins = origins + ray_offset[0].to(origins)
            directions = F.normalize(directions + ray_offset[1].to(directions), dim=-1)
        return origins.reshape(-1, 3), directions.reshape(-1, 3)

    def sample(
        self,
        origins: torch.Tensor,
        directions: torch.Tensor,
        rays: RaySettings,
        stratified: bool = False,
        generator: torch.Generator | None = None,
        jitter: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, list[ProposalLevel], torch.Tensor]:
        """Proposal sampling of rays ``[R,3]``: ``(t_starts [R,S], t_ends [R,S], levels, edges [R,S+1])`` as
        ``ray_sampling.sample_along_rays`` (``jitter``: its pre-drawn ``draw_jitter`` draws)."""
        return sample_along_rays(
            [self.proposal_density(origins, directions)],
            [rays.proposal_samples],
            rays.samples,
            origins.shape[0],
            rays.near,
            rays.far,
            stratified,
            generator,
            origins.device,
            jitter,
        )

    def proposal_density(self, origins: torch.Tensor, directions: torch.Tensor):
        """The proposal network as a ``ray_sampling.DensityFn`` over these rays."""

        def density(t_starts, t_ends):
            points = origins[:, None] + directions[:, None] * ((t_starts + t_ends) / 2)[..., None]
            return self.proposal(points.reshape(-1, 3)).reshape(t_starts.shape)

        return density

    def shade(
        self,
        origins: torch.Tensor,
        directions: torch.Tensor,
        t_starts: torch.Tensor,
        t_ends: torch.Tensor,
        background: torch.Tensor,
        normals: bool = False,
    ) -> RayShading:
        """Evaluate the field on the intervals ``[R,S]`` of rays ``[R,3]`` and composite over ``background
        [R,3]``; every output of a ray depends on that ray alone."""
        rays, samples = t_starts.shape
        points = (origins[:, None] + directions[:, None] * ((t_starts + t_ends) / 2)[..., None]).reshape(-1, 3)
        if normals:
            density, albedo, normal = self.field.density_and_normals(points)
        else:
            density, albedo = self.field(points)
        out = render_along_rays(
            t_starts, t_ends, density.reshape(rays, samples), albedo.reshape(rays, samples, 3), background
        )
        normal_image = orient = None
        if normals:
            normal = normal.reshape(rays, samples, 3)
            summed = (out.weights[..., None] * normal).sum(dim=1)
            normal_image = (F.normalize(summed, dim=-1) + 1.0) / 2.0 * out.opacity[:, None]
            facing = (normal * directions[:, None]).sum(dim=-1).clamp_min(0.0) ** 2
            orient = (out.weights.detach() * facing).sum(dim=1)
        return RayShading(out.rgb, out.depth, out.opacity, normal_image, orient, out.transmittance)
