"""``CameraSet``: the one camera value of a job. The camera of the input photo (its FOV and elevation)
and the target cameras to synthesise or render, with the official in-the-wild defaults.

The world is the one of the official SDS code (see ``cameras.py``: OpenGL camera-to-world, z up): the
input camera sits at ``elevation_deg``, azimuth 0 and distance 1 from the origin and looks at it. So
the scene point seen at the centre of the photo is the centre of every orbit, and target cameras are
given in the same frame (azimuth 0 = the input camera's side, distances in units of its distance).
``CameraSet.orbit`` builds a set whose targets are an orbit (``cameras.orbit_path``), ``parse_poses``
reads targets from text. The CLI, the jobs (``jobs.py``) and the ComfyUI nodes all build this value;
it is checked once, where it is built.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from dataclasses import dataclass, field

import torch

from .cameras import orbit_camera, orbit_path, validate_c2w, validate_fov_deg
from .wild_defaults import ELEVATION_DEG, FOV_DEG

__all__ = ["CameraSet", "parse_poses"]


def _no_targets() -> torch.Tensor:
    return torch.empty(0, 4, 4)


@dataclass(frozen=True)
class CameraSet:
    """An input camera (from its FOV and elevation) and ``N >= 0`` target cameras.

    ``CameraSet()`` is the official in-the-wild input camera (``wild_defaults``: FOV 52.55 degrees,
    elevation 31 degrees) with no targets, which is what distillation needs; sampling and rendering take
    the targets.

    Raises:
        ValueError: naming the field: ``fov_deg`` not a number in (0, 180), ``elevation_deg`` not a number
            in (-90, 90), ``target_c2w`` not ``[N,4,4]`` rigid camera-to-world matrices (NaN, inf, scale,
            shear, reflection; see ``cameras.validate_c2w``).
    """

    fov_deg: float = FOV_DEG
    """Vertical FOV of the input photo's centred square crop, degrees, in (0, 180); the targets share it."""
    elevation_deg: float = ELEVATION_DEG
    """Elevation of the input camera above the xy-plane, degrees, in (-90, 90)."""
    target_c2w: torch.Tensor = field(default_factory=_no_targets)
    """``[N,4,4]`` float32 OpenGL camera-to-world matrices of the targets (``N = 0``: none)."""

    def __post_init__(self):
        fov_deg = _real("fov_deg", self.fov_deg)
        validate_fov_deg(torch.tensor([fov_deg], dtype=torch.float64), "fov_deg")
        elevation_deg = _real("elevation_deg", self.elevation_deg)
        if not -90.0 < elevation_deg < 90.0:
            raise ValueError(f"elevation_deg must be in (-90, 90) degrees, got {elevation_deg}")
        object.__setattr__(self, "fov_deg", fov_deg)
        object.__setattr__(self, "elevation_deg", elevation_deg)
        object.__setattr__(self, "target_c2w", validate_c2w(self.target_c2w, "target_c2w").float())

    @classmethod
    def orbit(
        cls, count: int, fov_deg: float = FOV_DEG, elevation_deg: float = ELEVATION_DEG, distance: float = 1.0
    ) -> CameraSet:
        """The input camera and ``count`` targets on a full turn at its elevation and ``distance`` (world
        units, the input camera's being 1), target 0 at the input camera's azimuth (``cameras.orbit_path``).

        Raises:
            ValueError: as ``CameraSet``, or ``count`` below 1, or ``distance`` not positive (naming it).
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be at least 1, got {count!r}")
        if not _real("distance", distance) > 0:
            raise ValueError(f"distance must be positive, got {distance}")
        inputs = cls(fov_deg, elevation_deg)
        return inputs.with_targets(orbit_path(count, inputs.elevation_deg, float(distance)))

    def with_targets(self, target_c2w: torch.Tensor) -> CameraSet:
        """The same input camera with other targets ``[N,4,4]`` (checked as in ``CameraSet``)."""
        return dataclasses.replace(self, target_c2w=target_c2w)

    @property
    def input_c2w(self) -> torch.Tensor:
        """``[1,4,4]`` the input camera: ``orbit_camera(elevation_deg, 0, 1)``."""
        return orbit_camera(self.elevation_deg, 0.0, 1.0)

    def to_record(self) -> dict:
        """JSON-ready ``{"fov_deg", "elevation_deg", "target_c2w"}`` (targets as nested lists of floats)."""
        return {"fov_deg": self.fov_deg, "elevation_deg": self.elevation_deg, "target_c2w": self.target_c2w.tolist()}

    def __len__(self) -> int:
        return self.target_c2w.shape[0]


def _real(name: str, value) -> float:
    """``value`` as a float, or a ValueError naming ``name`` when it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


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
