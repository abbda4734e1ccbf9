"""DTU reader (pixelNeRF's rs_dtu_4 layout): hand-worked cameras, the real NeuS scan-24 cameras, the
protocol's view selection and table, and errors."""

import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from zeronvs_core.cameras import validate_c2w
from zeronvs_core.data.dtu import DTU_PROTOCOL, DTU_VIEW_SCALE, dtu_cameras, load_dtu_scene

REAL_CAMERAS = Path(__file__).resolve().parents[1] / "fixtures" / "real_formats" / "dtu_scan24_cameras_sphere.npz"
K = np.array([[100.0, 0.0, 20.0], [0.0, 100.0, 15.0], [0.0, 0.0, 1.0]])


def _world_mat(intrinsics, rotation, centre, factor=1.0):
    """4x4 ``K [R | -R C]`` (OpenCV world-to-camera ``R``), times an arbitrary ``factor``."""
    world_mat = np.eye(4)
    world_mat[:3] = factor * intrinsics @ np.concatenate([rotation, -rotation @ np.asarray(centre)[:, None]], axis=1)
    return world_mat


def test_hand_worked_cameras():
    scale_mat = np.diag([2.0, 2.0, 2.0, 1.0])
    scale_mat[:3, 3] = (1.0, 0.0, 1.0)
    # view 0: R = I (looking along DTU's +z), centre (1, 2, 3); view 1: looking along DTU's +x, its x axis
    # (right) along DTU's -z and its y axis (down) along DTU's +y; centre (3, 0, 1)
    turn = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    cameras = {
        "world_mat_0": _world_mat(K, np.eye(3), (1.0, 2.0, 3.0), factor=5.0),  # scale of P does not matter
        "scale_mat_0": scale_mat,
        "world_mat_1": _world_mat(K, turn, (3.0, 0.0, 1.0)),
        "scale_mat_1": scale_mat,
    }
    c2w, fov = dtu_cameras(cameras, [0, 1], view_scale=1.0)
    # normalised centres: ((1,2,3) - (1,0,1)) / 2 = (0,1,1) and ((3,0,1) - (1,0,1)) / 2 = (1,0,0);
    # the world flip diag(1,-1,-1) negates their y and z
    expected_0 = np.eye(4)
    expected_0[:3, 3] = (0.0, -1.0, -1.0)  # W I W = I: OpenGL camera looking down the flipped world's -z
    expected_1 = np.eye(4)
    expected_1[:3, :3] = [[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]  # right +z_f, up +y_f, looks +x
    expected_1[:3, 3] = (1.0, 0.0, 0.0)
    torch.testing.assert_close(c2w, torch.from_numpy(np.stack([expected_0, expected_1])), atol=1e-12, rtol=0)
    torch.testing.assert_close(fov, torch.full((2,), math.degrees(2 * math.atan2(15.0, 100.0)), dtype=torch.float64))
    scaled, _ = dtu_cameras(cameras, [0, 1])  # the protocol divides translations by 2.02
    torch.testing.assert_close(scaled[:, :3, 3], c2w[:, :3, 3] / 2.02)
    torch.testing.assert_close(scaled[:, :3, :3], c2w[:, :3, :3])


def test_real_neus_scan24_cameras():
    with np.load(REAL_CAMERAS) as data:
        cameras = {key: data[key] for key in data.files}
    c2w, fov = dtu_cameras(cameras, range(49))
    validate_c2w(c2w)  # rotations orthonormal with determinant +1
    # view 0's centre in the unit-sphere frame is (0.949047, 0.052046, -2.671192) (fixture README); the flip
    # negates y and z, then / 2.02
    torch.testing.assert_close(
        c2w[0, :3, 3], torch.tensor([0.949047, -0.052046, 2.671192], dtype=torch.float64) / 2.02, atol=2e-6, rtol=0
    )
    distances = c2w[:, :3, 3].norm(dim=1) * DTU_VIEW_SCALE  # cameras about 2.9 units from the unit sphere
    assert distances.min() > 2.7 and distances.max() < 3.0
    directions = c2w[:, :3, 3] / c2w[:, :3, 3].norm(dim=1, keepdim=True)
    mean = directions.mean(dim=0)
    assert (directions @ (mean / mean.norm())).min() > 0.5  # a spherical cap on one side of the table
    towards_origin = torch.nn.functional.cosine_similarity(-c2w[:, :3, 2], -c2w[:, :3, 3], dim=1)
    assert towards_origin.min() > math.cos(math.radians(15))  # every camera looks at the object
    torch.testing.assert_close(fov, torch.full_like(fov, 24.2369), atol=2e-4, rtol=0)


def _tilted_rotation() -> np.ndarray:
    """A world-to-camera rotation about no axis of the world (30 degrees about z, then 50 about x)."""
    a, b = math.radians(30.0), math.radians(50.0)
    about_z = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    about_x = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(b), -math.sin(b)], [0.0, math.sin(b), math.cos(b)]])
    return about_x @ about_z


@pytest.mark.parametrize("factor", [1.0, -1.0, 2.5, -0.01, -250.0])
def test_a_projection_matrix_times_any_factor_is_the_same_camera(factor):
    rotation, centre = _tilted_rotation(), np.array([0.5, -2.0, 3.0])
    c2w, fov = dtu_cameras({"world_mat_0": _world_mat(K, rotation, centre, factor)}, [0], view_scale=1.0)
    expected = np.eye(4)  # step 3 of the module doc: W [R^T | C] W, W = diag(1, -1, -1, 1)
    expected[:3, :3], expected[:3, 3] = rotation.T, centre
    flip = np.diag([1.0, -1.0, -1.0, 1.0])
    torch.testing.assert_close(c2w[0], torch.from_numpy(flip @ expected @ flip), atol=1e-12, rtol=0)
    torch.testing.assert_close(fov, torch.tensor([math.degrees(2 * math.atan2(15.0, 100.0))], dtype=torch.float64))


