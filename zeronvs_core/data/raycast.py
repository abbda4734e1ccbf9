"""Exact ray casting of analytic scenes: the renderer behind the procedural scenes of ``synthetic.py``.

A ``SyntheticScene`` is a tuple of textured ``Primitive`` surfaces (planes, spheres, boxes, rooms), one
directional light and a sky gradient; ``SyntheticScene.render`` casts one ray per pixel (or ``k x k``
for anti-aliasing) and returns ``SyntheticView`` images with exact depth.

Conventions are those of ``zeronvs_core.cameras``: OpenGL camera-to-world matrices in a z-up world,
rays from ``camera_rays`` (pixel centres, unit directions). Images are ``[3,H,W]`` floats in
``[0, 1]``. Depth is the distance along the unit ray direction (not z-depth) in world units; rays
that hit nothing get depth 0 and the sky colour, so depth never holds ``inf``.

Rays are cast in float64 from the given (float32) cameras and the nearest analytic hit wins; images
and depths are returned as float32. Shading is Lambertian with one directional light plus ambient,
without shadows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..cameras import camera_rays, validate_c2w, validate_fov_deg

__all__ = ["PATTERNS", "SHAPES", "Primitive", "SyntheticScene", "SyntheticView"]

SHAPES = ("plane", "sphere", "box", "room")
PATTERNS = ("checker", "stripes", "gradient")

_EPS_T = 1e-6  # smallest accepted hit distance
_AMBIENT = 0.35


@dataclass(frozen=True)
class Primitive:
    """One analytic surface with a procedural texture.

    Attributes:
        shape: ``"plane"`` (the horizontal plane ``z = center[2]``, seen from above, normal +z),
            ``"sphere"`` (radius ``size[0]``), ``"box"`` (axis-aligned solid, half extents ``size``,
            seen from outside) or ``"room"`` (axis-aligned box seen from inside: walls, floor, ceiling).
        center: centre ``(x, y, z)`` in world units.
        size: half extents for boxes and rooms, ``(r, r, r)`` for spheres; ignored for planes.
        color_a, color_b: the two RGB colours in ``[0, 1]`` the pattern blends between.
        pattern: ``"checker"`` (3-D checkerboard), ``"stripes"`` (along ``axis``) or ``"gradient"``
            (a smooth sinusoid along ``axis``), all functions of the world-space hit point.
        frequency: pattern cycles per world unit.
        axis: unit vector used by stripes and gradients.
    """

    shape: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    color_a: tuple[float, float, float]
    color_b: tuple[float, float, float]
    pattern: str = "checker"
    frequency: float = 1.0
    axis: tuple[float, float, float] = (1.0, 0.0, 0.0)

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {self.shape!r}")
        if self.pattern not in PATTERNS:
            raise ValueError(f"pattern must be one of {PATTERNS}, got {self.pattern!r}")
        if self.shape != "plane" and min(self.size) <= 0:
            raise ValueError(f"size must be positive, got {self.size}")

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounds ``(lo, hi)`` of a sphere, box or room (planes are unbounded)."""
        center, size = np.asarray(self.center), np.asarray(self.size)
        if self.shape == "sphere":
            size = np.full(3, self.size[0])
        return center - size, center + size


@dataclass(frozen=True)
class SyntheticView:
    """One rendered view: ``image [3,H,W]`` float32 in [0,1], ``depth [H,W]`` float32 (distance along
    the unit ray, 0 where the ray hits nothing), ``c2w [4,4]`` float32 OpenGL camera-to-world and the
    vertical ``fov_deg``."""

    image: torch.Tensor
    depth: torch.Tensor
    c2w: torch.Tensor
    fov_deg: float


