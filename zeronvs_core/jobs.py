"""The ``zeronvs`` command's jobs as plain functions: novel views of a photo, the whole orbit pipeline
(anchors, SDS distillation, orbit and depth videos, the saved scene), and re-rendering a saved scene.

Each job writes its outputs into a folder, with ``run.json``: the settings, the outputs, the device
and the seconds spent per phase. Progress goes to ``progress(description)``, which returns each phase's
``callback(step, total, preview=None)`` (``progress.PhaseProgress``; ``TqdmCallback`` fits); by default nothing
is shown.

Cameras are one ``camera_set.CameraSet`` (the official setup, spec section 5.1: the input camera sits at
``elevation_deg``, azimuth 0, distance 1 from the origin, looking at it; novel views and orbits turn about
the vertical (z) axis through the origin); the viewer scale is its own argument (``wild_defaults.SCALE``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from pathlib import Path

import torch

from .camera_set import CameraSet
from .progress import PhaseProgress, phase_callback
from .run_record import RUN_FILE, RunRecord
from .wild_defaults import ELEVATION_DEG, FOV_DEG, SCALE

__all__ = [
    "RUN_FILE",
    "SCENE_FILE",
    "choose_device",
    "default_preset",
    "default_video",
    "novel_views",
    "orbit",
    "render_scene",
]

SCENE_FILE = "scene.safetensors"
"""The distilled scene ``orbit`` writes into its output folder (``render.save_scene``)."""
_VIEW_CAMERAS = CameraSet.orbit(8)
"""``novel_views``' default: the official in-the-wild input camera and 8 targets over a turn."""
_INPUT_CAMERA = CameraSet()
"""``orbit``'s default: the official in-the-wild input camera, no targets."""


def choose_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ValueError(f"device must be auto, cpu or cuda[:N], got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but PyTorch sees no CUDA GPU")
    return torch.device(name)


def default_preset(device: torch.device) -> str:
    """``fast`` on a GPU, ``cpu_smoke`` on the CPU."""
    return "fast" if device.type == "cuda" else "cpu_smoke"


def default_video(device: torch.device) -> tuple[int, int]:
    """``(frames, size)`` of orbit videos: 120 frames of 256 pixels on a GPU, 48 of 96 on the CPU (where
    256 pixels take about 25 minutes for 120 frames)."""
    return (120, 256) if device.type == "cuda" else (48, 96)


def novel_views(
    image_path: str | Path,
    out: str | Path,
    model: str | Path | None = None,
    cameras: CameraSet = _VIEW_CAMERAS,
    scale: float = SCALE,
    steps: int = 50,
    guidance_scale: float = 3.0,
    eta: float = 1.0,
    seed: int = 0,
    device: str = "auto",
    progress: PhaseProgress | None = None,
) -> dict:
    """DDIM novel views of the photo, one per target of ``cameras`` (default: 8 azimuths evenly spaced over
    a turn at the official input camera, view 0 at the input camera), at the model's resolution (64 px for
    the demo model, 256 px for the released one), for viewer scale ``scale``. Writes
    ``views/view_NNNN.png``, ``grid.png`` and ``run.json``; returns the run record.

    Every argument, the photo, the model's path and the output folder are checked before the model is
    loaded. Raises ``ValueError`` (bad values, ``cameras`` without targets, unreadable photo or model
    file), ``FileNotFoundError`` and other ``OSError`` (missing inputs, an output folder that cannot be
    written); ``run.json`` records a failure after the folder is made."""
    from .images import image_grid
    from .render import write_frames, write_image
    from .sampling import check_sampling_args, sample_views

    if len(cameras) == 0:
        raise ValueError("cameras has no target cameras; novel views are sampled one per target")
    _check_scale(scale)
    check_sampling_args(steps, guidance_scale, eta)
    choose_device(device)
    image, inputs = _read_photo(image_path)
    _model_path(model)
    settings = {"image": image_path, "model": _model_name(model), "camera": cameras.to_record(), "scale": scale}
    settings.update(steps=steps, guidance_scale=guidance_scale, eta=eta, seed=seed, device=device)
    with RunRecord(out, "views", settings, inputs) as run:
        loaded = run.phase("load", lambda: _load_model(model, device, run))
        views = run.phase(
            "sample",
            lambda: sample_views(
                loaded,
                image.to(loaded.device),
                cameras.input_c2w,
                cameras.target_c2w,
                cameras.fov_deg,
                scale,
                steps=steps,
                guidance_scale=guidance_scale,
                eta=eta,
                generator=torch.Generator().manual_seed(seed),
                callback=phase_callback(progress, "views (DDIM steps)"),
            ),
        )
        paths = write_frames(views, run.out / "views", prefix="view")
        grid = write_image(image_grid(views, min(len(cameras), 4))[0], run.out / "grid.png")
        return run.finish({"views": [str(p) for p in paths], "grid": str(grid)}, loaded)


