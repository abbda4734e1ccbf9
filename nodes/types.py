"""The pack's own socket types, defined once, and the values they carry between nodes.

- ``ZERONVS_MODEL``: a ``ModelHandle`` (``nodes/model.py``), the diffusion model under ComfyUI's
  model management.
- ``ZERONVS_CAMERAS``: a ``zeronvs_core.camera_set.CameraSet``, the input camera and the target cameras.
- ``ZERONVS_ANCHORS``: a ``zeronvs_core.anchors.AnchorViews``, anchor views for SDS.
- ``ZERONVS_SCENE``: a ``DistilledScene``, a distilled 3D scene with its render settings.

Values are never changed by the nodes that receive them (ComfyUI caches and reuses them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zeronvs_core.wild_defaults import SCALE

from .comfy_io import io

__all__ = ["ANCHORS", "CAMERAS", "MODEL", "SCENE", "DistilledScene", "photo_inputs", "seed_input"]

MODEL = io.Custom("ZERONVS_MODEL")
CAMERAS = io.Custom("ZERONVS_CAMERAS")
ANCHORS = io.Custom("ZERONVS_ANCHORS")
SCENE = io.Custom("ZERONVS_SCENE")

MAX_SEED = 2**64 - 1


def photo_inputs() -> list:
    """The inputs of every node that conditions the model on the photo: model, photo, cameras, scale, mask."""
    return [
        MODEL.Input("model", tooltip="The ZeroNVS model (Load ZeroNVS Model)."),
        io.Image.Input("image", tooltip="The input photo (one image; centre-cropped to a square)."),
        CAMERAS.Input("cameras", tooltip="The photo's camera and the target cameras (Camera Pose Builder)."),
        io.Float.Input(
            "scale",
            default=SCALE,  # a socket only (force_input); the default is what ComfyUI's node preview shows
            force_input=True,
            tooltip=f"The viewer scale s, from a Scene Normalizer (official in-the-wild value: {SCALE}).",
        ),
        io.Mask.Input(
            "mask",
            optional=True,
            tooltip="Optional: the photo's MASK from Load Image (1 - alpha). Transparent parts are composited "
            "on white, as the command line does with the same file.",
        ),
    ]


def seed_input():
    return io.Int.Input(
        "seed", default=0, min=0, max=MAX_SEED, control_after_generate=True, tooltip="Seed of all random draws."
    )


@dataclass(frozen=True)
class DistilledScene:
    """A distilled scene and how to render it (what ``zeronvs_core.render.load_scene`` returns)."""

    scene: Any
    """``zeronvs_core.nerf.scene.Scene``."""
    settings: Any
    """``zeronvs_core.render.RenderSettings``, including the input camera's FOV and elevation."""
