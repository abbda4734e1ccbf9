"""The scales that the 6-DoF camera modes divide translations by (see ``conditioning.py``).

- ``viewer_scale``: s of ``7dof_quantile_scale`` (M_6DoF+1,viewer, the released model), the 20th
  percentile of the input view's depth, with holes filled by monocular disparity aligned to it.
- ``scene_radius``: the scale of ``7dof``, the mean distance of a scene's cameras from their centroid.
- ``nearplane_quantile``: the scale of ``7dof_stereomag_scale``, the 10th percentile over views of
  each view's 5th-percentile depth.
- ``viewer_scale_from_map``: s of a photo at SDS time from a relative depth or disparity map (such as a
  monocular depth estimator gives), measured against the scene point at the photo's centre. This one is
  the project's own (the official code takes s as a user constant at SDS time); its every step commutes
  with turning depth into disparity, so one scene gives one s whichever map it comes as.

Depth maps are ``[B,H,W]`` distances in scene units, with 0 marking a missing value. At SDS time the
official code uses no depth at all: s is a user constant (0.7 for photos in the wild).
"""

from __future__ import annotations

from typing import Literal

import torch

from .images import centre_square

__all__ = [
    "DISPARITY_RANGE",
    "VIEWER_QUANTILE",
    "VIEWER_STRIDE",
    "align_disparity",
    "viewer_scale",
    "scene_radius",
    "nearplane_quantile",
    "viewer_scale_from_map",
]

DISPARITY_RANGE = (1e-3, 1e3)
"""Disparities (and so depths) are clipped to this range, as the official alignment does."""
VIEWER_QUANTILE = 0.2
"""s is this quantile of the input view's depth."""
VIEWER_STRIDE = 4
"""The quantile is taken over ``depth[:, ::4, ::4]`` (64 x 64 = 4096 values at 256 px)."""
CENTRE_FRACTION = 0.1
"""``viewer_scale_from_map`` measures the orbit centre over the central square whose side is this
fraction of the map's side (at least one pixel)."""


def _check_map(value, name: str, expected_shape=None) -> torch.Tensor:
    tensor = torch.as_tensor(value)
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.get_default_dtype())
    if tensor.dtype in (torch.float16, torch.bfloat16):
        tensor = tensor.float()  # torch.quantile needs float32 or float64
    if tensor.ndim != 3:
        raise ValueError(f"{name} must have shape [B, H, W], got {tuple(tensor.shape)}")
    if expected_shape is not None and tensor.shape != expected_shape:
        raise ValueError(f"{name} must have the shape of depth {tuple(expected_shape)}, got {tuple(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or inf (mark missing depth with 0)")
    return tensor


