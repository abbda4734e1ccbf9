"""Training pairs: what every dataset reader yields and what ``training/train.py`` consumes.

A pair is two views of one scene: the conditioning (input) view and the target view, square images in
[0,1], OpenGL camera-to-world cameras (see ``cameras.py``), the vertical FOV of the square crop, and
the viewer scale s of the conditioning view (``scene_scale.viewer_scale`` of its depth).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from ..scene_scale import viewer_scale
from .synthetic import KINDS, camera_path, make_scene

__all__ = ["SyntheticPairs", "ViewPair", "collate_pairs"]


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


class SyntheticPairs(Dataset):
    """Pairs from procedural scenes (``synthetic.py``): item ``i`` is scene ``first_seed + i // pairs_per_scene``
    of kind ``kinds[scene % len(kinds)]``, two distinct views of its camera path, rendered at ``size``.
    Deterministic: the same index always gives the same pair."""

    def __init__(
        self,
        n_scenes: int,
        first_seed: int = 0,
        size: int = 64,
        kinds: tuple[str, ...] = KINDS,
        views_per_scene: int = 8,
        pairs_per_scene: int = 4,
    ):
        if n_scenes < 1 or views_per_scene < 2 or pairs_per_scene < 1:
            raise ValueError(
                f"n_scenes >= 1, views_per_scene >= 2 and pairs_per_scene >= 1 are required, got "
                f"{n_scenes}, {views_per_scene}, {pairs_per_scene}"
            )
        unknown = [kind for kind in kinds if kind not in KINDS]
        if unknown or not kinds:
            raise ValueError(f"kinds must be a non-empty subset of {KINDS}, got {kinds}")
        self.n_scenes, self.first_seed, self.size, self.kinds = n_scenes, first_seed, size, tuple(kinds)
        self.views_per_scene, self.pairs_per_scene = views_per_scene, pairs_per_scene

    def __len__(self) -> int:
        return self.n_scenes * self.pairs_per_scene

    def __getitem__(self, index: int) -> ViewPair:
        if not 0 <= index < len(self):
            raise IndexError(index)
        scene_index, pair_index = divmod(index, self.pairs_per_scene)
        seed = self.first_seed + scene_index
        scene = make_scene(self.kinds[scene_index % len(self.kinds)], seed)
        path = camera_path(scene, self.views_per_scene, seed)
        generator = torch.Generator().manual_seed(seed * 1000 + pair_index)
        cond, target = torch.randperm(self.views_per_scene, generator=generator)[:2].tolist()
        views = scene.render(path[[cond, target]], scene.fov_deg, self.size)
        scale = viewer_scale(views[0].depth[None])[0].item()
        return ViewPair(views[0].image, views[1].image, views[0].c2w, views[1].c2w, float(scene.fov_deg), scale)
