"""Meshes of a distilled ``Scene``, written as GLB, PLY or OBJ (point clouds: ``point_cloud.py``).

The field's density is sampled on a regular grid (in chunks, on the scene's device, without autograd),
scikit-image's ``measure.marching_cubes`` (Lewiner et al. 2003) extracts the isosurface at a density
threshold, and every vertex takes the field's colour at that point. The field's colour is its albedo
``sigmoid(features)``: rendering composites it unshaded and it does not depend on the view direction
(``nerf/field.py``), so it *is* the colour the renders show, and needs no averaging over views.

Region. ``"foreground"`` (default): the cube ``[-half_size, half_size]^3`` around the world origin, the input
camera's look-at point (the input camera sits at distance 1 from it, ``cameras.py``). The default
``half_size = 0.5`` is a quarter of the field's contraction radius (2): well inside the region where the
field is not contracted (so the grid's cells are uniform in world units), it is the radius at which the
official density blob, the object prior, crosses zero (``density_blob_std``), and its inscribed ball is at
least the near plane (0.5) away from every camera of the unit orbit, so no orbit view clips it.
``"scene"``: the whole contracted scene, background included: the grid is uniform in
the *contracted* coordinates (the hash grid's own, ``contract_to_unisphere``) and the vertices are mapped
back to world units with ``expand_from_unisphere``, so far geometry gets proportionally larger cells;
grid points at infinity (contracted norm >= 2) have density 0.

Threshold. By default the density at which one sample of the scene's own render is half opaque at the
look-at point (``half_opaque_density``): ``ln 2 / step``, with ``step = (1/near - 1/far) / samples`` the
spacing of samples uniform in inverse depth (``nerf/ray_sampling.py``) at distance 1. A surface that
stops half of a ray within one step is one the renders show as solid; fainter haze is left out. For the
official render (near 0.5, far 1000, 64 samples) that is 22.2 per world unit, close to threestudio's 25 for
the same ``implicit-volume`` field (its README: "25 by default"); for ``cpu_smoke`` scenes (16 samples) it
is 5.5. Lower it if a thin surface comes out with holes, raise it if the mesh is swollen by haze.

Units and axes. The project's world is z-up, in the scene's world units (the input camera at distance 1 from
the origin). Each format is written in the orientation its common readers expect:
- **GLB**: glTF 2.0 is y-up (spec, "Coordinate System and Units"): the mesh is rotated -90 degrees about x,
  world ``(x, y, z)`` -> file ``(x, z, -y)``, so world +z is file +y (three.js, ComfyUI's 3D preview, Blender's
  glTF importer all show it upright). glTF vertex colours (``COLOR_0``) are linear: the sRGB colours are
  converted (8-bit, so the darkest sRGB values share a few levels), and the material is
  ``KHR_materials_unlit``: the colours are baked radiance and must not be lit a second time.
- **OBJ**: y-up as GLB, the de facto OBJ convention (Blender's OBJ importer defaults to up Y, forward -Z;
  three.js's OBJLoader and MeshLab take the file as it is, y up); colours as sRGB ``v x y z r g b``.
- **PLY**: the project's z-up world as it is (Blender's PLY importer defaults to up Z; the points line up
  with the project's ``c2w`` cameras and with the point-cloud PLY); colours as sRGB bytes.

Why these libraries: scikit-image's marching cubes is a well-tested C implementation (no hand-written
tables here), and trimesh writes all three formats (vertex colours, glTF buffers) without a GL context.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .mesh_options import DEFAULT_HALF_SIZE, DEFAULT_RESOLUTION, REGIONS
from .nerf.field import expand_from_unisphere
from .nerf.scene import Scene
from .progress import ProgressCallback
from .render import RenderSettings

__all__ = [
    "DEFAULT_HALF_SIZE",
    "DEFAULT_RESOLUTION",
    "REGIONS",
    "Isosurface",
    "MeshStats",
    "export_mesh",
    "extract_isosurface",
    "half_opaque_density",
    "write_mesh",
]

MESH_FORMATS = (".glb", ".ply", ".obj")

DensityFn = Callable[[torch.Tensor], torch.Tensor]
"""``fn(points [N,3] world) -> density [N]`` (per world unit)."""
ColorFn = Callable[[torch.Tensor], torch.Tensor]
"""``fn(points [N,3] world) -> colour [N,3]`` in [0,1] (sRGB, as rendered)."""

# z-up world -> y-up file: rotation of -90 degrees about x, (x, y, z) -> (x, z, -y).
_Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class Isosurface:
    """A coloured triangle mesh in the project's z-up world."""

    vertices: np.ndarray
    """``[V,3]`` float32 world points."""
    faces: np.ndarray
    """``[F,3]`` int64 vertex indices, counter-clockwise seen from the low-density side (normals point out)."""
    colors: np.ndarray
    """``[V,3]`` float32 sRGB colours in [0,1]."""


