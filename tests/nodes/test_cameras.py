"""Camera Pose Builder: orbit, single and list modes give the camera sets that the library builds."""

import pytest
import torch

from zeronvs_core.camera_set import CameraSet
from zeronvs_core.cameras import orbit_camera

DEFAULTS = {
    "fov_deg": 50.0,
    "input_elevation_deg": 20.0,
    "mode": "orbit",
    "count": 4,
    "azimuth_start_deg": 0.0,
    "azimuth_end_deg": 360.0,
    "elevation_deg": 10.0,
    "distance": 1.5,
    "poses": "",
}


def _cameras(comfy, **inputs) -> CameraSet:
    (cameras,) = comfy.execute("ZeroNVS_CameraPoseBuilder", **{**DEFAULTS, **inputs})
    return cameras


def test_orbit_single_and_list(comfy):
    orbit = _cameras(comfy)
    assert (orbit.fov_deg, orbit.elevation_deg, len(orbit)) == (50.0, 20.0, 4)
    torch.testing.assert_close(orbit.target_c2w, orbit_camera(10.0, torch.tensor([0.0, 90.0, 180.0, 270.0]), 1.5))
    torch.testing.assert_close(orbit.input_c2w, orbit_camera(20.0, 0.0, 1.0))
    single = _cameras(comfy, mode="single", azimuth_start_deg=45.0)
    torch.testing.assert_close(single.target_c2w, orbit_camera(10.0, 45.0, 1.5))
    matrix = " ".join(str(v) for v in orbit_camera(5.0, 30.0, 2.0)[0].flatten().tolist())
    listed = _cameras(comfy, mode="list", poses=f"# azimuth elevation distance\n90, 31, 1\n\n{matrix}\n")
    torch.testing.assert_close(
        listed.target_c2w, torch.cat([orbit_camera(31.0, 90.0, 1.0), orbit_camera(5.0, 30.0, 2.0)])
    )


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"mode": "list", "poses": "90 31\n"}, "poses line 1"),
        ({"mode": "list", "poses": "# nothing\n"}, "no camera"),
        ({"mode": "single", "elevation_deg": 90.0}, "straight up or down"),
        ({"input_elevation_deg": 95.0}, "elevation_deg must be in"),
        ({"mode": "spiral"}, "mode must be one of"),  # ComfyUI 0.3.64 does not check V3 combo values
    ],
)
def test_bad_poses_are_clear_errors(comfy, inputs, message):
    with pytest.raises(ValueError, match=message):
        _cameras(comfy, **inputs)