@dataclass(frozen=True, eq=False)
class SyntheticScene:
    """A procedural scene: its primitives, lighting and the region its cameras move in.

    Attributes:
        kind: one of ``synthetic.KINDS``.
        seed: the seed it was made from.
        primitives: the surfaces; the nearest hit along a ray wins.
        light_dir: unit vector towards the directional light.
        sky_horizon, sky_zenith: RGB colours of the sky gradient seen by rays that hit nothing.
        target: the point orbit cameras look at (the object kind's centre).
        camera_lo, camera_hi: axis-aligned box every camera of ``camera_path`` lies in (for the
            object kind, the box around the orbit); objects keep out of it except for the object kind,
            whose cameras instead stay at least ``orbit_min_distance`` from ``target``.
        fov_deg: the scene's random vertical FOV, used by ``generate_views`` when none is given.
    """

    kind: str
    seed: int
    primitives: tuple[Primitive, ...]
    light_dir: tuple[float, float, float]
    sky_horizon: tuple[float, float, float]
    sky_zenith: tuple[float, float, float]
    target: tuple[float, float, float]
    camera_lo: tuple[float, float, float]
    camera_hi: tuple[float, float, float]
    fov_deg: float
    orbit_min_distance: float = 0.0

    def render(self, c2w: torch.Tensor, fov_deg: float, size: int, supersample: int = 1) -> list[SyntheticView]:
        """Render square views.

        Args:
            c2w: ``[4,4]`` or ``[N,4,4]`` rigid OpenGL camera-to-world matrices.
            fov_deg: vertical field of view in degrees, in (0, 180).
            size: image height and width in pixels (at least 8).
            supersample: ``k`` casts ``k x k`` rays per pixel and averages their colours (anti-aliasing,
                like a camera's pixel area); depth stays that of the pixel-centre ray.

        Returns:
            A list of ``N`` ``SyntheticView`` (one for a single ``[4,4]`` camera).
        """
        size = _check_size(size)
        fov_deg = float(fov_deg)
        validate_fov_deg(torch.tensor(fov_deg), "fov_deg")
        c2w = torch.as_tensor(c2w, dtype=torch.float32)
        if c2w.ndim == 2:
            c2w = c2w[None]
        c2w = validate_c2w(c2w, "c2w")
        if isinstance(supersample, bool) or not isinstance(supersample, (int, np.integer)) or supersample < 1:
            raise ValueError(f"supersample must be a positive integer, got {supersample!r}")
        images, depth = self.cast(c2w, fov_deg, size, size)
        if supersample > 1:
            fine, _ = self.cast(c2w, fov_deg, size * supersample, size * supersample)
            images = torch.nn.functional.avg_pool2d(fine, supersample)
        return [
            SyntheticView(image=images[i], depth=depth[i], c2w=c2w[i].clone(), fov_deg=fov_deg)
            for i in range(c2w.shape[0])
        ]

    def cast(self, c2w: torch.Tensor, fov_deg: float, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batched ray casting: ``(images [N,3,H,W], depth [N,H,W])`` float32 for ``c2w [N,4,4]``.

        The rays are ``camera_rays(c2w.double(), fov_deg, height, width)``.
        """
        origins, directions = camera_rays(c2w.to(torch.float64), fov_deg, height, width)
        n = c2w.shape[0]
        o = origins.reshape(-1, 3)
        d = directions.reshape(-1, 3)
        best_t = torch.full((o.shape[0],), math.inf, dtype=torch.float64)
        best_n = torch.zeros_like(o)
        best_i = torch.full((o.shape[0],), -1, dtype=torch.long)
        for index, prim in enumerate(self.primitives):
            t, normal = _intersect(prim, o, d)
            closer = t < best_t
            best_t = torch.where(closer, t, best_t)
            best_n = torch.where(closer[:, None], normal, best_n)
            best_i = torch.where(closer, torch.full_like(best_i, index), best_i)
        hit = torch.isfinite(best_t)
        depth = torch.where(hit, best_t, torch.zeros_like(best_t))
        points = o + depth[:, None] * d

        albedo = torch.zeros_like(o)
        for index, prim in enumerate(self.primitives):
            mask = best_i == index
            if mask.any():
                albedo[mask] = _texture(prim, points[mask], best_n[mask])
        light = torch.tensor(self.light_dir, dtype=torch.float64)
        shade = _AMBIENT + (1 - _AMBIENT) * (best_n @ light).clamp(min=0)
        up = d[:, 2:3].clamp(0, 1) ** 0.6
        sky = (1 - up) * torch.tensor(self.sky_horizon, dtype=torch.float64) + up * torch.tensor(
            self.sky_zenith, dtype=torch.float64
        )
        color = torch.where(hit[:, None], albedo * shade[:, None], sky).clamp(0, 1)
        images = color.reshape(n, height, width, 3).permute(0, 3, 1, 2).contiguous().to(torch.float32)
        return images, depth.reshape(n, height, width).to(torch.float32)

    def surface_distance(self, points: torch.Tensor) -> torch.Tensor:
        """Distance ``[M]`` from each point ``[M,3]`` to the nearest primitive surface (float64)."""
        p = torch.as_tensor(points, dtype=torch.float64).reshape(-1, 3)
        best = torch.full((p.shape[0],), math.inf, dtype=torch.float64)
        for prim in self.primitives:
            best = torch.minimum(best, _signed_distance(prim, p).abs())
        return best


def _check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an integer of at least 8 pixels, got {size!r}")
    return int(size)


def _vec(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def _intersect(prim: Primitive, o: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hit distance ``[R]`` (``inf`` on a miss) and unit normal ``[R,3]`` facing the ray."""
    inf = torch.full_like(o[:, 0], math.inf)
    if prim.shape == "plane":
        dz = d[:, 2]
        safe = torch.where(dz.abs() < 1e-12, torch.full_like(dz, -1e-12), dz)
        t = (prim.center[2] - o[:, 2]) / safe
        t = torch.where((dz < 0) & (t > _EPS_T), t, inf)
        normal = torch.zeros_like(o)
        normal[:, 2] = 1.0
        return t, normal
    center = _vec(prim.center)
    if prim.shape == "sphere":
        oc = o - center
        b = (oc * d).sum(-1)
        c = (oc * oc).sum(-1) - prim.size[0] ** 2
        disc = b * b - c
        root = disc.clamp(min=0).sqrt()
        near, far = -b - root, -b + root
        t = torch.where(near > _EPS_T, near, far)
        t = torch.where((disc >= 0) & (t > _EPS_T), t, inf)
        normal = (o + torch.where(torch.isfinite(t), t, 0)[:, None] * d - center) / prim.size[0]
        return t, normal
    half = _vec(prim.size)
    safe = torch.where(d.abs() < 1e-12, torch.where(d < 0, -1e-12, 1e-12), d)
    t1 = (center - half - o) / safe
    t2 = (center + half - o) / safe
    t_min, t_max = torch.minimum(t1, t2), torch.maximum(t1, t2)
    t_near, near_axis = t_min.max(dim=-1)
    t_far, far_axis = t_max.min(dim=-1)
    valid = t_near <= t_far
    if prim.shape == "box":
        t, axis = t_near, near_axis
    else:  # room: seen from inside, the exit point is the wall
        t, axis = t_far, far_axis
    t = torch.where(valid & (t > _EPS_T), t, inf)
    normal = torch.zeros_like(o)
    sign = -torch.sign(d.gather(1, axis[:, None]))
    normal.scatter_(1, axis[:, None], torch.where(sign == 0, 1.0, sign))
    return t, normal


def _signed_distance(prim: Primitive, p: torch.Tensor) -> torch.Tensor:
    if prim.shape == "plane":
        return p[:, 2] - prim.center[2]
    center = _vec(prim.center)
    if prim.shape == "sphere":
        return (p - center).norm(dim=-1) - prim.size[0]
    q = (p - center).abs() - _vec(prim.size)
    return q.clamp(min=0).norm(dim=-1) + q.amax(dim=-1).clamp(max=0)


def _texture(prim: Primitive, p: torch.Tensor, normal: torch.Tensor) -> torch.Tensor:
    """Albedo ``[M,3]`` at hit points ``p`` ``[M,3]``."""
    f = prim.frequency
    if prim.pattern == "checker":
        coords = p * f
        if prim.shape != "sphere":  # flat faces: drop the constant normal coordinate (no flicker)
            coords = coords * (1 - normal.abs())
        value = torch.floor(coords).sum(-1).remainder(2)
    else:
        along = p @ _vec(prim.axis) * f
        if prim.pattern == "stripes":
            value = torch.floor(along).remainder(2)
        else:
            value = 0.5 + 0.5 * torch.sin(2 * math.pi * along)
    a, b = _vec(prim.color_a), _vec(prim.color_b)
    return a + value[:, None] * (b - a)
