"""``CameraSet``: the camera of one input photo and the target cameras to synthesise or render.

The world is the one of the official SDS code (see ``cameras.py``: OpenGL camera-to-world, z up): the
input camera sits at ``elevation_deg``, azimuth 0 and distance 1 from the origin and looks at it. So
the scene point seen at the centre of the photo is the centre of every orbit, and target cameras are
given in the same frame (azimuth 0 = the input camera's side, distances in units of its distance);
``cameras.orbit_path`` builds orbits and arcs of them, ``parse_poses`` reads them from text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from .cameras import orbit_camera, validate_c2w, validate_fov_deg

__all__ = ["CameraSet", "parse_poses"]


@dataclass(frozen=True)
class CameraSet:
    """An input camera (from its FOV and elevation) and ``N`` target cameras."""

    fov_deg: float
    """Vertical FOV of the input photo's square crop, degrees; the targets share it."""
    elevation_deg: float
    """Elevation of the input camera above the xy-plane, degrees, in (-90, 90)."""
    target_c2w: torch.Tensor
    """``[N,4,4]`` float32 OpenGL camera-to-world matrices of the targets."""

    def __post_init__(self):
        validate_fov_deg(torch.tensor([float(self.fov_deg)]))
        if not -90.0 < self.elevation_deg < 90.0:
            raise ValueError(f"elevation_deg must be in (-90, 90), got {self.elevation_deg}")
        object.__setattr__(self, "target_c2w", validate_c2w(self.target_c2w, "target_c2w").float())

    @property
    def input_c2w(self) -> torch.Tensor:
        """``[1,4,4]`` the input camera: ``orbit_camera(elevation_deg, 0, 1)``."""
        return orbit_camera(float(self.elevation_deg), 0.0, 1.0)

    def __len__(self) -> int:
        return self.target_c2w.shape[0]


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def parse_poses(text: str) -> torch.Tensor:
    """Cameras written one per line, as ``azimuth_deg elevation_deg distance`` (a camera looking at the
    origin) or as the 16 numbers of a camera-to-world matrix, row by row. Numbers are separated by
    spaces or commas; blank lines and lines starting with ``#`` are skipped.

    Returns:
        ``[N,4,4]`` float32 OpenGL camera-to-world matrices.

    Raises:
        ValueError: naming the line of a malformed or non-rigid camera, or no camera at all.
    """
    cameras = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [field for field in re.split(r"[\s,]+", line) if field]
        if not all(_NUMBER.fullmatch(field) for field in fields) or len(fields) not in (3, 16):
            raise ValueError(
                f"poses line {number}: expected 'azimuth elevation distance' or 16 numbers of a 4x4 "
                f"camera-to-world matrix, got {line!r}"
            )
        values = [float(field) for field in fields]
        if len(values) == 3:
            azimuth, elevation, distance = values
            if distance <= 0:
                raise ValueError(f"poses line {number}: distance must be positive, got {distance}")
            cameras.append(orbit_camera(elevation, azimuth, distance))
        else:
            cameras.append(validate_c2w(torch.tensor(values).reshape(1, 4, 4), f"poses line {number}"))
    if not cameras:
        raise ValueError("poses: no camera given (one camera per line)")
    return torch.cat(cameras).float()