@dataclass(frozen=True)
class MeshStats:
    """What ``export_mesh`` wrote."""

    path: Path
    vertices: int
    faces: int
    resolution: int
    threshold: float
    region: str
    density_range: tuple[float, float]
    """Smallest and largest density on the grid (per world unit): where the threshold sits."""
    bounds: tuple[tuple[float, float, float], tuple[float, float, float]]
    """World (z-up) bounding box of the vertices, ``(min, max)``."""


def export_mesh(
    scene: Scene,
    path: str | Path,
    resolution: int = DEFAULT_RESOLUTION,
    threshold: float | None = None,
    region: str = "foreground",
    half_size: float = DEFAULT_HALF_SIZE,
    settings: RenderSettings | None = None,
    chunk_points: int = 1 << 16,
    callback: ProgressCallback | None = None,
) -> MeshStats:
    """Marching cubes over ``scene``'s density, vertex colours from its albedo, written to ``path``.

    Args:
        scene: a distilled scene (``render.load_scene``); evaluated on its own device.
        path: ``.glb``, ``.ply`` or ``.obj`` (axes per format: see the module docstring).
        resolution: grid points per axis (>= 2); time and memory grow as its cube.
        threshold: density (per world unit) of the surface, > 0; None: ``half_opaque_density(settings)``.
        region: ``"foreground"`` (the cube of ``half_size`` around the origin) or ``"scene"`` (all of it).
        half_size: half-side of the foreground cube, world units, > 0.
        settings: the scene's render settings (``load_scene`` returns them), for the default threshold;
            None: the official ones.
        chunk_points: field evaluations per batch (memory: about 4 kB each on the CPU path).
        callback: ``progress.ProgressCallback`` after each chunk and at the end (no preview); may raise to stop
            (nothing is written then).

    Raises:
        ValueError: a bad option, a non-finite density (a diverged field), or no surface in the region
            (the threshold above every density, or below every one). No file is written then.
    """
    path = _mesh_path(path)
    threshold = half_opaque_density(settings) if threshold is None else threshold
    surface, density_range = extract_isosurface(
        scene.field.density,
        lambda points: scene.field(points)[1],
        resolution,
        threshold,
        region,
        half_size,
        contraction_radius=scene.config.radius,
        chunk_points=chunk_points,
        device=next(scene.parameters()).device,
        callback=callback,
    )
    write_mesh(surface, path)
    return MeshStats(
        path=path,
        vertices=len(surface.vertices),
        faces=len(surface.faces),
        resolution=resolution,
        threshold=float(threshold),
        region=region,
        density_range=density_range,
        bounds=_bounds(surface.vertices),
    )


