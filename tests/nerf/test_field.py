"""The scene field and proposal network: contraction, blob density bias, analytic normals, box."""

import math

import pytest
import torch
import torch.nn.functional as F

from zeronvs_core.nerf.field import (
    FieldConfig,
    GridConfig,
    ProposalNetwork,
    RadianceField,
    contract_to_unisphere,
    expand_from_unisphere,
    trunc_exp,
)

SMALL = FieldConfig(grid=GridConfig(4, 2, 12, 4, 2.0), proposal_grid=GridConfig(2, 2, 10, 4, 2.0))


def _zero_mlps(module):
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if "mlp" in name:
                parameter.zero_()
    return module


def test_contraction_keeps_the_box_and_squeezes_the_rest():
    points = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [4.0, 0.0, 0.0], [1e6, 0.0, 0.0]])
    u = contract_to_unisphere(points, radius=2.0)
    # inside the radius-2 ball: x/2/4 + 0.5; outside: (2 - 1/|x/2|)/4 + 0.5
    torch.testing.assert_close(u[:, 0], torch.tensor([0.5, 0.625, 0.75, 0.875, 1.0]), atol=1e-6, rtol=0)
    assert torch.equal(u[:, 1:], torch.full((5, 2), 0.5))
    far = contract_to_unisphere(torch.randn(100, 3) * 1e4, 2.0)
    assert far.min() >= 0 and far.max() <= 1


def test_expansion_inverts_the_contraction():
    unit = torch.tensor([[0.5, 0.5, 0.5], [0.625, 0.5, 0.5], [0.875, 0.5, 0.5], [0.5, 0.5, 0.9375], [1.0, 0.5, 0.5]])
    world = expand_from_unisphere(unit, radius=2.0)
    # |y| = 4 u - 2: 0, 0.5 and 1.5 (outside the unit ball: x = 2 / (2 - 1.5) = 4), 1.75 (x = 8), 2 (infinity)
    torch.testing.assert_close(world[:4], torch.tensor([[0.0, 0, 0], [1, 0, 0], [4, 0, 0], [0, 0, 8]]))
    assert world[4, 0] == math.inf
    points = torch.randn(1000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 5
    torch.testing.assert_close(expand_from_unisphere(contract_to_unisphere(points, 2.0), 2.0), points)


def test_density_is_the_official_blob_when_the_mlp_says_nothing():
    field = _zero_mlps(RadianceField(SMALL))
    points = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, -2.0]])
    density, albedo = field(points)
    expected = F.softplus(torch.tensor([5.0, 0.0, -15.0]))
    torch.testing.assert_close(density, expected)
    torch.testing.assert_close(albedo, torch.full((3, 3), 0.5))


def test_analytic_normals_of_the_blob_point_outwards():
    field = _zero_mlps(RadianceField(SMALL))
    points = torch.tensor([[0.3, 0.0, 0.0], [0.0, -0.2, 0.1]])
    _, _, normals = field.density_and_normals(points)
    torch.testing.assert_close(normals, F.normalize(points, dim=-1))


def test_normal_losses_train_the_hash_grid_through_second_order_gradients():
    field = RadianceField(SMALL)
    points = torch.rand(64, 3, generator=torch.Generator().manual_seed(0)) - 0.5
    _, _, normals = field.density_and_normals(points)
    (normals[:, 2] ** 2).sum().backward()
    assert field.encoding.parameters().__next__().grad.abs().sum() > 0


def test_proposal_density_is_zero_outside_the_box():
    proposal = ProposalNetwork(SMALL)
    points = torch.tensor([[0.0, 0.0, 0.0], [1.9, -1.9, 1.9], [2.1, 0.0, 0.0], [0.0, 0.0, -50.0]])
    density = proposal(points)
    assert (density[:2] > 0).all() and torch.equal(density[2:], torch.zeros(2))
    _zero_mlps(proposal)
    assert proposal(points[:1]).item() == pytest.approx(math.exp(-1.0))


def test_trunc_exp_clamps_its_gradient():
    x = torch.tensor([0.0, 20.0], requires_grad=True)
    trunc_exp(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([1.0, math.exp(15.0)]))


def test_default_config_is_the_official_field():
    config = FieldConfig()
    assert (config.grid.n_levels, config.grid.log2_hashmap_size, config.grid.base_resolution) == (16, 19, 16)
    assert (config.proposal_grid.n_levels, config.proposal_grid.log2_hashmap_size) == (5, 17)
    field = RadianceField(config)
    assert field.encoding.output_dim == 32
    assert all(module.bias is None for module in field.modules() if isinstance(module, torch.nn.Linear))
