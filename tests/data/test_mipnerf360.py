"""Mip-NeRF 360 reader: the official pose processing on a hand-worked scene, on the real LLFF fern poses,
the protocol's input view and view selection, image folders, the per-scene table and errors."""

import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from zeronvs_core.cameras import look_at, relative_pose, validate_c2w
from zeronvs_core.data.frames import pinhole_fov_deg
from zeronvs_core.data.mipnerf360 import (
    MIPNERF360_PROTOCOL,
    focus_point,
    load_mipnerf360_scene,
    normalize_poses,
    read_poses_bounds,
)

FERN = Path(__file__).resolve().parents[1] / "fixtures" / "real_formats" / "fern_poses_bounds.npy"
POSITIONS = torch.tensor([[2.0, 0.0, 1.0], [-2.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, -1.0, 1.0]], dtype=torch.float64)
ROLLS = (0.3, 0.1, 0.0, 0.2)  # radians about each camera's optical axis: its angle to the look-at rotation


def _cameras() -> torch.Tensor:
    """Four cameras looking at the origin (z up), rolled by ``ROLLS``."""
    c2w = look_at(POSITIONS)
    for i, roll in enumerate(ROLLS):
        c, s = math.cos(roll), math.sin(roll)
        c2w[i, :3, :3] = c2w[i, :3, :3] @ torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=torch.float64)
    return c2w


def test_hand_worked_pose_processing():
    normalised = normalize_poses(_cameras())
    # PCA: mean position (0,0,1), principal axes x (variance 8) then y (2) then z (0): the rotation is the
    # identity and the positions become (+-2,0,0), (0,+-1,0), scaled by 1/2 into [-1,1]. The cameras look
    # at the old origin, now (0,0,-0.5): that is the focus point. Recentred: (+-1,0,0.5), (0,+-0.5,0.5),
    # at mean distance (2 sqrt(1.25) + 2 sqrt(0.5)) / 4 from it.
    recentred = torch.tensor(
        [[1.0, 0.0, 0.5], [-1.0, 0.0, 0.5], [0.0, 0.5, 0.5], [0.0, -0.5, 0.5]], dtype=torch.float64
    )
    mean_distance = (2 * math.sqrt(1.25) + 2 * math.sqrt(0.5)) / 4
    torch.testing.assert_close(normalised[:, :3, 3], recentred / mean_distance)
    torch.testing.assert_close(normalised[:, :3, :3], _cameras()[:, :3, :3])
    torch.testing.assert_close(focus_point(_cameras()), torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)


def test_scene_input_view_and_selection(tmp_path, write_mipnerf360_scene):
    write_mipnerf360_scene(tmp_path / "bicycle", _cameras())
    scene = load_mipnerf360_scene(tmp_path, "bicycle", size=(32, 32))
    # rolls 0.3, 0.1, 0.0, 0.2 sort as views 2, 1, 3, 0; bicycle's input rank is 2: view 3
    assert scene.input_index == 3 and scene.eval_indices == (0, 1, 2)
    assert scene.elevation_deg == pytest.approx(45.0)  # view 3 at (0, -0.5, 0.5) from the focus point
    assert scene.fov_deg == pytest.approx(math.degrees(2 * math.atan(16 / 37.5)))  # 32 px square, focal 300 / 8
    assert scene.settings.precomputed_scale == 0.9 and scene.settings.gt_to_pred_scale == 1.0
    pixels = iio.imread(tmp_path / "bicycle" / "images_8" / "IMG_000.png")[:, 8:40]  # centre square
    torch.testing.assert_close(scene.images[0], torch.from_numpy(pixels / 255.0).float().permute(2, 0, 1))
    validate_c2w(scene.c2w)


def test_image_folder_choice(tmp_path, write_mipnerf360_scene):
    write_mipnerf360_scene(tmp_path / "garden", _cameras(), folders=((8, 48, 32), (4, 96, 64)))
    for factor, value in ((8, 10), (4, 200)):  # tell the folders apart by their pixels
        for path in (tmp_path / "garden" / f"images_{factor}").iterdir():
            iio.imwrite(path, np.full_like(iio.imread(path), value))
    cases = (((32, 32), None, 10), ((48, 48), None, 200), ((256, 256), None, 200), ((32, 32), 4, 200))
    for size, downscale, value in cases:  # the coarsest folder at least size, else the finest one
        scene = load_mipnerf360_scene(tmp_path, "garden", size=size, downscale=downscale)
        assert scene.images.shape == (4, 3, *size)
        torch.testing.assert_close(scene.images, torch.full_like(scene.images, value / 255))
        assert scene.fov_deg == pytest.approx(math.degrees(2 * math.atan(16 / 37.5)))  # the same in every folder


