"""ZeroNVS's single-view evaluation protocols (spec section 8: DTU and Mip-NeRF 360) as one call.

For each scene: read its views (``data/dtu.py``, ``data/mipnerf360.py``), distil the input view with the
scene's FOV, elevation and viewer scale and the dataset's settings on top of a preset, render every
scored view at its protocol camera, and score it against the ground truth with PSNR, SSIM and (when
its weights are given) LPIPS-VGG, in [0,1] floats on the full image.

Protocol cameras (OpenGL camera-to-world, z-up world): the distillation's input camera sits at the
input elevation, azimuth 0, distance 1 looking at the origin; a ground-truth camera keeps its pose
relative to the ground-truth input camera, with the relative translation divided by the scene's
hand-chosen ``gt_to_pred_scale``: ``c2w_eval = c2w_input · S(inv(c2w_gt_input) · c2w_gt)``.

Output folder::

    out/<scene>/metrics.json          per-view and mean metrics, settings, the official numbers
    out/<scene>/renders/view_NNN.png  the scored renders (NNN = the dataset's view number)
    out/<scene>/distill/last.ckpt     the distillation checkpoint (an interrupted run resumes from it)
    out/summary.json                  per-scene and mean metrics of every scene finished in out, beside
                                      the official ones

A scene whose ``metrics.json`` exists is not run again; delete that file to score it again (the finished
checkpoint is reused, so only rendering and scoring run).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from .cameras import orbit_camera, relative_pose
from .data.dtu import DTU_PROTOCOL, load_dtu_scene
from .data.mipnerf360 import MIPNERF360_PROTOCOL, load_mipnerf360_scene
from .data.protocol import DatasetProtocol, EvalScene
from .distill import DistillConfig, distill
from .distill import preset as distill_preset
from .lpips import LPIPS, load_lpips
from .metrics import psnr, ssim
from .progress import PhaseProgress, phase_callback
from .render import render_path, settings_for, write_image

__all__ = [
    "PROTOCOLS",
    "evaluate",
    "format_table",
    "protocol_cameras",
    "protocol_config",
    "score_views",
]

PROTOCOLS: dict[str, tuple[DatasetProtocol, Callable[..., EvalScene]]] = {
    "dtu": (DTU_PROTOCOL, load_dtu_scene),
    "mipnerf360": (MIPNERF360_PROTOCOL, load_mipnerf360_scene),
}
"""Each dataset's protocol and scene reader ``reader(root, scene, size)``."""

METRICS_NAME = "metrics.json"
SUMMARY_NAME = "summary.json"
_METRICS = ("psnr", "ssim", "lpips")


def protocol_cameras(
    c2w: torch.Tensor, input_index: int, elevation_deg: float, gt_to_pred_scale: float
) -> torch.Tensor:
    """Ground-truth cameras ``[N,4,4]`` (OpenGL camera-to-world) carried over to the distilled scene.

    ``c2w_eval = orbit_camera(elevation_deg, 0, 1) · S(inv(c2w[input_index]) · c2w)`` where ``S`` divides
    the translation by ``gt_to_pred_scale``; the input view lands exactly on the distillation's input
    camera. Returns float64.
    """
    c2w = c2w.to(torch.float64)
    relative = relative_pose(c2w[input_index].expand_as(c2w), c2w)
    relative[:, :3, 3] /= gt_to_pred_scale
    return orbit_camera(elevation_deg, 0.0, 1.0).to(torch.float64) @ relative


def protocol_config(base: DistillConfig, protocol: DatasetProtocol, elevation_deg: float) -> DistillConfig:
    """``base`` (a preset: steps, sizes, schedules) with the dataset's settings: guidance scale, near and
    far, training background, opacity loss weight, no anisotropic schedule where the protocol has none,
    and for Mip-NeRF 360 the SDS elevation range ``[clip(e - 30, min(5, e), 80), clip(e + 50, 5, 80)]``."""
    changes: dict[str, Any] = {
        "guidance_scale": protocol.guidance_scale,
        "rays": replace(base.rays, near=protocol.near, far=protocol.far),
        "background": protocol.training_background,
        "lambda_opaque": protocol.lambda_opaque,
    }
    if not protocol.anisotropic:
        changes["anisotropic_offset"] = None
    if protocol.widen_elevation:
        low = min(max(elevation_deg - 30.0, min(5.0, elevation_deg)), 80.0)
        high = min(max(elevation_deg + 50.0, 5.0), 80.0)
        changes["cameras"] = replace(base.cameras, elevation_deg=(round(low, 2), round(high, 2)))
    return replace(base, **changes)


def score_views(
    renders: torch.Tensor, targets: torch.Tensor, lpips: LPIPS | None = None
) -> dict[str, list[float | None]]:
    """Per-view metrics of ``renders`` against ``targets``, both ``[N,3,H,W]`` in [0,1].

    Returns ``{"psnr": [N], "ssim": [N], "lpips": [N]}`` as floats (scikit-image's PSNR and SSIM with data
    range 1; LPIPS-VGG one view at a time, ``None`` for every view when ``lpips`` is None).
    """
    scores: dict[str, list[float | None]] = {
        "psnr": psnr(renders, targets).tolist(),
        "ssim": ssim(renders, targets).tolist(),
    }
    if lpips is None:
        scores["lpips"] = [None] * renders.shape[0]
    else:
        with torch.no_grad():
            scores["lpips"] = [lpips(r[None], t[None]).item() for r, t in zip(renders, targets, strict=True)]
    return scores