def orbit(
    image_path: str | Path,
    out: str | Path,
    model: str | Path | None = None,
    cameras: CameraSet = _INPUT_CAMERA,
    scale: float = SCALE,
    preset: str | None = None,
    steps: int | None = None,
    anchor_count: int = 0,
    seed: int = 0,
    memory_budget_gib: float | str | None = "auto",
    frames: int | None = None,
    size: int | None = None,
    resume: bool = False,
    device: str = "auto",
    progress: PhaseProgress | None = None,
) -> dict:
    """The whole pipeline: optional anchor views, SDS distillation of a 3D scene from the input camera of
    ``cameras`` (which must have no targets: the orbit is ``frames`` views at its elevation), then an orbit
    video and a depth video around it. Writes ``scene.safetensors`` (``SCENE_FILE``), ``orbit.mp4``,
    ``depth.mp4``, ``frames/`` (the orbit frames as PNGs), ``checkpoint/last.ckpt`` (the distillation's
    state, for ``resume``; it may be deleted once the run is done) and ``run.json``.

    ``preset`` defaults to ``default_preset``; ``steps`` shortens or lengthens it (every schedule scaled);
    ``anchor_count`` anchor views (0: anchoring off); ``frames`` and ``size`` default to ``default_video``.
    An interrupted run (Ctrl-C) leaves its checkpoint; ``resume=True`` with the same settings, photo (by
    content) and model (by weights) continues it.

    Every argument, the photo, the model's path and the output folder are checked before the model is
    loaded. Raises as ``novel_views``; on ``resume``, ``ValueError`` when the settings, the photo's content
    or the model's weights differ from the interrupted run's.

    ``memory_budget_gib``: ``DistillConfig.memory_budget_gib``."""
    from .distill import distill
    from .distill import preset as distill_preset
    from .render import save_scene, settings_for

    if len(cameras) != 0:
        raise ValueError(
            f"cameras has {len(cameras)} target cameras; orbit distils from the input camera alone and renders "
            "its own orbit of frames views"
        )
    _check_scale(scale)
    torch_device = choose_device(device)
    preset = preset or default_preset(torch_device)
    _at_least("anchor_count", anchor_count, 0)
    if steps is not None:
        _at_least("steps", steps, 1)
    config = distill_preset(preset, steps, seed=seed, memory_budget_gib=memory_budget_gib)
    config = dataclasses.replace(config, anchoring=dataclasses.replace(config.anchoring, count=anchor_count))
    frames, size = _video_size(torch_device, frames, size)
    image, inputs = _read_photo(image_path)
    _model_path(model)
    settings = {"image": image_path, "model": _model_name(model), "camera": cameras.to_record(), "scale": scale}
    settings.update(preset=preset, steps=config.steps, anchor_count=anchor_count, seed=seed, frames=frames)
    settings.update(size=size, device=device, distill=config.to_record())
    with RunRecord(out, "orbit", settings, inputs, resume=resume) as run:
        loaded = run.phase("load", lambda: _load_model(model, device, run))
        result = run.phase(
            "distill",
            lambda: distill(
                loaded,
                image.to(loaded.device),
                cameras.fov_deg,
                cameras.elevation_deg,
                scale,
                config,
                checkpoint_dir=run.out / "checkpoint",
                resume=resume,
                callback=phase_callback(progress, "distillation (SDS steps)"),
            ),
        )
        if resume:
            run.resumed_from(result.start_step)
        render = settings_for(config, cameras.fov_deg, cameras.elevation_deg)
        scene_path = save_scene(result.scene, run.out / SCENE_FILE, render)
        path = CameraSet.orbit(frames, cameras.fov_deg, cameras.elevation_deg)
        outputs = run.phase("render", lambda: _render_outputs(result.scene, run.out, render, path, size, progress))
        return run.finish({"scene": str(scene_path), **outputs, "distill_seconds": result.timings}, loaded)


