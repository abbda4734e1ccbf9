"""Mip-NeRF 360 (the public capture folders) read for ZeroNVS's single-view protocol (spec 8.1).

Layout (``root`` holds one folder per scene, as in the ``360_v2`` download)::

    root/bicycle/poses_bounds.npy   [N,17]: LLFF camera-to-world [down, right, back | centre | H W focal], near, far
    root/bicycle/images_4/*.JPG     the views; sorted by name they are the rows of poses_bounds.npy
                                    (images/, images_2/, images_8/ hold the same views at other sizes)

The official evaluation read a pickle of 256x256 views whose preprocessing was never released (its
code asserts the principal point at pixel 128). This reader rebuilds it from the public files: each
view is centre-cropped to a square and resized to 256 with ``INTER_AREA``; the FOV is the square's,
``2 atan((side / 2) / focal)`` with the focal scaled by the folder's factor (``images_4``: focal / 4).

Cameras, as the official ``get_scene`` processes them (OpenGL camera-to-world throughout):

1. LLFF columns to OpenGL (``cameras.llff_to_opengl``);
2. multinerf's ``transform_poses_pca``: centre on the mean camera position, rotate the principal axes of
   the positions onto x, y, z (largest first), flip y and z when the cameras' mean up vector points
   down (so the world is z-up), and scale the positions into [-1, 1];
3. recentre on the focus point, the point nearest (least squares) to every optical axis;
4. the input view: views sorted by the angle between their rotation and the rotation of a camera at
   the same place looking at the focus point (up +z); the input is the one of rank ``input_view``;
5. elevation of the input camera ``atan2(z, sqrt(x^2 + y^2))``;
6. positions divided by the mean camera distance to the focus point.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ..camera_conventions import llff_to_opengl
from ..cameras import look_at, rotation_angle
from ..images import open_image
from .frames import pinhole_fov_deg, read_square_image
from .protocol import DatasetProtocol, EvalScene, OfficialMetrics, SceneSettings, select_views

__all__ = [
    "IMAGE_FOLDERS",
    "MIPNERF360_PROTOCOL",
    "focus_point",
    "load_mipnerf360_scene",
    "look_at_order",
    "normalize_poses",
    "read_poses_bounds",
    "transform_poses_pca",
]

IMAGE_FOLDERS = {1: "images", 2: "images_2", 4: "images_4", 8: "images_8"}
"""Image folder of each downscale factor."""
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

# scene: (input view rank, precomputed scale, manual_gt_to_pred_scale, official LPIPS, PSNR, SSIM);
# launch_eval_mipnerf360.sh and the README's "Mip-NeRF 360 (expected performance)"
_TABLE = {
    "bicycle": (2, 0.9, 1.0, 0.6536, 13.184, 0.1707),
    "bonsai": (0, 0.9, 1.0, 0.6122, 13.1137, 0.3164),
    "counter": (20, 0.9, 0.9, 0.6823, 12.2189, 0.2473),
    "garden": (0, 0.9, 1.0, 0.5366, 15.2817, 0.207),
    "kitchen": (0, 0.9, 0.9, 0.6245, 13.2983, 0.254),
    "room": (0, 2.0, 0.9, 0.5928, 11.8591, 0.3431),
    "stump": (11, 0.9, 1.1, 0.6717, 13.124, 0.1396),
}

MIPNERF360_PROTOCOL = DatasetProtocol(
    dataset="mipnerf360",
    scenes=tuple(
        SceneSettings(name, view, scale, gt_scale, OfficialMetrics(lpips, psnr, ssim))
        for name, (view, scale, gt_scale, lpips, psnr, ssim) in _TABLE.items()
    ),
    official_mean=OfficialMetrics(lpips=0.625, psnr=13.15, ssim=0.240),
    eval_size=(256, 256),
    excluded_views=(),
    elevation_deg=None,
    background=(0.5, 0.5, 0.5),
    training_background="random",
    guidance_scale=9.5,
    near=0.6,
    far=1000.0,
    lambda_opaque=0.0,
    anisotropic=True,
    widen_elevation=True,
)
"""The 7 scenes (no flowers, no treehill) with their input views, scales and published numbers; every
view but the input is scored at 256x256 on a gray background."""


def read_poses_bounds(path: str | Path) -> tuple[torch.Tensor, np.ndarray]:
    """``poses_bounds.npy`` as ``(c2w [N,4,4] float64 OpenGL camera-to-world, hwf [N,3])``.

    ``hwf`` holds each row's full-resolution height, width and focal length in pixels.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an ``[N,17]`` array of finite numbers, or a row whose height, width or focal length
            is not positive.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"poses_bounds.npy not found: {path}")
    array = np.load(path)
    if array.ndim != 2 or array.shape[1] != 17 or not np.isfinite(array).all():
        raise ValueError(f"{path} must hold an [N, 17] array of finite numbers, got shape {array.shape}")
    poses = array[:, :15].reshape(-1, 3, 5).astype(np.float64)
    bad = np.nonzero((poses[:, :, 4] <= 0).any(axis=1))[0]
    if bad.size:
        raise ValueError(
            f"{path}: row {bad[0]} has height, width, focal {poses[bad[0], :, 4].tolist()}; all must be positive"
        )
    return llff_to_opengl(torch.from_numpy(poses)), poses[:, :, 4]


