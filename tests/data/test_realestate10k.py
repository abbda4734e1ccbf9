"""RealEstate10K/ACID reader: the real camera-file format, hand-worked cameras and FOVs, and the pair dataset."""

import math
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from zeronvs_core.cameras import validate_c2w
from zeronvs_core.data.frames import pair_indices
from zeronvs_core.data.pairs import ViewPair
from zeronvs_core.data.realestate10k import (
    ACIDPairs,
    RE10KFrame,
    RealEstate10KPairs,
    re10k_camera,
    re10k_fov_deg,
    re10k_official_fov_deg,
    read_camera_file,
)
from zeronvs_core.scene_scale import viewer_scale

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "real_formats" / "re10k_000eb6240f06dd5a.txt"


def _frame(w2c, fy=0.5, timestamp=0) -> RE10KFrame:
    return RE10KFrame(timestamp, fy * 9 / 16, fy, 0.5, 0.5, np.asarray(w2c, dtype=np.float64))


def test_real_fixture_parses():
    frames = read_camera_file(FIXTURE)
    assert len(frames) == 46
    first = frames[0]
    assert first.timestamp == 232832600
    assert (first.fx, first.fy, first.cx, first.cy) == (0.535230998, 0.9515218, 0.5, 0.5)
    assert first.w2c.shape == (3, 4)
    assert first.w2c[0].tolist() == [0.999934316, 0.003677764, 0.010856542, -0.100148303]
    assert frames[1].timestamp == 232865967
    cameras = torch.stack([re10k_camera(frame) for frame in frames])
    validate_c2w(cameras)
    assert cameras.dtype == torch.float32
    # square pixels on a 16:9 frame: fx * W == fy * H
    assert first.fx * 16 == pytest.approx(first.fy * 9, rel=1e-3)
    assert re10k_fov_deg(first) == pytest.approx(math.degrees(2 * math.atan(0.5 / 0.9515218)))


def test_identity_w2c_is_opengl_flip():
    c2w = re10k_camera(_frame(np.eye(4)[:3]))
    assert torch.equal(c2w, torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0])))


def test_translated_camera_centre():
    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90 degrees about z
    t = np.array([1.0, 2.0, 3.0])
    c2w = re10k_camera(_frame(np.concatenate([rotation, t[:, None]], axis=1)))
    # centre = -R^T t = -(2, -1, 3)
    assert torch.allclose(c2w[:3, 3], torch.tensor([-2.0, 1.0, -3.0]))
    # OpenGL axes = OpenCV axes (rows of R) with y and z negated
    expected = torch.tensor(rotation.T, dtype=torch.float32) * torch.tensor([1.0, -1.0, -1.0])
    assert torch.allclose(c2w[:3, :3], expected)
    # a world point in front of the OpenCV camera (z_cam > 0) has z < 0 in OpenGL camera space
    point_world = rotation.T @ (np.array([0.0, 0.0, 5.0]) - t)
    local = torch.linalg.inv(c2w.double()) @ torch.tensor([*point_world, 1.0], dtype=torch.float64)
    assert torch.allclose(local[:3], torch.tensor([0.0, 0.0, -5.0], dtype=torch.float64), atol=1e-9)


def test_official_fov_rule_is_the_horizontal_fov_of_the_frame(tmp_path):
    first = read_camera_file(FIXTURE)[0]
    assert re10k_official_fov_deg(first) == pytest.approx(math.degrees(2 * math.atan(first.cx / first.fx)))
    assert re10k_official_fov_deg(first) > 80  # the full 16:9 frame's horizontal FOV, not the crop's
    with pytest.raises(ValueError, match="fov_rule must be"):
        RealEstate10KPairs(tmp_path, fov_rule="diagonal")


def test_fov_of_square_crop():
    frame = _frame(np.eye(4)[:3], fy=0.5)
    assert re10k_fov_deg(frame) == pytest.approx(90.0)
    assert re10k_fov_deg(frame, 640, 360) == pytest.approx(90.0)  # landscape: crop keeps the full height
    assert re10k_fov_deg(frame, 30, 60) == pytest.approx(math.degrees(2 * math.atan(0.5)))  # portrait: m = W


