"""Training pairs: what every dataset reader yields and what ``training/train.py`` consumes.

A pair is two views of one scene: the conditioning (input) view and the target view, square images in
[0,1], OpenGL camera-to-world cameras (see ``cameras.py``), the vertical FOV of the square crop, and
the viewer scale s of the conditioning view (``scene_scale.viewer_scale`` of its depth).
Pairs of the procedural scenes come from ``synthetic_pairs.SyntheticPairs``; this module imports no reader.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["ViewPair", "collate_pairs"]


@dataclass(frozen=True)
class ViewPair:
    """One (conditioning, target) training pair."""

    cond_image: torch.Tensor
    """``[3,S,S]`` in [0,1]: the input view."""
    target_image: torch.Tensor
    """``[3,S,S]`` in [0,1]: the view to generate."""
    cond_c2w: torch.Tensor
    """``[4,4]`` OpenGL camera-to-world of the input view."""
    target_c2w: torch.Tensor
    """``[4,4]`` OpenGL camera-to-world of the target view."""
    fov_deg: float
    """Vertical FOV of the square images, degrees."""
    scale: float
    """Viewer scale s of the input view, world units."""


def collate_pairs(pairs: list[ViewPair]) -> dict[str, torch.Tensor]:
    """Stack pairs into a batch: images ``[B,3,S,S]``, cameras ``[B,4,4]``, ``fov_deg`` and ``scale`` ``[B]``."""
    return {
        "cond_image": torch.stack([p.cond_image for p in pairs]),
        "target_image": torch.stack([p.target_image for p in pairs]),
        "cond_c2w": torch.stack([p.cond_c2w for p in pairs]),
        "target_c2w": torch.stack([p.target_c2w for p in pairs]),
        "fov_deg": torch.tensor([p.fov_deg for p in pairs], dtype=torch.float32),
        "scale": torch.tensor([p.scale for p in pairs], dtype=torch.float32),
    }
