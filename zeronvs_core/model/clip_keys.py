"""OpenAI CLIP image-tower tensor names to transformers ``CLIPVisionModelWithProjection`` names.

OpenAI's ``clip.model.VisionTransformer`` keeps one ``in_proj`` for query/key/value and multiplies by
``proj`` ([width, embed]); transformers has separate ``q/k/v_proj`` linears and a ``visual_projection``
linear ([embed, width]). Everything else is a rename.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

__all__ = ["openai_clip_vision_to_transformers"]

_RENAMES = (
    ("class_embedding", "vision_model.embeddings.class_embedding"),
    ("positional_embedding", "vision_model.embeddings.position_embedding.weight"),
    ("conv1.weight", "vision_model.embeddings.patch_embedding.weight"),
    ("ln_pre.", "vision_model.pre_layrnorm."),
    ("ln_post.", "vision_model.post_layernorm."),
)
_BLOCK_RENAMES = (
    ("attn.out_proj.", "self_attn.out_proj."),
    ("ln_1.", "layer_norm1."),
    ("ln_2.", "layer_norm2."),
    ("mlp.c_fc.", "mlp.fc1."),
    ("mlp.c_proj.", "mlp.fc2."),
)
_BLOCK = re.compile(r"transformer\.resblocks\.(\d+)\.(.+)")


def openai_clip_vision_to_transformers(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Map the OpenAI CLIP image tower under ``prefix`` (e.g. ``cond_stage_model.model.visual.``) to
    transformers names. Only keys under ``prefix`` are read; the split and transposed tensors are
    fresh copies (so no two parameters share storage). Works on meta tensors."""
    converted = {}
    for key in [k for k in state.keys() if k.startswith(prefix)]:
        name = key[len(prefix) :]
        if name == "proj":
            converted["visual_projection.weight"] = state[key].t().clone()
            continue
        block = _BLOCK.fullmatch(name)
        if block is None:
            converted[_rename(name, _RENAMES, key)] = state[key]
            continue
        layer, rest = block.groups()
        target = f"vision_model.encoder.layers.{layer}."
        if rest.startswith("attn.in_proj_"):
            kind = rest.removeprefix("attn.in_proj_")
            for part, chunk in zip(("q", "k", "v"), state[key].chunk(3, dim=0), strict=True):
                converted[f"{target}self_attn.{part}_proj.{kind}"] = chunk.clone()
        else:
            converted[target + _rename(rest, _BLOCK_RENAMES, key)] = state[key]
    return converted


def _rename(name: str, renames: tuple[tuple[str, str], ...], key: str) -> str:
    for old, new in renames:
        if name.startswith(old):
            return new + name[len(old) :]
    raise ValueError(f"unexpected OpenAI CLIP image-tower key {key!r}")
