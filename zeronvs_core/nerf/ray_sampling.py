"""Proposal sampling along rays in pure PyTorch, with the semantics of nerfacc's ``PropNetEstimator``
(``sampling_type="lindisp"``) and its interval (PDF) loss, so it runs on every device.

Samples live in a normalised coordinate ``s`` in [0,1] that maps to distance ``t`` along the ray;
``lindisp`` spaces them uniformly in inverse depth: ``t = 1 / (s / far + (1 - s) / near)``.
Each proposal level turns the intervals' CDF (``1 - transmittance`` at the edges) into new intervals by
inverse transform sampling; the last set is what the field is rendered on.

This sampler is used on every device, CUDA included, instead of nerfacc's ``PropNetEstimator``: it is
vectorised (``torch.searchsorted``), so it is not where a step's time goes, and its stratified jitter comes
from the run's own generator, which keeps distillation reproducible and resumable to the bit; nerfacc's
CUDA kernel draws from its own random state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "ProposalLevel",
    "RaySettings",
    "draw_jitter",
    "importance_sample",
    "proposal_levels",
    "proposal_loss",
    "s_to_t",
    "sample_along_rays",
]

DensityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``fn(t_starts [R,S], t_ends [R,S]) -> densities [R,S]``: a closure over the rays built by the caller."""


