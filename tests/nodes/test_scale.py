"""Scene Normalizer: a constant, or the library's scale of a depth or disparity map given as IMAGE or MASK."""

import pytest
import torch

from zeronvs_core.scene_scale import viewer_scale_from_map


def _depth() -> torch.Tensor:
    """``[1,40,40]``: depth 2 (the centre's) with the top 16 rows nearer, at 1."""
    depth = torch.full((1, 40, 40), 2.0)
    depth[:, :16] = 1.0
    return depth


def test_constant_and_maps(comfy):
    assert comfy.execute("ZeroNVS_SceneNormalizer", mode="constant", scale=0.7) == (0.7,)
    disparity = 1.0 / _depth()
    expected = float(viewer_scale_from_map(disparity, "disparity"))
    image = (disparity / disparity.max())[..., None].expand(-1, -1, -1, 3)
    (from_image,) = comfy.execute("ZeroNVS_SceneNormalizer", mode="disparity", scale=0.7, map_image=image)
    (from_mask,) = comfy.execute("ZeroNVS_SceneNormalizer", mode="disparity", scale=0.7, map_mask=disparity[0])
    assert from_image == pytest.approx(expected) and from_mask == pytest.approx(expected) and expected == 0.5


@pytest.mark.parametrize(
    ("maps", "message"),
    [
        ({}, "connect exactly one"),
        ({"map_image": torch.ones(1, 8, 8, 3), "map_mask": torch.ones(1, 8, 8)}, "connect exactly one"),
        ({"map_mask": torch.ones(2, 8, 8)}, "one map is expected"),
        ({"map_image": torch.ones(8, 8)}, "ComfyUI IMAGE"),
    ],
)
def test_bad_maps_are_clear_errors(comfy, maps, message):
    with pytest.raises(ValueError, match=message):
        comfy.execute("ZeroNVS_SceneNormalizer", mode="depth", scale=0.7, **maps)
