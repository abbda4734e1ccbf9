"""Anchor cameras, the nearest-candidate rule on hand-made cameras, and anchor generation."""

import pytest
import torch

from zeronvs_core.anchors import AnchorConfig, anchor_cameras, make_anchor_views, nearest_candidate
from zeronvs_core.cameras import orbit_camera


def _azimuth(c2w):
    return torch.rad2deg(torch.atan2(c2w[:, 1, 3], c2w[:, 0, 3]))


def test_anchor_cameras_are_evenly_spaced_at_the_input_elevation_and_distance():
    c2w = anchor_cameras(3, 20.0, 1.5)
    azimuth = torch.deg2rad(_azimuth(c2w))
    expected = torch.deg2rad(torch.tensor([90.0, 180.0, 270.0]))
    torch.testing.assert_close(
        torch.stack([azimuth.cos(), azimuth.sin()]), torch.stack([expected.cos(), expected.sin()]), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(c2w[:, :3, 3].norm(dim=-1), torch.full((3,), 1.5))
    torch.testing.assert_close(c2w, orbit_camera(20.0, torch.tensor([90.0, 180.0, 270.0]), 1.5))


def test_nearest_candidate_by_rotation_only():
    candidates = torch.cat([orbit_camera(20.0, 0.0, 1.0), anchor_cameras(3, 20.0)])  # input, 90, 180, 270
    targets = orbit_camera(
        torch.tensor([20.0, 20.0, 60.0, 20.0]),
        torch.tensor([100.0, 10.0, 200.0, 280.0]),
        torch.tensor([1.0, 1.0, 1.0, 1.0]),
    )
    assert nearest_candidate(targets, candidates).tolist() == [1, 0, 2, 3]
    far_away = orbit_camera(20.0, 100.0, 5.0)  # same rotation as azimuth 100 at distance 1: same choice
    assert nearest_candidate(far_away, candidates).tolist() == [1]


def test_make_anchor_views_generates_and_embeds(tiny_model, tiny_oracle):
    image = (tiny_oracle["in_x_img"][:1] + 1) / 2
    config = AnchorConfig(count=2, steps=2)
    views = make_anchor_views(
        tiny_model,
        image,
        orbit_camera(20.0, 0.0, 1.0),
        52.55,
        0.7,
        config,
        20.0,
        generator=torch.Generator().manual_seed(0),
    )
    assert views.images.shape == (2, 3, 64, 64) and views.c2w.shape == (2, 4, 4)
    assert views.clip_embedding.shape == (2, 1, 64) and views.concat_latent.shape == (2, 4, 32, 32)
    with torch.no_grad():
        clip, _ = tiny_model.embed_image(views.images * 2 - 1)
    torch.testing.assert_close(views.clip_embedding, clip)


def test_anchor_probability_and_errors():
    assert AnchorConfig().count == 0  # off by default
    assert [AnchorConfig().probability(s) for s in (0, 1000, 2000, 3000)] == [1.0, 0.5, 0.0, 0.0]
    with pytest.raises(ValueError, match="count must be >= 0"):
        AnchorConfig(count=-1)
    with pytest.raises(ValueError, match="depth_threshold must be >= 0"):
        AnchorConfig(depth_threshold=-1.0)
