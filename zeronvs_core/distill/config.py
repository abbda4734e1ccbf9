"""Distillation settings: ``DistillConfig`` (the official in-the-wild recipe by default), the named
``PRESETS``, and ``preset``, the one way callers turn a preset name into a config."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, replace
from typing import Literal

from ..anchors import AnchorConfig
from ..nerf.field import FieldConfig, GridConfig
from ..nerf.ray_sampling import RaySettings
from ..schedules import CameraRanges, Ramp

__all__ = ["OFFICIAL", "PRESETS", "DistillConfig", "preset", "with_steps"]


@dataclass(frozen=True)
class DistillConfig:
    """SDS distillation settings; the defaults are the official in-the-wild recipe."""

    steps: int = 4000
    """Optimisation steps."""
    guidance_scale: float = 9.5
    """CFG scale of SDS (9.5 in the wild and Mip-NeRF 360, 7.5 for DTU)."""
    batch_sizes: tuple[int, int] = (6, 1)
    """Random SDS cameras per step before and after ``switch_step``."""
    render_sizes: tuple[int, int] = (128, 256)
    """Square render size (SDS and input view) before and after ``switch_step``, pixels."""
    switch_step: int = 2000
    """Step at which batch and resolution switch."""
    rays: RaySettings = RaySettings()
    """Range along the rays and samples per ray (the rendered scene keeps them: ``render.settings_for``)."""
    input_ray_noise: float = 2e-3
    """Std of one constant random offset of the input view's ray origins and directions per render size."""
    field: FieldConfig = FieldConfig()
    """Field and proposal network architecture."""
    cameras: CameraRanges = CameraRanges()
    """Random SDS camera distribution."""
    min_step_percent: Ramp = Ramp(0, 0.75, 0.02, 1000)
    """Lower end of the timestep range as a fraction of 1000, by step."""
    max_step_percent: Ramp = Ramp(1000, 0.98, 0.025, 2500)
    """Upper end of the timestep range as a fraction of 1000, by step."""
    anisotropic_offset: float | None = 1000.0
    """Steps by which views facing away from the input anneal later; ``None`` turns it off (DTU)."""
    background: Literal["random", "black"] = "random"
    """Training background: a random colour per render (in the wild) or black (DTU)."""
    lambda_sds: float = 0.1
    """Weight of the SDS loss (``losses.loss_weights`` maps each term to its weight)."""
    lambda_rgb: float = 1500.0
    """Weight of the input view's mean squared colour error."""
    lambda_normal_smooth: float = 8.0
    """Weight of the normal-smoothness regulariser."""
    lambda_orient: float = 5.0
    """Weight of the orientation regulariser."""
    lambda_opaque: float = 0.0
    """Weight of the opacity entropy (0.1 for DTU)."""
    lr: float = 0.005
    """Adam learning rate of the field (betas 0.9, 0.99; eps 1e-8) and of the proposal network."""
    anchoring: AnchorConfig = AnchorConfig()
    """SDS anchoring; off (``count = 0``) as in the official scripts. Serialised under the key ``"anchors"``
    (``to_record``, ``to_json``), its name before issue 22, so that existing checkpoints and runs keep resuming."""
    checkpoint_every: int = 500
    """Write a checkpoint every this many steps (and when stopped)."""
    seed: int = 0
    """Seed of the run's random generator."""
    memory_budget_gib: float | Literal["auto"] | None = "auto"
    """GiB the autograd graph of a step's renders may take. A step whose renders would take more (bytes saved per
    ray, counted once on a probe render, times ``GRAPH_OVERHEAD``, times the rays) uses deferred
    back-propagation (``nerf.deferred``) over ray chunks that fit; the gradient is the single pass's up to the
    order of summation, at about 1.4x the render time. ``None``: always a single pass. ``"auto"``: 80 % of
    the free CUDA memory on CUDA, a single pass on the CPU (``device_runtime.memory_budget_bytes``)."""

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if min(self.batch_sizes) < 1 or min(self.render_sizes) < 8:
            raise ValueError(
                f"batch_sizes must be >= 1 and render_sizes >= 8, got {self.batch_sizes}, {self.render_sizes}"
            )
        if self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")
        budget = self.memory_budget_gib
        if not (
            budget is None
            or budget == "auto"
            or (isinstance(budget, int | float) and not isinstance(budget, bool) and budget > 0)
        ):
            raise ValueError(f"memory_budget_gib must be None, 'auto' or a positive number of GiB, got {budget!r}")

    def to_record(self) -> dict:
        """The config as nested dicts (``dataclasses.asdict``) with ``anchoring`` under its former key
        ``"anchors"``: what ``run.json`` records, so that runs recorded before the rename keep resuming."""
        data = dataclasses.asdict(self)
        data["anchors"] = data.pop("anchoring")
        return data

    def to_json(self) -> str:
        """The config as sorted JSON, the identity a checkpoint records: ``to_record`` with ``rays``' fields at
        the top level, as before ``RaySettings`` existed, so checkpoints of format ``zeronvs-distill-2`` keep
        resuming."""
        data = self.to_record()
        data.update(data.pop("rays"))
        return json.dumps(data, sort_keys=True)


