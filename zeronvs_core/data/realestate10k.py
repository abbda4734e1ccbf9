"""RealEstate10K (and ACID) reader: camera ``.txt`` files, frames, sparse depth and training pairs.

ACID uses exactly the same camera-file format and layout, so ``ACIDPairs`` is this reader.

Camera file (one per video): the first line is the YouTube URL; every further line is one frame::

    timestamp fx fy cx cy 0 0 r00 r01 r02 t0 r10 r11 r12 t1 r20 r21 r22 t2

``timestamp`` is in microseconds; ``fx, cx`` are normalised by the frame width and ``fy, cy`` by its
height; the last 12 numbers are the 3x4 world-to-camera matrix ``[R|t]`` in row-major order with
OpenCV camera axes (x right, y down, z forward), ``X_cam = R X_world + t``. The camera centre is
``-R^T t``; ``re10k_camera`` gives ``opencv_to_opengl(invert_rigid([R|t]))``.

FOV of the square crop: with normalised intrinsics ``fy_px = fy * H``. The centre crop of a
``W x H`` frame has side ``m = min(W, H)``; its vertical FOV is ``2 atan((m/2) / (fy * H))``, which
for a landscape frame (``W >= H``, all of RE10K/ACID) is ``2 atan(0.5 / fy)`` whatever the
resolution: cropping the sides keeps the full height. The spec's ``2 atan(cx/fx)`` applied to the
*normalised* numbers gives the full frame's horizontal FOV (``cx = 0.5`` of the width), which is
wider than the crop's (86° vs 55° for a 16:9 frame with square pixels); it equals the crop FOV only
with pixel intrinsics of a square image, so it is not used here.

Dataset layout for ``RealEstate10KPairs``::

    root/<sequence>.txt                       camera file
    root/<sequence>/<timestamp>.png|.jpg      frames (timestamps as in the camera file)
    depth_dir/<sequence>/<timestamp>.npy      float32 [H,W] depth, 0 = missing (e.g. sparse SfM)
    depth_dir/<sequence>/<timestamp>.disp.npy optional monocular disparity, same size

``depth_dir`` defaults to ``root`` (depth beside the frames). Depth must have the frame's aspect
ratio: it is centre-cropped like the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..camera_conventions import opencv_to_opengl
from ..cameras import invert_rigid, validate_c2w
from ..scene_scale import viewer_scale
from .frames import pair_indices, pinhole_fov_deg, read_square_image, square_depth, square_map
from .pairs import ViewPair

__all__ = [
    "ACIDPairs",
    "IMAGE_EXTENSIONS",
    "RE10KFrame",
    "RealEstate10KPairs",
    "re10k_camera",
    "re10k_fov_deg",
    "re10k_official_fov_deg",
    "read_camera_file",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_FIELDS = 19  # timestamp, fx, fy, cx, cy, 2 zeros, 12 pose numbers


@dataclass(frozen=True)
class RE10KFrame:
    """One line of a RealEstate10K/ACID camera file."""

    timestamp: int
    """Microseconds; also the frame's file name stem."""
    fx: float
    """Focal length / frame width."""
    fy: float
    """Focal length / frame height."""
    cx: float
    """Principal point x / frame width."""
    cy: float
    """Principal point y / frame height."""
    w2c: np.ndarray
    """``[3,4]`` float64 world-to-camera ``[R|t]``, OpenCV axes."""


