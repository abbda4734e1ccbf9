"""The camera vector ``T`` of every official conditioning mode (``compute_T`` in the official code).

All cameras are OpenGL camera-to-world ``[B,4,4]`` matrices (see ``cameras.py``). The six-DoF modes
encode the target camera in the conditioning camera's frame, ``rel = inv(cond_c2w) @ target_c2w``,
with its translation divided by a scale, flatten all 16 entries row-major (bottom row included) and
append the FOV as ``[fov_rad, sin(fov_rad), cos(fov_rad)]``:

=======================  ===  ===========================================================================
mode                     dim  translation and clean-up
=======================  ===  ===========================================================================
``3dof``                 4    Zero-1-to-3: ``[d_polar, sin d_azimuth, cos d_azimuth, d_radius]`` of the
                              camera centres (FOV and scale unused)
``7dof_unscaled``        19   unscaled; 16 entries clipped to [-20, 20], NaN -> 0
``7dof``                 19   divided by the scene radius (clipped below at 1e-2); nothing else
``7dof_stereomag_scale`` 19   divided by the near-plane quantile (clipped to [0.1, 100], NaN -> 1,
                              then below at 1e-2); 16 entries clipped to [-20, 20], NaN -> 0
``7dof_quantile_scale``  19   divided by the viewer scale s (clipped below at 1e-2), then squashed
                              ``t -> 5 tanh(t / 10)``; NaN -> 0, +-inf -> +-10. The released model.
=======================  ===  ===========================================================================

The functions are differentiable (no in-place edits) and keep the input dtype and device; half
precision is computed in float32 and cast back.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from .cameras import relative_pose, validate_c2w, validate_fov_deg, working_dtype

__all__ = ["CameraMode", "CAMERA_MODES", "camera_dim", "encode_camera"]

CameraMode = Literal["3dof", "7dof_unscaled", "7dof", "7dof_stereomag_scale", "7dof_quantile_scale"]
CAMERA_MODES: tuple[str, ...] = (
    "3dof",
    "7dof_unscaled",
    "7dof",
    "7dof_stereomag_scale",
    "7dof_quantile_scale",
)

_MIN_SCALE = 1e-2  # every 6-DoF mode divides by clip(scale, min=1e-2)
_POSE_CLIP = 20.0  # 7dof_unscaled and 7dof_stereomag_scale clip the 16 pose entries to +-20
_NEARPLANE_RANGE = (0.1, 100.0)  # 7dof_stereomag_scale clips its scale to this range, NaN -> 1
_SQUASH_GAIN, _SQUASH_WIDTH = 0.5, 10.0  # 7dof_quantile_scale: t -> 0.5 * 10 * tanh(t / 10)


def camera_dim(mode: CameraMode) -> int:
    """Length of the camera vector of ``mode``: 4 for ``3dof``, 19 for the 6-DoF modes."""
    _check_mode(mode)
    return 4 if mode == "3dof" else 19


def encode_camera(
    target_c2w: torch.Tensor,
    cond_c2w: torch.Tensor,
    fov_deg,
    mode: CameraMode = "7dof_quantile_scale",
    scale=None,
) -> torch.Tensor:
    """Camera vector ``T`` of the official ``compute_T`` for each (conditioning, target) pair.

    Args:
        target_c2w: ``[B,4,4]`` OpenGL camera-to-world of the views to generate.
        cond_c2w: ``[B,4,4]`` OpenGL camera-to-world of the input (conditioning) views.
        fov_deg: float or ``[B]`` vertical FOV of the square input image, degrees in (0, 180).
        mode: one of ``CAMERA_MODES``; the released model uses ``7dof_quantile_scale``.
        scale: float or ``[B]``, required by the scaled modes and ignored by the others: the
            scene radius for ``7dof``, the near-plane depth quantile for ``7dof_stereomag_scale``
            (NaN allowed: the official code replaces it with 1), the viewer scale s for
            ``7dof_quantile_scale`` (see ``scene_scale.viewer_scale``; 0.7 for photos in the wild).

    Returns:
        ``[B,4]`` for ``3dof``, ``[B,19]`` otherwise, in the promoted dtype of the two camera inputs.

    Raises:
        ValueError: unknown mode, invalid cameras (see ``cameras.validate_c2w``), mismatched batch
            sizes, FOV outside (0, 180), or a missing, non-positive or non-finite scale.
    """
    _check_mode(mode)
    target_c2w = validate_c2w(target_c2w, "target_c2w")
    cond_c2w = validate_c2w(cond_c2w, "cond_c2w")
    if target_c2w.shape[0] != cond_c2w.shape[0]:
        raise ValueError(
            f"target_c2w and cond_c2w need the same batch size, got {target_c2w.shape[0]} and {cond_c2w.shape[0]}"
        )
    dtype = torch.promote_types(target_c2w.dtype, cond_c2w.dtype)
    work = working_dtype(dtype)
    like = cond_c2w.to(work)
    target_c2w = target_c2w.to(device=like.device, dtype=work)
    fov_deg = _per_camera(fov_deg, "fov_deg", like)
    validate_fov_deg(fov_deg)

    if mode == "3dof":
        return _encode_3dof(target_c2w, like).to(dtype)
    pose = _encode_pose(mode, _scaled_relative_pose(target_c2w, like, _mode_scale(mode, scale, like)))
    batch = pose.shape[0]
    return torch.cat([pose.reshape(batch, 16), _encode_fov(fov_deg)], dim=1).to(dtype)


def _mode_scale(mode: str, scale, like: torch.Tensor) -> torch.Tensor:
    """The ``[B]`` divisor of the translation of a 6-DoF mode (before the 1e-2 clip)."""
    if mode == "7dof_unscaled":
        return torch.ones(like.shape[0], dtype=like.dtype, device=like.device)
    if scale is None:
        raise ValueError(f"mode {mode!r} needs a scale (see encode_camera's docstring)")
    scale = _per_camera(scale, "scale", like)
    _check_scale(scale, allow_nan=mode == "7dof_stereomag_scale")
    if mode == "7dof_stereomag_scale":
        low, high = _NEARPLANE_RANGE
        scale = torch.nan_to_num(scale.clip(low, high), nan=1.0, posinf=high, neginf=low)
    return scale


def _encode_pose(mode: str, pose: torch.Tensor) -> torch.Tensor:
    """The clean-up each 6-DoF mode applies to its scaled relative pose ``[B,4,4]``."""
    if mode == "7dof_quantile_scale":
        return _squash_translation(pose)
    if mode == "7dof":
        return pose
    return _clip_pose(pose)  # 7dof_unscaled and 7dof_stereomag_scale


def _check_mode(mode: str) -> None:
    if mode not in CAMERA_MODES:
        raise ValueError(f"unknown camera mode {mode!r}; expected one of {', '.join(CAMERA_MODES)}")


def _per_camera(value, name: str, like: torch.Tensor) -> torch.Tensor:
    """A float, ``[B]`` or ``[B,1]`` value as a ``[B]`` tensor with ``like``'s dtype and device."""
    batch = like.shape[0]
    tensor = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if tensor.ndim == 2 and tensor.shape[1] == 1:
        tensor = tensor[:, 0]
    if tensor.ndim == 0:
        tensor = tensor.expand(batch)
    if tensor.shape != (batch,):
        raise ValueError(
            f"{name} must be a float or have shape [B] with B = {batch} cameras, got {tuple(tensor.shape)}"
        )
    return tensor