def render_scene(
    scene_path: str | Path,
    out: str | Path,
    fov_deg: float | None = None,
    elevation_deg: float | None = None,
    distance: float = 1.0,
    frames: int | None = None,
    size: int | None = None,
    device: str = "auto",
    progress: PhaseProgress | None = None,
) -> dict:
    """Re-render a scene saved by ``orbit`` (``scene.safetensors``) or by the nodes along a new orbit:
    ``frames`` views of ``size`` pixels at ``elevation_deg`` and ``distance`` (``CameraSet.orbit``). FOV
    and elevation default to the input camera stored in the scene, ``frames`` and ``size`` to
    ``default_video`` (as ``orbit``). Writes ``orbit.mp4``, ``depth.mp4``, ``frames/`` and ``run.json``.
    Arguments and the output folder are checked before the scene is read; ``ValueError`` when neither the
    arguments nor the scene file give the FOV and elevation."""
    from .render import load_scene

    if not distance > 0:
        raise ValueError(f"distance must be positive, got {distance}")
    torch_device = choose_device(device)
    frames, size = _video_size(torch_device, frames, size)
    # the angles given are checked now (the others come from the file, read below)
    CameraSet(FOV_DEG if fov_deg is None else fov_deg, ELEVATION_DEG if elevation_deg is None else elevation_deg)
    if not Path(scene_path).is_file():
        raise FileNotFoundError(f"scene file {scene_path} does not exist")
    settings = {"scene": scene_path, "fov_deg": fov_deg, "elevation_deg": elevation_deg, "distance": distance}
    with RunRecord(out, "render", {**settings, "frames": frames, "size": size, "device": device}) as run:
        scene, stored = run.phase("load", lambda: load_scene(scene_path, device=torch_device))
        fov_deg = fov_deg if fov_deg is not None else stored.fov_deg
        elevation_deg = elevation_deg if elevation_deg is not None else stored.elevation_deg
        if fov_deg is None or elevation_deg is None:
            raise ValueError(f"{scene_path} does not record its input camera: give fov_deg and elevation_deg")
        path = CameraSet.orbit(frames, fov_deg, elevation_deg, distance)
        outputs = run.phase("render", lambda: _render_outputs(scene, run.out, stored, path, size, progress))
        return run.finish(outputs)


def _check_scale(scale: float) -> None:
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale}")


def _at_least(name: str, value: int, low: int) -> None:
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")


def _video_size(device: torch.device, frames: int | None, size: int | None) -> tuple[int, int]:
    """``frames`` and ``size``, defaulted by ``default_video`` and checked (>= 1 frame of >= 8 pixels)."""
    default_frames, default_size = default_video(device)
    frames = default_frames if frames is None else frames
    size = default_size if size is None else size
    _at_least("frames", frames, 1)
    _at_least("size", size, 8)
    return frames, size


def _read_photo(path) -> tuple[torch.Tensor, dict]:
    """The photo (``images.read_image``) and ``{"image_sha256": its file's SHA-256}``; at least 8x8 pixels."""
    from .fingerprint import file_sha256
    from .images import read_image

    image = read_image(path)
    height, width = image.shape[-2:]
    if min(height, width) < 8:
        raise ValueError(f"{path} is {width}x{height} pixels; a photo must be at least 8x8")
    return image, {"image_sha256": file_sha256(path)}


def _model_name(model) -> str:
    from .model.demo import DEMO_MODEL_NAME

    return DEMO_MODEL_NAME if model is None else str(model)


def _model_path(model) -> Path:
    from .model import resolve_model_path

    return resolve_model_path(model)


def _load_model(model, device: str, run: RunRecord):
    """Load the model for inference and record its weights' SHA-256 in ``run.record["inputs"]``."""
    from .fingerprint import weights_sha256
    from .model import inference_dtype, load_zeronvs

    torch_device = choose_device(device)
    dtype = inference_dtype(torch_device)
    loaded = load_zeronvs(_model_path(model), device=torch_device, dtype=dtype).eval()
    run.record["inputs"]["model_sha256"] = weights_sha256(loaded)
    return loaded


def _render_outputs(scene, out: Path, settings, cameras: CameraSet, size: int, progress) -> dict:
    """Render ``scene`` at the targets of ``cameras`` (its FOV; square frames of ``size`` pixels) with the
    ray settings ``settings``; write ``frames/``, ``orbit.mp4`` and ``depth.mp4``."""
    from .render import depth_to_image, render_path, write_frames, write_video

    callback = phase_callback(progress, "rendering (frames)")
    rendered = render_path(scene, cameras.target_c2w, cameras.fov_deg, size, settings, callback)
    write_frames(rendered.rgb, out / "frames")
    return {
        "orbit": str(write_video(rendered.rgb, out / "orbit.mp4")),
        "depth": str(write_video(depth_to_image(rendered.depth), out / "depth.mp4")),
        "frames": str(out / "frames"),
    }
