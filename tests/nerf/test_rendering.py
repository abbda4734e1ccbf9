"""Volume rendering: nerfacc's worked example and an analytic sphere of constant density."""

import math

import pytest
import torch

from zeronvs_core.nerf.rendering import render_along_rays


def test_weights_of_the_nerfacc_example():
    alphas = torch.tensor([[0.4, 0.8, 0.1]])
    t_starts, t_ends = torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[1.0, 2.0, 3.0]])
    colors = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]])
    out = render_along_rays(t_starts, t_ends, -torch.log1p(-alphas), colors, torch.tensor([0.5, 0.5, 0.5]))
    torch.testing.assert_close(out.weights, torch.tensor([[0.4, 0.48, 0.012]]))
    torch.testing.assert_close(out.transmittance, torch.tensor([[1.0, 0.6, 0.12]]))
    torch.testing.assert_close(out.opacity, torch.tensor([0.892]))
    torch.testing.assert_close(out.depth, torch.tensor([0.4 * 0.5 + 0.48 * 1.5 + 0.012 * 2.5]))
    torch.testing.assert_close(out.rgb, torch.tensor([[0.4 + 0.054, 0.48 + 0.054, 0.012 + 0.054]]))


@pytest.mark.parametrize("impact", [0.0, 0.3])
def test_sphere_of_constant_density(impact):
    """Rays from z = 2 towards -z through a ball of radius 0.5 and density 3 at the origin."""
    sigma, radius, samples = 3.0, 0.5, 6000
    edges = torch.linspace(0.5, 3.5, samples + 1, dtype=torch.float64)[None]
    t_starts, t_ends = edges[:, :-1], edges[:, 1:]
    mid = (t_starts + t_ends) / 2
    points = torch.stack([torch.full_like(mid, impact), torch.zeros_like(mid), 2.0 - mid], dim=-1)
    density = sigma * (points.norm(dim=-1) < radius).double()
    out = render_along_rays(
        t_starts, t_ends, density, torch.ones(*mid.shape, 3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    )

    chord = 2 * math.sqrt(radius**2 - impact**2)
    entry = 2.0 - chord / 2
    absorbed = 1 - math.exp(-sigma * chord)
    # depth = integral of t sigma exp(-sigma (t - entry)) over the chord
    depth = entry * absorbed + 1 / sigma - math.exp(-sigma * chord) * (chord + 1 / sigma)
    assert out.opacity.item() == pytest.approx(absorbed, abs=2e-3)
    assert out.depth.item() == pytest.approx(depth, abs=2e-3)
    assert out.rgb[0, 0].item() == pytest.approx(absorbed, abs=2e-3)  # white ball on black


def test_background_shows_through_empty_space():
    t = torch.linspace(0.1, 1.0, 9)[None]
    out = render_along_rays(t[:, :-1], t[:, 1:], torch.zeros(1, 8), torch.rand(1, 8, 3), torch.tensor([0.2, 0.4, 0.6]))
    torch.testing.assert_close(out.rgb, torch.tensor([[0.2, 0.4, 0.6]]))
    assert out.opacity.item() == 0.0 and out.depth.item() == 0.0
