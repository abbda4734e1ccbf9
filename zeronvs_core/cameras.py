"""Cameras as 4x4 OpenGL camera-to-world matrices in a z-up world, built as the official code does.

Conventions used by every function in this module:

- A camera is a camera-to-world matrix ``c2w`` ``[N,4,4]``. Its columns are the camera's x axis
  (right), y axis (up) and z axis (backwards) in world coordinates, then its centre; the camera
  looks along its -z axis (OpenGL). The bottom row is ``[0, 0, 0, 1]``.
- The world is z-up. Look-at cameras use up = +z, as threestudio does in the official SDS code.
- Elevation is measured up from the xy-plane, azimuth from +x towards +y; both in degrees.
- FOV is the vertical field of view in degrees; focal lengths and image sizes are in pixels.

Converters from other conventions (OpenCV, PyTorch3D/CO3D, LLFF/Mip-NeRF 360, COLMAP) live in
``camera_conventions.py``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

__all__ = [
    "ORTHONORMAL_ATOL",
    "validate_c2w",
    "validate_fov_deg",
    "working_dtype",
    "invert_rigid",
    "relative_pose",
    "rotation_angle",
    "spherical_to_position",
    "look_at",
    "orbit_camera",
    "orbit_path",
    "fov_to_focal",
    "focal_to_fov",
    "camera_rays",
]

ORTHONORMAL_ATOL = 1e-3
"""Largest accepted entry of ``|R^T R - I|`` for a camera rotation (raised to 8 machine epsilons of
the input dtype for half precision). Poses stored with 6 decimals pass; scaled or sheared ones fail."""

_BOTTOM_ROW_ATOL = 1e-6


def _float_tensor(value) -> torch.Tensor:
    tensor = torch.as_tensor(value)
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.get_default_dtype())
    return tensor


def validate_c2w(c2w, name: str = "c2w") -> torch.Tensor:
    """Check that ``c2w`` is a batch of rigid camera-to-world matrices and return it as a tensor.

    Args:
        c2w: ``[N,4,4]`` tensor or array (integers are converted to the default float dtype).
        name: the argument name used in error messages.

    Raises:
        ValueError: wrong shape, NaN or inf entries, a bottom row other than ``[0,0,0,1]``, or a
            rotation block that is not orthonormal with determinant +1 (see ``ORTHONORMAL_ATOL``).
    """
    c2w = _float_tensor(c2w)
    if c2w.ndim != 3 or c2w.shape[1:] != (4, 4):
        raise ValueError(f"{name} must have shape [N, 4, 4], got {tuple(c2w.shape)}")
    check = c2w.detach().to(torch.float64)
    bad = ~torch.isfinite(check).flatten(1).all(dim=1)
    if bad.any():
        raise ValueError(f"{name} contains NaN or inf (camera {_first(bad)})")
    bottom = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64, device=check.device)
    bad = (check[:, 3] - bottom).abs().amax(dim=1) > _BOTTOM_ROW_ATOL
    if bad.any():
        i = _first(bad)
        raise ValueError(f"{name}[{i}] bottom row must be [0, 0, 0, 1], got {check[i, 3].tolist()}")
    rotation = check[:, :3, :3]
    eye = torch.eye(3, dtype=torch.float64, device=check.device)
    error = (rotation.transpose(1, 2) @ rotation - eye).abs().flatten(1).amax(dim=1)
    atol = max(ORTHONORMAL_ATOL, 8 * torch.finfo(c2w.dtype).eps)
    bad = error > atol
    if bad.any():
        i = _first(bad)
        raise ValueError(
            f"{name}[{i}] rotation is not orthonormal (max |R^T R - I| = {error[i].item():.3g} > "
            f"{atol:.3g}); pass a rigid camera-to-world matrix without scale or shear"
        )
    bad = torch.linalg.det(rotation) < 0
    if bad.any():
        raise ValueError(
            f"{name}[{_first(bad)}] rotation is a reflection (determinant -1); "
            "a camera-to-world rotation must have determinant +1"
        )
    return c2w


def _first(mask: torch.Tensor) -> int:
    return int(mask.nonzero()[0, 0])


def working_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype to do camera linear algebra in: float32 for half precisions (``torch.linalg.inv``
    has no half kernels), the dtype itself otherwise."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def invert_rigid(matrix: torch.Tensor) -> torch.Tensor:
    """Invert rigid transforms ``[...,4,4]`` or ``[...,3,4]`` exactly: ``[R|t] -> [R^T | -R^T t]``.

    Returns ``[...,4,4]``. Used to turn world-to-camera poses into camera-to-world ones.
    """
    rotation_t = matrix[..., :3, :3].transpose(-1, -2)
    translation = -(rotation_t @ matrix[..., :3, 3:4])
    return _homogenize(torch.cat([rotation_t, translation], dim=-1))


def _homogenize(top: torch.Tensor) -> torch.Tensor:
    """``[...,3,4]`` to ``[...,4,4]`` with the bottom row ``[0, 0, 0, 1]``."""
    bottom = torch.zeros_like(top[..., :1, :])
    bottom[..., 0, 3] = 1.0
    return torch.cat([top, bottom], dim=-2)


def relative_pose(cond_c2w: torch.Tensor, target_c2w: torch.Tensor) -> torch.Tensor:
    """Pose of each target camera in its conditioning camera's frame, ``inv(cond) @ target``.

    Args:
        cond_c2w, target_c2w: ``[N,4,4]`` OpenGL camera-to-world matrices.

    Returns:
        ``[N,4,4]``; its translation column is the target centre in conditioning-camera coordinates.
        Computed with a general matrix inverse, as the official ``compute_T`` does.
    """
    dtype = torch.promote_types(cond_c2w.dtype, target_c2w.dtype)
    work = working_dtype(dtype)
    relative = torch.linalg.inv(cond_c2w.to(work)) @ target_c2w.to(work)
    return relative.to(dtype)


def rotation_angle(c2w_a: torch.Tensor, c2w_b: torch.Tensor) -> torch.Tensor:
    """Geodesic angle between the rotations of two camera sets, ``arccos((tr(Ra^T Rb) - 1) / 2)``.

    Args:
        c2w_a, c2w_b: ``[...,4,4]`` (or ``[...,3,3]`` rotations), broadcast against each other.

    Returns:
        ``[...]`` angles in radians, in ``[0, pi]``. Translation is ignored (the anchor rule).
    """
    ra, rb = c2w_a[..., :3, :3], c2w_b[..., :3, :3]
    trace = (ra * rb).sum(dim=(-1, -2))  # tr(Ra^T Rb)
    return torch.arccos(((trace - 1) / 2).clamp(-1.0, 1.0))


def spherical_to_position(elevation_deg, azimuth_deg, distance) -> torch.Tensor:
    """Points ``d * (cos e cos a, cos e sin a, sin e)`` in the z-up world.

    Args:
        elevation_deg, azimuth_deg, distance: floats or ``[N]`` tensors, broadcast together.

    Returns:
        ``[N,3]`` positions (``N = 1`` when every argument is a float).
    """
    elevation, azimuth, distance = torch.broadcast_tensors(
        *(torch.atleast_1d(_float_tensor(v)) for v in (elevation_deg, azimuth_deg, distance))
    )
    elevation = elevation * math.pi / 180
    azimuth = azimuth * math.pi / 180
    return torch.stack(
        [
            distance * torch.cos(elevation) * torch.cos(azimuth),
            distance * torch.cos(elevation) * torch.sin(azimuth),
            distance * torch.sin(elevation),
        ],
        dim=-1,
    )


def look_at(position: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
    """Cameras at ``position`` looking at ``target`` with up = +z, built as threestudio does.

    ``lookat = normalize(target - position)``, ``right = normalize(lookat x up)``,
    ``up = normalize(right x lookat)``, ``c2w = [right, up, -lookat | position]``.

    Args:
        position: ``[N,3]`` camera centres (world).
        target: ``[N,3]`` or ``[3]`` points looked at; the origin when omitted.

    Returns:
        ``[N,4,4]`` OpenGL camera-to-world matrices.

    Raises:
        ValueError: a camera looks straight up or down (the view direction is parallel to +z), or
            sits on its target.
    """
    position = _float_tensor(position)
    if position.ndim != 2 or position.shape[1] != 3:
        raise ValueError(f"position must have shape [N, 3], got {tuple(position.shape)}")
    target = torch.zeros_like(position) if target is None else _float_tensor(target)
    offset = target - position
    if (offset.norm(dim=-1) == 0).any():
        raise ValueError("look_at: a camera position equals its target; the view direction is undefined")
    lookat = F.normalize(offset, dim=-1)
    up = torch.zeros_like(lookat)
    up[:, 2] = 1.0
    side = torch.linalg.cross(lookat, up)
    if (side.norm(dim=-1) < 1e-6).any():
        raise ValueError(
            "look_at: a camera looks straight up or down (elevation +-90 degrees); "
            "the z-up look-at frame is undefined there"
        )
    right = F.normalize(side, dim=-1)
    up = F.normalize(torch.linalg.cross(right, lookat), dim=-1)
    rotation = torch.stack([right, up, -lookat], dim=-1)
    return _homogenize(torch.cat([rotation, position[:, :, None]], dim=-1))


def orbit_camera(elevation_deg, azimuth_deg, distance=1.0) -> torch.Tensor:
    """Cameras on a sphere around the origin, looking at it with up = +z.

    The official input ("canonical") camera is ``orbit_camera(elevation_deg, 0.0, 1.0)``; the
    random SDS cameras and the test orbit are built the same way.

    Args:
        elevation_deg, azimuth_deg, distance: floats or ``[N]`` tensors, broadcast together.

    Returns:
        ``[N,4,4]`` OpenGL camera-to-world matrices.
    """
    return look_at(spherical_to_position(elevation_deg, azimuth_deg, distance))


def orbit_path(
    n_views: int,
    elevation_deg: float,
    distance: float = 1.0,
    azimuth_start_deg: float = 0.0,
    azimuth_end_deg: float | None = None,
    ends: Literal["auto", "both", "inner"] = "auto",
    target=None,
) -> torch.Tensor:
    """The one orbit builder: ``n_views`` cameras at one elevation and distance, azimuths evenly spaced
    from ``azimuth_start_deg`` to ``azimuth_end_deg`` (default: one full turn), looking at ``target``.

    Azimuth ``i`` is ``start + (end - start) (i + k) / D``, computed in float64, with by ``ends``:

    - ``"auto"``: a whole number of turns leaves the end out (``k = 0``, ``D = n``), so a looping video
      has no duplicated frame (nerfstudio's closed paths); an open arc keeps both ends (``D = n - 1``);
      ``n_views = 1`` gives the start. The renderer's orbit, the CLI's and the nodes' target arcs.
    - ``"both"``: both ends (``k = 0``, ``D = n - 1``), as the official test orbit ``linspace(0, 360, 120)``.
    - ``"inner"``: strictly between the ends (``k = 1``, ``D = n + 1``): the anchor views, evenly spaced
      between the input camera and itself a turn later.

    Args:
        n_views: number of cameras (at least 1).
        elevation_deg, distance: degrees above the xy-plane of the target; distance > 0, world units.
        target: ``[3]`` point looked at (the origin when None, as ``orbit_camera``); with a target the
            cameras are computed in ``target``'s dtype (``look_at`` of ``spherical_to_position + target``).

    Returns:
        ``[n_views,4,4]`` OpenGL camera-to-world matrices (float32 for the origin); camera 0 sits at
        ``azimuth_start_deg`` unless ``ends="inner"``.
    """
    if n_views < 1:
        raise ValueError(f"n_views must be at least 1, got {n_views}")
    if distance <= 0:
        raise ValueError(f"distance must be positive, got {distance}")
    if ends not in ("auto", "both", "inner"):
        raise ValueError(f"ends must be 'auto', 'both' or 'inner', got {ends!r}")
    end = azimuth_start_deg + 360.0 if azimuth_end_deg is None else azimuth_end_deg
    span = end - azimuth_start_deg
    closed = span != 0 and math.isclose(span / 360.0, round(span / 360.0))
    offset, divisions = (
        (1, n_views + 1) if ends == "inner" else (0, n_views if ends == "auto" and closed else n_views - 1)
    )
    index = torch.arange(n_views, dtype=torch.float64) + offset
    azimuth = azimuth_start_deg + span * index / max(divisions, 1)
    if target is None:
        return orbit_camera(elevation_deg, azimuth.float(), distance)
    target = _float_tensor(target)
    elevation, distance = (torch.tensor(float(value), dtype=target.dtype) for value in (elevation_deg, distance))
    return look_at(spherical_to_position(elevation, azimuth.to(target.dtype), distance) + target, target)


def validate_fov_deg(fov_deg: torch.Tensor, name: str = "fov_deg") -> None:
    """Raise a ValueError naming ``name`` unless every FOV is finite and in (0, 180) degrees."""
    if not torch.isfinite(fov_deg).all() or ((fov_deg <= 0) | (fov_deg >= 180)).any():
        values = fov_deg.flatten().tolist()
        raise ValueError(f"{name} must be in (0, 180) degrees, got {values[0] if len(values) == 1 else values}")


def fov_to_focal(fov_deg, size_px: float) -> torch.Tensor:
    """Focal length in pixels, ``0.5 * size / tan(fov / 2)``, for a FOV spanning ``size_px``."""
    fov_deg = _float_tensor(fov_deg)
    validate_fov_deg(fov_deg)
    return 0.5 * size_px / torch.tan(0.5 * fov_deg * math.pi / 180)


def focal_to_fov(focal_px, size_px: float) -> torch.Tensor:
    """FOV in degrees, ``2 * atan(0.5 * size / focal)``, spanned by ``size_px`` pixels."""
    focal_px = _float_tensor(focal_px)
    if not torch.isfinite(focal_px).all() or (focal_px <= 0).any():
        raise ValueError(f"focal_px must be positive and finite, got {focal_px.flatten().tolist()}")
    return 2 * torch.atan(0.5 * size_px / focal_px) * 180 / math.pi


def camera_rays(c2w: torch.Tensor, fov_deg, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """World-space rays through the pixel centres of each camera.

    The camera-space direction of pixel ``(i, j)`` (column, row) is
    ``((i + 0.5 - W/2) / f, -(j + 0.5 - H/2) / f, -1)`` with ``f = fov_to_focal(fov_deg, H)``
    (square pixels, principal point at the image centre), as threestudio's ``get_ray_directions``.

    Args:
        c2w: ``[N,4,4]`` OpenGL camera-to-world matrices.
        fov_deg: float or ``[N]`` vertical FOV in degrees.
        height, width: image size in pixels.

    Returns:
        ``(origins, directions)``, each ``[N,H,W,3]`` in world coordinates; directions have unit length.
    """
    n = c2w.shape[0]
    focal = fov_to_focal(fov_deg, height).to(device=c2w.device, dtype=c2w.dtype).expand(n)
    rows = torch.arange(height, device=c2w.device, dtype=c2w.dtype) + 0.5
    cols = torch.arange(width, device=c2w.device, dtype=c2w.dtype) + 0.5
    v, u = torch.meshgrid(rows, cols, indexing="ij")
    f = focal[:, None, None]
    camera_dirs = torch.stack(
        [(u - width / 2) / f, -(v - height / 2) / f, -torch.ones_like(u).expand(n, -1, -1)], dim=-1
    )
    directions = F.normalize(torch.einsum("nij,nhwj->nhwi", c2w[:, :3, :3], camera_dirs), dim=-1)
    origins = c2w[:, None, None, :3, 3].expand_as(directions)
    return origins, directions
