"""CO3D reader: annotation parsing, PyTorch3D cameras and NDC intrinsics worked by hand, depth decoding, pairs."""

import gzip
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from zeronvs_core.cameras import validate_c2w
from zeronvs_core.data.co3d import (
    CO3DPairs,
    co3d_camera,
    co3d_crop_fov,
    load_co3d_depth,
    read_frame_annotations,
)
from zeronvs_core.data.frames import pair_indices
from zeronvs_core.data.pairs import ViewPair
from zeronvs_core.scene_scale import viewer_scale

H, W, S = 16, 24, 16
# Frame 0: R = I, T = (0, 0, 2): X_cam = X_world + T, so the centre is (0, 0, -2), looking along +z.
R0, T0 = np.eye(3), [0.0, 0.0, 2.0]
# Frame 1: camera at (2, 0, 0) looking at the origin with up +z. The columns of R are the PyTorch3D
# camera axes (left, up, forward) in world coordinates: left = (0,-1,0), up = (0,0,1), forward = (-1,0,0);
# T = -R^T C = (0, 0, 2).
R1, T1 = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), [0.0, 0.0, 2.0]


def _annotation(frame, R, T, focal, fmt, sequence="seq1", with_mask=True) -> dict:
    base = f"apple/{sequence}"
    return {
        "sequence_name": sequence,
        "frame_number": frame,
        "frame_timestamp": 0.1 * frame,
        "image": {"path": f"{base}/images/frame{frame:06d}.png", "size": [H, W]},
        "depth": {
            "path": f"{base}/depths/frame{frame:06d}.png.geometric.png",
            "scale_adjustment": 0.5,
            "mask_path": f"{base}/depth_masks/frame{frame:06d}.png" if with_mask else None,
        },
        "mask": {"path": f"{base}/masks/frame{frame:06d}.png", "mass": 10.0},
        "viewpoint": {
            "R": np.asarray(R).tolist(),
            "T": list(T),
            "focal_length": list(focal),
            "principal_point": [0.0, 0.0],
            "intrinsics_format": fmt,
        },
    }


def _write_depth_png(path: Path, depth: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), depth.astype(np.float16).view(np.uint16))


def test_camera_identity_rotation():
    c2w, _, _ = co3d_camera(_annotation(1, R0, T0, (1.0, 1.5), "ndc_norm_image_bounds"))
    expected = torch.tensor([[-1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, -1, -2], [0, 0, 0, 1]])
    assert torch.allclose(c2w, expected)
    assert c2w.dtype == torch.float32
    # the origin is in front of the camera: z < 0 in OpenGL camera space, z = +2 in PyTorch3D's
    local = torch.linalg.inv(c2w) @ torch.tensor([0.0, 0.0, 0.0, 1.0])
    assert torch.allclose(local[:3], torch.tensor([0.0, 0.0, -2.0]))


def test_camera_looking_at_origin_from_x():
    c2w, _, _ = co3d_camera(_annotation(2, R1, T1, (1.5, 1.5), "ndc_isotropic"))
    validate_c2w(c2w[None])
    assert torch.allclose(c2w[:3, 3], torch.tensor([2.0, 0.0, 0.0]))  # -R T
    assert torch.allclose(c2w[:3, 0], torch.tensor([0.0, 1.0, 0.0]))  # right = -left
    assert torch.allclose(c2w[:3, 1], torch.tensor([0.0, 0.0, 1.0]))  # up
    assert torch.allclose(-c2w[:3, 2], torch.tensor([-1.0, 0.0, 0.0]))  # looks at the origin
    # generic check: the camera centre is -R T and X_cam = X_world @ R + T puts it at 0
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    t = rng.normal(size=3)
    c2w, _, _ = co3d_camera(_annotation(3, q, t, (1.0, 1.0), "ndc_isotropic"))
    centre = c2w[:3, 3].double().numpy()
    assert np.allclose(centre, -q @ t, atol=1e-5)
    assert np.allclose(centre @ q + t, 0.0, atol=1e-5)


def test_fov_both_intrinsics_formats():
    # norm_image_bounds: fx = 1.0 * W/2 = 12 px, fy = 1.5 * H/2 = 12 px
    _, fov_x, fov_y = co3d_camera(_annotation(1, R0, T0, (1.0, 1.5), "ndc_norm_image_bounds"))
    assert fov_x == pytest.approx(90.0)
    assert fov_y == pytest.approx(math.degrees(2 * math.atan(8 / 12)))
    # isotropic: both scaled by min(W, H)/2 = 8, so 1.5 -> 12 px again
    annotation = _annotation(2, R1, T1, (1.5, 1.5), "ndc_isotropic")
    _, fov_x2, fov_y2 = co3d_camera(annotation)
    assert (fov_x2, fov_y2) == pytest.approx((fov_x, fov_y))
    # the square crop (side 16) keeps the short (vertical) FOV, = min(fov_x, fov_y) for square pixels
    assert co3d_crop_fov(annotation) == pytest.approx(min(fov_x, fov_y))
    # non-square pixels, isotropic (2, 1): fx = 16, fy = 8 px; crop FOVs 2 atan(8/16) and 90 -> the smaller
    annotation = _annotation(3, R0, T0, (2.0, 1.0), "ndc_isotropic")
    _, fov_x3, fov_y3 = co3d_camera(annotation)
    assert (fov_x3, fov_y3) == pytest.approx((math.degrees(2 * math.atan(12 / 16)), 90.0))
    assert co3d_crop_fov(annotation) == pytest.approx(math.degrees(2 * math.atan(0.5)))
    with pytest.raises(ValueError, match="unknown intrinsics_format 'ndc_weird'"):
        co3d_camera(_annotation(1, R0, T0, (1.0, 1.0), "ndc_weird"))


