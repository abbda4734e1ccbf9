"""The official checkpoint layout (``LatentDiffusion.state_dict()``) to ``ZeroNVSModel`` tensor names.

UNet and VAE keys go through diffusers' LDM conversion utilities; the OpenAI CLIP image tower through
``clip_keys``; ``cc_projection`` keeps its names. The UNet weights are the EMA shadows
(``model_ema.<name without dots>``) when the file has them, as the official loader uses them.
Every key of the file is accounted for: used, or on ``UNUSED_OFFICIAL_KEYS``, or (with EMA) a live
UNet weight that the EMA replaces. Anything else is an error that lists the keys.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch

from ..tensor_files import CheckpointError
from .clip_keys import openai_clip_vision_to_transformers
from .config import CLIP_VISUAL_PREFIX, ZeroNVSConfig

__all__ = [
    "UNUSED_OFFICIAL_KEYS",
    "ConvertedWeights",
    "check_official_layout",
    "convert_official_weights",
    "format_keys",
]

_SCHEDULE_BUFFERS = (
    "betas",
    "alphas_cumprod",
    "alphas_cumprod_prev",
    "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod",
    "sqrt_recip_alphas_cumprod",
    "sqrt_recipm1_alphas_cumprod",
    "posterior_variance",
    "posterior_log_variance_clipped",
    "posterior_mean_coef1",
    "posterior_mean_coef2",
)
_CLIP_TEXT_LEFTOVERS = tuple(
    "cond_stage_model.model." + name
    for name in (
        "token_embedding.weight",
        "positional_embedding",
        "ln_final.weight",
        "ln_final.bias",
        "text_projection",
        "logit_scale",
    )
)
_EMA_COUNTERS = ("model_ema.decay", "model_ema.num_updates")

UNUSED_OFFICIAL_KEYS: frozenset[str] = frozenset(_SCHEDULE_BUFFERS + _CLIP_TEXT_LEFTOVERS + _EMA_COUNTERS)
"""Keys of official checkpoints that inference does not need: the training noise schedule (rebuilt by
the scheduler), the CLIP text-side leftovers, and the EMA bookkeeping."""

_UNET_PREFIX = "model.diffusion_model."
_VAE_PREFIX = "first_stage_model."


@dataclass
class ConvertedWeights:
    """Result of ``convert_official_weights``."""

    state_dict: dict[str, torch.Tensor]
    """``ZeroNVSModel`` names (``unet.*``, ``vae.*``, ``image_encoder.*``, ``cc_projection.*``)."""
    used_ema: bool
    """Whether the UNet weights are the EMA shadows (``model_ema.*``)."""
    ignored: list[str]
    """File keys deliberately not used (``UNUSED_OFFICIAL_KEYS`` and live UNet weights replaced by EMA)."""


def convert_official_weights(state: Mapping[str, torch.Tensor], config: ZeroNVSConfig) -> ConvertedWeights:
    """Convert an official-layout state dict; works on meta tensors and lazy ``WeightFile`` mappings.

    Raises:
        CheckpointError: keys outside the official layout, or parts of the model absent from the file.
    """
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint

    check_official_layout(state)
    keys = list(state.keys())
    used_ema = any(key.startswith("model_ema.") and key not in _EMA_COUNTERS for key in keys)
    if not used_ema:
        warnings.warn(
            f"{_describe(state)} has no EMA UNet weights (model_ema.*): using the live UNet weights, "
            "which the official code does not use for inference",
            stacklevel=3,
        )
    recorder = _ReadRecorder(state)
    with _quiet_diffusers():
        unet = convert_ldm_unet_checkpoint(recorder, config.unet, extract_ema=used_ema)
        vae = convert_ldm_vae_checkpoint(recorder, config.vae)
    converted = {f"unet.{key}": value for key, value in unet.items()}
    converted.update({f"vae.{key}": value for key, value in vae.items()})
    clip = openai_clip_vision_to_transformers(recorder, CLIP_VISUAL_PREFIX)
    converted.update({f"image_encoder.{key}": value for key, value in clip.items()})
    for name in ("weight", "bias"):
        converted[f"cc_projection.{name}"] = recorder.get(f"cc_projection.{name}")

    absent = sorted(key for key, value in converted.items() if value is None)
    if absent:
        raise CheckpointError(f"{_describe(state)} lacks tensors for {format_keys(absent)}")
    replaced_live = {key for key in keys if key.startswith(_UNET_PREFIX)} if used_ema else set()
    unread = set(keys) - recorder.read
    unexpected = sorted(unread - UNUSED_OFFICIAL_KEYS - replaced_live)
    if unexpected:
        raise CheckpointError(
            f"{_describe(state)} has keys outside the official ZeroNVS layout: {format_keys(unexpected)}"
        )
    return ConvertedWeights(converted, used_ema, sorted(unread))


def format_keys(keys: list[str], limit: int = 12) -> str:
    """``keys`` as a short list for an error message: the first ``limit`` and how many more."""
    shown = ", ".join(keys[:limit])
    more = f" (and {len(keys) - limit} more)" if len(keys) > limit else ""
    return f"{len(keys)} key(s): {shown}{more}"


def check_official_layout(state: Mapping) -> None:
    """Raise ``CheckpointError`` unless each part of the model has keys in ``state`` (official names).
    Also a guard for diffusers' VAE conversion, which would otherwise take every key for a VAE key."""
    keys = list(state.keys())
    parts = {
        "UNet (model.diffusion_model.*)": _UNET_PREFIX,
        "VAE (first_stage_model.*)": _VAE_PREFIX,
        f"CLIP image tower ({CLIP_VISUAL_PREFIX}*)": CLIP_VISUAL_PREFIX,
        "camera projection (cc_projection.*)": "cc_projection.",
    }
    missing = [name for name, prefix in parts.items() if not any(key.startswith(prefix) for key in keys)]
    if missing:
        raise CheckpointError(
            f"{_describe(state)} is not an official ZeroNVS checkpoint: it has no {', no '.join(missing)}"
        )


def _describe(state: Mapping) -> str:
    path = getattr(state, "path", None)
    return str(path) if path is not None else "the checkpoint"


@contextlib.contextmanager
def _quiet_diffusers():
    """Silence diffusers' conversion warnings about EMA (this module reports EMA use itself)."""
    from diffusers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(level)


class _ReadRecorder(Mapping):
    """A read-through view of a mapping that records which keys were read."""

    def __init__(self, state: Mapping[str, torch.Tensor]):
        self._state = state
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> torch.Tensor:
        value = self._state[key]
        self.read.add(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)

    def __contains__(self, key) -> bool:
        return key in self._state
