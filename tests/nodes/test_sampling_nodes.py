"""The Sampler and Anchor Generator nodes give exactly what the library gives for the same seed, scale and
guidance: the node passes every widget through (a node that dropped ``scale`` or the anchor guidance would
still produce images of the right shape, so the tests compare values)."""

import pytest
import torch

from zeronvs_core.anchors import AnchorConfig, make_anchor_views
from zeronvs_core.camera_set import CameraSet
from zeronvs_core.cameras import orbit_path
from zeronvs_core.sampling import sample_views

SEED, SCALE = 7, 0.45  # neither the defaults (0, official 0.7) nor 1.0, so a dropped value shows


@pytest.fixture
def inputs(comfy, photo):
    (model,) = comfy.execute("ZeroNVS_LoadModel", model_name="tiny-zeronvs.safetensors", device="cpu", precision="fp32")
    cameras = CameraSet(52.55, 31.0, orbit_path(2, 31.0))
    return {"model": model, "image": photo, "cameras": cameras, "scale": SCALE, "seed": SEED}


def _photo(image: torch.Tensor) -> torch.Tensor:
    """The IMAGE ``[1,H,W,3]`` as the library's photo ``[1,3,H,W]``."""
    return image.permute(0, 3, 1, 2).clone()


def test_sampler_node_equals_sample_views(comfy, inputs):
    (views,) = comfy.execute("ZeroNVS_Sampler", **inputs, steps=2, guidance_scale=1.7, eta=1.0)
    cameras = inputs["cameras"]
    expected = sample_views(
        inputs["model"].ready(),
        _photo(inputs["image"]),
        cameras.input_c2w,
        cameras.target_c2w,
        cameras.fov_deg,
        SCALE,
        steps=2,
        guidance_scale=1.7,
        eta=1.0,
        generator=torch.Generator().manual_seed(SEED),
    )
    assert views.shape == (2, 64, 64, 3)
    torch.testing.assert_close(views, expected.clamp(0, 1).permute(0, 2, 3, 1), rtol=0, atol=1e-6)


def test_anchor_generator_node_equals_make_anchor_views(comfy, inputs):
    anchors, views, anchor_cameras = comfy.execute(
        "ZeroNVS_AnchorGenerator", **inputs, count=2, steps=2, guidance_scale=1.3
    )
    cameras = inputs["cameras"]
    expected = make_anchor_views(
        inputs["model"].ready(),
        _photo(inputs["image"]),
        cameras.input_c2w,
        cameras.fov_deg,
        SCALE,
        AnchorConfig(count=2, steps=2, guidance_scale=1.3),
        cameras.elevation_deg,
        generator=torch.Generator().manual_seed(SEED),
    )
    torch.testing.assert_close(anchors.images, expected.images, rtol=0, atol=1e-6)
    torch.testing.assert_close(anchors.c2w, expected.c2w, rtol=0, atol=0)
    torch.testing.assert_close(views, expected.images.clamp(0, 1).permute(0, 2, 3, 1), rtol=0, atol=1e-6)
    torch.testing.assert_close(anchor_cameras.target_c2w, expected.c2w, rtol=0, atol=0)
