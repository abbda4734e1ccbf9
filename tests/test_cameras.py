"""Cameras: validation, look-at and orbits, rays, relative poses and format converters."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from zeronvs_core.camera_conventions import (
    colmap_to_opengl,
    llff_to_opengl,
    matrix_to_quaternion,
    opencv_to_opengl,
    opengl_to_colmap,
    opengl_to_llff,
    opengl_to_opencv,
    opengl_to_pytorch3d,
    pytorch3d_to_opengl,
    quaternion_to_matrix,
)
from zeronvs_core.cameras import (
    camera_rays,
    focal_to_fov,
    fov_to_focal,
    invert_rigid,
    look_at,
    orbit_camera,
    orbit_path,
    relative_pose,
    rotation_angle,
    validate_c2w,
)

FORMATS = Path(__file__).parent / "fixtures" / "real_formats"
F64 = torch.float64


def _rot_z(degrees: float) -> torch.Tensor:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=F64)


def _pose(rotation: torch.Tensor, centre) -> torch.Tensor:
    c2w = torch.eye(4, dtype=F64)
    c2w[:3, :3] = rotation
    c2w[:3, 3] = torch.as_tensor(centre, dtype=F64)
    return c2w[None]


# --- validation ---------------------------------------------------------------------------------


def test_validate_accepts_rigid_and_converts(random_rigid):
    c2w = random_rigid(4, seed=0)
    assert validate_c2w(c2w) is c2w
    assert validate_c2w(np.eye(4)[None]).dtype == F64
    assert validate_c2w([[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]]).is_floating_point()
    nearly = c2w.clone()
    nearly[:, :3, :3] *= 1 + 1e-5  # within ORTHONORMAL_ATOL: rounding of stored poses passes
    validate_c2w(nearly)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.__setitem__((1, 2, 3), float("nan")), "c2w contains NaN or inf \\(camera 1\\)"),
        (lambda m: m.__setitem__((0, 0, 0), float("inf")), "c2w contains NaN or inf \\(camera 0\\)"),
        (lambda m: m.__setitem__((2, 3, 0), 0.5), "c2w\\[2\\] bottom row must be \\[0, 0, 0, 1\\]"),
        (lambda m: m[1, :3, :3].mul_(1.01), "c2w\\[1\\] rotation is not orthonormal"),
        (lambda m: m[0, :3, 0].add_(0.1), "c2w\\[0\\] rotation is not orthonormal"),
        (lambda m: m[2, :3, 0].neg_(), "c2w\\[2\\] rotation is a reflection"),
    ],
)
def test_validate_rejects_bad_matrices(random_rigid, edit, message):
    c2w = random_rigid(3, seed=1)
    edit(c2w)
    with pytest.raises(ValueError, match=message):
        validate_c2w(c2w)


def test_validate_names_the_argument_and_shape():
    with pytest.raises(ValueError, match="cond_c2w must have shape \\[N, 4, 4\\], got \\(4, 4\\)"):
        validate_c2w(torch.eye(4), "cond_c2w")
    with pytest.raises(ValueError, match="got \\(2, 3, 4\\)"):
        validate_c2w(torch.zeros(2, 3, 4))


# --- look-at cameras and orbits -----------------------------------------------------------------


def test_look_at_hand_worked():
    c2w = look_at(torch.tensor([[1.0, 0.0, 0.0]], dtype=F64))[0]
    expected = torch.tensor(
        [[0.0, 0.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]], dtype=F64
    )  # right = +y, up = +z, backwards = +x, centre (1, 0, 0)
    torch.testing.assert_close(c2w, expected)


def test_look_at_target_and_degenerate_cases():
    c2w = look_at(torch.tensor([[0.0, -2.0, 1.0]], dtype=F64), torch.tensor([0.0, 0.0, 1.0], dtype=F64))[0]
    torch.testing.assert_close(-c2w[:3, 2], torch.tensor([0.0, 1.0, 0.0], dtype=F64))  # looks along +y
    with pytest.raises(ValueError, match="straight up or down"):
        look_at(torch.tensor([[0.0, 0.0, 2.0]]))
    with pytest.raises(ValueError, match="equals its target"):
        look_at(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="position must have shape \\[N, 3\\]"):
        look_at(torch.zeros(3))


@pytest.mark.parametrize(
    ("elevation", "azimuth", "distance"), [(31.0, 0.0, 1.0), (-20.0, 135.0, 1.7), (80.0, -60.0, 0.8)]
)
def test_orbit_camera_geometry(elevation, azimuth, distance):
    c2w = orbit_camera(*(torch.tensor(v, dtype=F64) for v in (elevation, azimuth, distance)))
    validate_c2w(c2w)
    e, a = math.radians(elevation), math.radians(azimuth)
    centre = torch.tensor([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)], dtype=F64)
    torch.testing.assert_close(c2w[0, :3, 3], distance * centre)
    torch.testing.assert_close(-c2w[0, :3, 2], -centre)  # looks at the origin
    assert abs(c2w[0, 2, 0]) < 1e-12  # the right axis is horizontal: no roll
    assert c2w[0, 2, 1] > 0  # up points up


def test_orbit_path_frames():
    path = orbit_path(4, 31.0, 1.5, azimuth_start_deg=10.0)
    torch.testing.assert_close(path[0:1], orbit_camera(31.0, 10.0, 1.5))
    torch.testing.assert_close(path[1:2], orbit_camera(31.0, 100.0, 1.5))
    torch.testing.assert_close(path[:, :3, 3].norm(dim=1), torch.full((4,), 1.5))
    closed = orbit_path(120, 20.0, ends="both")  # the official test orbit: linspace(0, 360, 120)
    torch.testing.assert_close(closed[0], closed[-1], atol=1e-6, rtol=0)
    assert orbit_path(1, 0.0).shape == (1, 4, 4)
    with pytest.raises(ValueError, match="n_views must be at least 1"):
        orbit_path(0, 0.0)


def _azimuths(c2w: torch.Tensor) -> list[float]:
    """Camera azimuths in [0, 360) degrees, rounded."""
    return (torch.rad2deg(torch.atan2(c2w[:, 1, 3], c2w[:, 0, 3])).round() % 360).tolist()


def test_whole_turns_leave_out_their_end_and_arcs_keep_it():
    assert _azimuths(orbit_path(4, 10.0)) == [0.0, 90.0, 180.0, 270.0]
    assert _azimuths(orbit_path(3, 10.0, azimuth_start_deg=-90.0, azimuth_end_deg=90.0)) == [270.0, 0.0, 90.0]
    assert _azimuths(orbit_path(4, 10.0, azimuth_start_deg=-180.0, azimuth_end_deg=180.0)) == [180.0, 270.0, 0.0, 90.0]
    torch.testing.assert_close(orbit_path(1, 10.0, 2.0, 45.0, 360.0), orbit_camera(10.0, 45.0, 2.0))
    with pytest.raises(ValueError, match="n_views must be at least 1"):
        orbit_path(0, 10.0)


# --- intrinsics and rays ------------------------------------------------------------------------


def test_fov_focal_round_trip():
    torch.testing.assert_close(fov_to_focal(90.0, 256), torch.tensor(128.0))
    torch.testing.assert_close(focal_to_fov(128.0, 256), torch.tensor(90.0))
    fov = torch.tensor([10.0, 48.9183, 52.55, 120.0], dtype=F64)
    torch.testing.assert_close(focal_to_fov(fov_to_focal(fov, 300), 300), fov)
    for bad in (0.0, 180.0, -5.0, float("nan")):
        with pytest.raises(ValueError, match="fov_deg must be in \\(0, 180\\)"):
            fov_to_focal(bad, 256)
    with pytest.raises(ValueError, match="focal_px must be positive"):
        focal_to_fov(0.0, 256)


def test_camera_rays_identity_camera():
    origins, directions = camera_rays(torch.eye(4, dtype=F64)[None], 90.0, 3, 3)
    assert origins.shape == directions.shape == (1, 3, 3, 3)
    assert (origins == 0).all()
    torch.testing.assert_close(directions[0, 1, 1], torch.tensor([0.0, 0.0, -1.0], dtype=F64))
    # pixel (row 0, column 0) centre is (0.5, 0.5); f = 1.5: direction (-1/1.5, 1/1.5, -1), up-left
    corner = torch.tensor([-2 / 3, 2 / 3, -1.0], dtype=F64)
    torch.testing.assert_close(directions[0, 0, 0], corner / corner.norm())
    torch.testing.assert_close(directions.norm(dim=-1), torch.ones(1, 3, 3, dtype=F64))


def test_camera_rays_follow_the_camera():
    c2w = orbit_camera(*(torch.tensor(v, dtype=F64) for v in ([0.0, 40.0], [0.0, 200.0], [1.0, 2.0])))
    origins, directions = camera_rays(c2w, torch.tensor([50.0, 60.0], dtype=F64), 4, 6)
    assert directions.shape == (2, 4, 6, 3)
    torch.testing.assert_close(origins[:, 2, 3], c2w[:, :3, 3])
    centre_ray = directions[:, 1:3, 2:4].mean(dim=(1, 2))  # mean of the 4 central pixels
    torch.testing.assert_close(centre_ray / centre_ray.norm(dim=-1, keepdim=True), -c2w[:, :3, 2])
    top_edge = directions[0, 0, :, :]  # first row looks above the horizon (camera at elevation 0)
    assert (top_edge[:, 2] > 0).all()
    # pixel (row 0, column 2) has the camera-space direction (-0.5/f, 1.5/f, -1)
    f = fov_to_focal(torch.tensor(50.0, dtype=F64), 4).item()
    up_component = (1.5 / f) / math.sqrt((0.5 / f) ** 2 + (1.5 / f) ** 2 + 1)
    assert math.isclose(directions[0, 0, 2, 2].item(), up_component, abs_tol=1e-12)


# --- relative poses and angles ------------------------------------------------------------------


def test_relative_pose_hand_worked():
    cond = _pose(_rot_z(90.0), [0.0, 0.0, 0.0])
    target = _pose(torch.eye(3, dtype=F64), [1.0, 0.0, 0.0])
    relative = relative_pose(cond, target)[0]
    torch.testing.assert_close(relative[:3, 3], torch.tensor([0.0, -1.0, 0.0], dtype=F64))
    torch.testing.assert_close(relative[:3, :3], _rot_z(-90.0))
    torch.testing.assert_close(relative_pose(cond, cond)[0], torch.eye(4, dtype=F64))


def test_relative_pose_half_precision(random_rigid):
    c2w = random_rigid(2, seed=3)
    result = relative_pose(c2w.half(), c2w.flip(0).half())
    assert result.dtype == torch.float16
    torch.testing.assert_close(result.double(), relative_pose(c2w, c2w.flip(0)), atol=2e-2, rtol=0)


def test_rotation_angle():
    a = _pose(torch.eye(3, dtype=F64), [0, 0, 0])
    angles = [0.0, 30.0, 179.0, 180.0]
    b = torch.cat([_pose(_rot_z(d), [5.0, 1.0, 2.0]) for d in angles])
    torch.testing.assert_close(rotation_angle(a, b), torch.tensor(angles, dtype=F64).deg2rad())


def test_invert_rigid(random_rigid):
    c2w = random_rigid(5, seed=4)
    torch.testing.assert_close(invert_rigid(c2w), torch.linalg.inv(c2w))
    torch.testing.assert_close(invert_rigid(c2w[:, :3]), torch.linalg.inv(c2w))


# --- converters ---------------------------------------------------------------------------------


def test_opencv_opengl_hand_worked_and_involution(random_rigid):
    gl = opencv_to_opengl(torch.eye(4, dtype=F64)[None])[0]
    torch.testing.assert_close(gl, torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=F64)))
    c2w = random_rigid(4, seed=5)
    torch.testing.assert_close(opengl_to_opencv(opencv_to_opengl(c2w)), c2w)
    torch.testing.assert_close(-opencv_to_opengl(c2w)[:, :3, 2], c2w[:, :3, 2])  # same viewing direction


def test_realestate10k_frame_to_opengl():
    rows = (FORMATS / "re10k_000eb6240f06dd5a.txt").read_text().splitlines()[1:]
    values = torch.tensor([float(v) for v in rows[0].split()], dtype=F64)
    w2c = values[7:19].reshape(3, 4)  # OpenCV world-to-camera
    c2w = opencv_to_opengl(invert_rigid(w2c[None]))
    validate_c2w(c2w)
    torch.testing.assert_close(
        c2w[0, :3, 3], torch.tensor([0.1001048, 0.0047896, 0.0029894], dtype=F64), atol=1e-7, rtol=0
    )
    torch.testing.assert_close(-c2w[0, :3, 2], w2c[2, :3])  # OpenCV +z (row 2 of R) is OpenGL's view axis
    assert len(rows) == 46


def test_llff_fern_to_opengl():
    data = np.load(FORMATS / "fern_poses_bounds.npy")
    poses = torch.from_numpy(data[:, :15].reshape(-1, 3, 5))
    c2w = llff_to_opengl(poses)
    validate_c2w(c2w)
    expected_row0 = torch.tensor(
        [
            [0.9896307, -0.0224225, -0.141874, -3.6791791],
            [-0.0272091, -0.999121, -0.0318884, -1.6037916],
            [-0.1410343, 0.035418, -0.989371, -0.2768021],
        ],
        dtype=F64,
    )
    torch.testing.assert_close(c2w[0, :3], expected_row0, atol=1e-6, rtol=0)
    torch.testing.assert_close(c2w[19, :3, 3], torch.tensor([-3.88107902, 1.73665889, 0.79259958], dtype=F64))
    torch.testing.assert_close(opengl_to_llff(c2w), poses[:, :, :4])
    with pytest.raises(ValueError, match="poses must have shape"):
        llff_to_opengl(torch.zeros(2, 4, 4))


def test_pytorch3d_hand_worked_and_round_trip(random_rigid):
    # R = I, T = (0, 0, 2): the PyTorch3D camera sits at (0, 0, -2) and looks along +z (its +x is left)
    c2w = pytorch3d_to_opengl(torch.eye(3, dtype=F64)[None], torch.tensor([[0.0, 0.0, 2.0]], dtype=F64))[0]
    expected = torch.diag(torch.tensor([-1.0, 1.0, -1.0, 1.0], dtype=F64))
    expected[2, 3] = -2.0
    torch.testing.assert_close(c2w, expected)
    poses = random_rigid(6, seed=6)
    rotation, translation = opengl_to_pytorch3d(poses)
    assert rotation.shape == (6, 3, 3) and translation.shape == (6, 3)
    torch.testing.assert_close(pytorch3d_to_opengl(rotation, translation), poses)


def test_pytorch3d_matches_the_official_row_negation(random_rigid):
    rotation, translation = opengl_to_pytorch3d(random_rigid(3, seed=7))
    w2c = torch.cat([rotation.transpose(1, 2), translation[:, :, None]], dim=2).numpy().copy()
    w2c[:, 0] *= -1  # PyTorch3D -> OpenCV (official webdataset_co3d.py)
    w2c[:, 1] *= -1
    w2c[:, 1] *= -1  # OpenCV -> OpenGL
    w2c[:, 2] *= -1
    official = np.linalg.inv(np.concatenate([w2c, np.tile([[[0, 0, 0, 1.0]]], (3, 1, 1))], axis=1))
    torch.testing.assert_close(pytorch3d_to_opengl(rotation, translation), torch.from_numpy(official))


def test_colmap_hand_worked_and_round_trip(random_rigid):
    c2w = colmap_to_opengl(torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=F64), torch.zeros(1, 3, dtype=F64))[0]
    torch.testing.assert_close(c2w, torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=F64)))
    # 90 degrees about the camera's y: w = cos 45, y = sin 45. World +x maps to camera -z.
    q = torch.tensor([[math.sqrt(0.5), 0.0, math.sqrt(0.5), 0.0]], dtype=F64)
    c2w = colmap_to_opengl(q, torch.tensor([[0.0, 0.0, 3.0]], dtype=F64))[0]
    torch.testing.assert_close(-c2w[:3, 2], torch.tensor([-1.0, 0.0, 0.0], dtype=F64))  # looks along -x
    torch.testing.assert_close(c2w[:3, 3], torch.tensor([3.0, 0.0, 0.0], dtype=F64))
    poses = random_rigid(8, seed=8)
    qvec, tvec = opengl_to_colmap(poses)
    assert (qvec[:, 0] >= 0).all()
    torch.testing.assert_close(colmap_to_opengl(qvec, tvec), poses)


def test_quaternion_round_trip_in_every_branch():
    half_turns = torch.tensor(
        [[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0], [0.01, 0.7, -0.7, 0.1]], dtype=F64
    )
    generator = torch.Generator().manual_seed(9)
    quaternions = torch.cat([half_turns, torch.randn(50, 4, generator=generator, dtype=F64)])
    quaternions = quaternions / quaternions.norm(dim=1, keepdim=True)
    quaternions = torch.where(quaternions[:, :1] < 0, -quaternions, quaternions)
    torch.testing.assert_close(matrix_to_quaternion(quaternion_to_matrix(quaternions)), quaternions)


def test_the_one_orbit_builder_reproduces_the_four_it_replaced_bit_for_bit():
    """``tests/fixtures/orbits_before_one_builder.safetensors`` holds the cameras of the old
    ``orbit_path``, ``camera_set.orbit_arc``, ``anchors.anchor_cameras`` and the object branch of
    ``data.synthetic.camera_path``, written by those functions before they became ``orbit_path``."""
    from safetensors.torch import load_file

    from zeronvs_core.anchors import anchor_cameras
    from zeronvs_core.data.synthetic import camera_path, make_scene

    old = load_file(Path(__file__).parent / "fixtures" / "orbits_before_one_builder.safetensors")
    new = {
        "orbit_path_120_31": orbit_path(120, 31.0),
        "orbit_path_4_31_1.5_10": orbit_path(4, 31.0, 1.5, 10.0),
        "orbit_path_48_20_endpoint": orbit_path(48, 20.0, ends="both"),
        "orbit_arc_5_31_1_-90_90": orbit_path(5, 31.0, 1.0, -90.0, 90.0),
        "orbit_arc_8_10_2_45_405": orbit_path(8, 10.0, 2.0, 45.0, 405.0),
        "orbit_arc_1_10_2_45_360": orbit_path(1, 10.0, 2.0, 45.0, 360.0),
        "anchor_cameras_4_31": anchor_cameras(4, 31.0),
        "anchor_cameras_3_20_1.5_30": anchor_cameras(3, 20.0, 1.5, 30.0),
        **{f"camera_path_object_{s}_24": camera_path(make_scene("object", s), 24, s) for s in (0, 7, 42)},
    }
    assert sorted(new) == sorted(old)
    for name, c2w in new.items():
        assert c2w.dtype == torch.float32, name
        assert torch.equal(c2w, old[name]), name


def test_orbit_path_inner_ends_and_targets():
    inner = orbit_path(3, 0.0, 2.0, ends="inner")  # 90, 180, 270: strictly between the input and itself
    assert _azimuths(inner) == [90.0, 180.0, 270.0]
    target = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    around = orbit_path(4, 30.0, 2.0, target=target)
    assert around.dtype == torch.float64
    torch.testing.assert_close(around[:, :3, 3].sub(target).norm(dim=1), torch.full((4,), 2.0, dtype=torch.float64))
    torch.testing.assert_close(
        around[:, :3, 3] - target, orbit_path(4, 30.0, 2.0).double()[:, :3, 3], atol=1e-6, rtol=0
    )
    with pytest.raises(ValueError, match="distance must be positive"):
        orbit_path(2, 0.0, 0.0)
    with pytest.raises(ValueError, match="ends must be 'auto', 'both' or 'inner', got 'none'"):
        orbit_path(2, 0.0, ends="none")
