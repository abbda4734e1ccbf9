"""The ``zeronvs`` command's jobs as plain functions: novel views of a photo, the whole orbit pipeline
(anchors, SDS distillation, orbit and depth videos, the saved field), and re-rendering a saved field.

Each job writes its outputs into a folder, with ``run.json``: the settings, the outputs, the device
and the seconds spent per phase. Progress goes to ``progress(description, total)``, which returns a bar
with ``update(n)`` and ``close()`` (``tqdm`` fits); by default nothing is shown.

Cameras follow the official setup (spec section 5.1): the input camera sits at ``elevation_deg``,
azimuth 0, distance 1 from the origin, looking at it; novel views and orbits turn about the vertical
(z) axis through the origin.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from . import __version__
from .cameras import orbit_camera, orbit_path, validate_fov_deg
from .progress import Progress, open_bar
from .wild_defaults import ELEVATION_DEG, FOV_DEG, SCALE

__all__ = [
    "InputCamera",
    "choose_device",
    "default_preset",
    "novel_views",
    "orbit",
    "render_field",
]

RUN_FILE = "run.json"


@dataclass(frozen=True)
class InputCamera:
    """What the user must say about the photo (the official in-the-wild values by default)."""

    fov_deg: float = FOV_DEG
    """Vertical field of view of the photo's centred square crop, degrees, in (0, 180)."""
    elevation_deg: float = ELEVATION_DEG
    """Angle of the camera above the ground plane, looking at the scene's centre, degrees, in (-90, 90)."""
    scale: float = SCALE
    """Viewer scale s: how far the scene is from the camera, in the model's units (> 0)."""

    def __post_init__(self):
        validate_fov_deg(torch.tensor([float(self.fov_deg)]), "fov")
        if not -90.0 < self.elevation_deg < 90.0:
            raise ValueError(f"elevation must be in (-90, 90) degrees, got {self.elevation_deg}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale must be a positive number, got {self.scale}")


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


def novel_views(
    image_path: str | Path,
    out: str | Path,
    model: str | Path | None = None,
    camera: InputCamera = InputCamera(),
    count: int = 8,
    steps: int = 50,
    guidance_scale: float = 3.0,
    eta: float = 1.0,
    seed: int = 0,
    device: str = "auto",
    progress: Progress | None = None,
) -> dict:
    """DDIM novel views of the photo at ``count`` azimuths evenly spaced over a turn (view 0 is the input
    camera), at the input's elevation and distance. Writes ``views/view_NNNN.png``, ``grid.png`` and
    ``run.json``; returns the run record."""
    from .images import image_grid, read_image
    from .render import write_frames, write_image
    from .sampling import sample_views

    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    settings = {"image": image_path, "model": _model_name(model), "camera": camera, "count": count, "steps": steps}
    settings.update(guidance_scale=guidance_scale, eta=eta, seed=seed, device=device)
    run = _Run(out, "views", settings)
    image = read_image(image_path)
    loaded = run.phase("load", lambda: _load_model(model, device))
    targets = orbit_path(count, camera.elevation_deg)
    bar = open_bar(progress, "views (DDIM steps)", steps)
    views = run.phase(
        "sample",
        lambda: sample_views(
            loaded,
            image.to(loaded.device),
            orbit_camera(camera.elevation_deg, 0.0),
            targets,
            camera.fov_deg,
            camera.scale,
            steps=steps,
            guidance_scale=guidance_scale,
            eta=eta,
            generator=torch.Generator().manual_seed(seed),
            callback=lambda step, total, latents: bar.update(1),
        ),
    )
    bar.close()
    paths = write_frames(views, run.out / "views", prefix="view")
    grid = write_image(image_grid(views, min(count, 4))[0], run.out / "grid.png")
    return run.finish({"views": [str(p) for p in paths], "grid": str(grid)}, loaded)


