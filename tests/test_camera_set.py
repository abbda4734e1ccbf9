"""Camera sets: typed pose lists and the checks on a set."""

import pytest
import torch

from zeronvs_core.camera_set import CameraSet, parse_poses
from zeronvs_core.cameras import orbit_camera, orbit_path


def test_pose_lists_mix_orbit_triples_and_matrices():
    matrix = orbit_camera(5.0, 30.0, 2.0)
    text = "# a comment\n\n90 31 1\n" + ", ".join(f"{v:.9f}" for v in matrix.flatten().tolist()) + "\n"
    torch.testing.assert_close(parse_poses(text), torch.cat([orbit_camera(31.0, 90.0, 1.0), matrix]))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 2", "line 1: expected"),
        ("# only a comment", "no camera"),
        ("0 0 1\n0 0 -1", "line 2: distance must be positive"),
        ("0 0 1\nx 0 1", "line 2: expected"),
        (" ".join(["2"] * 16), "poses line 1"),
    ],
)
def test_bad_pose_lists(text, message):
    with pytest.raises(ValueError, match=message):
        parse_poses(text)


def test_camera_set_input_camera_and_checks():
    cameras = CameraSet(50, 20, orbit_path(3, 20.0).double())
    assert len(cameras) == 3 and cameras.target_c2w.dtype == torch.float32
    torch.testing.assert_close(cameras.input_c2w, orbit_camera(20.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="fov_deg"):
        CameraSet(180.0, 20.0, orbit_path(1, 20.0))
    with pytest.raises(ValueError, match="elevation_deg"):
        CameraSet(50.0, -90.0, orbit_path(1, 20.0))
    with pytest.raises(ValueError, match="target_c2w"):
        CameraSet(50.0, 20.0, 2 * orbit_path(1, 20.0))
