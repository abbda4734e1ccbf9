"""Input photos to the model's square RGB images, as the official guidance prepares them.

The official code reads a square PNG, resizes it (RGBA) to the model resolution with OpenCV's
``INTER_AREA`` and composites it on white, ``rgb * a + (1 - a)``. Photos of any size and aspect are
first centre-cropped to a square (the official code would stretch them); grayscale is expanded to RGB.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["centre_square", "crop_and_resize", "image_grid", "prepare_image", "read_image"]


def prepare_image(image: torch.Tensor, resolution: int) -> torch.Tensor:
    """Square RGB model input from a photo.

    Args:
        image: ``[1,C,H,W]`` float in [0,1] with C = 1 (gray), 3 (RGB) or 4 (RGBA, straight alpha).
        resolution: side of the output, pixels.

    Returns:
        ``[1,3,resolution,resolution]`` float32 in [0,1] on the input's device: centre square crop,
        ``INTER_AREA`` resize, alpha composited on white.
    """
    _check_image(image)
    out = crop_and_resize(image[0].float(), resolution)
    if out.shape[0] == 4:
        rgb, alpha = out[:3], out[3:]
        out = rgb * alpha + (1.0 - alpha)
    elif out.shape[0] == 1:
        out = out.expand(3, -1, -1)
    return out.clamp(0.0, 1.0).unsqueeze(0).contiguous()


def read_image(path) -> torch.Tensor:
    """An image file (PNG, JPEG, ...; 8 or 16 bit; gray, RGB or RGBA) as ``[1,C,H,W]`` float in [0,1]."""
    from pathlib import Path

    import imageio.v3 as iio

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist")
    try:
        pixels = iio.imread(path)
    except Exception as error:  # imageio raises many kinds for unreadable files
        raise ValueError(f"{path} is not a readable image ({error})") from None
    if pixels.dtype not in (np.uint8, np.uint16) or pixels.ndim not in (2, 3):
        raise ValueError(f"{path}: expected an 8- or 16-bit still image, got {pixels.dtype} of shape {pixels.shape}")
    scale = float(np.iinfo(pixels.dtype).max)
    image = torch.from_numpy(pixels.astype(np.float32) / scale)
    image = image[None] if image.ndim == 2 else image.permute(2, 0, 1)
    if image.shape[0] == 2:  # gray + alpha
        image = torch.cat([image[:1].expand(3, -1, -1), image[1:]])
    return image[None].contiguous()


def image_grid(images: torch.Tensor, columns: int) -> torch.Tensor:
    """``[N,C,H,W]`` images tiled row by row into ``[1,C,rows*H,columns*W]``; empty cells are black."""
    count, channels, height, width = images.shape
    rows = -(-count // columns)
    grid = images.new_zeros(rows * columns, channels, height, width)
    grid[:count] = images
    grid = grid.reshape(rows, columns, channels, height, width).permute(2, 0, 3, 1, 4)
    return grid.reshape(1, channels, rows * height, columns * width)


def centre_square(image: torch.Tensor) -> torch.Tensor:
    """The centred square crop (side = the short side) of ``[...,H,W]``, a view."""
    height, width = image.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return image[..., top : top + side, left : left + side]


def crop_and_resize(image: torch.Tensor, size: int) -> torch.Tensor:
    """``[C,H,W]`` float to ``[C,size,size]``: centre square crop, then OpenCV ``INTER_AREA`` when the
    side differs (values are not clamped, so it serves any dense map)."""
    square = centre_square(image)
    return square if square.shape[-1] == size else _resize_inter_area(square, size)


def _resize_inter_area(image: torch.Tensor, size: int) -> torch.Tensor:
    """``[C,H,W]`` to ``[C,size,size]`` with OpenCV's ``INTER_AREA`` (the official resize)."""
    import cv2

    pixels = cv2.resize(image.permute(1, 2, 0).cpu().numpy(), (size, size), interpolation=cv2.INTER_AREA)
    pixels = pixels.reshape(size, size, -1)  # cv2 drops a single channel axis
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).to(image.device)


def _check_image(image) -> None:
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[0] != 1 or image.shape[1] not in (1, 3, 4):
        shape = list(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must be a [1,C,H,W] tensor with C = 1, 3 or 4 channels, got {shape}")
    if not image.is_floating_point():
        raise ValueError(f"image must be float in [0,1], got dtype {image.dtype} (divide 8-bit pixels by 255)")
    if min(image.shape[2:]) < 8:
        raise ValueError(f"image must be at least 8x8 pixels, got {image.shape[2]}x{image.shape[3]}")
    if not torch.isfinite(image).all():
        raise ValueError("image contains NaN or infinite values")
    low, high = image.min().item(), image.max().item()
    if low < 0.0 or high > 1.0:
        hint = " (8-bit pixels? divide by 255)" if high > 1.5 else ""
        raise ValueError(f"image values must be in [0,1], got [{low:.3g}, {high:.3g}]{hint}")
