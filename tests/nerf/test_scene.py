"""``Scene.render`` with hand-worked fields: a homogeneous medium gives the Beer-Lambert opacity, the
composited colour and the expected depth of an exponential free path; an empty one shows the background."""

import math

import pytest
import torch
from torch import nn

from zeronvs_core.cameras import orbit_camera
from zeronvs_core.nerf.field import FieldConfig, GridConfig
from zeronvs_core.nerf.ray_sampling import RaySettings
from zeronvs_core.nerf.scene import Scene

SMALL_GRID = GridConfig(2, 2, 10, 4, 1.5)


class _Homogeneous(nn.Module):
    """Density ``sigma`` everywhere (and colour ``albedo`` when given, as a field returns)."""

    def __init__(self, sigma: float, albedo=None):
        super().__init__()
        self.sigma, self.albedo = sigma, albedo

    def forward(self, points):
        density = torch.full((points.shape[0],), self.sigma)
        return density if self.albedo is None else (density, torch.tensor(self.albedo).expand(points.shape[0], 3))


def _scene(sigma: float, albedo=(0.2, 0.4, 0.6)) -> Scene:
    config = FieldConfig(grid=SMALL_GRID, proposal_grid=SMALL_GRID, mlp_width=8, proposal_mlp_width=8)
    scene = Scene(config)
    assert scene.config is config
    scene.field, scene.proposal = _Homogeneous(sigma, albedo), _Homogeneous(sigma)
    return scene


CAMERAS = orbit_camera(torch.tensor([10.0, 20.0]), torch.tensor([0.0, 90.0]), 2.0)


@pytest.mark.parametrize("sigma", [1.0, 3.0])
def test_homogeneous_medium_by_hand(sigma):
    """Between near n and far f: opacity ``1 - exp(-sigma (f - n))``, colour ``albedo * opacity + background
    * (1 - opacity)``, depth ``int t sigma exp(-sigma (t - n)) dt = n + 1/sigma - (f + 1/sigma) exp(-sigma (f - n))``
    (the renderer's midpoint sum of it, to 1e-3)."""
    near, far, background = 0.5, 1.5, torch.tensor([1.0, 1.0, 1.0])
    out = _scene(sigma).render(CAMERAS, 40.0, 3, 4, background, RaySettings(near, far, 16, 32))
    assert out.rgb.shape == (2, 3, 4, 3) and out.depth.shape == out.opacity.shape == (2, 3, 4)
    assert out.normal is None and out.orient is None
    opacity = 1 - math.exp(-sigma * (far - near))
    torch.testing.assert_close(out.opacity, torch.full((2, 3, 4), opacity), rtol=0, atol=1e-5)
    colour = torch.tensor([0.2, 0.4, 0.6]) * opacity + (1 - opacity)
    torch.testing.assert_close(out.rgb, colour.expand(2, 3, 4, 3), rtol=0, atol=1e-5)
    depth = near + 1 / sigma - (far + 1 / sigma) * math.exp(-sigma * (far - near))
    torch.testing.assert_close(out.depth, torch.full((2, 3, 4), depth), rtol=0, atol=1e-3)


def test_empty_scene_shows_each_cameras_background_and_a_zero_offset_changes_nothing():
    scene = _scene(0.0)
    background = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 1.0]])
    out = scene.render(CAMERAS, torch.tensor([40.0, 60.0]), 2, 3, background, RaySettings(0.5, 1000.0))
    torch.testing.assert_close(out.rgb, background[:, None, None, :].expand(2, 2, 3, 3))
    assert torch.equal(out.opacity, torch.zeros(2, 2, 3)) and torch.equal(out.depth, torch.zeros(2, 2, 3))
    dense = _scene(2.0)
    plain = dense.render(CAMERAS, 40.0, 2, 3, background, RaySettings(0.5, 2.0))
    shifted = dense.render(CAMERAS, 40.0, 2, 3, background, RaySettings(0.5, 2.0), ray_offset=torch.zeros(2, 3))
    torch.testing.assert_close(shifted.rgb, plain.rgb, rtol=0, atol=0)
    torch.testing.assert_close(shifted.depth, plain.depth, rtol=0, atol=0)


def test_default_scene_is_the_official_field():
    scene = Scene()
    assert scene.config == FieldConfig()
    assert scene.field.config == FieldConfig()


def test_a_seeded_render_keeps_the_numbers_of_the_thirteen_parameter_signature():
    """Numbers printed by main before ``RaySettings`` for ``render(c2w, 50, 4, 5, background, 0.25, 100.0, 8, 12,
    stratified=True, generator=seed 3)`` of the cpu_smoke field initialised from ``torch.manual_seed(0)``."""
    from zeronvs_core.distill import PRESETS

    torch.manual_seed(0)
    scene = Scene(PRESETS["cpu_smoke"].field)
    out = scene.render(
        orbit_camera(20.0, 30.0, 1.0),
        50.0,
        4,
        5,
        torch.tensor([0.2, 0.3, 0.4]),
        RaySettings(0.25, 100.0, 8, 12),
        stratified=True,
        generator=torch.Generator().manual_seed(3),
    )
    sums = torch.tensor([out.rgb.sum().item(), out.depth.sum().item(), out.opacity.sum().item()])
    torch.testing.assert_close(sums, torch.tensor([25.399534225, 10.684459686, 12.332548141]), rtol=1e-6, atol=0)
    torch.testing.assert_close(out.rgb[0, 1, 2], torch.tensor([0.47341275, 0.48227438, 0.49113724]), rtol=1e-6, atol=0)
    torch.testing.assert_close(out.depth[0, 2, 3], torch.tensor(0.70773053), rtol=1e-6, atol=0)
