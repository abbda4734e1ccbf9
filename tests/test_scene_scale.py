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


def _halves() -> torch.Tensor:
    """Case 6 of issue 24: a 20x20 depth map, 1 on the left half and 4 on the right. The central square
    (2x2) holds 1, 4, 1, 4: an even count whose middle values are 1 and 4."""
    depth = torch.ones(1, 20, 20, dtype=F64)
    depth[..., 10:] = 4.0
    return depth


def _scene(name: str) -> tuple[torch.Tensor, torch.Tensor, float]:
    """``(depth, disparity, scale)`` of one scene: its depth map, its disparity map (up to a factor, as
    monocular estimators give it) and the scale both must give, worked by hand."""
    depth = _halves()
    if name == "case_6":  # centre value sqrt(1 * 4) = 2: relative depth 0.5 and 2, 15 of 25 grid values 0.5
        return depth, 1.0 / depth, 0.5
    if name == "even_centre":  # centre 1, 2, 3, 8: sqrt(2 * 3); the grid (every 4th pixel) is all 5
        depth = torch.full((1, 20, 20), 5.0, dtype=F64)
        depth[0, 9:11, 9:11] = torch.tensor([[1.0, 2.0], [3.0, 8.0]], dtype=F64)
        return depth, 7.0 / depth, 5.0 / 6.0**0.5
    if name == "odd_centre":  # 30x30: a 3x3 centre, median 5 of 1, 2, ..., 9; the grid is all 6
        depth = torch.full((1, 30, 30), 6.0, dtype=F64)
        depth[0, 13:16, 13:16] = torch.arange(1.0, 10.0, dtype=F64).reshape(3, 3)
        return depth, 0.1 / depth, 1.2
    if name == "ties":  # a constant centre: relative depth is the map over that constant
        depth = torch.full((1, 20, 20), 3.0, dtype=F64)
        depth[:, 12:] = 6.0
        return depth, 2.0 / depth, 1.0
    if name == "wide":  # 20x28: cropped to its centre 20x20 (columns 4..23) first, as the photo is
        depth = torch.full((1, 20, 28), 0.01, dtype=F64)  # outside the crop: ignored
        depth[:, :, 4:24] = _halves()[0]
        return depth, 1.0 / depth, 0.5
    if name == "missing_at_centre":  # depth 0 is missing, disparity 0 is sky: neither is the orbit centre
        depth[0, 9, 9] = 0.0  # centre 4, 1, 4: median 4; relative depth 0.25 and 1
        disparity = torch.where(depth > 0, 1.0 / depth, torch.zeros_like(depth))
        return depth, disparity, 0.25
    if name == "near_beyond_the_clip":  # 1e-5 of the centre, 40 % of the map: clipped to 1e-3 in both
        depth[..., :8] = 1e-5
        return depth, 1.0 / depth, 1e-3
    if name == "sky":  # far beyond the clip in depth, 0 in disparity: 1e3 in both
        depth = torch.full((1, 20, 20), 5e4, dtype=F64)
        depth[:, 9:11] = 1.0  # a strip through the centre, between the rows of the grid (every 4th)
        disparity = torch.where(depth < 1e4, 1.0 / depth, torch.zeros_like(depth))
        return depth, disparity, 1e3
    raise KeyError(name)


SCENES = ["case_6", "even_centre", "odd_centre", "ties", "wide", "missing_at_centre", "near_beyond_the_clip", "sky"]


@pytest.mark.parametrize("name", SCENES)
def test_one_scene_gives_one_scale_from_depth_or_disparity(name):
    depth, disparity, expected = _scene(name)
    from_depth = viewer_scale_from_map(depth, "depth")
    torch.testing.assert_close(from_depth, torch.tensor([expected], dtype=F64))
    torch.testing.assert_close(viewer_scale_from_map(disparity, "disparity"), from_depth)
    torch.testing.assert_close(viewer_scale_from_map(37.0 * depth, "depth"), from_depth)  # up to a factor


def test_a_tied_centre_is_its_value_exactly():
    depth = torch.full((1, 40, 40), 2.0)  # float32, a 4x4 centre of equal values: no sqrt(a) sqrt(a) rounding
    depth[:, :16] = 1.0
    assert viewer_scale_from_map(depth, "depth").item() == 0.5
    assert viewer_scale_from_map(1.0 / depth, "disparity").item() == 0.5


def test_scales_of_a_batch_are_those_of_its_maps():
    maps = [_scene(name) for name in ("case_6", "even_centre", "missing_at_centre", "near_beyond_the_clip")]
    depth, disparity = torch.cat([m[0] for m in maps]), torch.cat([m[1] for m in maps])
    expected = torch.tensor([m[2] for m in maps], dtype=F64)
    torch.testing.assert_close(viewer_scale_from_map(depth, "depth"), expected)
    torch.testing.assert_close(viewer_scale_from_map(disparity, "disparity"), expected)


def test_random_scenes_agree_between_depth_and_disparity():
    generator = torch.Generator().manual_seed(3)
    for side in (20, 21, 30, 33):  # central squares of 2, 2, 3, 3 pixels
        depth = 0.5 + 9.5 * torch.rand(4, side, side, generator=generator, dtype=F64)
        torch.testing.assert_close(
            viewer_scale_from_map(1.0 / depth, "disparity"), viewer_scale_from_map(depth, "depth")
        )


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