def test_real_fern_poses():
    c2w, hwf = read_poses_bounds(FERN)
    assert c2w.shape == (20, 4, 4) and hwf[0] == pytest.approx([3024.0, 4032.0, 3260.52633288])
    fovs = [pinhole_fov_deg(min(h, w), focal, "fern") for h, w, focal in hwf]  # the square crop's, as loaded
    assert fovs == pytest.approx([math.degrees(2 * math.atan(1512 / 3260.52633288))] * 20, abs=1e-9)
    expected_row0 = [[0.9896307, -0.0224225, -0.141874, -3.6791791], [-0.0272091, -0.999121, -0.0318884, -1.6037916]]
    torch.testing.assert_close(c2w[0, :2], torch.tensor(expected_row0, dtype=torch.float64), atol=1e-7, rtol=0)
    normalised = normalize_poses(c2w)
    validate_c2w(normalised)
    torch.testing.assert_close(focus_point(normalised), torch.zeros(3, dtype=torch.float64), atol=1e-9, rtol=0)
    assert normalised[:, :3, 3].norm(dim=1).mean().item() == pytest.approx(1.0)
    assert normalised[:, 2, 1].mean() > 0  # the cameras' mean up vector points up (+z)
    # a similarity transform: relative rotations kept, relative translations scaled by one factor
    before, after = (
        relative_pose(c2w[:1].expand(20, 4, 4), c2w),
        relative_pose(normalised[:1].expand(20, 4, 4), normalised),
    )
    torch.testing.assert_close(after[:, :3, :3], before[:, :3, :3])
    ratio = after[1:, :3, 3].norm(dim=1) / before[1:, :3, 3].norm(dim=1)
    torch.testing.assert_close(ratio, ratio[:1].expand_as(ratio))


def test_protocol_table():
    table = {s.name: (s.input_view, s.precomputed_scale, s.gt_to_pred_scale) for s in MIPNERF360_PROTOCOL.scenes}
    assert table == {
        "bicycle": (2, 0.9, 1.0),
        "bonsai": (0, 0.9, 1.0),
        "counter": (20, 0.9, 0.9),
        "garden": (0, 0.9, 1.0),
        "kitchen": (0, 0.9, 0.9),
        "room": (0, 2.0, 0.9),
        "stump": (11, 0.9, 1.1),
    }
    protocol = MIPNERF360_PROTOCOL
    assert (protocol.eval_size, protocol.background, protocol.excluded_views) == ((256, 256), (0.5, 0.5, 0.5), ())
    for key, tolerance in (("lpips", 5e-4), ("psnr", 5e-3), ("ssim", 5e-4)):
        mean = np.mean([getattr(scene.official, key) for scene in protocol.scenes])
        assert mean == pytest.approx(getattr(protocol.official_mean, key), abs=tolerance)


def test_errors(tmp_path, write_mipnerf360_scene):
    with pytest.raises(ValueError, match="unknown mipnerf360 scene 'flowers'"):
        load_mipnerf360_scene(tmp_path, "flowers")
    with pytest.raises(FileNotFoundError, match="poses_bounds.npy not found"):
        load_mipnerf360_scene(tmp_path, "room")
    write_mipnerf360_scene(tmp_path / "room", _cameras(), count=3)
    with pytest.raises(ValueError, match="has 3 images for 4 poses"):
        load_mipnerf360_scene(tmp_path, "room")
    with pytest.raises(ValueError, match="square"):
        load_mipnerf360_scene(tmp_path, "room", size=(24, 32))
    with pytest.raises(FileNotFoundError, match="no images"):
        load_mipnerf360_scene(tmp_path, "room", downscale=2)
    with pytest.raises(ValueError, match="downscale must be one of"):
        load_mipnerf360_scene(tmp_path, "room", downscale=3)
    write_mipnerf360_scene(tmp_path / "counter", _cameras())
    with pytest.raises(ValueError, match="4 views; the input view rank is 20"):
        load_mipnerf360_scene(tmp_path, "counter", size=(32, 32))
    np.save(tmp_path / "bad.npy", np.zeros((3, 15)))
    with pytest.raises(ValueError, match=r"\[N, 17\]"):
        read_poses_bounds(tmp_path / "bad.npy")
    rows = np.load(FERN)
    rows[3, 14] = -rows[3, 14]  # a negative focal length would give a FOV outside (0, 180)
    np.save(tmp_path / "negative_focal.npy", rows)
    with pytest.raises(ValueError, match="row 3 has height, width, focal .*all must be positive"):
        read_poses_bounds(tmp_path / "negative_focal.npy")
