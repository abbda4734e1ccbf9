"""Deferred back-propagation of a ``Scene`` render over ray chunks (Zhang et al., "ARF: Artistic Radiance
Fields", ECCV 2022, section 3.3).

``render_deferred`` renders every ray without keeping a graph, chunk by chunk, and keeps each ray's sample
intervals and the jitter they came from; its ``view`` holds the images as leaf tensors (``requires_grad``), on
which the caller computes its image-level losses and calls ``backward()``, which leaves per-pixel gradients
in ``view.rgb.grad`` and the rest. ``backward_deferred`` then re-renders the rays chunk by chunk with the graph,
at the same intervals, and back-propagates ``sum(output * pixel gradient)`` plus the chunk's share of the
proposal loss. Every output of a ray depends on that ray alone, so the parameter gradients are the single
pass's up to the order of summation, and peak graph memory is one chunk's instead of the whole render's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .ray_sampling import ProposalLevel, RaySettings, draw_jitter, proposal_levels, proposal_loss, s_to_t
from .scene import Scene, SceneRender

__all__ = ["DeferredRender", "backward_deferred", "render_deferred"]

_LEAVES = ("rgb", "depth", "opacity", "normal", "orient_rays")


@dataclass
class DeferredRender:
    """A render made without a graph, and what re-rendering its rays with one needs."""

    view: SceneRender
    """The images as leaves (``rgb``, ``depth``, ``opacity``, ``normal``, ``orient_rays`` require grad;
    ``orient`` is computed from ``orient_rays``); ``proposal_loss_inputs`` hold values without gradients."""
    origins: torch.Tensor
    """``[R,3]`` ray origins."""
    directions: torch.Tensor
    """``[R,3]`` unit ray directions."""
    background: torch.Tensor
    """``[R,3]`` background colour of each ray."""
    level_edges: torch.Tensor
    """``[R,P+1]`` the proposal level's interval edges in ``s``."""
    edges: torch.Tensor
    """``[R,S+1]`` the field's interval edges in ``s``."""
    rays: RaySettings
    """The range and samples per ray the render used."""
    normals: bool
    chunk: int
    """Rays per chunk."""


def render_deferred(
    scene: Scene,
    c2w: torch.Tensor,
    fov_deg,
    height: int,
    width: int,
    background: torch.Tensor,
    rays: RaySettings,
    chunk: int,
    stratified: bool = False,
    normals: bool = False,
    generator: torch.Generator | None = None,
    ray_offset: torch.Tensor | None = None,
) -> DeferredRender:
    """``Scene.render`` with the same arguments (and the same draws from ``generator``), computed ``chunk`` rays
    at a time without a graph (normals still use autograd inside a chunk)."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1 ray, got {chunk}")
    origins, directions = scene.rays(c2w, fov_deg, height, width, ray_offset)
    batch, n_rays = c2w.shape[0], origins.shape[0]
    jitter = draw_jitter(n_rays, [rays.proposal_samples], rays.samples, generator) if stratified else None
    background = background.reshape(-1, 3).expand(batch, 3).repeat_interleave(height * width, dim=0)
    parts: dict[str, list[torch.Tensor]] = {}
    for rows in _chunks(n_rays, chunk):
        with torch.no_grad():
            draws = None if jitter is None else [draw[rows] for draw in jitter]
            _, _, levels, edges = scene.sample(origins[rows], directions[rows], rays, stratified, jitter=draws)
            t = s_to_t(edges, rays.near, rays.far)
            out = scene.shade(origins[rows], directions[rows], t[:, :-1], t[:, 1:], background[rows], normals)
        values = {name: getattr(out, name) for name in ("rgb", "depth", "opacity", "normal", "orient")}
        values.update(transmittance=out.transmittance, edges=edges, level_edges=levels[0].edges)
        values.update(level_cdfs=levels[0].cdfs)
        for name, value in values.items():
            if value is not None:
                parts.setdefault(name, []).append(value.detach())
    full = {name: torch.cat(values) for name, values in parts.items()}

    def leaf(name: str, *shape: int) -> torch.Tensor | None:
        value = full.get(name)
        return None if value is None else value.reshape(batch, height, width, *shape).requires_grad_(True)

    orient_rays = leaf("orient")
    count = (full["opacity"] > 0).sum().clamp_min(1)
    view = SceneRender(
        rgb=leaf("rgb", 3),
        depth=leaf("depth"),
        opacity=leaf("opacity"),
        normal=leaf("normal", 3),
        orient=None if orient_rays is None else orient_rays.sum() / count,
        orient_rays=orient_rays,
        proposal_loss_inputs=(
            full["edges"],
            full["transmittance"],
            [ProposalLevel(full["level_edges"], full["level_cdfs"])],
        ),
    )
    return DeferredRender(
        view, origins, directions, background, full["level_edges"], full["edges"], rays, normals, chunk
    )


def backward_deferred(scene: Scene, render: DeferredRender, proposal_weight: float = 1.0) -> None:
    """Accumulate into ``scene``'s parameter gradients what back-propagating the view's leaf gradients (left by
    the caller's ``backward()``; leaves without one are skipped) and ``proposal_weight`` times the proposal
    loss (``ray_sampling.proposal_loss`` of the whole render) would give, one chunk of rays at a time."""
    view, rays = render.view, render.origins.shape[0]
    grads = {}
    for name in _LEAVES:
        value = getattr(view, name)
        if value is not None and value.grad is not None:
            grads["orient" if name == "orient_rays" else name] = value.grad.reshape(rays, -1).squeeze(-1)
    for rows in _chunks(rays, render.chunk):
        origins, directions = render.origins[rows], render.directions[rows]
        levels = proposal_levels(
            [scene.proposal_density(origins, directions)], [render.level_edges[rows]], render.rays.near, render.rays.far
        )
        edges = render.edges[rows]
        t = s_to_t(edges, render.rays.near, render.rays.far)
        out = scene.shade(origins, directions, t[:, :-1], t[:, 1:], render.background[rows], render.normals)
        share = edges.shape[0] / rays  # proposal_loss is a mean over the rays
        total = proposal_weight * share * proposal_loss(edges, out.transmittance, levels)
        for name, grad in grads.items():
            total = total + (getattr(out, name) * grad[rows]).sum()
        total.backward()


def _chunks(rays: int, chunk: int) -> list[slice]:
    return [slice(start, min(start + chunk, rays)) for start in range(0, rays, chunk)]