@torch.no_grad()
def extract_isosurface(
    density_fn: DensityFn,
    color_fn: ColorFn,
    resolution: int,
    threshold: float,
    region: str = "foreground",
    half_size: float = DEFAULT_HALF_SIZE,
    contraction_radius: float = 2.0,
    chunk_points: int = 1 << 16,
    device="cpu",
    callback: ProgressCallback | None = None,
) -> tuple[Isosurface, tuple[float, float]]:
    """The isosurface ``density = threshold`` of any density function, coloured by ``color_fn``.

    ``export_mesh`` without the file: the seam for other fields and for analytic densities (tests).
    ``contraction_radius`` is the field's ``FieldConfig.radius``, used by ``region="scene"`` only; the
    other arguments are as in ``export_mesh``. Returns ``(surface, (min density, max density))``.
    """
    _check_options(resolution, threshold, region, half_size, chunk_points)
    unit_grid = region == "scene"
    axis = np.linspace(0.0, 1.0, resolution) if unit_grid else np.linspace(-half_size, half_size, resolution)
    axis_t = torch.as_tensor(axis, dtype=torch.float32, device=device)

    def to_world(grid_points: torch.Tensor) -> torch.Tensor:
        return expand_from_unisphere(grid_points, contraction_radius) if unit_grid else grid_points

    slab = max(1, chunk_points // resolution**2)
    starts = range(0, resolution, slab)
    volume = np.empty((resolution,) * 3, dtype=np.float32)
    for step, start in enumerate(starts, 1):
        xs = axis_t[start : start + slab]
        grid_points = torch.stack(torch.meshgrid(xs, axis_t, axis_t, indexing="ij"), dim=-1).reshape(-1, 3)
        points = to_world(grid_points)
        at_infinity = ~torch.isfinite(points).all(dim=-1)
        density = density_fn(torch.where(at_infinity[:, None], torch.zeros_like(points), points)).float()
        density = torch.where(at_infinity, torch.zeros_like(density), density)
        if not torch.isfinite(density).all():
            raise ValueError(
                "the field's density is NaN or infinite in the export region: the scene is broken "
                "(a diverged distillation?); re-distil it"
            )
        volume[start : start + len(xs)] = density.reshape(len(xs), resolution, resolution).cpu().numpy()
        if callback is not None:
            callback(step, len(starts) + 1, None)
    density_range = (float(volume.min()), float(volume.max()))
    _check_crossing(threshold, density_range, region)

    from skimage import measure

    cell = float(axis[1] - axis[0])
    vertices, faces, _, _ = measure.marching_cubes(volume, level=threshold, spacing=(cell,) * 3)
    vertices = torch.as_tensor(vertices + axis[0], dtype=torch.float32, device=device)
    vertices = to_world(vertices)
    colors = torch.cat([color_fn(part).float() for part in vertices.split(chunk_points)])
    if callback is not None:
        callback(len(starts) + 1, len(starts) + 1, None)
    # scikit-image orders each triangle clockwise seen from the low side ("descent": the object is the high
    # values); reversed, the right-hand normals point out of the surface, as viewers cull and light them.
    surface = Isosurface(
        vertices=vertices.cpu().numpy(),
        faces=np.ascontiguousarray(faces[:, ::-1]).astype(np.int64),
        colors=colors.clamp(0, 1).cpu().numpy(),
    )
    return surface, density_range


def half_opaque_density(settings: RenderSettings | None = None) -> float:
    """The density (per world unit) at which one render sample at distance 1 is half opaque.

    ``ln 2 / step`` with ``step = (1/near - 1/far) / samples``: the spacing at distance 1 of ``samples``
    distances uniform in inverse depth between ``near`` and ``far`` (``ray_sampling.s_to_t``), and
    ``1 - exp(-density * step) = 1/2`` (``nerf/rendering.py``). ``settings`` None: the official render
    (22.2 per world unit).
    """
    settings = settings if settings is not None else RenderSettings()
    rays = settings.rays
    step = (1.0 / rays.near - 1.0 / rays.far) / rays.samples
    return math.log(2.0) / step


def write_mesh(surface: Isosurface, path: str | Path) -> Path:
    """Write ``surface`` as ``.glb``, ``.ply`` or ``.obj`` (axes, colour spaces: see the module docstring).

    The file appears complete or not at all (written beside it, then renamed).
    """
    import trimesh

    path = _mesh_path(path)
    kind = path.suffix.lower()
    vertices = surface.vertices.astype(np.float64)
    colors = surface.colors
    if kind in (".glb", ".obj"):
        vertices = vertices @ _Z_UP_TO_Y_UP.T
    if kind == ".glb":
        colors = trimesh.visual.color.srgb_to_linear(colors)
    rgba = np.concatenate([_to_uint8(colors), np.full((len(colors), 1), 255, np.uint8)], axis=1)
    mesh = trimesh.Trimesh(vertices, surface.faces, vertex_colors=rgba, process=False)
    if kind == ".glb":
        from trimesh.exchange.gltf import export_glb

        data = export_glb(trimesh.Scene(mesh), tree_postprocessor=_unlit_material)
    elif kind == ".ply":
        data = mesh.export(file_type="ply", encoding="binary")
    else:
        data = mesh.export(file_type="obj", include_normals=False, include_texture=False).encode()
    return _write_atomic(path, data)


def _check_options(resolution, threshold, region, half_size, chunk_points) -> None:
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2 (grid points per axis), got {resolution!r}")
    if not math.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold must be a positive density (per world unit), got {threshold}")
    if region not in REGIONS:
        raise ValueError(f"region must be one of {', '.join(REGIONS)}, got {region!r}")
    if not math.isfinite(half_size) or half_size <= 0:
        raise ValueError(f"half_size must be a positive size in world units, got {half_size}")
    if chunk_points < 1:
        raise ValueError(f"chunk_points must be >= 1, got {chunk_points}")


def _check_crossing(threshold: float, density_range: tuple[float, float], region: str) -> None:
    low, high = density_range
    if threshold >= high:
        raise ValueError(
            f"no surface: the threshold {threshold:g} is above every density in the {region} region "
            f"(largest {high:.4g}); lower the threshold"
        )
    if threshold <= low:
        raise ValueError(
            f"no surface: every density in the {region} region is above the threshold {threshold:g} "
            f"(smallest {low:.4g}); raise the threshold or enlarge the region"
        )


def _mesh_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in MESH_FORMATS:
        raise ValueError(f"a mesh is written as {', '.join(MESH_FORMATS)} (from the file name), got {path}")
    return path


def _unlit_material(tree: dict) -> None:
    """Give every glTF primitive one white ``KHR_materials_unlit`` material (vertex colours shown as they are)."""
    tree["materials"] = [
        {
            "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0, "roughnessFactor": 1},
            "extensions": {"KHR_materials_unlit": {}},
            "doubleSided": True,
        }
    ]
    for mesh in tree["meshes"]:
        for primitive in mesh["primitives"]:
            primitive["material"] = 0
    tree["extensionsUsed"] = sorted(set(tree.get("extensionsUsed", [])) | {"KHR_materials_unlit"})


def _write_atomic(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)
    return path


def _to_uint8(colors: np.ndarray) -> np.ndarray:
    return (np.clip(colors, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def _bounds(points: np.ndarray) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    low, high = points.min(axis=0), points.max(axis=0)
    return tuple(float(v) for v in low), tuple(float(v) for v in high)