def transform_poses_pca(c2w: torch.Tensor) -> torch.Tensor:
    """multinerf's ``transform_poses_pca`` (step 2 of the module doc) on ``[N,4,4]`` camera-to-world;
    returns the transformed ``[N,4,4]`` (float64)."""
    poses = c2w.detach().cpu().numpy().astype(np.float64)
    t = poses[:, :3, 3]
    t_mean = t.mean(axis=0)
    t = t - t_mean
    eigval, eigvec = np.linalg.eig(t.T @ t)
    eigvec = np.real(eigvec[:, np.argsort(np.real(eigval))[::-1]])
    rot = eigvec.T
    if np.linalg.det(rot) < 0:
        rot = np.diag([1.0, 1.0, -1.0]) @ rot
    transform = np.eye(4)
    transform[:3] = np.concatenate([rot, rot @ -t_mean[:, None]], axis=-1)
    recentred = transform @ poses
    if recentred.mean(axis=0)[2, 1] < 0:
        recentred = np.diag([1.0, -1.0, -1.0, 1.0]) @ recentred
    recentred[:, :3, 3] /= np.max(np.abs(recentred[:, :3, 3]))
    return torch.from_numpy(recentred)


def focus_point(c2w: torch.Tensor) -> torch.Tensor:
    """The point nearest, in least squares, to the optical axes of cameras ``[N,4,4]``: ``[3]`` float64.

    ``p = (mean_i M_i)^-1 mean_i(M_i o_i)`` with ``M_i = I - d_i d_i^T`` (``M^T M = M``), ``d_i`` the view
    axis and ``o_i`` the centre of camera i (multinerf's ``focus_point_fn``)."""
    poses = c2w.to(torch.float64)
    axes, origins = poses[:, :3, 2:3], poses[:, :3, 3:4]
    m = torch.eye(3, dtype=torch.float64) - axes @ axes.transpose(1, 2)
    mtm = m.transpose(1, 2) @ m
    return torch.linalg.inv(mtm.mean(0)) @ (mtm @ origins).mean(0)[:, 0]


def look_at_order(c2w: torch.Tensor) -> torch.Tensor:
    """View indices ``[N]`` sorted by the angle between each camera's rotation and that of a camera at the
    same place looking at the origin with up +z (ascending; ties keep file order)."""
    angles = rotation_angle(c2w, look_at(c2w[:, :3, 3]))
    return torch.from_numpy(np.argsort(angles.numpy(), kind="stable"))


