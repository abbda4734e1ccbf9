"""encode_camera against the official compute_T fixtures, hand-worked cases and invariants."""

import math

import pytest
import torch

from zeronvs_core.cameras import orbit_camera
from zeronvs_core.conditioning import CAMERA_MODES, camera_dim, encode_camera
from zeronvs_core.scene_scale import viewer_scale

ATOL = 1e-6  # the bar, float64


def _orbit64(elevation_deg, azimuth_deg, distance=1.0):
    return orbit_camera(*(torch.tensor(v, dtype=torch.float64) for v in (elevation_deg, azimuth_deg, distance)))


@pytest.mark.parametrize(
    ("mode", "expected", "scale"),
    [
        ("3dof", "T_3dof", None),
        ("7dof_unscaled", "T_7dof_unscaled", None),
        ("7dof", "T_7dof_norm", "scene_radius"),
        ("7dof_stereomag_scale", "T_7dof_agg", "nearplane_quantile"),
        ("7dof_quantile_scale", "T_viewer_precomputed", "scale"),
    ],
)
def test_every_mode_matches_official_compute_t(official_conditioning, mode, expected, scale):
    data = official_conditioning
    result = encode_camera(
        data["target_c2w"],
        data["cond_c2w"],
        data["fov_deg"],
        mode=mode,
        scale=None if scale is None else data[scale],
    )
    assert result.dtype == torch.float64
    assert result.shape == (24, camera_dim(mode))
    torch.testing.assert_close(result, data[expected], atol=ATOL, rtol=0)


@pytest.mark.parametrize("blend", [True, False])
def test_viewer_mode_with_depth_scale_matches_official(official_conditioning, blend):
    data = official_conditioning
    suffix = "blend" if blend else "noblend"
    scale = viewer_scale(data["depth_cond"], data["mono_disparity"], blend=blend)
    result = encode_camera(data["target_c2w"], data["cond_c2w"], data["fov_deg"], scale=scale)
    torch.testing.assert_close(result, data[f"T_viewer_depth_{suffix}"], atol=ATOL, rtol=0)


@pytest.mark.parametrize("prefix", ["", "extra_"])
def test_tiny_oracle_camera_vectors(tiny_oracle, prefix):
    oracle = tiny_oracle
    result = encode_camera(
        oracle[f"in_{prefix}c2w_target"].double(),
        oracle[f"in_{prefix}c2w_cond"].double(),
        oracle[f"in_{prefix}fov_deg"].double(),
        scale=oracle[f"in_{prefix}precomputed_scale"].double(),
    )
    torch.testing.assert_close(result, oracle[f"{prefix}T"].double(), atol=ATOL, rtol=0)
    float32 = encode_camera(
        oracle[f"in_{prefix}c2w_target"],
        oracle[f"in_{prefix}c2w_cond"],
        oracle[f"in_{prefix}fov_deg"],
        scale=oracle[f"in_{prefix}precomputed_scale"],
    )
    assert float32.dtype == torch.float32
    torch.testing.assert_close(float32, oracle[f"{prefix}T"], atol=ATOL, rtol=0)


