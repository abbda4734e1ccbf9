"""Procedural multi-view scenes for training and tests without datasets: the scene generator.

Three scene kinds mimic the ZeroNVS training mixture:

- ``"room"``: the camera is inside a textured box room with a few objects on the floor and moves
  forward through it with small rotations (like RealEstate10K).
- ``"outdoor"``: a ground plane ``z = 0``, a sky gradient where rays hit nothing, and scattered
  objects; the camera flies forward at some height, looking slightly down (like ACID).
- ``"object"``: one to three objects on a ground plane; the camera orbits them looking at the
  centre (like CO3D).

``make_scene`` draws the scene, ``camera_path`` its cameras (OpenGL camera-to-world, z-up world, see
``zeronvs_core.cameras``), and ``raycast.SyntheticScene.render`` renders them with exact depth.
Everything is deterministic per seed (local ``numpy`` generators only).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..cameras import look_at, orbit_path
from .raycast import PATTERNS, Primitive, SyntheticScene, SyntheticView

__all__ = ["KINDS", "camera_path", "generate_views", "make_scene"]

KINDS = ("room", "outdoor", "object")

_CLEARANCE = 0.3  # smallest gap between a camera region and any object


def _check_kind(kind) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _rand_color(rng: np.random.Generator, lo: float = 0.15, hi: float = 0.95) -> tuple[float, float, float]:
    return tuple(float(v) for v in rng.uniform(lo, hi, 3))


def _rand_axis(rng: np.random.Generator) -> tuple[float, float, float]:
    v = rng.normal(size=3)
    v /= np.linalg.norm(v)
    return tuple(float(x) for x in v)


def _textured(rng: np.random.Generator, shape: str, center, size, freq_range=(0.8, 3.0)) -> Primitive:
    return Primitive(
        shape=shape,
        center=tuple(float(v) for v in center),
        size=tuple(float(v) for v in size),
        color_a=_rand_color(rng),
        color_b=_rand_color(rng),
        pattern=PATTERNS[int(rng.integers(len(PATTERNS)))],
        frequency=float(rng.uniform(*freq_range)),
        axis=_rand_axis(rng),
    )


def _random_object(rng: np.random.Generator, xy, scale: float) -> Primitive:
    """A sphere or box resting on the floor ``z = 0`` at ``xy``."""
    if rng.random() < 0.4:
        r = rng.uniform(0.3, 0.7) * scale
        return _textured(rng, "sphere", (xy[0], xy[1], r), (r, r, r), (2 / scale, 6 / scale))
    half = rng.uniform([0.2, 0.2, 0.2], [0.6, 0.6, 0.8]) * scale
    return _textured(rng, "box", (xy[0], xy[1], half[2]), half, (2 / scale, 6 / scale))


def _gap(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """Chebyshev gap between two axis-aligned boxes (negative when they overlap)."""
    return float(np.max(np.maximum(a[0] - b[1], b[0] - a[1])))


def _place_objects(rng, count: int, xy_lo, xy_hi, scale: float, keep_out, limit=None) -> list[Primitive]:
    objects: list[Primitive] = []
    for _ in range(count * 30):
        if len(objects) == count:
            break
        obj = _random_object(rng, rng.uniform(xy_lo, xy_hi), scale)
        lo, hi = obj.bounds()
        if keep_out is not None and _gap((lo, hi), keep_out) < _CLEARANCE:
            continue
        if limit is not None and (np.any(lo < limit[0]) or np.any(hi > limit[1])):
            continue
        objects.append(obj)
    return objects


def _light(rng: np.random.Generator) -> tuple[float, float, float]:
    azimuth = rng.uniform(0, 2 * math.pi)
    elevation = rng.uniform(math.radians(35), math.radians(75))
    v = (math.cos(elevation) * math.cos(azimuth), math.cos(elevation) * math.sin(azimuth), math.sin(elevation))
    return tuple(float(x) for x in v)


def make_scene(kind: str, seed: int) -> SyntheticScene:
    """A random scene of ``kind`` (one of ``KINDS``), deterministic per ``seed`` (a non-negative int)."""
    kind = _check_kind(kind)
    seed = _check_seed(seed)
    rng = np.random.default_rng([seed, KINDS.index(kind), 0x5CE7E])
    fov = float(rng.uniform(40.0, 70.0))
    light = _light(rng)
    horizon = _rand_color(rng, 0.7, 1.0)
    zenith = tuple(float(v) for v in np.array(_rand_color(rng, 0.2, 0.6)) * np.array([0.6, 0.8, 1.0]))
    if kind == "room":
        width, length, height = rng.uniform([4.5, 7.0, 2.6], [7.0, 10.0, 3.4])
        room = _textured(rng, "room", (0.0, 0.0, height / 2), (width / 2, length / 2, height / 2), (0.5, 2.0))
        y0 = -length / 2 + 0.8
        camera_lo, camera_hi = np.array([-0.6, y0, 1.2]), np.array([0.6, y0 + 2.8, 1.7])
        inner = (np.array([-width / 2, -length / 2, 0.0]), np.array([width / 2, length / 2, height]))
        objects = _place_objects(
            rng,
            int(rng.integers(3, 7)),
            [-width / 2, -length / 2],
            [width / 2, length / 2],
            1.0,
            (camera_lo, camera_hi),
            inner,
        )
        primitives = (room, *objects)
        target = (0.0, 0.0, height / 2)
        min_distance = 0.0
    elif kind == "outdoor":
        ground = _textured(rng, "plane", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (0.3, 1.0))
        camera_lo, camera_hi = np.array([-1.5, 0.0, 1.5]), np.array([1.5, 12.0, 4.0])
        objects = _place_objects(
            rng, int(rng.integers(8, 15)), [-15.0, -2.0], [15.0, 40.0], 3.0, (camera_lo, camera_hi)
        )
        primitives = (ground, *objects)
        target = (0.0, 20.0, 0.0)
        min_distance = 0.0
    else:
        ground = _textured(rng, "plane", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (0.8, 2.5))
        main = _random_object(rng, (0.0, 0.0), 1.0)
        others = _place_objects(rng, int(rng.integers(0, 3)), [-1.0, -1.0], [1.0, 1.0], 0.6, main.bounds())
        primitives = (ground, main, *others)
        top = max(p.bounds()[1][2] for p in primitives[1:])
        target = (0.0, 0.0, float(top) / 2)
        reach = max(float(np.abs(np.stack(p.bounds()) - np.array(target)).max()) for p in primitives[1:])
        min_distance = 2.0 * reach + 1.5
        far = min_distance * 1.5
        camera_lo = np.array([-far, -far, target[2]])
        camera_hi = np.array([far, far, target[2] + far])
    return SyntheticScene(
        kind=kind,
        seed=seed,
        primitives=primitives,
        light_dir=light,
        sky_horizon=horizon,
        sky_zenith=zenith,
        target=tuple(float(v) for v in target),
        camera_lo=tuple(float(v) for v in camera_lo),
        camera_hi=tuple(float(v) for v in camera_hi),
        fov_deg=fov,
        orbit_min_distance=float(min_distance),
    )


def _check_n_views(n_views) -> int:
    if isinstance(n_views, bool) or not isinstance(n_views, (int, np.integer)) or n_views < 1:
        raise ValueError(f"n_views must be an integer of at least 1, got {n_views!r}")
    return int(n_views)


def _forward_cameras(positions: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> torch.Tensor:
    """Cameras at ``positions`` looking along yaw (from +y towards +x) and pitch (up), no roll."""
    forward = np.stack([np.sin(yaw) * np.cos(pitch), np.cos(yaw) * np.cos(pitch), np.sin(pitch)], axis=-1)
    pos = torch.tensor(positions, dtype=torch.float64)
    c2w = look_at(pos, pos + torch.tensor(forward, dtype=torch.float64))
    return c2w.to(torch.float32)


def camera_path(scene: SyntheticScene, n_views: int, seed: int, lateral: bool = False) -> torch.Tensor:
    """The kind's typical camera path: ``[n_views,4,4]`` float32 OpenGL camera-to-world matrices.

    Room: forward through the room (+y) by 1 to 2.5 units at eye height, yaw and pitch drifting by a few
    degrees. Outdoor: forward fly-through (+y) by 4 to 12 units at 1.5 to 4 units height, looking 5 to 20
    degrees down. Object: a full orbit (no repeated end view) around ``scene.target`` at 15 to 45 degrees
    elevation, looking at the target. Deterministic per ``(scene, seed)``.

    ``lateral`` (default off; issue 27) makes paths on which the direction of the motion moves the whole
    layout of the view: rooms and outdoor scenes are crossed sideways (along x, the whole width of the
    kind's camera region) instead of forward, and the object orbit turns about a point 0.3 to 0.7 times the
    objects' reach beside ``scene.target`` (horizontal, random direction), so the objects sit off-centre and
    swing left or right with the sign of the turn. The default path's random draws are unchanged.
    """
    n_views = _check_n_views(n_views)
    seed = _check_seed(seed)
    rng = np.random.default_rng([scene.seed, seed, KINDS.index(scene.kind), 0xCA11])
    s = np.linspace(0.0, 1.0, n_views)
    lo, hi = np.array(scene.camera_lo), np.array(scene.camera_hi)
    if scene.kind in ("room", "outdoor"):
        room = scene.kind == "room"
        travel = rng.uniform(1.0, 2.5) if room else rng.uniform(4.0, 12.0)
        start = rng.uniform(lo, hi)
        start[1] = rng.uniform(lo[1], hi[1] - travel)
        end = rng.uniform(lo, hi)
        end[1] = start[1] + travel
        if lateral:
            start[0], end[0] = (lo[0], hi[0]) if rng.random() < 0.5 else (hi[0], lo[0])
            end[1] = start[1]
        positions = start + s[:, None] * (end - start)
        max_yaw, pitch_range = (15.0, (-8.0, 5.0)) if room else (10.0, (-20.0, -5.0))
        yaw = np.radians(rng.uniform(-max_yaw, max_yaw, 2))
        pitch = np.radians(rng.uniform(*pitch_range, 2))
        return _forward_cameras(positions, yaw[0] + s * (yaw[1] - yaw[0]), pitch[0] + s * (pitch[1] - pitch[0]))
    distance = rng.uniform(1.0, 1.4) * scene.orbit_min_distance
    elevation_deg = rng.uniform(15.0, 45.0)
    start_deg = math.degrees(rng.uniform(0, 2 * math.pi))
    target = torch.tensor(scene.target, dtype=torch.float64)
    if lateral:
        # orbit_min_distance is twice the reach plus 1.5, so an orbit centre within the reach keeps clear.
        reach = (scene.orbit_min_distance - 1.5) / 2.0
        shift, direction = rng.uniform(0.3, 0.7) * reach, rng.uniform(0, 2 * math.pi)
        offset = [shift * math.cos(direction), shift * math.sin(direction), 0.0]
        target = target + torch.tensor(offset, dtype=torch.float64)
    return orbit_path(n_views, elevation_deg, distance, start_deg, target=target).to(torch.float32)


def generate_views(
    kind: str, seed: int, n_views: int = 8, size: int = 64, fov_deg: float | None = None
) -> list[SyntheticView]:
    """Render ``n_views`` views of ``make_scene(kind, seed)`` along ``camera_path(scene, n_views, seed)``.

    Args:
        kind: one of ``KINDS``.
        seed: non-negative integer; the same seed gives identical views.
        n_views: number of views (at least 1).
        size: square image size in pixels (at least 8).
        fov_deg: vertical FOV in degrees; the scene's random FOV (40 to 70 degrees) when None.

    Returns:
        ``list[SyntheticView]`` of length ``n_views``.
    """
    kind = _check_kind(kind)
    n_views = _check_n_views(n_views)
    scene = make_scene(kind, seed)
    c2w = camera_path(scene, n_views, seed)
    return scene.render(c2w, scene.fov_deg if fov_deg is None else fov_deg, size)
