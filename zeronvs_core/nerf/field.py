"""The scene field of ZeroNVS's SDS stage (threestudio ``implicit-volume``) and its proposal network.

World units: the input camera sits at distance 1 from the origin (see ``cameras.py``); the bounding box
is ``[-radius, radius]^3`` with ``radius = 2``.

- ``RadianceField``: points are contracted as mip-NeRF 360 (``contract_to_unisphere``) and encoded by a
  hash grid read by two bias-free MLPs. Density ``softplus(raw + 5 (1 - |p| / 0.5))`` (the official
  "blob" bias on the *world* point), albedo ``sigmoid(features)``; analytic normals ``-grad density``.
- ``ProposalNetwork``: *not* contracted: density ``trunc_exp(raw - 1)`` inside the box, 0 outside.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .hash_grid import HashGrid

__all__ = [
    "FieldConfig",
    "GridConfig",
    "ProposalNetwork",
    "RadianceField",
    "contract_to_unisphere",
    "expand_from_unisphere",
    "trunc_exp",
]


@dataclass(frozen=True)
class GridConfig:
    """A tiny-cuda-nn style hash grid (see ``hash_grid.HashGrid``)."""

    n_levels: int = 16
    n_features_per_level: int = 2
    log2_hashmap_size: int = 19
    base_resolution: int = 16
    per_level_scale: float = 1.447269237440378


@dataclass(frozen=True)
class FieldConfig:
    """Architecture of the scene field and the proposal network; defaults are the official ones."""

    radius: float = 2.0
    """Half-side of the bounding box, world units; the contraction's inner region."""
    grid: GridConfig = GridConfig()
    """The field's hash grid (16 levels, 2^19 entries, max resolution about 4096)."""
    mlp_width: int = 32
    """Neurons of each hidden layer of the density and feature MLPs."""
    mlp_hidden_layers: int = 2
    """Hidden layers of each field MLP."""
    density_blob_scale: float = 5.0
    """Density bias at the origin; it falls linearly with distance."""
    density_blob_std: float = 0.5
    """Distance (world units) at which the density bias crosses zero."""
    proposal_grid: GridConfig = GridConfig(5, 2, 17, 16, 1.681792830507429)
    """The proposal network's hash grid (5 levels, max resolution 128)."""
    proposal_mlp_width: int = 64
    """Neurons of the proposal MLP's single hidden layer."""


class _TruncExp(torch.autograd.Function):
    """``exp(x)`` whose gradient uses ``exp(min(x, 15))`` (threestudio/torch-ngp ``trunc_exp``)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x.clamp(max=15.0))


def trunc_exp(x: torch.Tensor) -> torch.Tensor:
    """``exp(x)`` with a gradient clamped at ``x = 15`` for stability."""
    return _TruncExp.apply(x)


def contract_to_unisphere(points: torch.Tensor, radius: float) -> torch.Tensor:
    """World points ``[N,3]`` to ``[0,1]^3``: scale the box to ``[-1,1]``, contract outside the unit
    ball as mip-NeRF 360 (``x -> (2 - 1/|x|) x/|x|``), then map ``[-2,2]`` to ``[0,1]``."""
    x = points / radius
    norm = x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    x = torch.where(norm > 1.0, (2.0 - 1.0 / norm) * (x / norm), x)
    return x / 4.0 + 0.5


def expand_from_unisphere(unit: torch.Tensor, radius: float) -> torch.Tensor:
    """Inverse of ``contract_to_unisphere``: points ``[N,3]`` in ``[0,1]^3`` to world points.

    With ``y = 4 unit - 2``: ``radius * y`` inside the unit ball, ``radius * (y/|y|) / (2 - |y|)`` outside it
    (``|x| = 1 / (2 - |y|)`` inverts ``|y| = 2 - 1/|x|``); points with ``|y| >= 2`` are infinitely far and
    come back as ``inf`` (or NaN on an axis where ``y`` is 0)."""
    y = unit * 4.0 - 2.0
    norm = y.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    outside = (y / norm) / (2.0 - norm).clamp_min(0.0)
    return radius * torch.where(norm > 1.0, outside, y)


def _mlp(n_in: int, n_out: int, width: int, hidden_layers: int) -> nn.Sequential:
    """threestudio ``VanillaMLP``: bias-free linears with ReLU between them, no output activation."""
    layers: list[nn.Module] = []
    for index in range(hidden_layers):
        layers += [nn.Linear(n_in if index == 0 else width, width, bias=False), nn.ReLU()]
    layers.append(nn.Linear(width, n_out, bias=False))
    return nn.Sequential(*layers)


def _grid(config: GridConfig) -> HashGrid:
    return HashGrid(
        n_levels=config.n_levels,
        n_features_per_level=config.n_features_per_level,
        log2_hashmap_size=config.log2_hashmap_size,
        base_resolution=config.base_resolution,
        per_level_scale=config.per_level_scale,
    )


class RadianceField(nn.Module):
    """Density and albedo of the scene at world points (see the module docstring)."""

    def __init__(self, config: FieldConfig = FieldConfig()):
        super().__init__()
        self.config = config
        self.encoding = _grid(config.grid)
        self.density_mlp = _mlp(self.encoding.output_dim, 1, config.mlp_width, config.mlp_hidden_layers)
        self.feature_mlp = _mlp(self.encoding.output_dim, 3, config.mlp_width, config.mlp_hidden_layers)

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(density [N], albedo [N,3] in [0,1])`` at world points ``[N,3]``."""
        encoded = self.encoding(contract_to_unisphere(points, self.config.radius))
        return self._density(points, encoded), torch.sigmoid(self.feature_mlp(encoded))

    def density(self, points: torch.Tensor) -> torch.Tensor:
        """Density ``[N]`` (per world unit) at world points ``[N,3]``."""
        return self._density(points, self.encoding(contract_to_unisphere(points, self.config.radius)))

    def density_and_normals(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(density [N], albedo [N,3], normals [N,3])``; normals are ``-grad density``, normalised,
        differentiable (second order through the hash grid) for the orientation/smoothness losses."""
        with torch.enable_grad():
            points = points.detach().requires_grad_(True) if not points.requires_grad else points
            density, albedo = self(points)
            (gradient,) = torch.autograd.grad(density.sum(), points, create_graph=True)
        return density, albedo, F.normalize(-gradient, dim=-1)

    def _density(self, points: torch.Tensor, encoded: torch.Tensor) -> torch.Tensor:
        blob = self.config.density_blob_scale * (1.0 - points.norm(dim=-1) / self.config.density_blob_std)
        return F.softplus(self.density_mlp(encoded).squeeze(-1) + blob)


class ProposalNetwork(nn.Module):
    """Coarse density for proposal sampling: uncontracted, zero outside ``[-radius, radius]^3``."""

    def __init__(self, config: FieldConfig = FieldConfig()):
        super().__init__()
        self.radius = config.radius
        self.encoding = _grid(config.proposal_grid)
        self.mlp = _mlp(self.encoding.output_dim, 1, config.proposal_mlp_width, 1)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Density ``[N]`` at world points ``[N,3]``."""
        unit = (points + self.radius) / (2.0 * self.radius)
        inside = ((unit >= 0.0) & (unit <= 1.0)).all(dim=-1)
        density = trunc_exp(self.mlp(self.encoding(unit)).squeeze(-1) - 1.0)
        return torch.where(inside, density, torch.zeros_like(density))