def with_steps(config: DistillConfig, steps: int, **changes) -> DistillConfig:
    """``config`` with ``steps`` and every step milestone scaled by ``steps / config.steps``."""
    k = steps / config.steps

    def ramp(r: Ramp) -> Ramp:
        return Ramp(round(r.start_step * k), r.start, r.end, round(r.end_step * k))

    return replace(
        config,
        steps=steps,
        switch_step=round(config.switch_step * k),
        cameras=replace(config.cameras, progressive_until=round(config.cameras.progressive_until * k)),
        min_step_percent=ramp(config.min_step_percent),
        max_step_percent=ramp(config.max_step_percent),
        anisotropic_offset=None if config.anisotropic_offset is None else config.anisotropic_offset * k,
        anchoring=replace(config.anchoring, probability=ramp(config.anchoring.probability)),
        checkpoint_every=max(1, round(config.checkpoint_every * k)),
        **changes,
    )


OFFICIAL = DistillConfig()
PRESETS: dict[str, DistillConfig] = {
    "official": OFFICIAL,
    "official_dtu": replace(
        OFFICIAL,
        guidance_scale=7.5,
        rays=RaySettings(near=0.25, far=100.0),
        anisotropic_offset=None,
        background="black",
        lambda_opaque=0.1,
    ),
    "fast": with_steps(OFFICIAL, 1000, render_sizes=(64, 128)),
    "cpu_smoke": with_steps(
        OFFICIAL,
        200,
        batch_sizes=(1, 1),
        render_sizes=(16, 24),
        rays=RaySettings(proposal_samples=16, samples=16),
        lambda_normal_smooth=0.0,
        lambda_orient=0.0,
        field=FieldConfig(grid=GridConfig(8, 2, 14, 8, 1.5), proposal_grid=GridConfig(4, 2, 12, 8, 1.5)),
    ),
}
"""Named recipes: ``official`` (the paper), ``official_dtu`` (DTU: black background, opacity loss),
``fast`` (1000 steps at half resolution, schedules scaled; for a GPU) and ``cpu_smoke`` (200 steps at 16 then 24 pixels,
16 + 16 samples, no normal losses: their second-order gradients double the CPU step time)."""


def preset(name: str, steps: int | None = None, **overrides) -> DistillConfig:
    """The recipe ``PRESETS[name]``, shortened or lengthened to ``steps`` (every step milestone scaled, see
    ``with_steps``; ``None`` keeps the preset's), with ``overrides`` (``DistillConfig`` fields) on top.

    Raises:
        ValueError: an unknown ``name`` (the message names the choices), ``steps < 1``, an override that is
            not a ``DistillConfig`` field, or an invalid resulting config.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(DistillConfig)})
    if unknown:
        raise ValueError(f"preset overrides must be DistillConfig fields, got {', '.join(unknown)}")
    if steps is None:
        return replace(PRESETS[name], **overrides)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return with_steps(PRESETS[name], steps, **overrides)
