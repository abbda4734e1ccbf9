"""CO3D (Common Objects in 3D) reader: ``frame_annotations.jgz`` cameras, 16-bit float depth, training pairs.

Layout (as distributed): ``<root>/<category>/frame_annotations.jgz`` is a gzipped JSON list of
``FrameAnnotation`` dicts (``co3d/dataset/data_types.py``)::

    {"sequence_name": str, "frame_number": int, "frame_timestamp": float,
     "image": {"path": "<category>/<seq>/images/frame000001.jpg", "size": [H, W]},
     "depth": {"path": ".../depths/frame000001.jpg.geometric.png", "scale_adjustment": float,
               "mask_path": ".../depth_masks/frame000001.png"},
     "mask": {"path": ".../masks/frame000001.png", "mass": float},
     "viewpoint": {"R": 3x3, "T": 3, "focal_length": [fx, fy], "principal_point": [px, py],
                   "intrinsics_format": "ndc_norm_image_bounds" | "ndc_isotropic"}}

File paths start with the category, i.e. they are relative to the dataset root (the parent of the
category folder); paths relative to the annotation file's own folder are accepted too.

Cameras (PyTorch3D): ``X_cam = X_world @ R + T`` (row vectors), camera axes x left, y up, z forward
(the camera looks along +z). So the camera centre is ``C = -R T`` (column vector) and the camera's
forward axis in the world is ``R[:, 2]``. ``cameras.pytorch3d_to_opengl`` turns ``(R, T)`` into the
OpenGL camera-to-world ``[-R[:,0], R[:,1], -R[:,2] | -R T]``.

Intrinsics (NDC, as PyTorch3D's implicitron ``JsonIndexDataset._get_pytorch3d_camera``): with
``half = (W/2, H/2)`` of the full image,

- ``ndc_norm_image_bounds`` (CO3D v1): each axis is normalised by its own half size,
  ``rescale = (W/2, H/2)``;
- ``ndc_isotropic`` (CO3D v2): both axes are normalised by the half of the short side,
  ``rescale = min(W, H) / 2`` for x and y;

then ``focal_px = focal_ndc * rescale`` and ``principal_px = half - principal_ndc * rescale``
(PyTorch3D NDC has +x left and +y up, hence the minus). The full-image FOVs are
``fov_x = 2 atan((W/2) / fx_px)`` and ``fov_y = 2 atan((H/2) / fy_px)``.

FOV of the training pair: images are centre-cropped to a square of side ``m = min(W, H)``. The crop
removes pixels only along the long side, so the short-side FOV is unchanged and the long-side FOV
shrinks to the short-side one (for square pixels). The crop's FOVs are ``2 atan((m/2) / fx_px)`` and
``2 atan((m/2) / fy_px)``; the pair's ``fov_deg`` is their minimum, which for ``fx_px == fy_px``
equals the official ``min(fov_x, fov_y)`` of the full image. The principal point is assumed to be
at the image centre (CO3D stores ~0 NDC principal points); an off-centre one is ignored.

Depth: 16-bit PNGs whose uint16 pixels are the bit patterns of float16 depths; metric-ish depth is
``decoded * scale_adjustment`` (0, inf and NaN mean missing), optionally masked by the depth mask.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..camera_conventions import pytorch3d_to_opengl
from ..cameras import validate_c2w
from ..images import open_image, read_image, sixteen_bit_grey
from ..scene_scale import viewer_scale
from .frames import pair_indices, pinhole_fov_deg, read_square_image, square_depth
from .pairs import ViewPair

__all__ = [
    "INTRINSICS_FORMATS",
    "CO3DPairs",
    "co3d_camera",
    "co3d_crop_fov",
    "co3d_focal_px",
    "load_co3d_depth",
    "read_frame_annotations",
]

INTRINSICS_FORMATS = ("ndc_norm_image_bounds", "ndc_isotropic")


def read_frame_annotations(path) -> list[dict]:
    """Read a CO3D ``frame_annotations.jgz`` (a gzipped JSON list of frame dicts).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not gzipped JSON, or does not hold a list of dicts.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CO3D frame annotations not found: {path} (expected a gzipped JSON list)")
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: expected a gzipped JSON list of CO3D frame annotations ({error})") from error
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError(f"{path}: expected a JSON list of frame annotation objects, got {type(data).__name__}")
    return data


def _viewpoint(annotation: dict) -> dict:
    try:
        viewpoint = annotation["viewpoint"]
        for key in ("R", "T", "focal_length"):
            viewpoint[key]  # noqa: B018 - presence check
        annotation["image"]["size"]  # noqa: B018
    except (KeyError, TypeError) as error:
        raise ValueError(
            f"CO3D frame {_name(annotation)} lacks {error}; expected viewpoint.R, viewpoint.T, "
            "viewpoint.focal_length and image.size"
        ) from None
    return viewpoint