def align_disparity(mono_disparity: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """Dense depth from monocular disparity aligned to the valid dataset depth (MiDaS style).

    Per image, the scale and shift minimising ``sum_valid (a * pred + b - 1 / clip(depth))^2`` are
    solved in closed form (``(a, b) = (0, 0)`` when the 2x2 system is singular); the aligned
    disparity is clipped to ``DISPARITY_RANGE`` and inverted.

    Args:
        mono_disparity: ``[B,H,W]`` relative (affine-ambiguous) disparity of a monocular model.
        depth: ``[B,H,W]`` dataset depth, 0 = missing.

    Returns:
        ``[B,H,W]`` dense depth, in ``[1e-3, 1e3]``.
    """
    low, high = DISPARITY_RANGE
    valid = depth != 0
    mask = valid.to(depth.dtype)
    target = torch.where(valid, 1.0 / depth.clip(1.0 / high, 1.0 / low), torch.zeros_like(depth))
    pred = mono_disparity
    a00 = (mask * pred * pred).sum((1, 2))
    a01 = (mask * pred).sum((1, 2))
    a11 = mask.sum((1, 2))
    b0 = (mask * pred * target).sum((1, 2))
    b1 = (mask * target).sum((1, 2))
    det = a00 * a11 - a01 * a01
    solvable = det > 0
    safe_det = torch.where(solvable, det, torch.ones_like(det))
    scale = torch.where(solvable, (a11 * b0 - a01 * b1) / safe_det, torch.zeros_like(det))
    shift = torch.where(solvable, (-a01 * b0 + a00 * b1) / safe_det, torch.zeros_like(det))
    aligned = scale[:, None, None] * pred + shift[:, None, None]
    return 1.0 / aligned.clip(low, high)


def viewer_scale(depth, mono_disparity=None, blend: bool = True) -> torch.Tensor:
    """The viewer scale s of mode ``7dof_quantile_scale``, one per image (the training-time rule).

    With ``mono_disparity`` (the official recipe): align it to the valid depth (``align_disparity``),
    with ``blend`` put the dataset depth back wherever it is valid (the released model was trained
    with ``blend=True``), then take the ``VIEWER_QUANTILE`` quantile of ``dense[:, ::4, ::4]``.
    Without it: the same quantile of the valid depth values of ``depth[:, ::4, ::4]`` (of all valid
    pixels of an image whose subsampled grid holds none); ``blend`` is then irrelevant.

    Args:
        depth: ``[B,H,W]`` dataset depth of the input views, 0 = missing, no NaN.
        mono_disparity: optional ``[B,H,W]`` monocular disparity of the same views.
        blend: keep the dataset depth where valid instead of the aligned monocular depth.

    Returns:
        ``[B]`` scales in depth units.

    Raises:
        ValueError: wrong shapes, NaN/inf or negative depth, or an image without any valid depth.
    """
    depth = _check_map(depth, "depth")
    if (depth < 0).any():
        raise ValueError("depth must be >= 0 (0 marks a missing value)")
    valid = depth != 0
    empty = ~valid.flatten(1).any(dim=1)
    if empty.any():
        raise ValueError(
            f"depth has no valid (non-zero) pixel in image(s) {empty.nonzero()[:, 0].tolist()}; "
            "the viewer scale needs some measured depth"
        )
    batch = depth.shape[0]
    stride = VIEWER_STRIDE
    if mono_disparity is not None:
        mono_disparity = _check_map(mono_disparity, "mono_disparity", depth.shape).to(depth.dtype)
        dense = align_disparity(mono_disparity, depth)
        if blend:
            dense = torch.where(valid, depth, dense)
        return torch.quantile(dense[:, ::stride, ::stride].reshape(batch, -1), VIEWER_QUANTILE, dim=1)
    scale = _valid_quantile(depth[:, ::stride, ::stride])
    sparse = torch.isnan(scale)
    if sparse.any():
        scale = torch.where(sparse, _valid_quantile(depth), scale)
    return scale


def _valid_quantile(depth: torch.Tensor) -> torch.Tensor:
    values = torch.where(depth != 0, depth, torch.full_like(depth, float("nan")))
    return torch.nanquantile(values.reshape(depth.shape[0], -1), VIEWER_QUANTILE, dim=1)


def scene_radius(c2w: torch.Tensor) -> torch.Tensor:
    """Scale of mode ``7dof``: mean distance of the camera centres from their centroid.

    Args:
        c2w: ``[N,4,4]`` camera-to-world matrices of every view of one scene.

    Returns:
        A 0-d tensor in world units.
    """
    if c2w.ndim != 3 or c2w.shape[1:] != (4, 4):
        raise ValueError(f"c2w must have shape [N, 4, 4], got {tuple(c2w.shape)}")
    centres = c2w[:, :3, 3]
    return (centres - centres.mean(dim=0, keepdim=True)).norm(dim=1).mean()


def nearplane_quantile(depths) -> torch.Tensor:
    """Scale of mode ``7dof_stereomag_scale`` for one scene (Stereo Magnification style).

    The 5th percentile of each view's valid depth, then the 10th percentile of those over the
    views that have any valid depth.

    Args:
        depths: ``[N,H,W]`` depth maps of every view of the scene, 0 = missing (already multiplied
            by CO3D's ``scale_adjustment`` where that applies).

    Returns:
        A 0-d tensor in depth units.
    """
    depths = _check_map(depths, "depths")
    per_view = [torch.quantile(view[view != 0], 0.05) for view in depths if (view != 0).any()]
    if not per_view:
        raise ValueError("depths has no valid (non-zero) pixel in any view")
    return torch.quantile(torch.stack(per_view), 0.1)


def viewer_scale_from_map(values, kind: Literal["depth", "disparity"]) -> torch.Tensor:
    """The viewer scale s of photos from relative depth or disparity maps (up to a factor, as monocular
    depth estimators give them), in the SDS world where the input camera is 1 unit from the orbit centre.

    The orbit centre is the scene point seen at the centre of the photo, so each map is centre-cropped to
    a square (as the photo is) and divided by its centre value, which puts that point at distance 1. The
    centre value is the geometric median of the non-zero values in the central square
    (``CENTRE_FRACTION``): the middle value of an odd count, the geometric mean ``sqrt(a b)`` of the two
    middle values ``a <= b`` of an even count. Inverting every value inverts it exactly (the arithmetic
    mean of the two, or the lower one, would not), so a depth map ``d`` and the disparity map ``1 / d``
    give one s. Disparity becomes depth as ``1 / clip(d, DISPARITY_RANGE)`` after that division (0 =
    infinitely far, e.g. sky); depth is clipped to the same range (0 marks a missing value and stays
    missing). s is then ``viewer_scale`` of the normalised depth: its 0.2 quantile, taken on depth in
    both cases.

    Args:
        values: ``[B,H,W]`` maps, >= 0, of the photos' views.
        kind: ``"depth"`` (larger = farther) or ``"disparity"`` (inverse depth: larger = nearer).

    Returns:
        ``[B]`` scales in units of the input camera's distance from the orbit centre.

    Raises:
        ValueError: a bad kind, shape, NaN/inf or negative values, or a map without valid values at its centre.
    """
    if kind not in ("depth", "disparity"):
        raise ValueError(f"kind must be 'depth' or 'disparity', got {kind!r}")
    values = centre_square(_check_map(values, kind))
    if (values < 0).any():
        raise ValueError(f"{kind} must be >= 0")
    relative = values / _centre_value(values, kind)[:, None, None]
    low, high = DISPARITY_RANGE
    if kind == "disparity":
        depth = 1.0 / relative.clip(low, high)
    else:
        depth = torch.where(relative > 0, relative.clip(low, high), relative)
    return viewer_scale(depth)


def _centre_value(values: torch.Tensor, kind: str) -> torch.Tensor:
    """``[B]`` geometric median of the non-zero values in the central square of ``[B,S,S]`` maps (see
    ``viewer_scale_from_map``)."""
    side = values.shape[-1]
    width = max(1, round(side * CENTRE_FRACTION))
    low = (side - width) // 2
    centre = values[:, low : low + width, low : low + width].reshape(values.shape[0], -1)
    count = (centre > 0).sum(dim=1)
    if (count == 0).any():
        raise ValueError(
            f"{kind} is 0 everywhere at the centre of map(s) {(count == 0).nonzero()[:, 0].tolist()}; "
            "the orbit centre (the point seen at the centre of the photo) needs a value"
        )
    ordered = torch.where(centre > 0, centre, torch.full_like(centre, float("inf"))).sort(dim=1).values
    lower = ordered.gather(1, ((count - 1) // 2)[:, None])[:, 0]
    upper = ordered.gather(1, (count // 2)[:, None])[:, 0]
    return torch.where(lower == upper, lower, lower.sqrt() * upper.sqrt())  # exact for an odd count and for ties
