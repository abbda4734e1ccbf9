"""DTU in pixelNeRF's ``rs_dtu_4`` format, read for ZeroNVS's single-view protocol (spec 8.1).

Layout (``root`` is the folder that holds the scans, ``rs_dtu_4/DTU`` in pixelNeRF's download)::

    root/scan8/cameras.npz        world_mat_i: 4x4 projection K [R|t]; scale_mat_i: normalisation
    root/scan8/image/000025.png   400x300 RGB views, named by their number i

Cameras, as the official code reads them (pixelNeRF's ``DVRDataset``):

1. ``world_mat_i[:3]`` is split by ``cv2.decomposeProjectionMatrix`` into K, the rotation R
   (world-to-camera, OpenCV axes) and the camera centre C. A projection matrix is defined up to a
   factor, and a negative one turns the decomposed camera 180 degrees about its axis (OpenCV keeps K's
   first two diagonal entries positive, so K[2,2] takes the sign): the matrix is first multiplied by the
   sign of the determinant of its left 3x3 block, so that K's diagonal is positive (Hartley & Zisserman,
   *Multiple View Geometry*, 2nd ed., section 6.2.4); the official code skips this, which changes nothing
   for DTU's own matrices (their determinants are positive);
2. normalisation: ``C' = (C - t_s) / d_s`` with ``t_s`` and ``d_s`` the translation and diagonal of
   ``scale_mat_i``;
3. ``c2w = W [R^T | C'] W`` with ``W = diag(1, -1, -1, 1)``: OpenCV camera axes become OpenGL ones and
   the world's y and z axes flip. This world is pixelNeRF's and is not levelled (scan 24's cameras sit
   on a cap centred some 55 degrees off its z axis); the protocol only uses poses relative to the input;
4. translations divided by ``DTU_VIEW_SCALE`` = 2.02 (the official ``view_synthesis.scale``).

The FOV is vertical, ``2 atan2(cy, fy)`` from K (the official formula; ``cy`` is the principal point, not
half the height), taken from the input view (DTU's intrinsics agree across views to 1e-4 degrees).
Images are the uncropped views read by ``images.read_image`` (transparency composited on white) and
resized with Pillow's LANCZOS to the evaluation size (400x300: the files' own size, so no resampling
happens), as the official loader does; the resize works on float pixels, where the official one rounds
to 8 bits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from ..images import composite_on_white, read_image
from .frames import pinhole_fov_deg
from .protocol import DatasetProtocol, EvalScene, OfficialMetrics, SceneSettings, select_views

__all__ = ["DTU_PROTOCOL", "DTU_VIEW_SCALE", "dtu_cameras", "load_dtu_scene", "read_dtu_image"]

DTU_VIEW_SCALE = 2.02
"""Divides the normalised camera translations (``view_synthesis.scale`` of the official config)."""
_INPUT_VIEW = 25
_PRECOMPUTED_SCALE = 0.7
_FLIP = np.diag([1.0, -1.0, -1.0, 1.0])

# scan: (manual_gt_to_pred_scale, official LPIPS, PSNR, SSIM); README "DTU (expected performance)"
_TABLE = {
    8: (1.2, 0.2988, 13.2329, 0.6094),
    21: (1.4, 0.5783, 8.4278, 0.1739),
    30: (1.5, 0.2332, 14.1864, 0.6311),
    31: (1.4, 0.5117, 8.9569, 0.2992),
    34: (1.4, 0.3611, 14.049, 0.3862),
    38: (1.3, 0.4659, 12.6771, 0.3495),
    40: (1.2, 0.3729, 12.2447, 0.4612),
    41: (1.3, 0.3794, 12.5998, 0.4657),
    45: (1.4, 0.4441, 11.241, 0.369),
    55: (1.2, 0.4322, 17.0177, 0.4456),
    63: (1.5, 0.2639, 12.6056, 0.5724),
    82: (1.5, 0.2725, 12.1564, 0.5384),
    103: (1.5, 0.3811, 16.0902, 0.5434),
    110: (1.3, 0.349, 19.5588, 0.6353),
    114: (1.3, 0.3613, 18.2336, 0.5529),
}

DTU_PROTOCOL = DatasetProtocol(
    dataset="dtu",
    scenes=tuple(
        SceneSettings(f"scan{scan}", _INPUT_VIEW, _PRECOMPUTED_SCALE, gt_scale, OfficialMetrics(lpips, psnr, ssim))
        for scan, (gt_scale, lpips, psnr, ssim) in _TABLE.items()
    ),
    official_mean=OfficialMetrics(lpips=0.380, psnr=13.55, ssim=0.469),
    eval_size=(300, 400),
    excluded_views=(3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 36, 37, 38, 39),
    elevation_deg=20.0,
    background=(0.0, 0.0, 0.0),
    training_background="black",
    guidance_scale=7.5,
    near=0.25,
    far=100.0,
    lambda_opaque=0.1,
    anisotropic=False,
    widen_elevation=False,
)
"""The 15 test scans (input view 25, precomputed scale 0.7, elevation 20 degrees, black background,
400x300 evaluation) with their GT-to-prediction scales and published numbers."""


def dtu_cameras(
    cameras: Mapping[str, np.ndarray], view_ids: Sequence[int], view_scale: float = DTU_VIEW_SCALE
) -> tuple[torch.Tensor, torch.Tensor]:
    """The protocol's cameras of some views of a ``cameras.npz``.

    Args:
        cameras: the npz contents: ``world_mat_i`` ``[4,4]`` (or ``[3,4]``) projections and, optionally,
            ``scale_mat_i`` ``[4,4]`` normalisations.
        view_ids: the view numbers i.
        view_scale: divides the translations (``DTU_VIEW_SCALE``; 1 gives pixelNeRF's cameras).

    Returns:
        ``(c2w, fov_deg)``: ``[N,4,4]`` float64 OpenGL camera-to-world (steps 1-4 of the module doc) and
        ``[N]`` float64 vertical FOVs ``2 atan2(cy, fy)`` in degrees, in (0, 180). A ``world_mat_i``
        times any non-zero factor (negative ones included) gives the same camera and FOV.

    Raises:
        ValueError: a ``world_mat_i`` is missing, is not a finite projection matrix, has a singular left
            3x3 block (no finite camera), or has its principal point at or above the image's top row
            (``cy <= 0``: no FOV in (0, 180)).
    """
    poses, fovs = [], []
    for view in view_ids:
        key = f"world_mat_{view}"
        if key not in cameras:
            raise ValueError(f"cameras has no {key} (view {view}); its keys start {sorted(cameras)[:4]}")
        projection = np.asarray(cameras[key], dtype=np.float64)[:3]
        if projection.shape != (3, 4) or not np.isfinite(projection).all():
            raise ValueError(f"{key} must be a finite 3x4 or 4x4 projection matrix, got shape {projection.shape}")
        intrinsics, rotation, centre = _decompose(projection, key)
        pose = np.eye(4)
        pose[:3, :3] = rotation.T
        pose[:3, 3] = centre[:3, 0] / centre[3, 0]
        scale_mat = cameras.get(f"scale_mat_{view}")
        if scale_mat is not None:
            scale_mat = np.asarray(scale_mat, dtype=np.float64)
            pose[:3, 3] = (pose[:3, 3] - scale_mat[:3, 3]) / np.diagonal(scale_mat)[:3]
        pose = _FLIP @ pose @ _FLIP
        pose[:3, 3] /= view_scale
        poses.append(pose)
        fovs.append(pinhole_fov_deg(2.0 * intrinsics[1, 2], intrinsics[1, 1], f"{key} (view {view})"))
    return torch.from_numpy(np.stack(poses)), torch.tensor(fovs, dtype=torch.float64)


def _decompose(projection: np.ndarray, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(K with K[2,2] = 1, R, homogeneous centre [4,1])`` of a ``[3,4]`` projection, its sign made positive
    first (step 1 of the module doc)."""
    left = projection[:, :3]
    condition = np.linalg.cond(left)
    if not condition < 1e12:
        raise ValueError(
            f"{key} is not a finite camera: the left 3x3 block of its projection matrix is singular "
            f"(condition number {condition:.3g})"
        )
    intrinsics, rotation, centre = cv2.decomposeProjectionMatrix(np.sign(np.linalg.det(left)) * projection)[:3]
    return intrinsics / intrinsics[2, 2], rotation, centre


def read_dtu_image(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """A view read by ``images.read_image`` (transparency on white), resized with Pillow's LANCZOS to
    ``size = (height, width)`` when it differs: ``[3,H,W]`` float32 in [0,1].

    Raises:
        FileNotFoundError, images.ImageReadError: as ``images.read_image``.
        ValueError: the file's aspect ratio differs from the size's (the official loader refuses it too).
    """
    image = composite_on_white(read_image(path)[0])
    height, width = size
    if image.shape[2] * height != image.shape[1] * width:
        raise ValueError(f"{path} is {image.shape[2]}x{image.shape[1]}; its aspect ratio differs from {width}x{height}")
    if image.shape[1:] != (height, width):
        channels = [
            np.asarray(Image.fromarray(channel.numpy()).resize((width, height), resample=Image.LANCZOS))
            for channel in image
        ]
        image = torch.from_numpy(np.stack(channels)).clamp(0.0, 1.0)
    return image.contiguous()


def load_dtu_scene(root: str | Path, scene: str, size: tuple[int, int] | None = None) -> EvalScene:
    """Read one DTU scan for evaluation.

    Args:
        root: the folder holding the ``scanN`` folders.
        scene: ``scanN`` or ``N``, one of ``DTU_PROTOCOL``'s scans.
        size: ``(height, width)`` of the images; the protocol's 300x400 when None. Other sizes give
            numbers that are not comparable with the official ones.

    Raises:
        FileNotFoundError: the scan folder, ``cameras.npz`` or the input view's image is missing.
        ValueError: an unknown scan, or cameras that do not cover the images.
    """
    settings = DTU_PROTOCOL.scene(scene)
    folder = Path(root) / settings.name
    camera_path, image_dir = folder / "cameras.npz", folder / "image"
    if not camera_path.is_file() or not image_dir.is_dir():
        raise FileNotFoundError(
            f"DTU scan not found: expected {camera_path} and {image_dir}/ (root must be the folder holding "
            "the scanN folders, rs_dtu_4/DTU in pixelNeRF's download)"
        )
    paths = {int(path.stem): path for path in image_dir.glob("*.png") if path.stem.isdigit()}
    if settings.input_view not in paths:
        raise FileNotFoundError(f"{image_dir} has no image of the input view {settings.input_view}")
    view_ids = tuple(sorted(paths))
    with np.load(camera_path) as data:
        c2w, fovs = dtu_cameras({key: data[key] for key in data.files}, view_ids)
    size = size if size is not None else DTU_PROTOCOL.eval_size
    images = torch.stack([read_dtu_image(paths[view], size) for view in view_ids])
    input_index = view_ids.index(settings.input_view)
    return EvalScene(
        settings=settings,
        images=images,
        c2w=c2w,
        view_ids=view_ids,
        fov_deg=float(fovs[input_index]),
        input_index=input_index,
        eval_indices=select_views(view_ids, input_index, DTU_PROTOCOL.excluded_views),
        elevation_deg=DTU_PROTOCOL.elevation_deg,
    )