def _scale_adjustment(depth_info: dict) -> float:
    value = depth_info.get("scale_adjustment")
    return 1.0 if value is None else float(value)


def _name(annotation: dict) -> str:
    return f"{annotation.get('sequence_name', '?')}/{annotation.get('frame_number', '?')}"


def co3d_focal_px(annotation: dict) -> tuple[float, float, int, int]:
    """Pixel focal lengths ``(fx_px, fy_px, W, H)`` of the full image from the NDC focal (see module docstring).

    Raises:
        ValueError: missing fields or an unknown ``intrinsics_format``.
    """
    viewpoint = _viewpoint(annotation)
    height, width = (int(v) for v in annotation["image"]["size"])
    fmt = str(viewpoint.get("intrinsics_format", "ndc_norm_image_bounds")).lower()
    if fmt == "ndc_norm_image_bounds":
        rescale = (width / 2.0, height / 2.0)
    elif fmt == "ndc_isotropic":
        rescale = (min(width, height) / 2.0,) * 2
    else:
        raise ValueError(
            f"CO3D frame {_name(annotation)}: unknown intrinsics_format {fmt!r}; expected one of {INTRINSICS_FORMATS}"
        )
    focal = [float(v) for v in viewpoint["focal_length"]]
    if len(focal) == 1:
        focal = focal * 2
    if len(focal) != 2 or min(focal) <= 0:
        raise ValueError(f"CO3D frame {_name(annotation)}: focal_length must be 2 positive numbers, got {focal}")
    return focal[0] * rescale[0], focal[1] * rescale[1], width, height


def co3d_camera(annotation: dict) -> tuple[torch.Tensor, float, float]:
    """OpenGL camera-to-world ``[4,4]`` float32 and full-image ``(fov_x_deg, fov_y_deg)`` of a CO3D frame.

    ``c2w = pytorch3d_to_opengl(R, T)`` (centre ``-R T``, forward ``R[:,2]``);
    ``fov_x = 2 atan((W/2) / fx_px)``, ``fov_y = 2 atan((H/2) / fy_px)`` with ``co3d_focal_px``.
    """
    viewpoint = _viewpoint(annotation)
    rotation = torch.tensor(viewpoint["R"], dtype=torch.float64)
    translation = torch.tensor(viewpoint["T"], dtype=torch.float64)
    if rotation.shape != (3, 3) or translation.shape != (3,):
        raise ValueError(
            f"CO3D frame {_name(annotation)}: expected R 3x3 and T of 3 numbers, got "
            f"{tuple(rotation.shape)} and {tuple(translation.shape)}"
        )
    c2w = pytorch3d_to_opengl(rotation[None], translation[None])
    c2w = validate_c2w(c2w, f"CO3D camera of {_name(annotation)}")[0].to(torch.float32)
    fx, fy, width, height = co3d_focal_px(annotation)
    frame = f"CO3D frame {_name(annotation)}"
    return c2w, pinhole_fov_deg(width, fx, frame), pinhole_fov_deg(height, fy, frame)


def co3d_crop_fov(annotation: dict) -> float:
    """FOV in degrees of the square centre crop (side ``min(W,H)``): ``min`` over x and y of ``2 atan((m/2)/f_px)``."""
    fx, fy, width, height = co3d_focal_px(annotation)
    return pinhole_fov_deg(min(width, height), max(fx, fy), f"CO3D frame {_name(annotation)}")


def load_co3d_depth(path, scale_adjustment: float = 1.0) -> np.ndarray:
    """Decode a CO3D depth PNG: uint16 pixels reinterpreted as float16, times ``scale_adjustment``.

    Returns:
        ``[H,W]`` float32; non-finite or non-positive values are set to 0 (missing).

    Raises:
        FileNotFoundError: nothing exists at ``path``.
        images.ImageReadError: a file Pillow cannot decode, or not a single-channel 16-bit image.
    """
    raw = sixteen_bit_grey(open_image(path), path)
    depth = raw.view(np.float16).astype(np.float32) * np.float32(scale_adjustment)
    depth[~np.isfinite(depth) | (depth < 0)] = 0.0
    return depth