def read_camera_file(path) -> list[RE10KFrame]:
    """Parse a RealEstate10K/ACID camera file (URL line, then one 19-number line per frame).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: no URL line, a line without 19 finite numbers, a focal length that is not positive or a
            principal point outside the frame (the message names file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"RealEstate10K camera file not found: {path}")
    lines = path.read_text().splitlines()
    if not lines or not lines[0].strip():
        raise ValueError(f"{path}: empty camera file; expected a URL line followed by frame lines")
    frames = []
    for number, line in enumerate(lines[1:], start=2):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != _FIELDS:
            raise ValueError(
                f"{path}:{number}: expected {_FIELDS} numbers (timestamp fx fy cx cy 0 0 and a 3x4 "
                f"world-to-camera matrix), got {len(parts)}"
            )
        try:
            timestamp = int(parts[0])
            values = [float(v) for v in parts[1:]]
        except ValueError:
            raise ValueError(f"{path}:{number}: malformed frame line {line.strip()!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"{path}:{number}: non-finite number in frame line")
        fx, fy, cx, cy = values[:4]
        if fx <= 0 or fy <= 0:
            raise ValueError(f"{path}:{number}: focal lengths must be positive, got fx={fx}, fy={fy}")
        if not (0 < cx < 1 and 0 < cy < 1):
            raise ValueError(f"{path}:{number}: the principal point must lie inside the frame, got cx={cx}, cy={cy}")
        frames.append(RE10KFrame(timestamp, fx, fy, cx, cy, np.array(values[6:], dtype=np.float64).reshape(3, 4)))
    return frames


def re10k_camera(frame: RE10KFrame) -> torch.Tensor:
    """OpenGL camera-to-world ``[4,4]`` float32: ``opencv_to_opengl(invert_rigid([R|t]))``, centre ``-R^T t``."""
    c2w = opencv_to_opengl(invert_rigid(torch.from_numpy(frame.w2c)[None]))
    return validate_c2w(c2w, f"RealEstate10K camera at {frame.timestamp}")[0].to(torch.float32)


def re10k_official_fov_deg(frame: RE10KFrame) -> float:
    """The FOV the official training data used for RealEstate10K/ACID, ``2 atan(cx / fx)`` of the
    normalised intrinsics: the full frame's *horizontal* FOV, although the images are square crops.
    The released model was trained with it, so it is the default of ``RealEstate10KPairs``."""
    return pinhole_fov_deg(2 * frame.cx, frame.fx, f"RealEstate10K frame {frame.timestamp}")


def re10k_fov_deg(frame: RE10KFrame, width: int | None = None, height: int | None = None) -> float:
    """Vertical FOV (degrees) of the square centre crop: ``2 atan((min(W,H)/2) / (fy H))``.

    Without a frame size the frame is taken as landscape, giving ``2 atan(0.5 / fy)``.
    """
    ratio = 1.0 if width is None or height is None else min(width, height) / height
    return pinhole_fov_deg(ratio, frame.fy, f"RealEstate10K frame {frame.timestamp}")


class RealEstate10KPairs(Dataset):
    """``ViewPair`` s from RealEstate10K (or ACID) sequences laid out as in the module docstring.

    Item ``i`` is pair ``i % pairs_per_sequence`` of sequence ``i // pairs_per_sequence`` (sequences
    sorted by name); its two distinct frames are drawn with a generator seeded by
    ``(seed, sequence, pair)``, so an index always gives the same pair. Frames are checked when loaded:
    a missing frame or depth file raises ``FileNotFoundError`` naming the paths tried.

    - images: centre square crop, ``INTER_AREA`` to ``size``; cameras: ``re10k_camera``;
    - ``fov_deg``: with ``fov_rule="official"`` (default) ``re10k_official_fov_deg``, the value the
      released model was trained with; with ``"crop"`` the true vertical FOV of the square crop,
      ``re10k_fov_deg`` of the conditioning frame at its image size;
    - ``scale``: ``viewer_scale`` of the conditioning depth (centre-cropped, ``square_depth`` to
      ``size``), with the ``.disp.npy`` monocular disparity when present (aligned, blended).
    """

    def __init__(
        self,
        root,
        size: int = 256,
        pairs_per_sequence: int = 4,
        seed: int = 0,
        depth_dir=None,
        fov_rule: str = "official",
    ):
        if fov_rule not in ("official", "crop"):
            raise ValueError(f"fov_rule must be 'official' (2 atan(cx/fx)) or 'crop', got {fov_rule!r}")
        self.fov_rule = fov_rule
        if size < 1 or pairs_per_sequence < 1:
            raise ValueError(f"size and pairs_per_sequence must be >= 1, got {size}, {pairs_per_sequence}")
        self.root = Path(root)
        self.depth_dir = self.root if depth_dir is None else Path(depth_dir)
        self.size, self.pairs_per_sequence, self.seed = size, pairs_per_sequence, seed
        if not self.root.is_dir():
            raise FileNotFoundError(f"RealEstate10K root not found: {self.root}")
        self.sequences = []
        for file in sorted(self.root.glob("*.txt")):
            frames = read_camera_file(file)
            if len(frames) >= 2:
                self.sequences.append((file.stem, frames))
        if not self.sequences:
            raise ValueError(f"no camera file with at least 2 frames in {self.root} (expected <root>/<sequence>.txt)")

    def __len__(self) -> int:
        return len(self.sequences) * self.pairs_per_sequence

    def _image_path(self, sequence: str, timestamp: int) -> Path:
        candidates = [self.root / sequence / f"{timestamp}{ext}" for ext in IMAGE_EXTENSIONS]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"RealEstate10K frame missing: none of {[str(c) for c in candidates]} exists")

    def _load_map(self, path: Path, what: str) -> np.ndarray:
        try:
            values = np.load(path)
        except (OSError, ValueError) as error:
            raise ValueError(f"{path}: expected a float32 [H,W] .npy {what} ({error})") from error
        if values.ndim != 2:
            raise ValueError(f"{path}: expected a [H,W] {what} map, got shape {values.shape}")
        return values.astype(np.float32)

    def __getitem__(self, index: int) -> ViewPair:
        if not 0 <= index < len(self):
            raise IndexError(index)
        sequence_index, pair_index = divmod(index, self.pairs_per_sequence)
        sequence, frames = self.sequences[sequence_index]
        cond, target = pair_indices(len(frames), self.seed, sequence_index, pair_index)
        cond_frame, target_frame = frames[cond], frames[target]
        cond_image, (height, width) = read_square_image(self._image_path(sequence, cond_frame.timestamp), self.size)
        target_image = read_square_image(self._image_path(sequence, target_frame.timestamp), self.size)[0]

        depth_path = self.depth_dir / sequence / f"{cond_frame.timestamp}.npy"
        if not depth_path.is_file():
            raise FileNotFoundError(f"RealEstate10K depth missing: {depth_path} (float32 [H,W] .npy, 0 = missing)")
        raw_depth = self._load_map(depth_path, "depth")
        raw_depth[~np.isfinite(raw_depth) | (raw_depth < 0)] = 0.0
        depth = torch.from_numpy(square_depth(raw_depth, self.size))[None]
        disp_path = depth_path.with_name(f"{cond_frame.timestamp}.disp.npy")
        disparity = None
        if disp_path.is_file():
            raw_disp = self._load_map(disp_path, "disparity")
            if raw_disp.shape != raw_depth.shape:
                raise ValueError(f"{disp_path}: disparity shape {raw_disp.shape} differs from depth {raw_depth.shape}")
            disparity = torch.from_numpy(square_map(raw_disp, self.size))[None]
        scale = viewer_scale(depth, disparity)[0].item()
        if self.fov_rule == "official":
            fov = re10k_official_fov_deg(cond_frame)
        else:
            fov = re10k_fov_deg(cond_frame, width, height)
        return ViewPair(cond_image, target_image, re10k_camera(cond_frame), re10k_camera(target_frame), fov, scale)


ACIDPairs = RealEstate10KPairs
"""ACID has RealEstate10K's camera-file format and layout."""