def test_case_7_the_negated_real_scan24_cameras_are_the_same_cameras():
    with np.load(REAL_CAMERAS) as data:
        cameras = {key: data[key] for key in data.files}
    negated = {key: -value if key.startswith("world_mat") else value for key, value in cameras.items()}
    c2w, fov = dtu_cameras(cameras, range(49))
    negated_c2w, negated_fov = dtu_cameras(negated, range(49))
    torch.testing.assert_close(negated_c2w, c2w, atol=1e-9, rtol=0)  # not turned 180 degrees
    torch.testing.assert_close(negated_fov, fov)  # 24.2369, not 335.76
    assert ((fov > 0) & (fov < 180)).all()


@pytest.mark.parametrize(
    ("projection", "message"),
    [
        (np.zeros((3, 4)), "world_mat_0 is not a finite camera: the left 3x3 block .* is singular"),
        (np.array([[1.0, 2, 3, 4], [0, 1, 0, 0], [2, 4, 6, 1]]), "singular"),  # rows 0 and 2 of M parallel
        (np.array([[100.0, 0, 0, 0], [0, 100, 0, 0], [0, 0, 0, 1]]), "singular"),  # affine: a camera at infinity
        (
            _world_mat(np.array([[100.0, 0, 20], [0, 100, -15], [0, 0, 1]]), np.eye(3), (0, 0, 0)),
            r"world_mat_0 \(view 0\): .* FOV in \(0, 180\)",
        ),
        (np.full((3, 4), np.nan), "finite 3x4 or 4x4 projection matrix"),
    ],
)
def test_degenerate_projections_are_clear_errors(projection, message):
    with pytest.raises(ValueError, match=message):
        dtu_cameras({"world_mat_0": projection}, [0])


def test_scan_views_and_selection(tmp_path, write_dtu_scan):
    write_dtu_scan(tmp_path / "scan8", views=(3, 10, 24, 25, 26))
    scene = load_dtu_scene(tmp_path, "8", size=(24, 32))
    assert scene.name == "scan8" and scene.view_ids == (3, 10, 24, 25, 26)
    assert scene.input_index == 3 and scene.view_ids[scene.input_index] == 25  # the input is view 25
    assert [scene.view_ids[i] for i in scene.eval_indices] == [10, 24, 26]  # view 3 is excluded
    assert scene.elevation_deg == 20.0 and scene.settings.gt_to_pred_scale == 1.2
    assert scene.fov_deg == pytest.approx(math.degrees(2 * math.atan2(12.0, 30.0)))
    pixels = iio.imread(tmp_path / "scan8" / "image" / "000024.png")
    torch.testing.assert_close(scene.images[2], torch.from_numpy(pixels / 255.0).float().permute(2, 0, 1))
    assert scene.input_image.shape == (1, 3, 24, 32)
    validate_c2w(scene.c2w)
    full = load_dtu_scene(tmp_path, "scan8")  # the protocol's 400x300, LANCZOS
    assert full.images.shape == (5, 3, 300, 400) and 0 <= full.images.min() and full.images.max() <= 1


def test_protocol_table():
    scans = [int(scene.name[4:]) for scene in DTU_PROTOCOL.scenes]
    assert scans == [8, 21, 30, 31, 34, 38, 40, 41, 45, 55, 63, 82, 103, 110, 114]
    scales = [scene.gt_to_pred_scale for scene in DTU_PROTOCOL.scenes]
    assert scales == [1.2, 1.4, 1.5, 1.4, 1.4, 1.3, 1.2, 1.3, 1.4, 1.2, 1.5, 1.5, 1.5, 1.3, 1.3]
    assert {(s.input_view, s.precomputed_scale) for s in DTU_PROTOCOL.scenes} == {(25, 0.7)}
    assert DTU_PROTOCOL.excluded_views == (3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 36, 37, 38, 39)
    assert (DTU_PROTOCOL.eval_size, DTU_PROTOCOL.background, DTU_PROTOCOL.elevation_deg) == ((300, 400), (0, 0, 0), 20)
    headline = DTU_PROTOCOL.official_mean
    for key, tolerance in (("lpips", 5e-4), ("psnr", 5e-3), ("ssim", 5e-4)):
        mean = np.mean([getattr(scene.official, key) for scene in DTU_PROTOCOL.scenes])
        assert mean == pytest.approx(getattr(headline, key), abs=tolerance)  # README per-scene -> paper


def test_errors(tmp_path, write_dtu_scan):
    with pytest.raises(ValueError, match="unknown dtu scene 'scan9'.*scan8, scan21"):
        load_dtu_scene(tmp_path, "scan9")
    with pytest.raises(FileNotFoundError, match="rs_dtu_4/DTU"):
        load_dtu_scene(tmp_path, "scan8")
    write_dtu_scan(tmp_path / "scan21", views=(24, 26))
    with pytest.raises(FileNotFoundError, match="no image of the input view 25"):
        load_dtu_scene(tmp_path, "scan21")
    write_dtu_scan(tmp_path / "scan30", views=(25,))
    with pytest.raises(ValueError, match="aspect ratio differs from 32x32"):
        load_dtu_scene(tmp_path, "scan30", size=(32, 32))
    with pytest.raises(ValueError, match="no world_mat_5"):
        dtu_cameras({"world_mat_0": np.eye(4)}, [5])
