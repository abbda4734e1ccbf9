"""The step-dependent pieces of the official SDS recipe (spec 5.4 and 5.6): linear ramps, the random
camera distribution with progressive widening, and the annealed timestep range with the anisotropic
offset. Each is a small function of the step and a random generator, so it can be tested on its own.

Cameras are OpenGL camera-to-world (see ``cameras.py``); azimuth 0 is the input camera's azimuth.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .cameras import orbit_camera

__all__ = ["CameraRanges", "Ramp", "sample_cameras", "sample_timesteps"]


@dataclass(frozen=True)
class Ramp:
    """Linear from ``start`` at ``start_step`` to ``end`` at ``end_step``, constant outside (threestudio's
    ``[start_step, start_value, end_value, end_step]`` schedules)."""

    start_step: int
    start: float
    end: float
    end_step: int

    def __call__(self, step: float) -> float:
        if self.end_step <= self.start_step:
            return self.end if step >= self.end_step else self.start
        fraction = min(max((step - self.start_step) / (self.end_step - self.start_step), 0.0), 1.0)
        return self.start + (self.end - self.start) * fraction


@dataclass(frozen=True)
class CameraRanges:
    """The random camera distribution of the SDS views (official values)."""

    elevation_deg: tuple[float, float] = (5.0, 80.0)
    """Elevation range once fully widened, degrees."""
    azimuth_deg: tuple[float, float] = (-180.0, 180.0)
    """Azimuth range once fully widened, degrees from the input camera."""
    distance: tuple[float, float] = (0.8, 1.8)
    """Camera distance from the origin, world units (not widened)."""
    progressive_until: int = 1000
    """Step at which the ranges reach their full width, growing from the input camera."""

    def __post_init__(self):
        low, high = self.elevation_deg
        if not -90.0 < low <= high < 90.0:
            raise ValueError(f"elevation_deg must satisfy -90 < low <= high < 90, got {self.elevation_deg}")
        if not self.azimuth_deg[0] <= self.azimuth_deg[1]:
            raise ValueError(f"azimuth_deg must be (low, high) with low <= high, got {self.azimuth_deg}")
        if not 0.0 < self.distance[0] <= self.distance[1]:
            raise ValueError(f"distance must satisfy 0 < low <= high, got {self.distance}")
        if self.progressive_until < 0:
            raise ValueError(f"progressive_until must be >= 0, got {self.progressive_until}")


def sample_cameras(
    ranges: CameraRanges, step: int, batch: int, input_elevation_deg: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random SDS cameras at ``step``: ``(c2w [batch,4,4], azimuth_deg [batch])``.

    The ranges widen linearly from the input camera's elevation and azimuth 0, ``r = min(1, step /
    (progressive_until + 1))``. The elevation mode is drawn once per batch: uniform in degrees, or (with
    probability 1/2) threestudio's "uniform on the sphere" ``asin(2 u - 1)`` with ``u`` uniform in
    ``[(low + 90) / 180, (high + 90) / 180]``, which is not exactly ``[low, high]`` (31 maps to 20.15);
    reproduced as the official code does it. Azimuth and distance are drawn per camera.
    """
    widen = min(1.0, step / (ranges.progressive_until + 1))
    low = (1 - widen) * input_elevation_deg + widen * ranges.elevation_deg[0]
    high = (1 - widen) * input_elevation_deg + widen * ranges.elevation_deg[1]
    u = torch.rand(batch, generator=generator, dtype=torch.float64)
    if torch.rand(1, generator=generator).item() < 0.5:
        elevation = low + (high - low) * u
    else:
        s_low, s_high = (low + 90.0) / 180.0, (high + 90.0) / 180.0
        elevation = torch.rad2deg(torch.asin(2.0 * (s_low + (s_high - s_low) * u) - 1.0))
    azimuth_low, azimuth_high = widen * ranges.azimuth_deg[0], widen * ranges.azimuth_deg[1]
    azimuth = azimuth_low + (azimuth_high - azimuth_low) * torch.rand(batch, generator=generator, dtype=torch.float64)
    distance_low, distance_high = ranges.distance
    distance = distance_low + (distance_high - distance_low) * torch.rand(
        batch, generator=generator, dtype=torch.float64
    )
    c2w = orbit_camera(elevation.float(), azimuth.float(), distance.float())
    return c2w, azimuth.float()


def sample_timesteps(
    step: int,
    azimuth_deg: torch.Tensor,
    min_percent: Ramp,
    max_percent: Ramp,
    anisotropic_offset: float | None,
    generator: torch.Generator,
    num_train_timesteps: int = 1000,
) -> torch.Tensor:
    """Integer timesteps ``[B]`` for SDS, uniform in ``[min_step, max_step]`` (inclusive) per camera.

    ``min_step = int(T * min_percent(s))`` and ``max_step = int(T * max_percent(s))`` at the camera's
    effective step ``s``: the global step, or with an ``anisotropic_offset`` ``max(0, step - offset *
    d / 180)`` where ``d`` is the camera's azimuth distance from the input view in degrees (so views
    facing away anneal later).
    """
    if anisotropic_offset is None:
        effective = torch.full_like(azimuth_deg, float(step))
    else:
        wrapped = torch.remainder(azimuth_deg, 360.0)
        away = torch.minimum(wrapped, 360.0 - wrapped)
        effective = (step - anisotropic_offset * away / 180.0).clamp_min(0.0)
    steps = []
    for value in effective.tolist():
        low = int(num_train_timesteps * min_percent(value))
        high = int(num_train_timesteps * max_percent(value))
        steps.append(torch.randint(low, high + 1, (1,), generator=generator).item())
    return torch.tensor(steps, dtype=torch.long)