class CO3DPairs(Dataset):
    """``ViewPair`` s from CO3D sequences.

    Item ``i`` is pair ``i % pairs_per_sequence`` of sequence ``i // pairs_per_sequence`` (sequences
    sorted by name, frames by ``frame_number``); its two distinct frames are drawn with a generator
    seeded by ``(seed, sequence, pair)``, so an index always gives the same pair.

    - images: centre square crop, ``INTER_AREA`` to ``size``;
    - cameras: ``co3d_camera`` (OpenGL c2w, float32);
    - ``fov_deg``: ``co3d_crop_fov`` of the conditioning frame;
    - ``scale``: ``viewer_scale`` of the conditioning depth × ``scale_adjustment``, zeroed outside the
      depth mask when ``depth.mask_path`` is given, centre-cropped and brought to ``size`` by
      ``square_depth``.

    Args:
        root: the dataset root holding ``<category>/frame_annotations.jgz``, or one category folder
            holding ``frame_annotations.jgz``.
        sequences: sequence names to keep (all when None); sequences with fewer than 2 frames are dropped.
    """

    def __init__(self, root, sequences=None, size: int = 256, pairs_per_sequence: int = 4, seed: int = 0):
        if size < 1 or pairs_per_sequence < 1:
            raise ValueError(f"size and pairs_per_sequence must be >= 1, got {size}, {pairs_per_sequence}")
        self.root, self.size, self.pairs_per_sequence, self.seed = Path(root), size, pairs_per_sequence, seed
        own = self.root / "frame_annotations.jgz"
        files = [own] if own.is_file() else sorted(self.root.glob("*/frame_annotations.jgz"))
        if not files:
            raise FileNotFoundError(
                f"no CO3D frame_annotations.jgz in {self.root} or its category folders "
                "(expected <root>/<category>/frame_annotations.jgz)"
            )
        wanted = None if sequences is None else set(sequences)
        frames: dict[str, list[tuple[dict, Path]]] = defaultdict(list)
        for file in files:
            for annotation in read_frame_annotations(file):
                name = annotation.get("sequence_name")
                if name is None:
                    raise ValueError(f"{file}: a frame annotation lacks 'sequence_name'")
                if wanted is None or name in wanted:
                    frames[name].append((annotation, file.parent))
        self.sequences = []
        for name in sorted(frames):
            views = sorted(frames[name], key=lambda item: item[0].get("frame_number", 0))
            if len(views) >= 2:
                self.sequences.append((name, views))
        if not self.sequences:
            raise ValueError(f"no CO3D sequence with at least 2 frames under {self.root} (sequences={sequences})")

    def __len__(self) -> int:
        return len(self.sequences) * self.pairs_per_sequence

    def _resolve(self, relative: str, folder: Path) -> Path:
        candidates = [folder.parent / relative, folder / relative, self.root / relative]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"CO3D file {relative!r} not found; looked at {[str(c) for c in candidates]}")

    def _depth(self, annotation: dict, folder: Path) -> np.ndarray:
        info = annotation.get("depth") or {}
        if not info.get("path"):
            raise ValueError(f"CO3D frame {_name(annotation)} has no depth.path; the viewer scale needs depth")
        depth = load_co3d_depth(self._resolve(info["path"], folder), _scale_adjustment(info))
        if info.get("mask_path"):
            mask_path = self._resolve(info["mask_path"], folder)
            mask = read_image(mask_path)[0, :3].amax(dim=0).numpy() > 0  # any channel lit
            if mask.shape != depth.shape:
                raise ValueError(f"{mask_path}: depth mask shape {mask.shape} differs from depth {depth.shape}")
            depth = np.where(mask, depth, 0.0).astype(np.float32)
        return depth

    def __getitem__(self, index: int) -> ViewPair:
        if not 0 <= index < len(self):
            raise IndexError(index)
        sequence_index, pair_index = divmod(index, self.pairs_per_sequence)
        _, views = self.sequences[sequence_index]
        cond, target = pair_indices(len(views), self.seed, sequence_index, pair_index)
        (cond_ann, cond_dir), (target_ann, target_dir) = views[cond], views[target]
        images = []
        for annotation, folder in ((cond_ann, cond_dir), (target_ann, target_dir)):
            try:
                image_path = annotation["image"]["path"]
            except (KeyError, TypeError):
                raise ValueError(f"CO3D frame {_name(annotation)} lacks image.path") from None
            images.append(read_square_image(self._resolve(image_path, folder), self.size)[0])
        cond_c2w = co3d_camera(cond_ann)[0]
        target_c2w = co3d_camera(target_ann)[0]
        depth = torch.from_numpy(square_depth(self._depth(cond_ann, cond_dir), self.size))
        scale = viewer_scale(depth[None])[0].item()
        return ViewPair(images[0], images[1], cond_c2w, target_c2w, co3d_crop_fov(cond_ann), scale)
