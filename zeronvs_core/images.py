"""Photos: image files to tensors, and tensors to the model's square RGB input.

Reading (``read_image``) is the one way the project reads a photo, whoever asks (the ``zeronvs`` command,
the CO3D, RealEstate10K/ACID, DTU and Mip-NeRF 360 readers): Pillow decodes the file, the EXIF
orientation is applied as every viewer applies it, and each Pillow mode becomes RGB or RGBA floats by
one rule (``read_image``). Embedded ICC profiles are not applied, as neither the official code nor the
readers of its training data apply them.

Preparing (``prepare_image``) follows the official guidance: it reads a square PNG, resizes it (RGBA)
to the model resolution with OpenCV's ``INTER_AREA`` and composites it on white, ``rgb * a + (1 - a)``.
Photos of any size and aspect are first centre-cropped to a square (the official code would stretch
them); grayscale is expanded to RGB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "ImageReadError",
    "centre_square",
    "composite_on_white",
    "crop_and_resize",
    "image_grid",
    "open_image",
    "prepare_image",
    "read_image",
    "sixteen_bit_grey",
]


class ImageReadError(ValueError):
    """A file that cannot be read as a photo; the message (one line) names the file and the problem."""


_EIGHT_BIT_MODES = frozenset({"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr"})
"""Modes that Pillow converts to 8-bit RGB or RGBA itself (``La``: premultiplied, from grey TIFFs with
associated alpha, which Pillow converts to RGBA only through ``LA``)."""
_DEEP_GREY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
"""16-bit greys, read / 65535 (``I``: Pillow's 32-bit integer mode, in which 16-bit PGMs arrive)."""


def prepare_image(image: torch.Tensor, resolution: int) -> torch.Tensor:
    """Square RGB model input from a photo.

    Args:
        image: ``[1,C,H,W]`` float in [0,1] with C = 1 (gray), 3 (RGB) or 4 (RGBA, straight alpha).
        resolution: side of the output, pixels.

    Returns:
        ``[1,3,resolution,resolution]`` float32 in [0,1] on the input's device: centre square crop,
        ``INTER_AREA`` resize, alpha composited on white (``composite_on_white``).
    """
    _check_image(image)
    out = composite_on_white(crop_and_resize(image[0].float(), resolution))
    return out.clamp(0.0, 1.0).unsqueeze(0).contiguous()


def composite_on_white(image: torch.Tensor) -> torch.Tensor:
    """``[...,C,H,W]`` with C = 1 (gray), 3 (RGB) or 4 (RGBA, straight alpha) to ``[...,3,H,W]`` RGB:
    gray repeated, RGBA composited on white as the official guidance does, ``rgb * a + (1 - a)``."""
    channels = image.shape[-3]
    if channels == 4:
        rgb, alpha = image[..., :3, :, :], image[..., 3:, :, :]
        return rgb * alpha + (1.0 - alpha)
    if channels == 1:
        return image.expand(*image.shape[:-3], 3, *image.shape[-2:])
    if channels != 3:
        raise ValueError(f"image must have 1, 3 or 4 channels, got {channels}")
    return image


def open_image(path) -> Image.Image:
    """Decode an image file with Pillow, upright, fully loaded (its first frame when it holds several).

    The EXIF orientation (tag 274, any of its 8 values) is applied with ``ImageOps.exif_transpose``, so the
    pixels are laid out as a viewer shows them.

    Raises:
        FileNotFoundError: nothing exists at ``path``.
        ImageReadError: a folder, an empty file, a file that is no image Pillow knows, a truncated or
            corrupt file, or one too large to decode safely (Pillow's decompression-bomb limit).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image file {path} does not exist")
    if path.is_dir():
        raise ImageReadError(f"{path} is a folder, not an image file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path} is empty (0 bytes), not an image")
    try:
        with Image.open(path) as file:
            file.load()
            return ImageOps.exif_transpose(file)
    except UnidentifiedImageError:
        problem = "is not a readable image (in no format Pillow knows: PNG, JPEG, TIFF, WebP, BMP, ...)"
    except Image.DecompressionBombError as error:
        problem = f"is too large to decode safely ({_one_line(error)})"
    except Exception as error:  # Pillow's decoders raise OSError, SyntaxError, ValueError, EOFError, ...
        problem = f"is truncated or corrupt ({type(error).__name__}: {_one_line(error)})"
    raise ImageReadError(f"{path} {problem}")


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def read_image(path) -> torch.Tensor:
    """A photo file as ``[1,C,H,W]`` float32 in [0,1]: C = 3 (RGB), or 4 (RGBA, straight alpha) when the
    file has transparency. ``prepare_image`` composites the alpha on white.

    ``open_image`` decodes it upright; then each Pillow mode is converted by one rule:

    - 8-bit (``1``, ``L``, ``LA``, ``P``, ``PA``, ``RGB``, ``RGBA``, ``RGBX``, ``CMYK``, ``YCbCr``;
      premultiplied ``La``): Pillow's own conversion, value / 255, to straight RGBA when the image has
      transparency data (an alpha channel, a palette's tRNS alphas, a grey or RGB colour key:
      ``Image.has_transparency_data``), to RGB otherwise. CMYK is ``R = (1 - C)(1 - K)`` and so on, with
      no ICC profile; CMYK JPEGs are taken in Adobe's inverted polarity whether or not they carry
      Adobe's APP14 marker, as Pillow takes them (Photoshop, their main writer, stores them inverted).
    - 16-bit grey (``I;16``, ``I;16B``, ``I;16L``, ``I;16N``; ``I`` holding 16-bit values): value / 65535,
      repeated to RGB, full precision; a grey transparency key gives alpha 0 on that value.
      16-bit colour PNGs arrive at 8 bits (Pillow has no 48-bit mode).
    - 32-bit float grey (``F``, float TIFFs): finite values clipped to [0,1] (what a float image shows:
      above 1 white, below 0 black), repeated to RGB.

    Raises:
        FileNotFoundError: nothing exists at ``path``.
        ImageReadError: what ``open_image`` refuses; another mode (such as ``LAB``); an ``I`` image with
            values outside [0, 65535]; a float image with NaN or infinite values.
    """
    image = open_image(path)
    pixels = _pixels(image, Path(path))
    return torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).contiguous()


def sixteen_bit_grey(image: Image.Image, path) -> np.ndarray:
    """The values of a decoded 16-bit grey image (Pillow modes ``I;16``, ``I;16B``, ``I;16L``, ``I;16N``, or
    ``I`` holding values in [0, 65535]) as ``[H,W]`` uint16 in native byte order.

    Raises:
        ImageReadError: another mode, or an ``I`` image with values outside [0, 65535] (the message names
            ``path``).
    """
    if image.mode not in _DEEP_GREY_MODES:
        raise ImageReadError(f"{path}: expected a single-channel 16-bit image, got Pillow mode {image.mode}")
    raw = np.asarray(image)
    if raw.size and (raw.min() < 0 or raw.max() > 65535):
        raise ImageReadError(
            f"{path}: a 32-bit integer image with values in [{raw.min()}, {raw.max()}]; "
            "expected 16-bit grey values in [0, 65535]"
        )
    return raw.astype(np.uint16)


def _pixels(image: Image.Image, path: Path) -> np.ndarray:
    """``[H,W,3|4]`` float32 in [0,1] from a decoded Pillow image, by the rules of ``read_image``."""
    mode, transparent = image.mode, image.has_transparency_data
    if mode in _EIGHT_BIT_MODES:
        image = image.convert("LA") if mode == "La" else image
        return np.asarray(image.convert("RGBA" if transparent else "RGB"), dtype=np.float32) / 255.0
    if mode in _DEEP_GREY_MODES:
        raw = sixteen_bit_grey(image, path)
        channels = [raw.astype(np.float32) / 65535.0] * 3
        if transparent:  # a grey colour key: the only transparency a 16-bit grey image holds
            channels.append((raw != image.info["transparency"]).astype(np.float32))
        return np.stack(channels, axis=-1)
    if mode == "F":
        values = np.asarray(image, dtype=np.float32)
        if not np.isfinite(values).all():
            raise ImageReadError(f"{path}: a float image with NaN or infinite values")
        return np.repeat(np.clip(values, 0.0, 1.0)[..., None], 3, axis=-1)
    raise ImageReadError(
        f"{path}: Pillow mode {mode} is not supported; save the photo as RGB, RGBA, grey or CMYK (PNG, JPEG or TIFF)"
    )


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
