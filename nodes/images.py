"""Conversion between ComfyUI's image tensors and the library's, done here and nowhere else.

ComfyUI: IMAGE ``[B,H,W,C]`` float in [0,1] (C = 3, sometimes 1 or 4), MASK ``[B,H,W]`` (or ``[H,W]``),
both on the CPU. Library: ``[B,C,H,W]`` float in [0,1].
"""

from __future__ import annotations

__all__ = ["from_image", "from_mask_or_image", "photo_from_image", "to_image", "to_mask"]


def from_image(image, name: str = "images"):
    """``[B,C,H,W]`` float from an IMAGE."""
    _check_image(image, name)
    return image.permute(0, 3, 1, 2).float()


def photo_from_image(image, mask=None, name: str = "image"):
    """One photo ``[1,C,H,W]`` from an IMAGE holding exactly one image, with its transparency when a MASK
    is given.

    ComfyUI's ``LoadImage`` splits a PNG into RGB and ``mask = 1 - alpha``. With a mask that is not all
    zero the photo becomes RGBA ``[1,4,H,W]`` with ``alpha = 1 - mask``, which the library composites on
    white (``zeronvs_core.images.prepare_image`` -> ``composite_on_white``), exactly as the command line
    does with the same file. An all-zero mask (opaque; ``LoadImage`` gives a 64x64 one for files without
    alpha) leaves the photo as it is.

    Raises:
        ValueError: a batch of several images; a mask that is not ``[H,W]`` or ``[1,H,W]`` of the image's size.
    """
    photo = from_image(image, name)
    if photo.shape[0] != 1:
        raise ValueError(
            f"{name}: one photo is expected, got a batch of {photo.shape[0]} images; pick one first "
            "(for example with the ImageFromBatch node)"
        )
    import torch

    if mask is None or not bool(mask.any()):
        return photo
    size = tuple(photo.shape[-2:])
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.ndim != 2 or tuple(mask.shape) != size:
        raise ValueError(
            f"mask must be one MASK [1,H,W] of the image's size {size[0]}x{size[1]} "
            f"(LoadImage's MASK of the same file), got {list(mask.shape)}"
        )
    rgb = photo[:, :3] if photo.shape[1] != 1 else photo.expand(-1, 3, -1, -1)
    return torch.cat([rgb, (1.0 - mask.float())[None, None]], dim=1)


def from_mask_or_image(image=None, mask=None, name: str = "map"):
    """``[B,H,W]`` maps from exactly one of an IMAGE (channel mean) or a MASK."""
    if (image is None) == (mask is None):
        raise ValueError(f"{name}: connect exactly one of an IMAGE and a MASK")
    if mask is not None:
        return mask[None].float() if mask.ndim == 2 else mask.float()
    _check_image(image, name)
    return image.float().mean(dim=-1)


def to_image(images):
    """IMAGE ``[N,H,W,3]`` float32 on the CPU from ``[N,C,H,W]`` in [0,1] with C = 1 or 3."""
    images = images.detach().float().clamp(0.0, 1.0)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return images.permute(0, 2, 3, 1).cpu().contiguous()


def to_mask(maps):
    """MASK ``[N,H,W]`` float32 on the CPU from ``[N,1,H,W]``."""
    return maps.detach().float()[:, 0].cpu().contiguous()


def _check_image(image, name: str) -> None:
    if getattr(image, "ndim", None) != 4 or image.shape[-1] not in (1, 3, 4):
        shape = list(image.shape) if hasattr(image, "shape") else type(image).__name__
        raise ValueError(f"{name} must be a ComfyUI IMAGE [B,H,W,C] with C = 1, 3 or 4, got {shape}")
