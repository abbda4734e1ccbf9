"""What the dataset readers share about frames: photos and depth maps brought to the model's square, the
FOV of a pinhole frame, and the deterministic choice of a training pair's two views.

Every reader (CO3D, RealEstate10K/ACID, DTU, Mip-NeRF 360) reads its photos through
``images.read_image`` (Pillow, EXIF orientation applied, every mode converted) and takes its FOVs from
``pinhole_fov_deg``, so a FOV outside (0, 180) degrees is never returned.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..cameras import focal_to_fov
from ..images import centre_square, crop_and_resize, prepare_image, read_image

__all__ = ["pair_indices", "pinhole_fov_deg", "read_square_image", "square_depth", "square_map"]


def read_square_image(path, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """A photo as the model sees it, and its size.

    Read by ``images.read_image`` (upright, any mode), then ``images.prepare_image``: centre square crop,
    ``INTER_AREA`` resize to ``size``, transparency composited on white.

    Returns:
        ``([3,size,size] float32 in [0,1], (H, W))``, ``(H, W)`` the upright photo's size in pixels.

    Raises:
        FileNotFoundError: nothing exists at ``path``.
        images.ImageReadError: a file that cannot be read as a photo (the message names it).
        ValueError: a photo smaller than 8x8 pixels.
    """
    image = read_image(path)
    return prepare_image(image, size)[0], (image.shape[2], image.shape[3])


def square_depth(depth: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop a depth map (0 = missing) to a square and bring it to ``size`` without mixing values.

    Downsizing scatters every valid pixel to its target cell (so sparse SfM points survive; where several
    land in one cell one of them is kept); upsizing is nearest neighbour, output pixel ``i`` taking input
    pixel ``floor(i * side / size)``. Depths are never averaged with the 0 of missing pixels.

    Returns:
        ``[size,size]`` float32.
    """
    square = centre_square(torch.from_numpy(np.asarray(depth, dtype=np.float32))).numpy()
    side = square.shape[0]
    if side == size:
        return np.ascontiguousarray(square)
    if side < size:
        source = np.arange(size) * side // size
        return np.ascontiguousarray(square[np.ix_(source, source)])
    out = np.zeros((size, size), dtype=np.float32)
    rows, cols = np.nonzero(square)
    out[rows * size // side, cols * size // side] = square[rows, cols]
    return out


def square_map(values: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop a dense map (e.g. monocular disparity) to a square and ``INTER_AREA``-resize it:
    ``[size,size]`` float32."""
    dense = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))[None]
    return np.ascontiguousarray(crop_and_resize(dense, size)[0].numpy())


def pair_indices(n_views: int, seed: int, sequence_index: int, pair_index: int) -> tuple[int, int]:
    """Deterministic distinct ``(cond, target)`` view indices for one pair."""
    rng = np.random.default_rng([seed, sequence_index, pair_index])
    cond, target = rng.choice(n_views, size=2, replace=False)
    return int(cond), int(target)


def pinhole_fov_deg(extent_px: float, focal_px: float, what: str) -> float:
    """The FOV in degrees that ``extent_px`` pixels span at focal length ``focal_px``,
    ``2 atan(0.5 extent / focal)`` (``cameras.focal_to_fov``, in float64): always in (0, 180).

    Raises:
        ValueError: naming ``what``, unless both lengths are positive and finite and their ratio gives a FOV
            inside (0, 180) in float64 (a negative focal length or principal point would give one outside).
    """
    extent_px, focal_px = float(extent_px), float(focal_px)
    fov = math.nan
    if math.isfinite(extent_px) and math.isfinite(focal_px) and extent_px > 0 and focal_px > 0:
        fov = focal_to_fov(torch.tensor(focal_px, dtype=torch.float64), extent_px).item()
    if not 0.0 < fov < 180.0:  # also a ratio so large or small that the FOV rounds to 180 or 0
        raise ValueError(
            f"{what}: a pinhole camera needs a positive focal length and image extent giving a FOV in (0, 180) "
            f"degrees, got a focal length of {focal_px:g} px over {extent_px:g} px"
        )
    return fov
