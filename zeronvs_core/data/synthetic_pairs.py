"""``SyntheticPairs``: training pairs from the procedural scenes of ``synthetic.py`` (see ``pairs.ViewPair``)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from ..scene_scale import viewer_scale
from .pairs import ViewPair
from .synthetic import KINDS, camera_path, make_scene

__all__ = ["SyntheticPairs"]


class SyntheticPairs(Dataset):
    """Pairs from procedural scenes (``synthetic.py``): item ``i`` is scene ``first_seed + i // pairs_per_scene``
    of kind ``kinds[scene % len(kinds)]``, two distinct views of its camera path, rendered at ``size``.
    Deterministic: the same index always gives the same pair.

    ``supersample`` anti-aliases the images (``SyntheticScene.render``). With ``cache`` the first use of a
    scene renders its whole camera path and keeps it in memory as 8-bit images (``n_scenes x
    views_per_scene x 3 x size^2`` bytes at most), so later pairs of that scene cost no rendering; images
    then carry 8-bit quantisation, like dataset frames.

    ``max_view_gap`` keeps the target within that many path steps of the input (around the loop for the
    closed object orbits, along the path otherwise): with 24 orbit views, 6 keeps relative azimuths
    within 90 degrees. ``None`` (default) draws any two distinct views.

    ``lateral`` renders the scenes along ``camera_path(..., lateral=True)`` (sideways room and outdoor
    paths, off-centre object orbits; issue 27). ``twin(index)`` is item ``index`` with the target on the
    other side of the input: the same input view, the target the same number of path steps away in the
    opposite direction (on an orbit: turned by -a instead of +a)."""

    def __init__(
        self,
        n_scenes: int,
        first_seed: int = 0,
        size: int = 64,
        kinds: tuple[str, ...] = KINDS,
        views_per_scene: int = 8,
        pairs_per_scene: int = 4,
        supersample: int = 1,
        cache: bool = False,
        max_view_gap: int | None = None,
        lateral: bool = False,
    ):
        if max_view_gap is not None and not 1 <= max_view_gap < views_per_scene:
            raise ValueError(f"max_view_gap must be None or in [1, views_per_scene), got {max_view_gap}")
        if n_scenes < 1 or views_per_scene < 2 or pairs_per_scene < 1 or supersample < 1:
            raise ValueError(
                f"n_scenes >= 1, views_per_scene >= 2, pairs_per_scene >= 1 and supersample >= 1 are required, "
                f"got {n_scenes}, {views_per_scene}, {pairs_per_scene}, {supersample}"
            )
        unknown = [kind for kind in kinds if kind not in KINDS]
        if unknown or not kinds:
            raise ValueError(f"kinds must be a non-empty subset of {KINDS}, got {kinds}")
        self.n_scenes, self.first_seed, self.size, self.kinds = n_scenes, first_seed, size, tuple(kinds)
        self.views_per_scene, self.pairs_per_scene = views_per_scene, pairs_per_scene
        self.supersample, self.max_view_gap, self.lateral = supersample, max_view_gap, bool(lateral)
        self._orbits: dict[int, tuple] | None = {} if cache else None

    def __len__(self) -> int:
        return self.n_scenes * self.pairs_per_scene

    def __getitem__(self, index: int) -> ViewPair:
        if not 0 <= index < len(self):
            raise IndexError(index)
        scene_index, pair_index = divmod(index, self.pairs_per_scene)
        return self._pair(scene_index, *self._pick_views(scene_index, self._generator(index)))

    def twin(self, index: int) -> ViewPair | None:
        """Item ``index`` with its target mirrored about the input along the path: view ``cond - (target -
        cond)`` (modulo the orbit for object orbits). ``None`` when an open path has no such view."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        scene_index = index // self.pairs_per_scene
        cond, target = self._pick_views(scene_index, self._generator(index))
        count, other = self.views_per_scene, 2 * cond - target
        if self._kind(scene_index) == "object":
            other %= count
        return self._pair(scene_index, cond, other) if 0 <= other < count else None

    def _generator(self, index: int) -> torch.Generator:
        scene_index, pair_index = divmod(index, self.pairs_per_scene)
        return torch.Generator().manual_seed((self.first_seed + scene_index) * 1000 + pair_index)

    def _pair(self, scene_index: int, cond: int, target: int) -> ViewPair:
        """The pair of views ``cond`` and ``target`` of the scene's path."""
        if self._orbits is None:
            images, c2w, scales, fov_deg = self._render(scene_index, [cond, target])
            cond_image, target_image = images[0], images[1]
            cond_c2w, target_c2w, scale = c2w[0], c2w[1], scales[0]
        else:
            if scene_index not in self._orbits:
                images, c2w, scales, fov_deg = self._render(scene_index, None)
                self._orbits[scene_index] = ((images * 255).round().to(torch.uint8), c2w, scales, fov_deg)
            images, c2w, scales, fov_deg = self._orbits[scene_index]
            cond_image, target_image = (images[i].float() / 255 for i in (cond, target))
            cond_c2w, target_c2w, scale = c2w[cond], c2w[target], scales[cond]
        return ViewPair(cond_image, target_image, cond_c2w, target_c2w, fov_deg, float(scale))

    def _kind(self, scene_index: int) -> str:
        """The kind of the ``scene_index``-th scene: ``kinds`` in turn."""
        return self.kinds[scene_index % len(self.kinds)]

    def _pick_views(self, scene_index: int, generator: torch.Generator) -> tuple[int, int]:
        """Indices ``(cond, target)`` of two distinct views of the scene's path (see ``max_view_gap``)."""
        count = self.views_per_scene
        if self.max_view_gap is None:
            cond, target = torch.randperm(count, generator=generator)[:2].tolist()
            return cond, target
        cond = int(torch.randint(count, (1,), generator=generator))
        gaps = [g for g in range(-self.max_view_gap, self.max_view_gap + 1) if g != 0]
        if self._kind(scene_index) == "object":
            targets = sorted({(cond + g) % count for g in gaps} - {cond})
        else:
            targets = [cond + g for g in gaps if 0 <= cond + g < count]
        return cond, targets[int(torch.randint(len(targets), (1,), generator=generator))]

    def _render(self, scene_index: int, views: list[int] | None):
        """``(images [V,3,S,S], c2w [V,4,4], scales [V], fov_deg)`` of ``views`` of the scene's path (all: None)."""
        seed = self.first_seed + scene_index
        scene = make_scene(self._kind(scene_index), seed)
        path = camera_path(scene, self.views_per_scene, seed, lateral=self.lateral)
        rendered = scene.render(path if views is None else path[views], scene.fov_deg, self.size, self.supersample)
        images = torch.stack([view.image for view in rendered])
        scales = viewer_scale(torch.stack([view.depth for view in rendered]))
        return images, torch.stack([view.c2w for view in rendered]), scales, float(scene.fov_deg)