def orbit(
    image_path: str | Path,
    out: str | Path,
    model: str | Path | None = None,
    camera: InputCamera = InputCamera(),
    preset: str | None = None,
    steps: int | None = None,
    anchors: int = 0,
    seed: int = 0,
    memory_budget_gib: float | str | None = "auto",
    frames: int | None = None,
    size: int | None = None,
    resume: bool = False,
    device: str = "auto",
    progress: Progress | None = None,
) -> dict:
    """The whole pipeline: optional anchor views, SDS distillation of a 3D field, then an orbit video and a
    depth video around it. Writes ``field.safetensors``, ``orbit.mp4``, ``depth.mp4``, ``frames/``,
    ``checkpoint/last.ckpt`` and ``run.json``.

    ``preset`` defaults to ``default_preset``; ``steps`` shortens or lengthens it (every schedule scaled);
    ``frames`` and ``size`` default to 120 frames of 256 pixels on a GPU and 48 of 96 on the CPU. An
    interrupted run (Ctrl-C) leaves its checkpoint; ``resume=True`` with the same settings continues it.
    ``memory_budget_gib``: ``DistillConfig.memory_budget_gib``."""
    from .distill import PRESETS, distill, with_steps
    from .images import read_image
    from .render import save_scene, settings_for

    torch_device = choose_device(device)
    preset = preset or default_preset(torch_device)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    if anchors < 0:
        raise ValueError(f"anchors must be >= 0, got {anchors}")
    on_gpu = torch_device.type == "cuda"
    frames = frames if frames is not None else (120 if on_gpu else 48)
    size = size if size is not None else (256 if on_gpu else 96)
    config = PRESETS[preset]
    if steps is not None:
        config = with_steps(config, steps)
    config = dataclasses.replace(config, seed=seed, anchors=dataclasses.replace(config.anchors, count=anchors))
    config = dataclasses.replace(config, memory_budget_gib=memory_budget_gib)
    settings = {
        "image": image_path,
        "model": _model_name(model),
        "camera": camera,
        "preset": preset,
        "steps": config.steps,
    }
    settings.update(anchors=anchors, seed=seed, frames=frames, size=size, device=device, distill=config)
    run = _Run(out, "orbit", settings, resume=resume)
    image = read_image(image_path)
    loaded = run.phase("load", lambda: _load_model(model, device))
    bar = open_bar(progress, "distillation (SDS steps)", config.steps)
    result = run.phase(
        "distill",
        lambda: distill(
            loaded,
            image.to(loaded.device),
            camera.fov_deg,
            camera.elevation_deg,
            camera.scale,
            config,
            checkpoint_dir=run.out / "checkpoint",
            resume=resume,
            callback=lambda step, total, preview: _advance(bar, step),
        ),
    )
    bar.close()
    render = settings_for(config, camera.fov_deg, camera.elevation_deg)
    field = save_scene(result.scene, run.out / "field.safetensors", render)
    outputs = run.phase(
        "render",
        lambda: _render_outputs(result.scene, run.out, render, frames, size, 1.0, progress),
    )
    return run.finish({"field": str(field), **outputs, "distill_seconds": result.timings}, loaded)


def render_field(
    field_path: str | Path,
    out: str | Path,
    fov_deg: float | None = None,
    elevation_deg: float | None = None,
    distance: float = 1.0,
    frames: int = 120,
    size: int = 256,
    device: str = "auto",
    progress: Progress | None = None,
) -> dict:
    """Re-render a field saved by ``orbit`` along a new orbit (``frames`` views of ``size`` pixels at
    ``elevation_deg`` and ``distance``); FOV and elevation default to the input camera stored in the field.
    Writes ``orbit.mp4``, ``depth.mp4``, ``frames/`` and ``run.json``."""
    from .render import load_scene

    if not distance > 0:
        raise ValueError(f"distance must be positive, got {distance}")
    settings = {"field": field_path, "fov_deg": fov_deg, "elevation_deg": elevation_deg, "distance": distance}
    run = _Run(out, "render", {**settings, "frames": frames, "size": size, "device": device})
    scene, settings = run.phase("load", lambda: load_scene(field_path, device=choose_device(device)))
    fov_deg = fov_deg if fov_deg is not None else settings.fov_deg
    elevation_deg = elevation_deg if elevation_deg is not None else settings.elevation_deg
    if fov_deg is None or elevation_deg is None:
        raise ValueError(f"{field_path} does not record its input camera: pass --fov and --elevation")
    camera = InputCamera(fov_deg, elevation_deg)
    settings = dataclasses.replace(settings, fov_deg=camera.fov_deg, elevation_deg=camera.elevation_deg)
    outputs = run.phase("render", lambda: _render_outputs(scene, run.out, settings, frames, size, distance, progress))
    return run.finish(outputs)