@dataclass(frozen=True)
class RaySettings:
    """How a ``Scene`` samples its rays: the range along each ray and the samples per ray (one proposal level
    of ``proposal_samples``, then ``samples`` for the field). The defaults are the official in-the-wild ones.

    Raises:
        ValueError: unless ``0 < near < far`` (both finite) and both sample counts are integers >= 1.
    """

    near: float = 0.5
    """Near distance of the ray samples, world units (official DTU: 0.25)."""
    far: float = 1000.0
    """Far distance of the ray samples, world units (official DTU: 100)."""
    proposal_samples: int = 64
    """Proposal samples per ray."""
    samples: int = 64
    """Field samples per ray."""

    def __post_init__(self):
        if not (math.isfinite(self.near) and math.isfinite(self.far) and 0.0 < self.near < self.far):
            raise ValueError(f"near and far must satisfy 0 < near < far, got {self.near}, {self.far}")
        for name, value in (("proposal_samples", self.proposal_samples), ("samples", self.samples)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1 per ray, got {value!r}")


@dataclass
class ProposalLevel:
    """One proposal level's intervals and CDF, kept for ``proposal_loss``."""

    edges: torch.Tensor
    """``[R,S+1]`` interval edges in ``s``."""
    cdfs: torch.Tensor
    """``[R,S+1]`` ``1 - transmittance`` at the edges (with gradients to the proposal network)."""


def s_to_t(s: torch.Tensor, near: float, far: float) -> torch.Tensor:
    """Distance along the ray of normalised positions ``s`` in [0,1], uniform in inverse depth."""
    return 1.0 / (s / far + (1.0 - s) / near)


def importance_sample(
    edges: torch.Tensor,
    cdfs: torch.Tensor,
    n_intervals: int,
    stratified: bool = False,
    generator: torch.Generator | None = None,
    jitter: torch.Tensor | None = None,
) -> torch.Tensor:
    """Inverse transform sampling of new interval edges ``[R,n_intervals+1]`` from a piecewise-linear CDF.

    Args:
        edges: ``[R,K+1]`` increasing interval edges.
        cdfs: ``[R,K+1]`` non-decreasing CDF at those edges (need not start at 0 or end at 1).
        n_intervals: intervals per ray in the output.
        stratified: jitter each output edge within its stratum (``(i + u_i) / (n + 1)``); otherwise the
            edges are at evenly spaced CDF values from the first to the last, endpoints included.
        generator: random source of the jitter (drawn on the generator's device; the CPU when ``None``).
        jitter: ``[R,n_intervals+1]`` uniform draws in [0,1) to use instead of drawing them (``draw_jitter``).
    """
    rays = edges.shape[0]
    if stratified:
        if jitter is None:
            (jitter,) = draw_jitter(rays, [], n_intervals, generator)
        jitter = jitter.to(edges.device)
        u = (torch.arange(n_intervals + 1, device=edges.device) + jitter) / (n_intervals + 1)
    else:
        u = torch.linspace(0.0, 1.0, n_intervals + 1, device=edges.device).expand(rays, -1)
    low, high = cdfs[:, :1], cdfs[:, -1:]
    targets = (low + u.to(cdfs.dtype) * (high - low)).contiguous()
    index = (torch.searchsorted(cdfs.contiguous(), targets, right=True) - 1).clamp(0, edges.shape[1] - 2)
    cdf_left, cdf_right = cdfs.gather(1, index), cdfs.gather(1, index + 1)
    edge_left, edge_right = edges.gather(1, index), edges.gather(1, index + 1)
    fraction = ((targets - cdf_left) / (cdf_right - cdf_left).clamp_min(1e-12)).clamp(0.0, 1.0)
    return edge_left + fraction * (edge_right - edge_left)


def draw_jitter(
    n_rays: int, proposal_samples: Sequence[int], n_samples: int, generator: torch.Generator | None = None
) -> list[torch.Tensor]:
    """The uniform draws of a stratified ``sample_along_rays``, in the order it makes them: ``[R,count+1]`` per
    proposal level, then ``[R,n_samples+1]``. Drawn on ``generator``'s device (the CPU when ``None``), so a CUDA
    generator keeps the run free of host-to-device copies; the draws are those of ``torch.rand`` on it."""
    device = generator.device if generator is not None else torch.device("cpu")
    return [torch.rand(n_rays, n + 1, generator=generator, device=device) for n in [*proposal_samples, n_samples]]


def sample_along_rays(
    proposal_fns: Sequence[DensityFn],
    proposal_samples: Sequence[int],
    n_samples: int,
    n_rays: int,
    near: float,
    far: float,
    stratified: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    jitter: Sequence[torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[ProposalLevel], torch.Tensor]:
    """Sample intervals for the field with proposal networks (nerfacc ``PropNetEstimator.sampling``).

    ``jitter`` (stratified only): the draws of ``draw_jitter`` to use instead of drawing from ``generator``;
    the intervals of a ray then depend on that ray's draws alone, so rays can be sampled in chunks.

    Returns:
        ``(t_starts [R,n_samples], t_ends [R,n_samples], levels, edges)``: the final intervals as
        distances, each proposal level for ``proposal_loss``, and the final edges in ``s``.
    """
    if not 0.0 < near < far:
        raise ValueError(f"near and far must satisfy 0 < near < far, got near={near}, far={far}")
    edges = torch.tensor([0.0, 1.0], device=device).expand(n_rays, 2)
    cdfs = edges
    if stratified and jitter is None:
        jitter = draw_jitter(n_rays, proposal_samples, n_samples, generator)
    draws = list(jitter) if stratified else [None] * (len(proposal_fns) + 1)
    levels = []
    for density_fn, count, draw in zip(proposal_fns, proposal_samples, draws, strict=False):
        edges = importance_sample(edges, cdfs.detach(), count, stratified, jitter=draw)
        (level,) = proposal_levels([density_fn], [edges], near, far)
        cdfs = level.cdfs
        levels.append(level)
    edges = importance_sample(edges, cdfs.detach(), n_samples, stratified, jitter=draws[-1])
    t = s_to_t(edges, near, far)
    return t[:, :-1], t[:, 1:], levels, edges


def proposal_levels(
    proposal_fns: Sequence[DensityFn], level_edges: Sequence[torch.Tensor], near: float, far: float
) -> list[ProposalLevel]:
    """The proposal levels at given interval edges ``[R,K+1]`` (in ``s``), their CDFs evaluated with gradients:
    how deferred back-propagation rebuilds the proposal loss's graph for rays sampled earlier without one."""
    levels = []
    for density_fn, edges in zip(proposal_fns, level_edges, strict=True):
        t = s_to_t(edges, near, far)
        densities = density_fn(t[:, :-1], t[:, 1:])
        levels.append(ProposalLevel(edges, _cdf_at_edges(_transmittance(t[:, :-1], t[:, 1:], densities))))
    return levels


def proposal_loss(edges: torch.Tensor, transmittance: torch.Tensor, levels: Sequence[ProposalLevel]) -> torch.Tensor:
    """nerfacc's interval loss: each proposal level's CDF must bound the final weights from above.

    For each final interval with weight ``w`` (from the detached final ``transmittance [R,S]``) and the
    proposal mass ``w_outer`` of the smallest run of proposal intervals covering it:
    ``mean(max(w - w_outer, 0)^2 / (w + 1e-7))``, summed over levels.
    """
    cdfs = _cdf_at_edges(transmittance.detach())
    weights = cdfs[:, 1:] - cdfs[:, :-1]
    loss = torch.zeros((), device=edges.device)
    for level in levels:
        right = torch.searchsorted(level.edges.contiguous(), edges.contiguous(), right=True)
        last = level.edges.shape[1] - 1
        ids_left, ids_right = (right - 1).clamp(0, last)[:, :-1], right.clamp(0, last)[:, 1:]
        outer = level.cdfs.gather(1, ids_right) - level.cdfs.gather(1, ids_left)
        loss = loss + ((weights - outer).clamp_min(0.0) ** 2 / (weights + 1e-7)).mean()
    return loss


def _transmittance(t_starts, t_ends, densities) -> torch.Tensor:
    """``[R,S]`` transmittance before each sample, ``exp(-sum_{j<i} sigma_j dt_j)``."""
    optical_depth = densities * (t_ends - t_starts)
    return torch.exp(-(torch.cumsum(optical_depth, dim=-1) - optical_depth))


def _cdf_at_edges(transmittance: torch.Tensor) -> torch.Tensor:
    """``[R,S+1]`` CDF at the edges, ``1 - [T_0 .. T_{S-1}, 0]``: as nerfacc, whatever the rays do not
    absorb is put in the last interval, so the CDF ends at 1."""
    return 1.0 - torch.cat([transmittance, torch.zeros_like(transmittance[:, :1])], dim=-1)