def evaluate(
    dataset: str,
    root: str | Path,
    model,
    output: str | Path,
    preset: str | DistillConfig = "official",
    scenes: list[str] | str | None = None,
    *,
    model_config: str | Path | None = None,
    device: str | torch.device = "cpu",
    lpips_vgg: str | Path | None = None,
    lpips_lin: str | Path | None = None,
    eval_size: tuple[int, int] | None = None,
    progress: PhaseProgress | None = None,
) -> dict:
    """Run a protocol scene by scene and write ``metrics.json`` per scene and ``summary.json``.

    Args:
        dataset: ``"dtu"`` or ``"mipnerf360"``.
        root: the dataset folder (see the readers' docs for its layout).
        model: a loaded ``ZeroNVSModel``, or the path of a checkpoint (loaded on ``device``, float16 on
            CUDA, only when a scene still needs distilling).
        output: the output folder (see the module doc).
        preset: a ``PRESETS`` name or a ``DistillConfig``; the dataset's settings go on top of it.
        scenes: scene names (DTU scans also by number); all of the protocol's when None.
        model_config: LDM yaml of an official checkpoint whose architecture is not the released one.
        device: where distillation, rendering and LPIPS run.
        lpips_vgg, lpips_lin: the LPIPS weight files (``lpips.py``); both or neither. Without them LPIPS is
            recorded as ``null``.
        eval_size: ``(height, width)`` of the scored images instead of the protocol's (not comparable
            with the official numbers; for quick runs).
        progress: ``progress.PhaseProgress``, the callback of each scene's distilling and rendering; nothing
            is shown when None.

    Returns:
        The summary (as written to ``summary.json``): per-scene and mean metrics beside the official ones,
        over every protocol scene with a ``metrics.json`` of the same settings in ``output`` (so runs of
        different scenes into one folder, one after the other or side by side, add up).

    Raises:
        ValueError: an unknown dataset, scene or preset, one LPIPS file without the other, or an existing
            ``metrics.json`` written with another preset or evaluation size.
        FileNotFoundError: missing dataset files, model or LPIPS weights.
    """
    if dataset not in PROTOCOLS:
        raise ValueError(f"dataset must be one of {', '.join(PROTOCOLS)}, got {dataset!r}")
    protocol, reader = PROTOCOLS[dataset]
    scenes = [scenes] if isinstance(scenes, str) else scenes
    names = list(dict.fromkeys(protocol.scene(name).name for name in (scenes or protocol.names)))
    base = preset if isinstance(preset, DistillConfig) else distill_preset(preset)
    if (lpips_vgg is None) != (lpips_lin is None):
        raise ValueError("give both LPIPS weight files (lpips_vgg and lpips_lin) or neither")
    lpips = None if lpips_vgg is None else load_lpips(lpips_vgg, lpips_lin, device)
    output = Path(output)
    run = {"dataset": dataset, "preset": json.loads(base.to_json()), "eval_size": _size(protocol, eval_size)}
    run = json.loads(json.dumps(run))  # as read back from metrics.json (tuples become lists)
    models = _LazyModel(model, model_config, device)
    for name in names:
        folder = output / name
        record = _read_record(folder)
        if record is not None and not _same_run(record, run):
            raise ValueError(
                f"{folder / METRICS_NAME} was written with another dataset, preset or evaluation size; use "
                "another output folder or delete it"
            )
        if record is None:
            scene = reader(root, name, run["eval_size"])
            _evaluate_scene(scene, protocol, base, models.get(), folder, lpips, run, progress)
    records = [_read_record(output / name) for name in protocol.names]  # also those finished by other runs
    summary = _summary(protocol, run, [r for r in records if r is not None and _same_run(r, run)])
    _write_json(output / SUMMARY_NAME, summary)
    return summary


def _size(protocol: DatasetProtocol, eval_size) -> list[int]:
    size = protocol.eval_size if eval_size is None else tuple(eval_size)
    if len(size) != 2 or min(size) < 16:
        raise ValueError(f"eval_size must be (height, width) of at least 16 pixels each, got {eval_size}")
    return [int(size[0]), int(size[1])]


class _LazyModel:
    """The model, loaded from its path the first time a scene needs it."""

    def __init__(self, model, config, device):
        self.model, self.config, self.device = model, config, torch.device(device)

    def get(self):
        if isinstance(self.model, str | Path):
            from .model import inference_dtype, load_zeronvs, resolve_model_path

            dtype = inference_dtype(self.device)
            path = resolve_model_path(self.model)
            self.model = load_zeronvs(path, config=self.config, device=self.device, dtype=dtype).eval()
        return self.model


