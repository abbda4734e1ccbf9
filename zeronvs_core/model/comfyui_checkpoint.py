"""An official ZeroNVS checkpoint rewritten for ComfyUI's stock ``CheckpointLoaderSimple`` with the EMA UNet.

ComfyUI loads the UNet from ``model.diffusion_model.*``: from the official ``zeronvs.ckpt`` it would take the
live training weights, while the official inference (and this project) uses the EMA shadows. The rewrite
keeps the official (LDM) key names ComfyUI detects (``model.diffusion_model.*``, ``first_stage_model.*``,
``cond_stage_model.model.visual.*``, ``cc_projection.*``) and puts each EMA shadow under its live name:
LitEma (``ldm/modules/ema.py``) stores the shadow of ``model.<name>`` as ``model_ema.<name without dots>``.
The ``model_ema.*`` entries are then dropped; every other key is copied unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from ..tensor_files import CheckpointError, WeightFile, save_tensors
from .official import check_official_layout, format_keys

__all__ = ["comfyui_state_dict", "save_comfyui_checkpoint"]

_EMA_PREFIX = "model_ema."
_EMA_COUNTERS = ("model_ema.decay", "model_ema.num_updates")
_UNET_PREFIX = "model.diffusion_model."


def comfyui_state_dict(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], bool]:
    """``(state for ComfyUI, whether the UNet is the EMA one)`` of an official-layout state dict.

    Without EMA keys the live UNet is kept (and the flag is False).

    Raises:
        CheckpointError: not the official layout (e.g. the project's own format), or EMA shadows that do
            not match the live UNet keys one to one.
    """
    check_official_layout(state)
    shadows = {key for key in state if key.startswith(_EMA_PREFIX) and key not in _EMA_COUNTERS}
    converted, used = {}, set()
    for key in state:
        if key.startswith(_EMA_PREFIX):
            continue
        if shadows and key.startswith(_UNET_PREFIX):
            shadow = _EMA_PREFIX + key[len("model.") :].replace(".", "")
            if shadow not in shadows:
                raise CheckpointError(f"{_name(state)} has no EMA shadow {shadow} for {key}")
            used.add(shadow)
            converted[key] = state[shadow]
        else:
            converted[key] = state[key]
    if shadows - used:
        raise CheckpointError(
            f"{_name(state)} has EMA shadows of no UNet weight: {format_keys(sorted(shadows - used))}"
        )
    return converted, bool(shadows)


def save_comfyui_checkpoint(src, dst, dtype: torch.dtype = torch.float16) -> tuple[Path, bool]:
    """Write ``comfyui_state_dict`` of the official checkpoint ``src`` to ``dst`` (``.safetensors``; floating
    tensors as ``dtype``); returns ``(dst, whether the UNet is the EMA one)``. The file appears complete or not
    at all. Raises ``FileNotFoundError``, ``CheckpointError`` (see ``comfyui_state_dict``) or ``ValueError``
    for a ``dst`` not ending in ``.safetensors``."""
    dst = Path(dst)
    if dst.suffix != ".safetensors":
        raise ValueError(f"the ComfyUI checkpoint must end in .safetensors, got {dst}")
    weights = WeightFile(src, dtype=dtype)
    if weights.metadata.get("format") == "zeronvs":
        raise CheckpointError(
            f"{weights.path} is in the project's format (diffusers names); a ComfyUI checkpoint is made from "
            "the official checkpoint (zeronvs.ckpt or a .safetensors with its keys)"
        )
    state, used_ema = comfyui_state_dict(weights)
    save_tensors(state, dst, {"unet_weights": "ema" if used_ema else "live"})
    return dst, used_ema


def _name(state: Mapping) -> str:
    path = getattr(state, "path", None)
    return str(path) if path is not None else "the checkpoint"
