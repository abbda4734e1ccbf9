"""Ray settings and proposal sampling in pure torch: nerfacc's inverse-CDF example, lindisp spacing, concentration on
dense regions, the interval loss."""

import pytest
import torch

from zeronvs_core.nerf.ray_sampling import (
    RaySettings,
    importance_sample,
    proposal_loss,
    s_to_t,
    sample_along_rays,
)


def test_importance_sampling_of_the_nerfacc_example():
    # nerfacc's docstring: [0,1] with CDF [0,0.5] -> edges [0,0.5,1]; [0,1,2] with [0,0.5,1] -> [0,1,2]
    out = importance_sample(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 0.5]]), 2)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.5, 1.0]]))
    out = importance_sample(torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[0.0, 0.5, 1.0]]), 2)
    torch.testing.assert_close(out, torch.tensor([[0.0, 1.0, 2.0]]))


def test_importance_sampling_follows_the_mass():
    edges = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    cdfs = torch.tensor([[0.0, 0.0, 1.0, 1.0]])  # all mass in [1, 2]
    out = importance_sample(edges, cdfs, 4)
    torch.testing.assert_close(out, torch.tensor([[1.0, 1.25, 1.5, 1.75, 2.0]]))


def test_stratified_sampling_is_sorted_seeded_and_inside():
    edges = torch.linspace(0, 1, 9).expand(3, 9)
    cdfs = torch.linspace(0, 1, 9).expand(3, 9)
    first = importance_sample(edges, cdfs, 16, stratified=True, generator=torch.Generator().manual_seed(0))
    again = importance_sample(edges, cdfs, 16, stratified=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(first, again)
    assert (first.diff(dim=-1) >= 0).all() and first.min() >= 0 and first.max() <= 1
    assert not torch.equal(first[0], first[1])


def test_lindisp_is_uniform_in_inverse_depth():
    s = torch.linspace(0, 1, 5, dtype=torch.float64)
    t = s_to_t(s, 0.5, 1000.0)
    assert t[0].item() == 0.5 and abs(t[-1].item() - 1000.0) < 1e-9
    torch.testing.assert_close((1 / t).diff(), torch.full((4,), (1 / 1000 - 1 / 0.5) / 4, dtype=torch.float64))


def _slab(t_starts, t_ends):
    """Density 50 between distances 2 and 3, nothing elsewhere."""
    mid = (t_starts + t_ends) / 2
    return 50.0 * ((mid > 2.0) & (mid < 3.0)).float()


def test_samples_concentrate_where_the_proposal_sees_density():
    t_starts, t_ends, levels, edges = sample_along_rays([_slab], [64], 32, n_rays=4, near=0.5, far=1000.0)
    assert t_starts.shape == t_ends.shape == (4, 32)
    assert (t_starts >= 0.5 - 1e-6).all() and (t_ends <= 1000.0 + 1e-3).all()
    assert torch.equal(t_starts[:, 1:], t_ends[:, :-1])
    mid = (t_starts + t_ends) / 2
    assert ((mid > 1.9) & (mid < 3.1)).float().mean() > 0.8
    assert len(levels) == 1 and levels[0].edges.shape == (4, 65)
    assert edges.shape == (4, 33)


def test_proposal_loss_is_zero_for_a_matching_proposal_and_trains_it():
    t_starts, t_ends, levels, edges = sample_along_rays([_slab], [64], 32, n_rays=2, near=0.5, far=1000.0)
    # transmittance the field would give if it were the slab itself
    optical = _slab(t_starts, t_ends) * (t_ends - t_starts)
    trans = torch.exp(-(optical.cumsum(-1) - optical))
    matching = proposal_loss(edges, trans, levels).item()
    assert matching < 1e-5

    scale = torch.tensor(0.01, requires_grad=True)  # a proposal that sees almost nothing
    _, _, weak_levels, _ = sample_along_rays([lambda a, b: scale * _slab(a, b)], [64], 32, 2, 0.5, 1000.0)
    loss = proposal_loss(edges, trans, weak_levels)
    assert loss.item() > 1e-3 and loss.item() > 100 * matching
    loss.backward()
    assert scale.grad < 0  # more proposal density lowers the loss


def test_ray_settings_default_to_the_official_ones():
    assert RaySettings() == RaySettings(near=0.5, far=1000.0, proposal_samples=64, samples=64)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"near": 2.0, "far": 1.0}, "near and far must satisfy 0 < near < far, got 2.0, 1.0"),
        ({"near": 0.0}, "near and far must satisfy 0 < near < far, got 0.0, 1000.0"),
        ({"far": float("inf")}, "near and far must satisfy 0 < near < far, got 0.5, inf"),
        ({"near": float("nan")}, "near and far must satisfy 0 < near < far, got nan, 1000.0"),
        ({"samples": 0}, "samples must be an integer >= 1 per ray, got 0"),
        ({"proposal_samples": 8.0}, "proposal_samples must be an integer >= 1 per ray, got 8.0"),
        ({"samples": True}, "samples must be an integer >= 1 per ray, got True"),
    ],
)
def test_bad_ray_settings(changes, message):
    with pytest.raises(ValueError) as error:
        RaySettings(**changes)
    assert str(error.value) == message
