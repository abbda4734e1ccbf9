"""``describe_checkpoint``: what a checkpoint holds, for ``zeronvs info``; ``is_zeronvs_safetensors``: whether a
``.safetensors`` file is a ZeroNVS model, from its header alone (for model pickers such as ComfyUI's)."""

from __future__ import annotations

import json
from pathlib import Path

from ..tensor_files import WeightFile
from .demo import DEMO_MODEL_NAME, resolve_model_path
from .loading import FORMAT_NAME, load_zeronvs

__all__ = ["describe_checkpoint", "is_zeronvs_safetensors"]

_HEADER_LIMIT = 100 * 2**20
"""Largest safetensors JSON header read (the format's own limit is 100 MB)."""
_OFFICIAL_PREFIXES = ("model.diffusion_model.", "cc_projection.")
"""Key prefixes of an official-layout file: the LDM UNet and the camera projection, which SD checkpoints lack."""


def is_zeronvs_safetensors(path) -> bool:
    """Whether the ``.safetensors`` file ``path`` holds a ZeroNVS model, reading only its JSON header (the
    8-byte little-endian header length, then the header; safetensors format spec), never a tensor.

    True for the project's format (header metadata ``format: zeronvs``, written by ``save_zeronvs``) and for
    the official key layout (keys under both ``model.diffusion_model.`` and ``cc_projection.``, as in
    ``zeronvs.ckpt`` converted to safetensors or ``zeronvs convert --comfyui``). A Zero-1-to-3 checkpoint has
    the same layout and also counts; ``load_zeronvs`` then says what does not match. False for any other file,
    including unreadable or truncated ones (``WeightFile`` gives the reason when such a file is loaded).
    """
    path = Path(path)
    try:
        with path.open("rb") as stream:
            length = int.from_bytes(stream.read(8), "little")
            if not 0 < length <= min(_HEADER_LIMIT, path.stat().st_size - 8):
                return False
            header = json.loads(stream.read(length))
    except (OSError, ValueError):  # unreadable, or not JSON (UnicodeDecodeError is a ValueError)
        return False
    if not isinstance(header, dict):
        return False
    metadata = header.get("__metadata__")
    if isinstance(metadata, dict) and metadata.get("format") == FORMAT_NAME:
        return True
    return all(any(key.startswith(prefix) for key in header) for prefix in _OFFICIAL_PREFIXES)


def describe_checkpoint(model=None, config=None) -> dict:
    """Format, architecture and parameter counts of a checkpoint (``None``: the embedded demo model).
    The file is loaded completely, so a description also means the file is sound."""
    path = resolve_model_path(model)
    weights = WeightFile(path)
    first = weights[next(iter(weights))]
    loaded = load_zeronvs(path, config=config)
    settings = loaded.config
    parts = {
        name: sum(p.numel() for p in getattr(loaded, name).parameters())
        for name in ("unet", "vae", "image_encoder", "cc_projection", "camera_film")
        if hasattr(loaded, name)
    }
    own = weights.metadata.get("format") == FORMAT_NAME
    return {
        "path": str(path),
        "name": DEMO_MODEL_NAME if model is None or str(model) == DEMO_MODEL_NAME else path.stem,
        "format": "zeronvs (project format)" if own else "official LDM checkpoint",
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "stored_dtype": str(first.dtype).removeprefix("torch."),
        "resolution": settings.resolution,
        "latent_size": settings.latent_size,
        "camera_mode": settings.camera_mode,
        "camera_dim": settings.camera_dim,
        "clip_dim": settings.clip_dim,
        "context_dim": settings.context_dim,
        "camera_film": settings.camera_film,
        "scale_factor": settings.scale_factor,
        "parameters": sum(parts.values()),
        **{f"parameters_{name}": count for name, count in parts.items()},
    }
