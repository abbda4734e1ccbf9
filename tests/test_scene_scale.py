"""Viewer scale, scene radius and near-plane quantile: official fixtures and hand-worked cases."""

import numpy as np
import pytest
import torch

from zeronvs_core.scene_scale import (
    align_disparity,
    nearplane_quantile,
    scene_radius,
    viewer_scale,
    viewer_scale_from_map,
)

F64 = torch.float64


@pytest.mark.parametrize("blend", [True, False])
def test_viewer_scale_matches_official(official_conditioning, blend):
    data = official_conditioning
    scale = viewer_scale(data["depth_cond"], data["mono_disparity"], blend=blend)
    expected = data["scale_viewer_depth_blend" if blend else "scale_viewer_depth_noblend"]
    assert scale.shape == (24,) and scale.dtype == F64
    torch.testing.assert_close(scale, expected, atol=1e-6, rtol=0)


def test_blend_matters_on_the_fixture(official_conditioning):
    data = official_conditioning
    blended = viewer_scale(data["depth_cond"], data["mono_disparity"], blend=True)
    plain = viewer_scale(data["depth_cond"], data["mono_disparity"], blend=False)
    assert (blended - plain).abs().max() > 1e-3


def test_constant_and_ramp_depth():
    torch.testing.assert_close(viewer_scale(torch.full((2, 16, 16), 3.0, dtype=F64)), torch.full((2,), 3.0, dtype=F64))
    ramp = torch.arange(64, dtype=F64).reshape(1, 8, 8) + 1  # subsampled ::4 grid: 1, 5, 33, 37
    torch.testing.assert_close(viewer_scale(ramp), torch.quantile(torch.tensor([1.0, 5, 33, 37], dtype=F64), 0.2)[None])


def test_without_disparity_only_valid_pixels_count():
    depth = torch.full((1, 8, 8), 2.0, dtype=F64)
    depth[0, 0, 0] = 0.0  # a missing sample on the ::4 grid must not pull the quantile to 0
    depth[0, 4, 4] = 10.0
    torch.testing.assert_close(viewer_scale(depth), torch.tensor([2.0], dtype=F64))


def test_without_disparity_sparse_depth_falls_back_to_all_valid_pixels():
    depth = torch.zeros(2, 8, 8, dtype=F64)
    depth[0, 1, 1], depth[0, 2, 3] = 4.0, 6.0  # nothing on the ::4 grid of image 0
    depth[1] = 1.5
    expected = torch.tensor([torch.quantile(torch.tensor([4.0, 6.0], dtype=F64), 0.2).item(), 1.5], dtype=F64)
    torch.testing.assert_close(viewer_scale(depth), expected)


def test_alignment_recovers_an_affine_disparity():
    generator = torch.Generator().manual_seed(0)
    true_depth = 0.5 + 4 * torch.rand(2, 16, 16, generator=generator, dtype=F64)
    mono = 3.0 * (1 / true_depth) - 0.2  # an affine function of the true disparity
    depth = torch.where(torch.rand(2, 16, 16, generator=generator) < 0.6, true_depth, torch.zeros_like(true_depth))
    torch.testing.assert_close(align_disparity(mono, depth), true_depth)
    torch.testing.assert_close(viewer_scale(depth, mono, blend=False), viewer_scale(true_depth))
    torch.testing.assert_close(viewer_scale(depth, mono, blend=True), viewer_scale(true_depth))


def test_singular_alignment_follows_the_official_rule():
    depth = torch.zeros(1, 4, 4, dtype=F64)
    depth[0, 0, 0] = 2.0  # one valid pixel: the 2x2 system is singular, scale = shift = 0
    mono = torch.rand(1, 4, 4, dtype=F64)
    aligned = align_disparity(mono, depth)
    torch.testing.assert_close(aligned, torch.full_like(aligned, 1000.0))  # disparity clipped to 1e-3
    blended = viewer_scale(depth, mono, blend=True)  # the ::4 grid is pixel (0, 0) only
    torch.testing.assert_close(blended, torch.tensor([2.0], dtype=F64))


