"""What the single-view evaluation protocols (DTU, Mip-NeRF 360; spec section 8.1) share: a row of a
per-scene table, a dataset's fixed settings, and a scene loaded for evaluation.

Cameras are OpenGL camera-to-world ``[N,4,4]`` (x right, y up, looking along -z; see ``cameras.py``) in
the dataset's normalised world (z-up for Mip-NeRF 360; pixelNeRF's unlevelled frame for DTU). Only poses
relative to the input view matter to the protocol: ``evaluation.protocol_cameras`` carries them over to
the distillation's z-up world, onto its input camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

__all__ = ["DatasetProtocol", "EvalScene", "OfficialMetrics", "SceneSettings", "select_views"]


@dataclass(frozen=True)
class OfficialMetrics:
    """ZeroNVS's published numbers for one scene (the README's "expected performance" tables) or a mean."""

    lpips: float
    """LPIPS (VGG), lower is better."""
    psnr: float
    """PSNR in dB, higher is better."""
    ssim: float
    """SSIM (scikit-image defaults), higher is better."""


@dataclass(frozen=True)
class SceneSettings:
    """One row of a per-scene table (the official launch scripts)."""

    name: str
    """Scene name: the folder under the dataset root (``scan8``, ``bicycle``)."""
    input_view: int
    """DTU: the number of the input image (25). Mip-NeRF 360: the input's rank when the views are sorted by
    the angle between their rotation and a look-at-the-focus-point rotation."""
    precomputed_scale: float
    """Viewer scale s given to the distillation."""
    gt_to_pred_scale: float
    """Hand-chosen factor dividing the ground-truth translations relative to the input view."""
    official: OfficialMetrics
    """The published numbers of this scene."""


@dataclass(frozen=True)
class DatasetProtocol:
    """A dataset's evaluation settings (spec 5.9 and 8.1) and its per-scene table."""

    dataset: Literal["dtu", "mipnerf360"]
    scenes: tuple[SceneSettings, ...]
    """The per-scene table, in the official order."""
    official_mean: OfficialMetrics
    """The headline numbers: the mean of the per-scene values over all scenes."""
    eval_size: tuple[int, int]
    """``(height, width)`` of the scored images, pixels."""
    excluded_views: tuple[int, ...]
    """View numbers never scored (besides the input view)."""
    elevation_deg: float | None
    """Elevation of the distillation's input camera, degrees; ``None``: from the input view's pose."""
    background: tuple[float, float, float]
    """Solid background colour of the evaluation renders."""
    training_background: Literal["random", "black"]
    """Background of the distillation renders."""
    guidance_scale: float
    """SDS classifier-free guidance scale."""
    near: float
    """Near distance of the ray samples, world units."""
    far: float
    """Far distance of the ray samples, world units."""
    lambda_opaque: float
    """Weight of the opacity entropy loss."""
    anisotropic: bool
    """Whether the azimuth-dependent (anisotropic) timestep schedule is used."""
    widen_elevation: bool
    """Whether the random SDS cameras' elevation range is set around the input elevation
    (``[clip(e - 30, min(5, e), 80), clip(e + 50, 5, 80)]``) instead of the default 5 to 80 degrees."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(scene.name for scene in self.scenes)

    def scene(self, name: str) -> SceneSettings:
        """The row of scene ``name``; DTU scans may also be named by their number (``8`` for ``scan8``)."""
        key = str(name)
        if key.isdigit() and self.dataset == "dtu":
            key = f"scan{key}"
        for scene in self.scenes:
            if scene.name == key:
                return scene
        raise ValueError(f"unknown {self.dataset} scene {name!r}; the protocol's scenes are {', '.join(self.names)}")


@dataclass(frozen=True)
class EvalScene:
    """A scene read for evaluation: its views at the protocol's resolution and its normalised cameras."""

    settings: SceneSettings
    images: torch.Tensor
    """``[N,3,H,W]`` float32 in [0,1]: every view, ``H x W`` = the evaluation size."""
    c2w: torch.Tensor
    """``[N,4,4]`` float64 OpenGL camera-to-world in the dataset's normalised world."""
    view_ids: tuple[int, ...]
    """The dataset's number of each view (DTU: the image number; Mip-NeRF 360: the position in
    ``poses_bounds.npy``)."""
    fov_deg: float
    """Vertical field of view of every view, degrees."""
    input_index: int
    """Position of the input view in ``images``."""
    eval_indices: tuple[int, ...]
    """Positions of the scored views: all but the input and the excluded ones."""
    elevation_deg: float
    """Elevation of the distillation's input camera, degrees."""

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def input_image(self) -> torch.Tensor:
        """``[1,3,H,W]`` the input view."""
        return self.images[self.input_index : self.input_index + 1]


def select_views(view_ids: tuple[int, ...], input_index: int, excluded: tuple[int, ...]) -> tuple[int, ...]:
    """Positions of the views to score: every view but the input and those whose number is excluded."""
    return tuple(i for i, view in enumerate(view_ids) if i != input_index and view not in excluded)
