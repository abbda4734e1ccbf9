"""``SyntheticPairs``: the scene cache and supersampling give the same pairs as direct rendering."""

import pytest
import torch

from zeronvs_core.data.synthetic import camera_path, make_scene
from zeronvs_core.data.synthetic_pairs import SyntheticPairs


def test_cached_pairs_match_rendered_pairs_up_to_8_bit_quantisation():
    plain = SyntheticPairs(3, size=16, kinds=("object",), views_per_scene=6, supersample=2)
    cached = SyntheticPairs(3, size=16, kinds=("object",), views_per_scene=6, supersample=2, cache=True)
    for index in (0, 1, 5, 11):
        a, b = plain[index], cached[index]
        for name in ("cond_image", "target_image"):
            assert (getattr(a, name) - getattr(b, name)).abs().max() <= 0.5 / 255 + 1e-6
        torch.testing.assert_close(a.cond_c2w, b.cond_c2w)
        torch.testing.assert_close(a.target_c2w, b.target_c2w)
        assert (a.fov_deg, a.scale) == pytest.approx((b.fov_deg, b.scale))
    assert sorted(cached._orbits) == [0, 1, 2]  # one whole path per scene, rendered once
    assert cached._orbits[0][0].shape == (6, 3, 16, 16) and cached._orbits[0][0].dtype == torch.uint8


def test_supersampled_pairs_differ_from_aliased_ones_and_bad_settings_raise():
    sharp, smooth = SyntheticPairs(1, size=16)[0], SyntheticPairs(1, size=16, supersample=2)[0]
    torch.testing.assert_close(sharp.cond_c2w, smooth.cond_c2w)
    assert (sharp.cond_image - smooth.cond_image).abs().max() > 0.05
    with pytest.raises(ValueError, match="supersample"):
        SyntheticPairs(1, supersample=0)


def _path_index(path: torch.Tensor, c2w: torch.Tensor) -> int:
    return int((path - c2w).flatten(1).abs().amax(1).argmin())


@pytest.mark.parametrize("kind, gap", [("object", 6), ("room", 2)])
def test_max_view_gap_bounds_the_step_between_input_and_target(kind, gap):
    views = 24 if kind == "object" else 8
    pairs = SyntheticPairs(2, size=8, kinds=(kind,), views_per_scene=views, pairs_per_scene=60, max_view_gap=gap)
    seen = set()
    for index in range(len(pairs)):
        scene_index = index // pairs.pairs_per_scene
        path = camera_path(make_scene(kind, scene_index), views, scene_index)
        pair = pairs[index]
        step = _path_index(path, pair.target_c2w) - _path_index(path, pair.cond_c2w)
        if kind == "object":  # a closed orbit: the shorter way round
            step = (step + views // 2) % views - views // 2
        assert step != 0 and abs(step) <= gap
        seen.add(step)
    assert seen == {s for s in range(-gap, gap + 1) if s != 0}  # every allowed step, both ways


def test_max_view_gap_out_of_range_raises():
    with pytest.raises(ValueError, match="max_view_gap"):
        SyntheticPairs(1, views_per_scene=8, max_view_gap=8)
    with pytest.raises(ValueError, match="max_view_gap"):
        SyntheticPairs(1, views_per_scene=8, max_view_gap=0)


def test_twin_of_an_orbit_pair_is_the_target_turned_the_other_way():
    pairs = SyntheticPairs(
        2, size=8, kinds=("object",), views_per_scene=24, pairs_per_scene=12, max_view_gap=6, cache=True
    )
    steps = set()
    for index in range(len(pairs)):
        scene_index = index // pairs.pairs_per_scene
        path = camera_path(make_scene("object", scene_index), 24, scene_index)
        pair, twin = pairs[index], pairs.twin(index)
        torch.testing.assert_close(twin.cond_image, pair.cond_image)
        torch.testing.assert_close(twin.cond_c2w, pair.cond_c2w)
        cond, target, other = (_path_index(path, c2w) for c2w in (pair.cond_c2w, pair.target_c2w, twin.target_c2w))
        step = (target - cond + 12) % 24 - 12
        assert (other - cond + 12) % 24 - 12 == -step  # around the closed orbit
        steps.add(step)
    assert any(s > 0 for s in steps) and any(s < 0 for s in steps)


def test_twin_on_an_open_path_goes_the_other_way_or_is_none_at_the_ends():
    pairs = SyntheticPairs(1, size=8, kinds=("room",), views_per_scene=6, pairs_per_scene=20, lateral=True, cache=True)
    path = camera_path(make_scene("room", 0), 6, 0, lateral=True)
    outcomes = set()
    for index in range(len(pairs)):
        pair, twin = pairs[index], pairs.twin(index)
        cond, target = _path_index(path, pair.cond_c2w), _path_index(path, pair.target_c2w)
        if twin is None:
            assert not 0 <= 2 * cond - target < 6
        else:
            assert _path_index(path, twin.target_c2w) == 2 * cond - target
        outcomes.add(twin is None)
    assert outcomes == {True, False}
    with pytest.raises(IndexError):
        pairs.twin(len(pairs))
