"""The architecture of a ZeroNVS model as one JSON-serialisable value, and how to read it from the
official LDM yaml (``zeronvs_config.yaml``) plus the shapes of the checkpoint's CLIP tensors.

``ZeroNVSConfig`` holds the keyword arguments of the three library modules (diffusers
``UNet2DConditionModel`` and ``AutoencoderKL``, transformers ``CLIPVisionConfig``) and the few numbers
the official ``LatentDiffusion`` adds: the camera conditioning mode, the latent scale factor
(0.18215) and the noise schedule (1000 steps, ``scaled_linear`` betas 0.00085..0.012).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..conditioning import CAMERA_MODES, camera_dim

__all__ = [
    "CLIP_VISUAL_PREFIX",
    "RELEASED_LDM_CONFIG",
    "ZeroNVSConfig",
    "clip_vision_config_from_shapes",
    "config_from_ldm",
    "read_ldm_config",
]

CLIP_VISUAL_PREFIX = "cond_stage_model.model.visual."

# The `model` section of the released `zeronvs_config.yaml` (what the model is, not how it trained).
RELEASED_LDM_CONFIG: dict[str, Any] = {
    "model": {
        "target": "ldm.models.diffusion.ddpm.LatentDiffusion",
        "params": {
            "linear_start": 0.00085,
            "linear_end": 0.012,
            "timesteps": 1000,
            "image_size": 32,
            "channels": 4,
            "conditioning_key": "hybrid",
            "scale_factor": 0.18215,
            "conditioning_config": {"params": {"mode": "7dof_quantile_scale", "embedding_dim": 19}},
            "unet_config": {
                "target": "ldm.modules.diffusionmodules.openaimodel.UNetModel",
                "params": {
                    "image_size": 32,
                    "in_channels": 8,
                    "out_channels": 4,
                    "model_channels": 320,
                    "attention_resolutions": [4, 2, 1],
                    "num_res_blocks": 2,
                    "channel_mult": [1, 2, 4, 4],
                    "num_heads": 8,
                    "use_spatial_transformer": True,
                    "transformer_depth": 1,
                    "context_dim": 768,
                    "use_checkpoint": True,
                    "legacy": False,
                },
            },
            "first_stage_config": {
                "target": "ldm.models.autoencoder.AutoencoderKL",
                "params": {
                    "embed_dim": 4,
                    "ddconfig": {
                        "double_z": True,
                        "z_channels": 4,
                        "resolution": 256,
                        "in_channels": 3,
                        "out_ch": 3,
                        "ch": 128,
                        "ch_mult": [1, 2, 4, 4],
                        "num_res_blocks": 2,
                        "attn_resolutions": [],
                        "dropout": 0.0,
                    },
                },
            },
            "cond_stage_config": {
                "target": "ldm.modules.encoders.modules.FrozenCLIPImageEmbedder",
                "params": {"model": "ViT-L/14"},
            },
        },
    }
}

# ViT-L/14 as OpenAI's clip.build_model infers it from ViT-L-14.pt (used when no shapes are given).
_VIT_L14_SHAPES: dict[str, tuple[int, ...]] = {
    "conv1.weight": (1024, 3, 14, 14),
    "positional_embedding": (257, 1024),
    "proj": (1024, 768),
    "transformer.resblocks.0.mlp.c_fc.weight": (4096, 1024),
    **{f"transformer.resblocks.{i}.ln_1.weight": (1024,) for i in range(24)},
}


@dataclasses.dataclass(frozen=True)
class ZeroNVSConfig:
    """Architecture and diffusion constants of a ZeroNVS model (JSON round trip: ``to_json``/``from_json``)."""

    unet: dict[str, Any]
    """Keyword arguments of diffusers ``UNet2DConditionModel`` (8 input channels: noisy + concat latent)."""
    vae: dict[str, Any]
    """Keyword arguments of diffusers ``AutoencoderKL``."""
    image_encoder: dict[str, Any]
    """Keyword arguments of transformers ``CLIPVisionConfig`` (OpenAI CLIP image tower)."""
    camera_mode: str = "7dof_quantile_scale"
    """Camera conditioning mode, one of ``conditioning.CAMERA_MODES``."""
    scale_factor: float = 0.18215
    """Diffusion latents are VAE latents times this factor."""
    num_train_timesteps: int = 1000
    """Length of the training noise schedule."""
    beta_start: float = 0.00085
    """First beta of the ``scaled_linear`` schedule (LDM ``linear_start``)."""
    beta_end: float = 0.012
    """Last beta of the ``scaled_linear`` schedule (LDM ``linear_end``)."""
    camera_film: bool = False
    """An extra camera path that ZeroNVS does not have (off for every official checkpoint; issue 27): the
    camera vector ``T`` also scales every channel of every UNet resnet block's output, ``h (1 + W T + b)``
    (FiLM, Perez et al. 2018, ``ZeroNVSModel.camera_film``). It gives a small model a multiplicative way
    to let the camera choose among its features (the single context token only adds a constant to every
    position). ``W`` and ``b`` start at zero, so adding the path to a trained model leaves its output
    unchanged."""

    def __post_init__(self):
        if self.camera_mode not in CAMERA_MODES:
            raise ValueError(f"camera_mode must be one of {CAMERA_MODES}, got {self.camera_mode!r}")

    @property
    def resolution(self) -> int:
        """Side of the square images the model works on, pixels (256 for the released model)."""
        return int(self.vae["sample_size"])

    @property
    def latent_size(self) -> int:
        """Side of the diffusion latents: ``resolution`` over the VAE's downsampling factor."""
        return self.resolution // 2 ** (len(self.vae["block_out_channels"]) - 1)

    @property
    def latent_channels(self) -> int:
        """Channels of the diffusion latents (4)."""
        return int(self.vae["latent_channels"])

    @property
    def clip_dim(self) -> int:
        """Width of the projected CLIP image embedding (768 for ViT-L/14)."""
        return int(self.image_encoder["projection_dim"])

    @property
    def camera_dim(self) -> int:
        """Length of the camera vector ``T`` of ``camera_mode``."""
        return camera_dim(self.camera_mode)

    @property
    def context_dim(self) -> int:
        """Width of the UNet's cross-attention context, the output of ``cc_projection``."""
        return int(self.unet["cross_attention_dim"])

    def to_json(self) -> str:
        """The config as a JSON string."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ZeroNVSConfig:
        """Inverse of ``to_json``; unknown fields are an error."""
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ZeroNVSConfig fields {unknown}; known: {sorted(known)}")
        return cls(**data)


def read_ldm_config(config) -> dict[str, Any]:
    """An LDM config as a dict: ``None`` -> the released architecture, a mapping as is, or a yaml path."""
    if config is None:
        return RELEASED_LDM_CONFIG
    if isinstance(config, Mapping):
        return dict(config)
    import yaml

    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"config: no LDM yaml file at {path}")
    with path.open() as stream:
        data = yaml.safe_load(stream)
    if not isinstance(data, dict) or "model" not in data:
        raise ValueError(f"config: {path} is not an LDM config (no top-level 'model' section)")
    return data


def config_from_ldm(ldm_config: Mapping[str, Any], clip_shapes: Mapping[str, Sequence[int]] | None = None):
    """``ZeroNVSConfig`` from an LDM config dict and the shapes of the CLIP image tower's tensors.

    Args:
        ldm_config: the parsed LDM yaml (see ``read_ldm_config``).
        clip_shapes: ``{key: shape}`` of the checkpoint, keys under ``cond_stage_model.model.visual.``
            (other keys are ignored); ``None`` means OpenAI ViT-L/14, the released image tower.
    """
    from diffusers.loaders.single_file_utils import (
        create_unet_diffusers_config_from_ldm,
        create_vae_diffusers_config_from_ldm,
    )

    try:
        params = ldm_config["model"]["params"]
        ddconfig = params["first_stage_config"]["params"]["ddconfig"]
        mode = params["conditioning_config"]["params"]["mode"]
        # Passing an empty checkpoint keeps diffusers from guessing the model type from weights;
        # the sizes are set from the config below.
        unet = create_unet_diffusers_config_from_ldm(ldm_config, {})
        vae = create_vae_diffusers_config_from_ldm(ldm_config, {})
    except (KeyError, TypeError) as error:
        raise ValueError(f"config: the LDM config lacks a required entry ({error})") from error
    unet["sample_size"] = int(params["image_size"])
    vae["sample_size"] = int(ddconfig["resolution"])
    if clip_shapes is None:
        clip_shapes = {CLIP_VISUAL_PREFIX + key: shape for key, shape in _VIT_L14_SHAPES.items()}
    config = ZeroNVSConfig(
        unet=unet,
        vae=vae,
        image_encoder=clip_vision_config_from_shapes(clip_shapes),
        camera_mode=mode,
        scale_factor=float(params.get("scale_factor", 0.18215)),
        num_train_timesteps=int(params.get("timesteps", 1000)),
        beta_start=float(params.get("linear_start", 0.00085)),
        beta_end=float(params.get("linear_end", 0.012)),
    )
    embedding_dim = params["conditioning_config"]["params"].get("embedding_dim")
    if embedding_dim is not None and int(embedding_dim) != config.camera_dim:
        raise ValueError(
            f"config: conditioning embedding_dim {embedding_dim} does not match mode {mode!r} ({config.camera_dim})"
        )
    return config


def clip_vision_config_from_shapes(shapes: Mapping[str, Sequence[int]]) -> dict[str, Any]:
    """``CLIPVisionConfig`` keyword arguments of an OpenAI CLIP image tower, read from tensor shapes
    under ``cond_stage_model.model.visual.`` as OpenAI's ``clip.build_model`` does (heads = width / 64)."""
    start = len(CLIP_VISUAL_PREFIX)
    visual = {key[start:]: tuple(shape) for key, shape in shapes.items() if key.startswith(CLIP_VISUAL_PREFIX)}
    needed = ("conv1.weight", "positional_embedding", "proj", "transformer.resblocks.0.mlp.c_fc.weight")
    missing = [CLIP_VISUAL_PREFIX + key for key in needed if key not in visual]
    if missing:
        raise ValueError(f"checkpoint has no OpenAI CLIP image tower: missing {missing}")
    width, _, patch, _ = visual["conv1.weight"]
    grid = math.isqrt(visual["positional_embedding"][0] - 1)
    layers = {int(m.group(1)) for key in visual if (m := re.match(r"transformer\.resblocks\.(\d+)\.", key))}
    return {
        "hidden_size": width,
        "intermediate_size": visual["transformer.resblocks.0.mlp.c_fc.weight"][0],
        "projection_dim": visual["proj"][1],
        "num_hidden_layers": max(layers) + 1,
        "num_attention_heads": max(width // 64, 1),
        "image_size": patch * grid,
        "patch_size": patch,
        "hidden_act": "quick_gelu",
        "layer_norm_eps": 1e-5,
    }
