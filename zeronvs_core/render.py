"""Render a distilled ``Scene`` along a camera path, write frames and videos, save and load scenes.

Cameras are OpenGL camera-to-world ``[F,4,4]`` (see ``cameras.py``); the default path is the official
test orbit: 120 views at the input elevation and distance 1, starting at the input camera (azimuth 0).
Scene files are ``.safetensors`` with the field config and the render settings as JSON in the header.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .cameras import orbit_path, validate_c2w, validate_fov_deg
from .nerf.field import FieldConfig, GridConfig
from .nerf.ray_sampling import RaySettings
from .nerf.scene import Scene
from .progress import ProgressCallback
from .tensor_files import CheckpointError, WeightFile, save_tensors

__all__ = [
    "OrbitFrames",
    "RenderSettings",
    "depth_to_image",
    "load_scene",
    "render_orbit",
    "render_path",
    "save_scene",
    "settings_for",
    "write_frames",
    "write_image",
    "write_video",
]

_SCENE_FORMAT = "zeronvs-scene"


@dataclass(frozen=True)
class RenderSettings:
    """How a scene is rendered after distillation."""

    rays: RaySettings = RaySettings()
    """Range along the rays and samples per ray (those of the distillation: ``settings_for``)."""
    background: tuple[float, float, float] = (0.5, 0.5, 0.5)
    """Solid background colour (official evaluation: gray in the wild, black for DTU)."""
    fov_deg: float | None = None
    """Vertical FOV of the input camera, degrees: the default of a re-render (None: unknown)."""
    elevation_deg: float | None = None
    """Elevation of the input camera, degrees: the default orbit of a re-render (None: unknown)."""


def settings_for(config, fov_deg: float, elevation_deg: float) -> RenderSettings:
    """The render settings of a scene distilled with ``config`` (a ``DistillConfig``) from a photo with
    this input camera: its ray settings (near and far planes, samples per ray), black background for a black
    training background (DTU) and gray otherwise."""
    return RenderSettings(
        rays=config.rays,
        background=(0.0, 0.0, 0.0) if config.background == "black" else (0.5, 0.5, 0.5),
        fov_deg=float(fov_deg),
        elevation_deg=float(elevation_deg),
    )


@dataclass
class OrbitFrames:
    """Rendered frames, ``F`` cameras at ``H x W``."""

    rgb: torch.Tensor
    """``[F,3,H,W]`` in [0,1]."""
    depth: torch.Tensor
    """``[F,1,H,W]`` distance along each ray, world units (0 where nothing is hit)."""
    opacity: torch.Tensor
    """``[F,1,H,W]`` in [0,1]."""


@torch.no_grad()
def render_path(
    scene: Scene,
    c2w: torch.Tensor,
    fov_deg,
    size: int | tuple[int, int] = 256,
    settings: RenderSettings | None = None,
    callback: ProgressCallback | None = None,
) -> OrbitFrames:
    """Render ``scene`` from cameras ``c2w [F,4,4]`` (vertical FOV in degrees) one camera at a time, as
    square ``size x size`` frames or, for ``size = (height, width)``, ``height`` rows by ``width`` columns;
    ``callback(frame, total, rgb [3,H,W])`` (``progress.ProgressCallback``) after each frame may raise to stop."""
    settings = settings if settings is not None else RenderSettings()
    c2w = validate_c2w(c2w, "c2w")
    validate_fov_deg(torch.as_tensor(fov_deg, dtype=torch.float64).reshape(-1))
    height, width = (size, size) if isinstance(size, int) else size
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive pixels, an int or (height, width), got {size}")
    device = next(scene.parameters()).device
    background = torch.tensor(settings.background, device=device)
    frames = []
    for index in range(c2w.shape[0]):
        view = scene.render(
            c2w[index : index + 1].to(device).float(),
            fov_deg,
            height,
            width,
            background,
            settings.rays,
        )
        frames.append((view.rgb.clamp(0, 1), view.depth, view.opacity))
        if callback is not None:
            callback(index + 1, c2w.shape[0], frames[-1][0][0].permute(2, 0, 1))
    rgb, depth, opacity = (torch.cat(parts) for parts in zip(*frames, strict=True))
    return OrbitFrames(rgb.permute(0, 3, 1, 2), depth[:, None], opacity[:, None])


def render_orbit(
    scene: Scene,
    elevation_deg: float,
    fov_deg: float,
    n_views: int = 120,
    distance: float = 1.0,
    size: int = 256,
    settings: RenderSettings | None = None,
    callback: ProgressCallback | None = None,
) -> OrbitFrames:
    """Render a full turn around the scene at ``elevation_deg``, frame 0 at the input camera."""
    return render_path(scene, orbit_path(n_views, elevation_deg, distance), fov_deg, size, settings, callback)


def write_image(image: torch.Tensor, path: str | Path) -> Path:
    """Write one ``[C,H,W]`` image in [0,1] (C = 1 or 3) to ``path`` (format from its suffix, e.g. PNG)."""
    import imageio.v3 as iio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, _to_uint8(image[None])[0])
    return path


def write_frames(images: torch.Tensor, directory: str | Path, prefix: str = "frame") -> list[Path]:
    """Write ``[F,C,H,W]`` images in [0,1] (C = 1 or 3) as ``prefix_0000.png``...; returns the paths."""
    _to_uint8(images[:0])  # check the shape once, before any file is written
    return [write_image(frame, Path(directory) / f"{prefix}_{index:04d}.png") for index, frame in enumerate(images)]


def write_video(images: torch.Tensor, path: str | Path, fps: int = 30) -> Path:
    """Write ``[F,C,H,W]`` images in [0,1] as an H.264 mp4 (ffmpeg from imageio-ffmpeg)."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = _to_uint8(images)
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    with imageio.get_writer(path, fps=fps, codec="libx264", quality=8, macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(frame)
    return path


def depth_to_image(depth: torch.Tensor) -> torch.Tensor:
    """``[F,1,H,W]`` depth to [0,1] for viewing: inverse depth scaled by its 99th percentile."""
    inverse = torch.where(depth > 0, 1.0 / depth.clamp_min(1e-6), torch.zeros_like(depth))
    top = torch.quantile(inverse.flatten().float(), 0.99).clamp_min(1e-6)
    return (inverse / top).clamp(0, 1)


def save_scene(scene: Scene, path: str | Path, settings: RenderSettings | None = None) -> Path:
    """Write ``scene`` (weights, field config, render settings) to a ``.safetensors`` file."""
    settings = settings if settings is not None else RenderSettings()
    metadata = {
        "format": _SCENE_FORMAT,
        "field_config": json.dumps(dataclasses.asdict(scene.config)),
        "render_settings": json.dumps(_settings_header(settings)),
    }
    return save_tensors(scene.state_dict(), path, metadata)


def load_scene(path: str | Path, device="cpu") -> tuple[Scene, RenderSettings]:
    """Read a file written by ``save_scene``: ``(scene, render settings)``."""
    weights = WeightFile(path)
    if weights.metadata.get("format") != _SCENE_FORMAT:
        raise CheckpointError(f"{weights.path} is not a ZeroNVS scene file (written by save_scene)")
    config = _field_config(json.loads(weights.metadata["field_config"]))
    settings = json.loads(weights.metadata["render_settings"])
    scene = Scene(config)
    state = {key: weights[key] for key in weights}
    expected = {key: tuple(value.shape) for key, value in scene.state_dict().items()}
    found = {key: tuple(value.shape) for key, value in state.items()}
    if found != expected:
        raise CheckpointError(
            f"{weights.path}: its weights do not match its field config (a file from another version or config?)"
        )
    scene.load_state_dict(state)
    return scene.to(device).eval(), _settings_from_header(settings)


def _settings_header(settings: RenderSettings) -> dict:
    """The scene file's ``render_settings``: every field at the top level, ``rays``' first (the layout of the
    files written before ``RaySettings`` existed, which ``load_scene`` keeps reading)."""
    fields = dataclasses.asdict(settings)
    return {**fields.pop("rays"), **fields}


def _settings_from_header(data: dict) -> RenderSettings:
    """``RenderSettings`` from a scene file's ``render_settings`` (see ``_settings_header``)."""
    rays = RaySettings(**{name: data.pop(name) for name in ("near", "far", "proposal_samples", "samples")})
    return RenderSettings(rays=rays, **{**data, "background": tuple(data["background"])})


def _field_config(data: dict) -> FieldConfig:
    return FieldConfig(
        **{**data, "grid": GridConfig(**data["grid"]), "proposal_grid": GridConfig(**data["proposal_grid"])}
    )


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    """``[F,C,H,W]`` in [0,1] to ``[F,H,W,C]`` uint8."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be [F,C,H,W] with C = 1 or 3, got {list(images.shape)}")
    return (images.detach().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