def test_half_precision_and_integer_depth():
    depth = torch.full((1, 8, 8), 2.5, dtype=torch.float16)
    assert viewer_scale(depth).dtype == torch.float32
    torch.testing.assert_close(viewer_scale(torch.full((1, 8, 8), 7, dtype=torch.int32)), torch.tensor([7.0]))


@pytest.mark.parametrize(
    ("depth", "disparity", "message"),
    [
        (torch.zeros(2, 8, 8), None, "no valid \\(non-zero\\) pixel in image\\(s\\) \\[0, 1\\]"),
        (torch.zeros(1, 8, 8), torch.ones(1, 8, 8), "no valid"),
        (-torch.ones(1, 8, 8), None, "depth must be >= 0"),
        (torch.full((1, 8, 8), float("nan")), None, "depth contains NaN or inf"),
        (torch.ones(8, 8), None, "depth must have shape \\[B, H, W\\], got \\(8, 8\\)"),
        (torch.ones(1, 8, 8), torch.ones(1, 4, 4), "mono_disparity must have the shape of depth"),
        (torch.ones(1, 8, 8), torch.full((1, 8, 8), float("inf")), "mono_disparity contains NaN or inf"),
    ],
)
def test_bad_depth_raises_value_error(depth, disparity, message):
    with pytest.raises(ValueError, match=message):
        viewer_scale(depth, disparity)


def test_scene_radius_hand_worked():
    c2w = torch.eye(4, dtype=F64).repeat(4, 1, 1)
    c2w[:, :3, 3] = torch.tensor([[6.0, 5, 5], [4, 5, 5], [5, 7, 5], [5, 3, 5]], dtype=F64)
    torch.testing.assert_close(scene_radius(c2w), torch.tensor(1.5, dtype=F64))
    with pytest.raises(ValueError, match="c2w must have shape"):
        scene_radius(torch.eye(4))


def test_nearplane_quantile_matches_numpy():
    generator = torch.Generator().manual_seed(1)
    depths = 1 + 5 * torch.rand(5, 10, 10, generator=generator, dtype=F64)
    depths[depths < 2] = 0  # holes
    depths[3] = 0  # a view without depth is skipped
    arrays = depths.numpy()
    per_view = [np.quantile(view[view != 0], 0.05) for view in arrays if (view != 0).any()]
    torch.testing.assert_close(nearplane_quantile(depths), torch.tensor(np.quantile(per_view, 0.1), dtype=F64))
    with pytest.raises(ValueError, match="no valid \\(non-zero\\) pixel in any view"):
        nearplane_quantile(torch.zeros(2, 4, 4))


def test_scale_from_a_map_is_measured_against_the_centre():
    depth = torch.full((1, 30, 40), 4.0, dtype=F64)  # cropped to the centre 30 x 30 (columns 5..34)
    depth[:, :12] = 2.0  # the top 40% is twice as near as the centre
    depth[:, :, :5] = 0.1  # outside the square crop: ignored
    torch.testing.assert_close(viewer_scale_from_map(depth, "depth"), torch.tensor([0.5], dtype=F64))
    torch.testing.assert_close(viewer_scale_from_map(7.0 / depth, "disparity"), torch.tensor([0.5], dtype=F64))
    sky = 1.0 / depth
    sky[:, 20:] = 0.0  # infinitely far below the centre rows: the near quantile does not move
    torch.testing.assert_close(viewer_scale_from_map(sky, "disparity"), torch.tensor([0.5], dtype=F64))


@pytest.mark.parametrize(
    ("values", "kind", "message"),
    [
        (torch.ones(1, 8, 8), "metric", "kind must be"),
        (-torch.ones(1, 8, 8), "depth", "must be >= 0"),
        (torch.zeros(1, 8, 8), "disparity", "0 everywhere at the centre of map"),
        (torch.ones(8, 8), "depth", r"\[B, H, W\]"),
    ],
)
def test_bad_maps(values, kind, message):
    with pytest.raises(ValueError, match=message):
        viewer_scale_from_map(values, kind)