def _check_scale(scale: torch.Tensor, allow_nan: bool) -> None:
    checked = scale[~torch.isnan(scale)] if allow_nan else scale
    if not allow_nan and not torch.isfinite(checked).all():
        raise ValueError(f"scale must be finite, got {scale.tolist()}")
    if (checked <= 0).any():
        raise ValueError(f"scale must be positive, got {scale.tolist()}")


def _scaled_relative_pose(target_c2w, cond_c2w, scale: torch.Tensor) -> torch.Tensor:
    """``inv(cond) @ target`` with the translation divided by ``clip(scale, min=1e-2)``; ``[B,4,4]``."""
    relative = relative_pose(cond_c2w, target_c2w)
    translation = relative[:, :3, 3:] / scale.clip(min=_MIN_SCALE)[:, None, None]
    return _with_translation(relative, translation)


def _with_translation(pose: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    top = torch.cat([pose[:, :3, :3], translation], dim=2)
    return torch.cat([top, pose[:, 3:]], dim=1)


def _clip_pose(pose: torch.Tensor) -> torch.Tensor:
    clipped = pose.clip(-_POSE_CLIP, _POSE_CLIP)
    return torch.nan_to_num(clipped, nan=0.0, posinf=_POSE_CLIP, neginf=-_POSE_CLIP)


def _squash_translation(pose: torch.Tensor) -> torch.Tensor:
    translation = _SQUASH_GAIN * _SQUASH_WIDTH * torch.tanh(pose[:, :3, 3:] / _SQUASH_WIDTH)
    squashed = _with_translation(pose, translation)
    return torch.nan_to_num(squashed, nan=0.0, posinf=_SQUASH_WIDTH, neginf=-_SQUASH_WIDTH)


def _encode_fov(fov_deg: torch.Tensor) -> torch.Tensor:
    fov_rad = fov_deg * math.pi / 180
    return torch.stack([fov_rad, torch.sin(fov_rad), torch.cos(fov_rad)], dim=-1)


def _encode_3dof(target_c2w: torch.Tensor, cond_c2w: torch.Tensor) -> torch.Tensor:
    """Zero-1-to-3's ``[d_polar, sin d_azimuth, cos d_azimuth, d_radius]`` of the camera centres.

    Polar angle ``atan2(sqrt(x^2 + y^2), z)`` is measured from +z, azimuth ``atan2(y, x)`` from +x;
    the centres are recovered from the world-to-camera matrices as ``-R^T t``, as the official code does.
    """
    polar_t, azimuth_t, radius_t = _spherical(_centre_from_w2c(target_c2w))
    polar_c, azimuth_c, radius_c = _spherical(_centre_from_w2c(cond_c2w))
    d_azimuth = torch.remainder(azimuth_t - azimuth_c, 2 * math.pi)
    return torch.stack([polar_t - polar_c, torch.sin(d_azimuth), torch.cos(d_azimuth), radius_t - radius_c], dim=-1)


def _centre_from_w2c(c2w: torch.Tensor) -> torch.Tensor:
    w2c = torch.linalg.inv(c2w)
    return -(w2c[:, :3, :3].transpose(1, 2) @ w2c[:, :3, 3:])[:, :, 0]


def _spherical(xyz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    xy = xyz[:, 0] ** 2 + xyz[:, 1] ** 2
    radius = torch.sqrt(xy + xyz[:, 2] ** 2)
    return torch.arctan2(torch.sqrt(xy), xyz[:, 2]), torch.arctan2(xyz[:, 1], xyz[:, 0]), radius