def test_malformed_files(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("https://youtube\n1 0.5 0.5 0.5 0.5 0 0 1 0 0\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2: expected 19 numbers"):
        read_camera_file(bad)
    bad.write_text("https://youtube\n1 0.5 0.5 0.5 0.5 0 0 1 0 0 0 0 1 0 0 0 0 x 0\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2: malformed"):
        read_camera_file(bad)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_camera_file(tmp_path / "nope.txt")
    for cx, cy in ((0.0, 0.5), (-0.5, 0.5), (0.5, 1.0), (1.5, 0.5)):
        bad.write_text(f"https://youtube\n1 0.5 0.5 {cx} {cy} 0 0 1 0 0 0 0 1 0 0 0 0 1 0\n")
        with pytest.raises(ValueError, match=r"bad\.txt:2: the principal point must lie inside the frame"):
            read_camera_file(bad)


def test_every_fov_is_inside_0_180():
    for frame in read_camera_file(FIXTURE):  # the real file: official 2 atan(cx / fx), crop 2 atan(0.5 / fy)
        assert 0 < re10k_fov_deg(frame) < re10k_official_fov_deg(frame) < 180
    frame = RE10KFrame(7, 0.5, 0.5, -0.25, 0.5, np.eye(4)[:3])  # built by hand, past the file checks
    with pytest.raises(ValueError, match=r"RealEstate10K frame 7: .* FOV in \(0, 180\)"):
        re10k_official_fov_deg(frame)
    with pytest.raises(ValueError, match="RealEstate10K frame 7"):
        re10k_fov_deg(RE10KFrame(7, 0.5, -0.5, 0.5, 0.5, np.eye(4)[:3]))


H, W, S = 16, 24, 16
TIMESTAMPS = (100, 200, 300)


def _pose_line(timestamp: int, tx: float) -> str:
    pose = [1, 0, 0, tx, 0, 1, 0, 0, 0, 0, 1, 0]
    return " ".join(str(v) for v in [timestamp, 0.375, 0.5625, 0.5, 0.5, 0, 0, *pose])


def _write_sequence(root: Path, depth_root: Path, with_disp: bool = False):
    rng = np.random.default_rng(0)
    lines = ["https://www.youtube.com/watch?v=test"] + [_pose_line(t, 0.1 * i) for i, t in enumerate(TIMESTAMPS)]
    (root / "seq.txt").write_text("\n".join(lines) + "\n")
    (root / "seq").mkdir(parents=True)
    (depth_root / "seq").mkdir(parents=True, exist_ok=True)
    images, depths, disps = {}, {}, {}
    for i, t in enumerate(TIMESTAMPS):
        image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        imageio.imwrite(root / "seq" / f"{t}.png", image)
        depth = rng.uniform(1.0 + i, 5.0 + i, (H, W)).astype(np.float32)
        depth[rng.random((H, W)) < 0.5] = 0.0  # sparse-ish
        np.save(depth_root / "seq" / f"{t}.npy", depth)
        images[t], depths[t] = image, depth
        if with_disp:
            disps[t] = rng.uniform(0.1, 1.0, (H, W)).astype(np.float32)
            np.save(depth_root / "seq" / f"{t}.disp.npy", disps[t])
    return images, depths, disps


@pytest.mark.parametrize("separate_depth", [False, True])
def test_pairs_from_tiny_sequence(tmp_path, separate_depth):
    root = tmp_path / "re10k"
    root.mkdir()
    depth_root = tmp_path / "depth" if separate_depth else root
    images, depths, _ = _write_sequence(root, depth_root)
    dataset = RealEstate10KPairs(root, size=S, pairs_per_sequence=3, seed=5, depth_dir=depth_root, fov_rule="crop")
    assert len(dataset) == 3
    official = RealEstate10KPairs(root, size=S, pairs_per_sequence=3, seed=5, depth_dir=depth_root)
    cond_frame = read_camera_file(root / "seq.txt")[pair_indices(3, 5, 0, 0)[0]]
    assert official[0].fov_deg == pytest.approx(math.degrees(2 * math.atan(cond_frame.cx / cond_frame.fx)))
    frames = read_camera_file(root / "seq.txt")
    for index in range(len(dataset)):
        pair = dataset[index]
        assert isinstance(pair, ViewPair)
        cond, target = pair_indices(3, 5, 0, index)
        assert pair.cond_image.shape == pair.target_image.shape == (3, S, S)
        assert 0.0 <= pair.cond_image.min() and pair.cond_image.max() <= 1.0
        # the crop side equals S, so INTER_AREA is the identity: the centre columns 4..19
        crop = torch.from_numpy(images[TIMESTAMPS[cond]][:, 4:20].astype(np.float32) / 255).permute(2, 0, 1)
        assert torch.allclose(pair.cond_image, crop, atol=1e-6)
        validate_c2w(torch.stack([pair.cond_c2w, pair.target_c2w]))
        assert torch.equal(pair.cond_c2w, re10k_camera(frames[cond]))
        assert torch.equal(pair.target_c2w, re10k_camera(frames[target]))
        assert pair.cond_c2w[0, 3].item() == pytest.approx(-0.1 * cond)
        assert pair.fov_deg == pytest.approx(math.degrees(2 * math.atan(0.5 / 0.5625)))
        expected = viewer_scale(torch.from_numpy(depths[TIMESTAMPS[cond]][:, 4:20])[None])[0].item()
        assert pair.scale == pytest.approx(expected)
        again = dataset[index]
        assert torch.equal(again.cond_image, pair.cond_image) and again.scale == pair.scale


def test_pairs_use_monocular_disparity(tmp_path):
    _, depths, disps = _write_sequence(tmp_path, tmp_path, with_disp=True)
    dataset = ACIDPairs(tmp_path, size=S, pairs_per_sequence=2)
    pair = dataset[1]
    cond, _ = pair_indices(3, 0, 0, 1)
    t = TIMESTAMPS[cond]
    depth = torch.from_numpy(depths[t][:, 4:20])[None]
    disp = torch.from_numpy(disps[t][:, 4:20])[None]
    assert pair.scale == pytest.approx(viewer_scale(depth, disp)[0].item(), rel=1e-5)
    assert pair.scale != pytest.approx(viewer_scale(depth)[0].item(), rel=1e-5)


def test_missing_frame_and_depth(tmp_path):
    _write_sequence(tmp_path, tmp_path)
    (tmp_path / "seq" / "100.png").unlink()
    (tmp_path / "seq" / "200.npy").unlink()
    dataset = RealEstate10KPairs(tmp_path, size=S, pairs_per_sequence=6)
    messages = []
    for index in range(len(dataset)):
        try:
            dataset[index]
        except FileNotFoundError as error:
            messages.append(str(error))
    assert any("frame missing" in m and "100.png" in m and "100.jpg" in m for m in messages)
    assert any("depth missing" in m and "200.npy" in m for m in messages)
    with pytest.raises(ValueError, match="no camera file"):
        RealEstate10KPairs(tmp_path / "seq")
