"""The official SDS schedules at chosen steps (spec 5.4 and 5.6)."""

import math

import pytest
import torch

from zeronvs_core.distill import OFFICIAL
from zeronvs_core.schedules import CameraRanges, Ramp, sample_cameras, sample_timesteps


def test_timestep_ramps_of_the_official_recipe():
    low, high = OFFICIAL.min_step_percent, OFFICIAL.max_step_percent
    assert [low(s) for s in (0, 500, 1000, 3000)] == pytest.approx([0.75, 0.385, 0.02, 0.02])
    assert [high(s) for s in (0, 1000, 1750, 2500, 4000)] == pytest.approx([0.98, 0.98, 0.5025, 0.025, 0.025])
    assert Ramp(0, 1.0, 0.0, 2000)(500) == 0.75


def _bounds(step, azimuth, offset):
    g = torch.Generator().manual_seed(0)
    t = sample_timesteps(step, azimuth.expand(4000), OFFICIAL.min_step_percent, OFFICIAL.max_step_percent, offset, g)
    return t.min().item(), t.max().item()


def test_timestep_range_anneals_from_high_noise_to_20_25():
    assert _bounds(0, torch.zeros(1), None) == (750, 980)
    assert _bounds(3000, torch.zeros(1), None) == (20, 25)


def test_anisotropic_offset_delays_views_facing_away():
    # at step 2500 a camera at azimuth 180 (or -180) is at effective step 1500: t in [20, 661]
    assert _bounds(2500, torch.tensor([180.0]), 1000.0) == (20, 661)
    assert _bounds(2500, torch.tensor([-180.0]), 1000.0) == (20, 661)
    assert _bounds(2500, torch.tensor([0.0]), 1000.0) == (20, 25)
    assert _bounds(2500, torch.tensor([540.0]), None) == (20, 25)


def test_cameras_start_at_the_input_view_and_widen():
    g = torch.Generator().manual_seed(1)
    # At step 0 the range is the input elevation. The official "uniform on the sphere" mode maps it through
    # asin(2 (e + 90) / 180 - 1), which is not e (20.15 degrees for 31): reproduced as it is.
    sphere_mode = math.degrees(math.asin(2 * (31.0 + 90) / 180 - 1))
    seen = set()
    for _ in range(12):
        c2w, azimuth = sample_cameras(CameraRanges(), 0, 64, 31.0, g)
        position = c2w[:, :3, 3]
        distance = position.norm(dim=-1)
        elevation = torch.rad2deg(torch.asin(position[:, 2] / distance))
        assert torch.equal(azimuth, torch.zeros(64))
        value = elevation[0].item()
        assert torch.allclose(elevation, torch.full((64,), value), atol=1e-4)
        seen.add(round(value, 2))
    assert seen == {31.0, round(sphere_mode, 2)}
    assert distance.min() >= 0.8 - 1e-6 and distance.max() <= 1.8 + 1e-6
    torch.testing.assert_close(c2w[:, :3, 2], position / distance[:, None], atol=1e-5, rtol=0)  # looks at 0

    c2w, azimuth = sample_cameras(CameraRanges(), 1001, 256, 31.0, g)
    elevation = torch.rad2deg(torch.asin(c2w[:, 2, 3] / c2w[:, :3, 3].norm(dim=-1)))
    assert elevation.min() >= 5 - 1e-4 and elevation.max() <= 80 + 1e-4 and elevation.max() - elevation.min() > 30
    assert azimuth.min() >= -180 and azimuth.max() <= 180 and azimuth.max() - azimuth.min() > 300

    _, azimuth = sample_cameras(CameraRanges(), 500, 256, 31.0, g)  # half way: azimuth within +-90
    assert azimuth.abs().max() <= 180 * 500 / 1001 + 1e-4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"elevation_deg": (80.0, 5.0)}, "elevation_deg must satisfy"),
        ({"elevation_deg": (5.0, 95.0)}, "elevation_deg must satisfy"),
        ({"distance": (0.0, 1.0)}, "distance must satisfy"),
        ({"azimuth_deg": (10.0, -10.0)}, "azimuth_deg must be"),
        ({"progressive_until": -1}, "progressive_until must be"),
    ],
)
def test_impossible_camera_ranges_are_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CameraRanges(**kwargs)