def test_spec_test_vector():
    # zeronvs_spec.md 2.3: input at elevation 31, azimuth 0; target at azimuth 90; s 0.7, FOV 52.55.
    cond = _orbit64(31.0, 0.0)
    target = _orbit64(31.0, 90.0)
    result = encode_camera(target, cond, 52.55, scale=0.7)[0]
    expected = torch.tensor(
        [
            0,
            -0.515,
            0.8572,
            0.6092,
            0.515,
            0.7347,
            0.4415,
            0.3149,
            -0.8572,
            0.4415,
            0.2653,
            -0.5229,
            0,
            0,
            0,
            1,
            0.9172,
            0.7939,
            0.6081,
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(result, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("mode", CAMERA_MODES[1:])
def test_identity_relative_pose_gives_identity_block(random_rigid, mode):
    cameras = random_rigid(5, seed=1)
    result = encode_camera(cameras, cameras, 50.0, mode=mode, scale=0.8)
    torch.testing.assert_close(result[:, :16], torch.eye(4, dtype=torch.float64).flatten().expand(5, 16))
    fov = math.radians(50.0)
    torch.testing.assert_close(
        result[:, 16:], torch.tensor([fov, math.sin(fov), math.cos(fov)], dtype=torch.float64).expand(5, 3)
    )


@pytest.mark.parametrize("mode", CAMERA_MODES)
def test_invariant_to_one_rigid_transform_of_both_cameras(random_rigid, mode):
    target, cond = random_rigid(6, seed=2), random_rigid(6, seed=3)
    world_change = random_rigid(1, seed=4, translation_scale=5.0)
    before = encode_camera(target, cond, 45.0, mode=mode, scale=1.3)
    after = encode_camera(world_change @ target, world_change @ cond, 45.0, mode=mode, scale=1.3)
    if mode == "3dof":
        # Zero-1-to-3's spherical coordinates live in the world frame: not invariant, by design.
        assert not torch.allclose(before, after, atol=1e-3)
    else:
        torch.testing.assert_close(after, before, atol=1e-9, rtol=0)


@pytest.mark.parametrize(
    ("cond", "target", "expected"),
    [
        # (elevation, azimuth, distance) of input and target -> [d_polar, sin d_az, cos d_az, d_radius]
        ((30.0, 0.0, 1.0), (30.0, 90.0, 1.0), (0.0, 1.0, 0.0, 0.0)),
        ((30.0, 0.0, 1.0), (10.0, 0.0, 1.0), (math.radians(20.0), 0.0, 1.0, 0.0)),
        ((0.0, 45.0, 2.0), (0.0, -45.0, 1.5), (0.0, -1.0, 0.0, -0.5)),
        (
            (15.0, 170.0, 1.0),
            (45.0, -170.0, 1.2),
            (math.radians(-30.0), math.sin(math.radians(20.0)), math.cos(math.radians(20.0)), 0.2),
        ),
    ],
)
def test_3dof_hand_worked(cond, target, expected):
    cond_c2w = _orbit64(*cond)
    target_c2w = _orbit64(*target)
    result = encode_camera(target_c2w, cond_c2w, 40.0, mode="3dof")[0]
    torch.testing.assert_close(result, torch.tensor(expected, dtype=torch.float64), atol=1e-9, rtol=0)


def test_viewer_squash_and_scale_clip():
    cond = torch.eye(4, dtype=torch.float64)[None]
    target = cond.clone()
    target[0, :3, 3] = torch.tensor([0.2, -3.0, 1e6], dtype=torch.float64)
    result = encode_camera(target, cond, 60.0, scale=0.5)[0]
    expected = 5 * torch.tanh(torch.tensor([0.4, -6.0, 2e6], dtype=torch.float64) / 10)
    torch.testing.assert_close(result[[3, 7, 11]], expected)
    tiny = encode_camera(target, cond, 60.0, scale=1e-4)[0]  # clipped to 1e-2
    torch.testing.assert_close(tiny[3], 5 * torch.tanh(torch.tensor(20.0, dtype=torch.float64) / 10))


def test_stereomag_scale_clipping_and_nan():
    cond = torch.eye(4, dtype=torch.float64).repeat(3, 1, 1)
    target = cond.clone()
    target[:, 0, 3] = 1.0
    result = encode_camera(
        target,
        cond,
        60.0,
        mode="7dof_stereomag_scale",
        scale=torch.tensor([float("nan"), 1000.0, 0.01], dtype=torch.float64),
    )
    torch.testing.assert_close(result[:, 3], torch.tensor([1.0, 0.01, 10.0], dtype=torch.float64))


def test_unscaled_clips_to_twenty():
    cond = torch.eye(4, dtype=torch.float64)[None]
    target = cond.clone()
    target[0, :3, 3] = torch.tensor([50.0, -50.0, 3.0], dtype=torch.float64)
    result = encode_camera(target, cond, 60.0, mode="7dof_unscaled")[0]
    torch.testing.assert_close(result[[3, 7, 11]], torch.tensor([20.0, -20.0, 3.0], dtype=torch.float64))


def test_dtypes_devices_and_gradients(random_rigid):
    target, cond = random_rigid(3, seed=5), random_rigid(3, seed=6)
    reference = encode_camera(target, cond, 50.0, scale=0.7)
    for dtype, atol in [(torch.float32, 1e-5), (torch.float16, 1e-2), (torch.bfloat16, 5e-2)]:
        result = encode_camera(target.to(dtype), cond.to(dtype), 50.0, scale=0.7)
        assert result.dtype == dtype
        torch.testing.assert_close(result.double(), reference, atol=atol, rtol=0)
    target = target.clone().requires_grad_(True)
    scale = torch.full((3,), 0.7, dtype=torch.float64, requires_grad=True)
    encode_camera(target, cond, 50.0, scale=scale).sum().backward()
    assert target.grad is not None and torch.isfinite(target.grad).all() and target.grad.abs().sum() > 0
    assert scale.grad is not None and scale.grad.abs().sum() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda(random_rigid):
    target, cond = random_rigid(3, seed=7), random_rigid(3, seed=8)
    result = encode_camera(target.cuda(), cond.cuda(), 50.0, scale=0.7)
    assert result.device.type == "cuda"
    torch.testing.assert_close(result.cpu(), encode_camera(target, cond, 50.0, scale=0.7))


def _pair():
    return orbit_camera(20.0, 0.0, 1.0), orbit_camera(20.0, 60.0, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "6dof"}, "unknown camera mode '6dof'"),
        ({"fov_deg": 0.0}, "fov_deg must be in \\(0, 180\\)"),
        ({"fov_deg": 180.0}, "fov_deg must be in \\(0, 180\\)"),
        ({"fov_deg": float("nan")}, "fov_deg must be in \\(0, 180\\)"),
        ({"fov_deg": torch.tensor([40.0, 50.0])}, "fov_deg must be a float or have shape \\[B\\]"),
        ({"scale": 0.0}, "scale must be positive"),
        ({"scale": -1.0}, "scale must be positive"),
        ({"scale": float("nan")}, "scale must be finite"),
        ({"scale": None}, "needs a scale"),
        ({"scale": torch.ones(3)}, "scale must be a float or have shape \\[B\\]"),
        ({"mode": "7dof", "scale": 0.0}, "scale must be positive"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    target, cond = _pair()
    arguments = {"fov_deg": 50.0, "scale": 0.7, **kwargs}
    with pytest.raises(ValueError, match=message):
        encode_camera(target, cond, **arguments)


def test_bad_cameras_raise_value_error():
    target, cond = _pair()
    nan = target.clone()
    nan[0, 0, 3] = float("nan")
    with pytest.raises(ValueError, match="target_c2w contains NaN or inf"):
        encode_camera(nan, cond, 50.0, scale=0.7)
    sheared = cond.clone()
    sheared[0, :3, :3] *= 1.5
    with pytest.raises(ValueError, match="cond_c2w\\[0\\] rotation is not orthonormal"):
        encode_camera(target, sheared, 50.0, scale=0.7)
    with pytest.raises(ValueError, match="target_c2w must have shape \\[N, 4, 4\\]"):
        encode_camera(target[0], cond, 50.0, scale=0.7)
    with pytest.raises(ValueError, match="same batch size"):
        encode_camera(target.repeat(2, 1, 1), cond, 50.0, scale=0.7)
