"""Camera conventions of datasets and tools, converted to and from this project's OpenGL camera-to-world.

The target convention is ``cameras.py``'s: ``c2w [N,4,4]`` with columns right, up, backwards (the camera
looks along -z) and centre, z-up world. Converters bring poses from OpenCV (x right, y down, z forward),
PyTorch3D/CO3D, LLFF/Mip-NeRF 360 and COLMAP into it and back; quaternions are ``(w, x, y, z)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .cameras import _float_tensor, _homogenize, invert_rigid

__all__ = [
    "opencv_to_opengl",
    "opengl_to_opencv",
    "pytorch3d_to_opengl",
    "opengl_to_pytorch3d",
    "llff_to_opengl",
    "opengl_to_llff",
    "colmap_to_opengl",
    "opengl_to_colmap",
    "quaternion_to_matrix",
    "matrix_to_quaternion",
]

_OPENCV_TO_OPENGL = (1.0, -1.0, -1.0, 1.0)  # flip the camera's y and z axes


def opencv_to_opengl(c2w: torch.Tensor) -> torch.Tensor:
    """Flip the camera y and z axes: OpenCV camera-to-world ``[...,4,4]`` to OpenGL, and back.

    The flip is its own inverse, so ``opengl_to_opencv`` is the same function.
    """
    flip = torch.tensor(_OPENCV_TO_OPENGL, dtype=c2w.dtype, device=c2w.device)
    return c2w * flip  # scales columns: x stays, y and z change sign


opengl_to_opencv = opencv_to_opengl


_PYTORCH3D_TO_OPENGL = (-1.0, 1.0, -1.0)  # signs of the world-to-camera rows (x and z negated)


def pytorch3d_to_opengl(rotation: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """PyTorch3D / CO3D cameras ``X_cam = X_world @ R + T`` to OpenGL camera-to-world.

    As the official CO3D loader: world-to-camera ``[R^T | T]``, negate rows 0 and 1 (to OpenCV),
    then rows 1 and 2 (to OpenGL), then invert.

    Args:
        rotation: ``[N,3,3]`` PyTorch3D ``R``.
        translation: ``[N,3]`` PyTorch3D ``T``.

    Returns:
        ``[N,4,4]`` OpenGL camera-to-world matrices.
    """
    w2c = torch.cat([rotation.transpose(1, 2), translation[:, :, None]], dim=-1)
    flip = torch.tensor(_PYTORCH3D_TO_OPENGL, dtype=w2c.dtype, device=w2c.device)
    return invert_rigid(w2c * flip[:, None])


def opengl_to_pytorch3d(c2w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of ``pytorch3d_to_opengl``: ``[N,4,4]`` to PyTorch3D ``(R [N,3,3], T [N,3])``."""
    flip = torch.tensor(_PYTORCH3D_TO_OPENGL, dtype=c2w.dtype, device=c2w.device)
    w2c = invert_rigid(c2w)[:, :3] * flip[:, None]
    return w2c[:, :, :3].transpose(1, 2), w2c[:, :, 3]


def llff_to_opengl(poses: torch.Tensor) -> torch.Tensor:
    """LLFF / Mip-NeRF 360 poses to OpenGL camera-to-world.

    Args:
        poses: ``[N,3,4]`` or ``[N,3,5]`` camera-to-world blocks with columns
            ``[down, right, backwards, centre]`` (a 5th ``[H, W, focal]`` column is ignored), i.e.
            ``poses_bounds.npy[:, :15].reshape(N, 3, 5)``.

    Returns:
        ``[N,4,4]`` with columns ``[right, up, backwards, centre] = [c1, -c0, c2, c3]``.
    """
    poses = _float_tensor(poses)
    if poses.ndim != 3 or poses.shape[1] != 3 or poses.shape[2] not in (4, 5):
        raise ValueError(f"poses must have shape [N, 3, 4] or [N, 3, 5], got {tuple(poses.shape)}")
    return _homogenize(torch.stack([poses[:, :, 1], -poses[:, :, 0], poses[:, :, 2], poses[:, :, 3]], dim=-1))


def opengl_to_llff(c2w: torch.Tensor) -> torch.Tensor:
    """Inverse of ``llff_to_opengl``: ``[N,4,4]`` to ``[N,3,4]`` with columns ``[down, right, back, centre]``."""
    return torch.stack([-c2w[:, :3, 1], c2w[:, :3, 0], c2w[:, :3, 2], c2w[:, :3, 3]], dim=-1)


def quaternion_to_matrix(quaternion: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[...,3,3]`` from quaternions ``[...,4]`` in ``(w, x, y, z)`` order (normalised first)."""
    w, x, y, z = F.normalize(quaternion, dim=-1).unbind(-1)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def matrix_to_quaternion(rotation: torch.Tensor) -> torch.Tensor:
    """Unit quaternions ``[...,4]`` ``(w, x, y, z)`` with ``w >= 0`` from rotation matrices ``[...,3,3]``.

    Each of the four algebraically equal formulas divides by one of ``4|w|, 4|x|, 4|y|, 4|z|``; the
    one with the largest divisor is used, which keeps the result accurate for every rotation.
    """
    m = rotation
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    four_squares = torch.stack(  # 4w^2, 4x^2, 4y^2, 4z^2
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1
    ).clamp(min=0)
    candidates = torch.stack(  # row k: 4 q_k * (w, x, y, z)
        [
            torch.stack([four_squares[..., 0], m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, four_squares[..., 1], m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, four_squares[..., 2], m12 + m21], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, four_squares[..., 3]], dim=-1),
        ],
        dim=-2,
    )
    best = four_squares.argmax(dim=-1, keepdim=True)
    chosen = torch.gather(candidates, -2, best[..., None].expand(*best.shape, 4)).squeeze(-2)
    quaternion = F.normalize(chosen, dim=-1)
    return torch.where(quaternion[..., :1] < 0, -quaternion, quaternion)


def colmap_to_opengl(qvec: torch.Tensor, tvec: torch.Tensor) -> torch.Tensor:
    """COLMAP ``images.txt`` poses (world-to-camera, OpenCV axes) to OpenGL camera-to-world.

    Args:
        qvec: ``[N,4]`` rotation quaternions ``(qw, qx, qy, qz)``.
        tvec: ``[N,3]`` translations, so that ``X_cam = R(qvec) X_world + tvec``.

    Returns:
        ``[N,4,4]`` OpenGL camera-to-world matrices.
    """
    w2c = torch.cat([quaternion_to_matrix(qvec), tvec[:, :, None]], dim=-1)
    return opencv_to_opengl(invert_rigid(w2c))


def opengl_to_colmap(c2w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of ``colmap_to_opengl``: ``[N,4,4]`` to ``(qvec [N,4], tvec [N,3])`` with ``qw >= 0``."""
    w2c = invert_rigid(opengl_to_opencv(c2w))
    return matrix_to_quaternion(w2c[:, :3, :3]), w2c[:, :3, 3]