def _read_record(folder: Path) -> dict | None:
    """A scene's ``metrics.json``, or None when the scene was not scored yet."""
    path = folder / METRICS_NAME
    return json.loads(path.read_text()) if path.is_file() else None


def _same_run(record: dict, run: dict) -> bool:
    return all(record.get(key) == value for key, value in run.items())


def _evaluate_scene(
    scene: EvalScene,
    protocol: DatasetProtocol,
    base: DistillConfig,
    model,
    folder: Path,
    lpips: LPIPS | None,
    run: dict,
    progress: PhaseProgress | None,
) -> None:
    """Distil, render, score and write ``metrics.json`` for one scene."""
    start = time.perf_counter()
    config = protocol_config(base, protocol, scene.elevation_deg)
    distilled = _distil(scene, config, model, folder, progress)
    indices = list(scene.eval_indices)
    renders = _render(scene, distilled, config, protocol, indices, progress)
    scores = score_views(renders, scene.images[indices], lpips)
    for render, view in zip(renders, indices, strict=True):  # named by the dataset's view number
        write_image(render, folder / "renders" / f"view_{scene.view_ids[view]:03d}.png")
    settings = scene.settings
    record = {
        **run,
        "scene": scene.name,
        **{key: _mean(scores[key]) for key in _METRICS},
        "official": dataclasses.asdict(settings.official),
        "views": [
            {"view": scene.view_ids[view], **{key: scores[key][i] for key in _METRICS}}
            for i, view in enumerate(indices)
        ],
        "settings": {
            "input_view": scene.view_ids[scene.input_index],
            "fov_deg": scene.fov_deg,
            "elevation_deg": scene.elevation_deg,
            "precomputed_scale": settings.precomputed_scale,
            "gt_to_pred_scale": settings.gt_to_pred_scale,
            "background": list(protocol.background),
            "distill": json.loads(config.to_json()),
        },
        "seconds": time.perf_counter() - start,
    }
    _write_json(folder / METRICS_NAME, record)


def _distil(scene: EvalScene, config: DistillConfig, model, folder: Path, progress: PhaseProgress | None):
    """The dataset scene's distilled ``Scene``, resuming from (or reusing) the checkpoint in ``folder/distill``."""
    result = distill(
        model,
        scene.input_image,
        scene.fov_deg,
        scene.elevation_deg,
        scene.settings.precomputed_scale,
        config,
        checkpoint_dir=folder / "distill",
        resume=True,
        callback=phase_callback(progress, f"{scene.name}: distilling"),
    )
    return result.scene


def _render(
    scene: EvalScene,
    distilled,
    config: DistillConfig,
    protocol: DatasetProtocol,
    indices: list[int],
    progress: PhaseProgress | None,
) -> torch.Tensor:
    """The views ``indices`` of the distilled ``Scene`` rendered at their protocol cameras and the images'
    size: ``[N,3,H,W]`` on the CPU."""
    cameras = protocol_cameras(scene.c2w, scene.input_index, scene.elevation_deg, scene.settings.gt_to_pred_scale)
    render_settings = replace(settings_for(config, scene.fov_deg, scene.elevation_deg), background=protocol.background)
    height, width = scene.images.shape[-2:]
    callback = phase_callback(progress, f"{scene.name}: rendering")
    frames = render_path(distilled, cameras[indices], scene.fov_deg, (height, width), render_settings, callback)
    return frames.rgb.float().cpu()


def _mean(values: list[float | None]) -> float | None:
    if not values or any(value is None for value in values):
        return None
    return sum(values) / len(values)


def _summary(protocol: DatasetProtocol, run: dict, records: list[dict]) -> dict:
    rows = [{"scene": r["scene"], **{key: r[key] for key in _METRICS}, "official": r["official"]} for r in records]
    return {
        **run,
        "scenes": rows,
        "mean": {key: _mean([row[key] for row in rows]) for key in _METRICS},
        "official_mean": {key: _mean([row["official"][key] for row in rows]) for key in _METRICS},
        "official_headline": dataclasses.asdict(protocol.official_mean),
    }


def format_table(summary: dict) -> str:
    """The summary as a text table: per-scene and mean PSNR, SSIM and LPIPS, each beside the official value
    (``-`` where LPIPS was not computed)."""
    header = f"{'scene':<10}" + "".join(f"{key.upper():>9}{'official':>10}" for key in _METRICS)
    lines = [header, "-" * len(header)]
    rows = [(row["scene"], row, row["official"]) for row in summary["scenes"]]
    rows.append(("mean", summary["mean"], summary["official_mean"]))
    for name, ours, official in rows:
        cells = "".join(f"{_cell(ours[key], key):>9}{_cell(official[key], key):>10}" for key in _METRICS)
        lines.append(f"{name:<10}{cells}")
    headline = summary["official_headline"]
    lines.append(
        f"official headline ({summary['dataset']}, all scenes): PSNR {headline['psnr']:.2f}, "
        f"SSIM {headline['ssim']:.3f}, LPIPS {headline['lpips']:.3f}"
    )
    return "\n".join(lines)


def _cell(value: float | None, key: str) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if key == "psnr" else f"{value:.3f}"


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2))
    temporary.replace(path)