class _Run:
    """The output folder and ``run.json`` of one job: settings, phase timings, outputs."""

    def __init__(self, out, command: str, settings: dict, resume: bool = False):
        self.out = Path(out)
        self.record = {"command": command, "settings": _plain(settings), "seconds": {}}
        previous = self.out / RUN_FILE
        if resume and previous.is_file():
            before = json.loads(previous.read_text()).get("settings", {})
            changed = sorted(key for key, value in self.record["settings"].items() if before.get(key) != value)
            if changed:
                raise ValueError(f"--resume needs the settings of the interrupted run; these differ: {changed}")
        self.out.mkdir(parents=True, exist_ok=True)
        self.start = time.perf_counter()
        self._write({"status": "running"})

    def phase(self, name: str, function):
        start = time.perf_counter()
        try:
            return function()
        except KeyboardInterrupt:
            self._write({"status": f"interrupted during {name}"})
            raise
        finally:
            self.record["seconds"][name] = round(time.perf_counter() - start, 3)

    def finish(self, outputs: dict, model=None) -> dict:
        self.record["seconds"]["total"] = round(time.perf_counter() - self.start, 3)
        if model is not None:
            self.record["model"] = {"resolution": model.config.resolution, "camera_mode": model.config.camera_mode}
        return self._write({"status": "done", "outputs": _plain(outputs)})

    def _write(self, extra: dict) -> dict:
        self.record.update(extra)
        self.record["environment"] = {
            "zeronvs": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        }
        (self.out / RUN_FILE).write_text(json.dumps(self.record, indent=2) + "\n")
        return self.record


def _model_name(model) -> str:
    from .model.demo import DEMO_MODEL_NAME

    return DEMO_MODEL_NAME if model is None else str(model)


def _load_model(model, device: str):
    from .model import inference_dtype, load_zeronvs, resolve_model_path

    torch_device = choose_device(device)
    dtype = inference_dtype(torch_device)
    return load_zeronvs(resolve_model_path(model), device=torch_device, dtype=dtype).eval()


def _render_outputs(scene, out: Path, settings, frames: int, size: int, distance: float, progress) -> dict:
    from .render import depth_to_image, render_path, write_frames, write_video

    if frames < 1 or size < 8:
        raise ValueError(f"frames must be >= 1 and size >= 8, got {frames} and {size}")
    cameras = orbit_path(frames, settings.elevation_deg, distance)
    bar = open_bar(progress, "rendering (frames)", frames)
    rendered = render_path(scene, cameras, settings.fov_deg, size, settings, lambda i, n, rgb: bar.update(1))
    bar.close()
    write_frames(rendered.rgb, out / "frames")
    return {
        "orbit": str(write_video(rendered.rgb, out / "orbit.mp4")),
        "depth": str(write_video(depth_to_image(rendered.depth), out / "depth.mp4")),
        "frames": str(out / "frames"),
    }


def _advance(bar, step: int) -> None:
    """Move ``bar`` to ``step`` (a resumed run starts past 0)."""
    bar.update(step - getattr(bar, "n", step - 1))


def _plain(value):
    """JSON-ready copy of settings: dataclasses as dicts, tuples as lists, paths (and the rest) as strings."""
    if dataclasses.is_dataclass(value):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
