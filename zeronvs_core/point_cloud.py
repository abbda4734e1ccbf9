"""Coloured point clouds of a distilled ``Scene`` from rendered frames, written as PLY.

Every pixel of rendered frames (e.g. the orbit, ``render.render_path``) whose opacity is high enough becomes a
world point ``origin + direction * depth / opacity`` with the pixel's rendered colour. The render's depth is
``sum w_i t_i`` along the unit ray direction, not divided by the opacity (``nerf/rendering.py``), so the
division gives the expected distance of the ray's termination, given that it ends in the scene. The file is
in the project's z-up world with sRGB byte colours, as the mesh PLY of ``mesh.py`` (whose writers it uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .cameras import camera_rays, validate_c2w, validate_fov_deg
from .mesh import _bounds, _to_uint8, _write_atomic
from .render import OrbitFrames

__all__ = ["PointCloudStats", "export_point_cloud", "frames_to_points"]


@dataclass(frozen=True)
class PointCloudStats:
    """What ``export_point_cloud`` wrote."""

    path: Path
    points: int
    bounds: tuple[tuple[float, float, float], tuple[float, float, float]]
    """World (z-up) bounding box of the points, ``(min, max)``."""


def frames_to_points(
    frames: OrbitFrames, c2w: torch.Tensor, fov_deg, min_opacity: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """World points and colours of rendered frames' pixels with opacity >= ``min_opacity``.

    Args:
        frames: ``F`` rendered frames (``render.render_path``/``render_orbit``): rgb, depth (``sum w t`` along
            the unit ray direction), opacity, each ``[F,C,H,W]``.
        c2w: ``[F,4,4]`` OpenGL camera-to-world of the frames.
        fov_deg: vertical FOV, degrees, float or ``[F]``.
        min_opacity: pixels below it are dropped, in (0, 1]; the default 0.5 keeps pixels whose ray ends in
            the scene more likely than in the background.

    Returns:
        ``(points [P,3] float32 world z-up, colours [P,3] float32 sRGB in [0,1])``; point =
        ``origin + direction * depth / opacity``.

    Raises:
        ValueError: mismatched shapes, a bad ``min_opacity``, non-finite depth, or no pixel kept.
    """
    if not 0.0 < min_opacity <= 1.0:
        raise ValueError(f"min_opacity must be in (0, 1], got {min_opacity}")
    c2w = validate_c2w(c2w, "c2w")
    validate_fov_deg(torch.as_tensor(fov_deg, dtype=torch.float64).reshape(-1))
    rgb, depth, opacity = frames.rgb, frames.depth, frames.opacity
    count, _, height, width = rgb.shape
    expected = {"rgb": (count, 3, height, width), "depth": (count, 1, height, width)}
    expected["opacity"] = expected["depth"]
    for name, tensor in (("rgb", rgb), ("depth", depth), ("opacity", opacity)):
        if tuple(tensor.shape) != expected[name]:
            raise ValueError(f"frames.{name} must be {list(expected[name])}, got {list(tensor.shape)}")
    if c2w.shape[0] != count:
        raise ValueError(f"c2w must hold one camera per frame ({count}), got {c2w.shape[0]}")
    if not torch.isfinite(depth).all():
        raise ValueError("frames.depth has NaN or infinite values: the render is broken")
    origins, directions = camera_rays(c2w.double(), fov_deg, height, width)
    opacity = opacity[:, 0].double().cpu()
    keep = opacity >= min_opacity
    if not keep.any():
        raise ValueError(
            f"no pixel has opacity >= min_opacity ({min_opacity}); the largest is {float(opacity.max()):.3g}"
        )
    distance = depth[:, 0].double().cpu()[keep] / opacity[keep]
    points = origins.cpu()[keep] + directions.cpu()[keep] * distance[:, None]
    colors = rgb.permute(0, 2, 3, 1).cpu()[keep]
    return points.float().numpy(), colors.float().clamp(0, 1).numpy()


def export_point_cloud(
    frames: OrbitFrames, c2w: torch.Tensor, fov_deg, path: str | Path, min_opacity: float = 0.5
) -> PointCloudStats:
    """Write ``frames_to_points(frames, c2w, fov_deg, min_opacity)`` as a binary ``.ply`` point cloud in
    the project's z-up world with sRGB byte colours (as the mesh PLY; see the module docstring)."""
    import trimesh

    path = Path(path)
    if path.suffix.lower() != ".ply":
        raise ValueError(f"a point cloud is written as .ply, got {path}")
    points, colors = frames_to_points(frames, c2w, fov_deg, min_opacity)
    rgba = np.concatenate([_to_uint8(colors), np.full((len(colors), 1), 255, np.uint8)], axis=1)
    cloud = trimesh.PointCloud(points.astype(np.float64), colors=rgba)
    _write_atomic(path, cloud.export(file_type="ply", encoding="binary"))
    return PointCloudStats(path=path, points=len(points), bounds=_bounds(points))