def normalize_poses(c2w: torch.Tensor) -> torch.Tensor:
    """Steps 2, 3 and 6 of the module doc: ``[N,4,4]`` OpenGL camera-to-world to the protocol's world,
    centred on the focus point, z up, mean camera distance 1 (float64)."""
    poses = transform_poses_pca(c2w)
    poses[:, :3, 3] -= focus_point(poses)
    poses[:, :3, 3] /= poses[:, :3, 3].norm(dim=1).mean()
    return poses


def load_mipnerf360_scene(
    root: str | Path, scene: str, size: tuple[int, int] | None = None, downscale: int | None = None
) -> EvalScene:
    """Read one Mip-NeRF 360 scene for evaluation.

    Args:
        root: the folder holding the scene folders.
        scene: one of ``MIPNERF360_PROTOCOL``'s scenes.
        size: ``(height, width)`` of the square images; 256x256 when None. Other sizes give numbers that
            are not comparable with the official ones.
        downscale: read ``IMAGE_FOLDERS[downscale]``; None picks the coarsest folder whose images are at
            least ``size`` on their short side (the finest one present when none is).

    Raises:
        FileNotFoundError: the scene, its ``poses_bounds.npy`` or every image folder is missing.
        ValueError: an unknown scene, a non-square size, or image and pose counts that differ.
    """
    settings = MIPNERF360_PROTOCOL.scene(scene)
    size = size if size is not None else MIPNERF360_PROTOCOL.eval_size
    if size[0] != size[1]:
        raise ValueError(f"Mip-NeRF 360 images are square; size must be (S, S), got {size}")
    folder = Path(root) / settings.name
    c2w, hwf = read_poses_bounds(folder / "poses_bounds.npy")
    factor, paths = _image_files(folder, size[0], downscale)
    if len(paths) != c2w.shape[0]:
        raise ValueError(f"{folder / IMAGE_FOLDERS[factor]} has {len(paths)} images for {c2w.shape[0]} poses")
    images, sides = [], []
    for path in paths:
        image, (height, width) = read_square_image(path, size[0])
        images.append(image)
        sides.append(min(height, width))
    c2w = normalize_poses(c2w)
    order = look_at_order(c2w)
    if not 0 <= settings.input_view < len(order):
        raise ValueError(f"{settings.name} has {len(order)} views; the input view rank is {settings.input_view}")
    input_index = int(order[settings.input_view])
    x, y, z = c2w[input_index, :3, 3].tolist()
    focal = hwf[input_index, 2] / factor
    fov_deg = pinhole_fov_deg(sides[input_index], focal, f"{settings.name} input view {input_index}")
    view_ids = tuple(range(len(paths)))
    return EvalScene(
        settings=settings,
        images=torch.stack(images),
        c2w=c2w,
        view_ids=view_ids,
        fov_deg=fov_deg,
        input_index=input_index,
        eval_indices=select_views(view_ids, input_index, MIPNERF360_PROTOCOL.excluded_views),
        elevation_deg=math.degrees(math.atan2(z, math.hypot(x, y))),
    )


def _image_files(folder: Path, side: int, downscale: int | None) -> tuple[int, list[Path]]:
    """``(factor, sorted image paths)`` of the image folder to read."""
    if downscale is not None and downscale not in IMAGE_FOLDERS:
        raise ValueError(f"downscale must be one of {sorted(IMAGE_FOLDERS)}, got {downscale}")
    factors = [downscale] if downscale is not None else sorted(IMAGE_FOLDERS, reverse=True)
    found = {}
    for factor in factors:
        directory = folder / IMAGE_FOLDERS[factor]
        paths = sorted(p for p in directory.glob("*") if p.suffix.lower() in _IMAGE_SUFFIXES)
        if paths:
            found[factor] = paths
            if _short_side(paths[0]) >= side:
                return factor, paths
    if not found:
        names = ", ".join(f"{IMAGE_FOLDERS[f]}/" for f in factors)
        raise FileNotFoundError(f"no images in {folder} (looked in {names})")
    finest = min(found)
    return finest, found[finest]


def _short_side(path: Path) -> int:
    return min(open_image(path).size)
