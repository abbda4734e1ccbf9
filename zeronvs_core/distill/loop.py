"""SDS distillation of a ZeroNVS model into a ``Scene`` (spec section 5), with optional anchoring.

Every step renders a batch of random cameras and the input camera, then minimises
``0.1 SDS + 1500 RGB(input view) + 8 normal-smoothness + 5 orientation (+ opacity entropy for DTU)``
with Adam, and trains the proposal network on nerfacc's interval loss. World: the input camera at
the input elevation, azimuth 0, distance 1, looking at the origin (z up; see ``cameras.py``).

Everything random draws from one ``torch.Generator`` (seeded by the config), so a run is reproducible
on one device, and a checkpoint (scene, both optimisers, step, generator state, losses, anchor views)
resumes it exactly.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..anchors import AnchorViews, anchor_cameras, make_anchor_views
from ..camera_set import CameraSet
from ..model import ZeroNVSModel
from ..progress import ProgressCallback
from .checkpoint import CHECKPOINT_NAME
from .config import OFFICIAL, DistillConfig
from .run import DistillResult, _Run

__all__ = ["DistillResult", "distill"]


def distill(
    model: ZeroNVSModel,
    image: torch.Tensor,
    fov_deg: float,
    elevation_deg: float,
    scale: float,
    config: DistillConfig | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    callback: ProgressCallback | None = None,
    anchor_views: AnchorViews | None = None,
    phase_timing: bool | None = None,
) -> DistillResult:
    """Distil ``model``'s novel views of ``image`` into a 3D scene.

    Args:
        model: the diffusion model (its device is used).
        image: ``[1,C,H,W]`` photo in [0,1] (any size; centre-cropped to a square).
        fov_deg: vertical FOV of the square crop, degrees.
        elevation_deg: the input camera's elevation, degrees (31 in the official example).
        scale: the viewer scale s (0.7 for photos in the wild).
        config: the recipe (see ``PRESETS``); ``None`` is ``PRESETS["official"]``, the paper's in-the-wild
            recipe: 4000 steps, 6 views of 128 px then 1 of 256 px per step, made for a GPU.
        checkpoint_dir: where ``last.ckpt`` is written every ``config.checkpoint_every`` steps and when
            stopped; ``None`` writes none. The checkpoint records the config, the camera settings and the
            SHA-256 of the photo (``fingerprint.photo_sha256``) and of the model's weights
            (``fingerprint.weights_sha256``).
        resume: continue from ``checkpoint_dir/last.ckpt`` when it exists.
        callback: ``progress.ProgressCallback``, called after each step with the input-view render ``[3,H,W]``
            in [0,1] as its preview. To stop, raise from it: the exception propagates, after a checkpoint of
            the step just finished is written (with a ``checkpoint_dir``), from which ``resume`` continues
            exactly as if the run had not stopped.
        anchor_views: anchor views made beforehand by ``make_anchor_views`` (for this image, FOV, scale and
            elevation) instead of generating ``config.anchoring.count`` of them; their count must be that count.
        phase_timing: fill ``DistillResult.timings``; ``None``: on the CPU (``perf_counter``, free) but not on
            CUDA, where it records CUDA events (read back with the losses, every ``READBACK_EVERY`` steps).

    Raises:
        ValueError: bad camera settings or anchor views; on ``resume``, a checkpoint written with another
            config, camera, photo or model (the message names which).
    """
    config = OFFICIAL if config is None else config
    CameraSet(float(fov_deg), float(elevation_deg))  # the one check of the input camera's FOV and elevation
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if anchor_views is not None:
        _check_anchor_views(anchor_views, config.anchoring.count, elevation_deg)
    timed = model.device.type == "cpu" if phase_timing is None else phase_timing
    run = _Run(model, image, fov_deg, elevation_deg, scale, config, timed)
    path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    if resume and path is not None and path.is_file():
        run.load(path)
        run.start_step = run.step
    elif anchor_views is not None:
        run.anchor_views = anchor_views
    elif config.anchoring.count > 0:
        run.anchor_views = make_anchor_views(
            model, image, run.input_c2w, fov_deg, scale, config.anchoring, elevation_deg, generator=run.generator
        )
    try:
        while run.step < config.steps:
            preview = run.train_step()
            if path is not None and (run.step % config.checkpoint_every == 0 or run.step == config.steps):
                run.save(path)
            if callback is not None:
                callback(run.step, config.steps, preview)
    except BaseException:
        if path is not None and run.step > 0:
            run.save_interrupted(path)
        raise
    return run.result()


def _check_anchor_views(views: AnchorViews, count: int, elevation_deg: float) -> None:
    """Raise unless ``views`` are ``count`` views at the cameras ``anchor_cameras`` gives for this elevation."""
    if views.c2w.shape[0] != count:
        raise ValueError(f"anchor_views: got {views.c2w.shape[0]} anchor views, but config.anchoring.count is {count}")
    if not torch.allclose(views.c2w.cpu().float(), anchor_cameras(count, elevation_deg), atol=1e-5):
        raise ValueError(f"anchor_views were made for another input camera, not elevation {elevation_deg} degrees")
