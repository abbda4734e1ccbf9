"""``describe_checkpoint``: what a checkpoint holds, for ``zeronvs info``."""

from __future__ import annotations

from ..tensor_files import WeightFile
from .demo import DEMO_MODEL_NAME, resolve_model_path
from .loading import FORMAT_NAME, load_zeronvs

__all__ = ["describe_checkpoint"]


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
        for name in ("unet", "vae", "image_encoder", "cc_projection")
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
        "scale_factor": settings.scale_factor,
        "parameters": sum(parts.values()),
        **{f"parameters_{name}": count for name, count in parts.items()},
    }
