"""SDS anchoring (spec section 6): DDIM "anchor" views around the scene that condition the SDS views
they are nearest to, early in distillation. Off by default, as in every official script.

Cameras are OpenGL camera-to-world (see ``cameras.py``). Anchor views share the input camera's elevation and
distance, at azimuths ``input + 360 (i + 1) / (k + 1)``; "nearest" is by geodesic rotation angle only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .cameras import orbit_path, rotation_angle
from .model import ZeroNVSModel
from .progress import ProgressCallback
from .sampling import sample_views
from .schedules import Ramp

__all__ = ["AnchorConfig", "AnchorViews", "anchor_cameras", "make_anchor_views", "nearest_candidate"]


@dataclass(frozen=True)
class AnchorConfig:
    """Anchoring settings (official defaults; ``count = 0`` switches anchoring off)."""

    count: int = 0
    """Number of anchor views (official ``n_aux_c2w``, 0 in every released script)."""
    steps: int = 500
    """DDIM steps per anchor image."""
    guidance_scale: float = 3.0
    """CFG scale of the anchor images' DDIM."""
    eta: float = 1.0
    """DDIM eta of the anchor images."""
    probability: Ramp = Ramp(0, 1.0, 0.0, 2000)
    """Probability that an SDS view is conditioned on its nearest candidate, by step."""
    sds_guidance_scale: float | None = None
    """CFG scale of SDS views whose nearest candidate is an anchor; ``None`` = the SDS scale."""
    depth_threshold: float = 0.0
    """When > 0, anchored views receive SDS gradient only where rendered depth exceeds this."""

    def __post_init__(self):
        if self.count < 0:
            raise ValueError(f"count must be >= 0, got {self.count}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.depth_threshold < 0:
            raise ValueError(f"depth_threshold must be >= 0, got {self.depth_threshold}")


@dataclass
class AnchorViews:
    """Anchor views and their conditioning, ready for SDS."""

    c2w: torch.Tensor
    """``[k,4,4]`` anchor cameras."""
    images: torch.Tensor
    """``[k,3,R,R]`` anchor images in [0,1]."""
    clip_embedding: torch.Tensor
    """``[k,1,D]`` CLIP embeddings of the anchor images."""
    concat_latent: torch.Tensor
    """``[k,4,h,w]`` VAE posterior modes of the anchor images."""


def anchor_cameras(count: int, elevation_deg: float, distance: float = 1.0, azimuth_deg: float = 0.0) -> torch.Tensor:
    """``[count,4,4]`` cameras at the input's elevation and distance, azimuths evenly spaced between
    (excluding) the input's: ``azimuth + 360 (i + 1) / (count + 1)``."""
    return orbit_path(count, elevation_deg, distance, azimuth_deg, ends="inner")


@torch.no_grad()
def make_anchor_views(
    model: ZeroNVSModel,
    image: torch.Tensor,
    cond_c2w: torch.Tensor,
    fov_deg: float,
    scale: float,
    config: AnchorConfig,
    elevation_deg: float,
    distance: float = 1.0,
    generator: torch.Generator | None = None,
    callback: ProgressCallback | None = None,
) -> AnchorViews:
    """Generate the anchor views from the input ``image`` (``[1,C,H,W]`` in [0,1]) by DDIM and embed them."""
    c2w = anchor_cameras(config.count, elevation_deg, distance)
    images = sample_views(
        model,
        image,
        cond_c2w,
        c2w,
        fov_deg,
        scale,
        steps=config.steps,
        guidance_scale=config.guidance_scale,
        eta=config.eta,
        generator=generator,
        callback=callback,
    )
    clip_embedding, concat_latent = model.embed_image(images * 2.0 - 1.0)
    return AnchorViews(c2w=c2w, images=images, clip_embedding=clip_embedding, concat_latent=concat_latent)


def nearest_candidate(target_c2w: torch.Tensor, candidates_c2w: torch.Tensor) -> torch.Tensor:
    """Index ``[B]`` of the candidate (0 = input, then anchors) whose rotation is nearest each target's,
    by geodesic angle; translation is ignored, as in the official rule."""
    batch, count = target_c2w.shape[0], candidates_c2w.shape[0]
    angles = rotation_angle(target_c2w.repeat_interleave(count, dim=0), candidates_c2w.repeat(batch, 1, 1)).reshape(
        batch, count
    )
    return angles.argmin(dim=1)