@pytest.mark.parametrize("size", [[0, W], [H, -W]])
def test_a_frame_without_a_positive_size_has_no_fov(size):
    annotation = _annotation(4, R0, T0, (1.0, 1.0), "ndc_norm_image_bounds")
    annotation["image"]["size"] = size
    with pytest.raises(ValueError, match=r"CO3D frame seq1/4: .*FOV in \(0, 180\)"):
        co3d_camera(annotation)
    with pytest.raises(ValueError, match="CO3D frame seq1/4"):
        co3d_crop_fov(annotation)


def test_depth_decoding(tmp_path):
    depth = np.linspace(0.25, 8.0, H * W, dtype=np.float32).reshape(H, W)
    depth[0, 0], depth[0, 1], depth[0, 2] = 0.0, np.inf, np.nan
    path = tmp_path / "d.png"
    _write_depth_png(path, depth)
    decoded = load_co3d_depth(path, 0.5)
    assert decoded.dtype == np.float32 and decoded.shape == (H, W)
    expected = depth.astype(np.float16).astype(np.float32) * 0.5
    expected[0, :3] = 0.0
    assert np.array_equal(decoded, expected)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_co3d_depth(tmp_path / "missing.png", 1.0)
    cv2.imwrite(str(tmp_path / "u8.png"), np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="16-bit"):
        load_co3d_depth(tmp_path / "u8.png", 1.0)


def test_read_frame_annotations(tmp_path):
    annotations = [_annotation(i, R0, T0, (1.0, 1.0), "ndc_isotropic") for i in range(2)]
    path = tmp_path / "frame_annotations.jgz"
    with gzip.open(path, "wt") as handle:
        json.dump(annotations, handle)
    assert read_frame_annotations(path) == annotations
    path.write_text("not gzip")
    with pytest.raises(ValueError, match="gzipped JSON"):
        read_frame_annotations(path)


def _write_dataset(root: Path):
    rng = np.random.default_rng(1)
    annotations = [
        _annotation(1, R0, T0, (1.0, 1.5), "ndc_norm_image_bounds"),
        _annotation(2, R1, T1, (1.5, 1.5), "ndc_isotropic"),
        _annotation(3, R0, [0.0, 0.0, 3.0], (1.5, 1.5), "ndc_isotropic", with_mask=False),
        _annotation(1, R0, T0, (1.5, 1.5), "ndc_isotropic", sequence="lonely"),  # one frame: dropped
    ]
    (root / "apple").mkdir(parents=True)
    with gzip.open(root / "apple" / "frame_annotations.jgz", "wt") as handle:
        json.dump(annotations, handle)
    images, depths = {}, {}
    for annotation in annotations[:3]:
        frame = annotation["frame_number"]
        image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        image_path = root / annotation["image"]["path"]
        image_path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(image_path), image[:, :, ::-1])  # cv2 writes BGR
        depth = rng.uniform(1.0, 4.0 + frame, (H, W)).astype(np.float32)
        _write_depth_png(root / annotation["depth"]["path"], depth)
        depth = depth.astype(np.float16).astype(np.float32) * 0.5
        if annotation["depth"]["mask_path"]:
            mask = (rng.random((H, W)) < 0.6).astype(np.uint8) * 255
            mask_path = root / annotation["depth"]["mask_path"]
            mask_path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(mask_path), mask)
            depth = np.where(mask > 0, depth, 0.0).astype(np.float32)
        images[frame], depths[frame] = image, depth
    return annotations, images, depths


def test_pairs(tmp_path):
    annotations, images, depths = _write_dataset(tmp_path)
    for root in (tmp_path, tmp_path / "apple"):  # dataset root or one category folder
        dataset = CO3DPairs(root, size=S, pairs_per_sequence=3, seed=2)
        assert len(dataset) == 3  # "lonely" has a single frame
        for index in range(3):
            pair = dataset[index]
            assert isinstance(pair, ViewPair)
            cond, target = pair_indices(3, 2, 0, index)
            cond_ann, target_ann = annotations[cond], annotations[target]
            assert pair.cond_image.shape == pair.target_image.shape == (3, S, S)
            crop = images[cond_ann["frame_number"]][:, 4:20].astype(np.float32) / 255
            assert torch.allclose(pair.cond_image, torch.from_numpy(crop).permute(2, 0, 1), atol=1e-6)
            validate_c2w(torch.stack([pair.cond_c2w, pair.target_c2w]))
            assert torch.equal(pair.cond_c2w, co3d_camera(cond_ann)[0])
            assert torch.equal(pair.target_c2w, co3d_camera(target_ann)[0])
            assert pair.fov_deg == pytest.approx(math.degrees(2 * math.atan(8 / 12)))
            expected = viewer_scale(torch.from_numpy(depths[cond_ann["frame_number"]][:, 4:20])[None])[0].item()
            assert pair.scale == pytest.approx(expected)
    assert len(CO3DPairs(tmp_path, sequences=["seq1"], size=S, pairs_per_sequence=2)) == 2
    with pytest.raises(ValueError, match="at least 2 frames"):
        CO3DPairs(tmp_path, sequences=["lonely"])
    with pytest.raises(FileNotFoundError, match="frame_annotations.jgz"):
        CO3DPairs(tmp_path / "apple" / "seq1")


def test_missing_image_is_named(tmp_path):
    annotations, _, _ = _write_dataset(tmp_path)
    for annotation in annotations[:3]:
        (tmp_path / annotation["image"]["path"]).unlink()
    with pytest.raises(FileNotFoundError, match="images/frame00000"):
        CO3DPairs(tmp_path, size=S)[0]
