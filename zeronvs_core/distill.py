"""SDS distillation of a ZeroNVS model into a ``Scene`` (spec section 5), with optional anchoring.

Every step renders a batch of random cameras and the input camera, then minimises
``0.1 SDS + 1500 RGB(input view) + 8 normal-smoothness + 5 orientation (+ opacity entropy for DTU)``
with Adam, and trains the proposal network on nerfacc's interval loss. World: the input camera at
the input elevation, azimuth 0, distance 1, looking at the origin (z up; see ``cameras.py``).

Everything random draws from one ``torch.Generator`` (seeded by the config), so a run is reproducible
on one device, and a checkpoint (scene, both optimisers, step, generator state, losses, anchors)
resumes it exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from .anchors import AnchorConfig, Anchors, anchor_cameras, make_anchors, nearest_candidate
from .cameras import orbit_camera, validate_fov_deg
from .conditioning import encode_camera
from .device_runtime import PhaseClock, device_generator, memory_budget_bytes, to_device
from .fingerprint import photo_sha256, weights_sha256
from .images import prepare_image
from .model import ZeroNVSModel
from .nerf.deferred import DeferredRender, backward_deferred, render_deferred
from .nerf.field import FieldConfig, GridConfig
from .nerf.graph_memory import count_saved_bytes
from .nerf.ray_sampling import proposal_loss
from .nerf.scene import Scene, SceneRender
from .noise_schedule import add_noise, alphas_cumprod
from .schedules import CameraRanges, Ramp, sample_cameras, sample_timesteps

__all__ = ["DistillConfig", "DistillResult", "PRESETS", "distill", "sds_loss", "with_steps"]

ProgressCallback = Callable[[int, int, torch.Tensor], None]
"""``callback(step, total, preview)`` after each step; ``preview`` is the input-view render ``[3,H,W]``
in [0,1]. It may raise to stop: a checkpoint of the last finished step is written first."""

CHECKPOINT_NAME = "last.ckpt"
_CHECKPOINT_FORMAT = "zeronvs-distill-2"
READBACK_EVERY = 20
"""Loss values are read back from the device (one synchronisation) every this many steps, at checkpoints
and at the end; ``DistillResult.history`` is complete when ``distill`` returns."""
GRAPH_OVERHEAD = 2.0
"""Factor from the bytes autograd saves per ray (counted on a probe render) to the bytes a chunk needs with
forward temporaries and backward scratch (the memory budget divides by the product)."""


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
    near: float = 0.5
    """Near distance of the ray samples, world units."""
    far: float = 1000.0
    """Far distance of the ray samples, world units."""
    proposal_samples: int = 64
    """Proposal samples per ray."""
    samples: int = 64
    """Field samples per ray."""
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
    lambda_rgb: float = 1500.0
    lambda_normal_smooth: float = 8.0
    lambda_orient: float = 5.0
    lambda_opaque: float = 0.0
    """Loss weights (``lambda_opaque`` = 0.1 for DTU)."""
    lr: float = 0.005
    """Adam learning rate of the field (betas 0.9, 0.99; eps 1e-8) and of the proposal network."""
    anchors: AnchorConfig = AnchorConfig()
    """SDS anchoring; off (``count = 0``) as in the official scripts."""
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
        if not 0.0 < self.near < self.far:
            raise ValueError(f"near and far must satisfy 0 < near < far, got {self.near}, {self.far}")
        if self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")
        budget = self.memory_budget_gib
        if not (
            budget is None
            or budget == "auto"
            or (isinstance(budget, int | float) and not isinstance(budget, bool) and budget > 0)
        ):
            raise ValueError(f"memory_budget_gib must be None, 'auto' or a positive number of GiB, got {budget!r}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


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
        anchors=replace(config.anchors, probability=ramp(config.anchors.probability)),
        checkpoint_every=max(1, round(config.checkpoint_every * k)),
        **changes,
    )


OFFICIAL = DistillConfig()
PRESETS: dict[str, DistillConfig] = {
    "official": OFFICIAL,
    "official_dtu": replace(
        OFFICIAL,
        guidance_scale=7.5,
        near=0.25,
        far=100.0,
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
        proposal_samples=16,
        samples=16,
        lambda_normal_smooth=0.0,
        lambda_orient=0.0,
        field=FieldConfig(grid=GridConfig(8, 2, 14, 8, 1.5), proposal_grid=GridConfig(4, 2, 12, 8, 1.5)),
    ),
}
"""Named recipes: ``official`` (the paper), ``official_dtu`` (DTU: black background, opacity loss),
``fast`` (1000 steps at half resolution, schedules scaled; for a GPU) and ``cpu_smoke`` (200 steps at 16 then 24 pixels,
16 + 16 samples, no normal losses: their second-order gradients double the CPU step time)."""


@dataclass
class DistillResult:
    """What ``distill`` returns."""

    scene: Scene
    step: int
    """Steps done (== config.steps unless stopped)."""
    history: list[dict[str, float]] = field(default_factory=list)
    """Loss terms of every step."""
    anchors: Anchors | None = None
    stopped: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent in this call per phase: render, prior (VAE encode, UNet, SDS), backward, optimiser
    (empty unless timed: see ``distill``'s ``phase_timing``)."""
    start_step: int = 0
    """Step this call started from: the checkpoint's step when resumed, else 0."""


def sds_loss(latents: torch.Tensor, noise: torch.Tensor, eps_guided: torch.Tensor, alphas_cumprod_t: torch.Tensor):
    """Score distillation: ``0.5 sum(z - stopgrad(z - g))^2 / B`` with ``g = w(t) (eps_guided - noise)``,
    ``w(t) = 1 - alpha_bar_t``, so the gradient reaching ``latents [B,4,h,w]`` is ``g / B``."""
    weight = (1.0 - alphas_cumprod_t).view(-1, 1, 1, 1)
    grad = torch.nan_to_num(weight * (eps_guided - noise))
    target = (latents - grad).detach()
    return 0.5 * F.mse_loss(latents, target, reduction="sum") / latents.shape[0]


def distill(
    model: ZeroNVSModel,
    image: torch.Tensor,
    fov_deg: float,
    elevation_deg: float,
    scale: float,
    config: DistillConfig | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    callback: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    anchors: Anchors | None = None,
    phase_timing: bool | None = None,
) -> DistillResult:
    """Distil ``model``'s novel views of ``image`` into a 3D scene.

    Args:
        model: the diffusion model (its device is used).
        image: ``[1,C,H,W]`` photo in [0,1] (any size; centre-cropped to a square).
        fov_deg: vertical FOV of the square crop, degrees.
        elevation_deg: the input camera's elevation, degrees (31 in the official example).
        scale: the viewer scale s (0.7 for photos in the wild).
        config: the recipe (see ``PRESETS``); ``None`` is ``PRESETS["official"]``, the paper's in-the-wild
            recipe: 4000 steps, 6 views of 128 px then 1 of 256 px per step, made for a GPU.
        checkpoint_dir: where ``last.ckpt`` is written every ``config.checkpoint_every`` steps and when
            stopped; ``None`` writes none. The checkpoint records the config, the camera settings and the
            SHA-256 of the photo (``fingerprint.photo_sha256``) and of the model's weights
            (``fingerprint.weights_sha256``).
        resume: continue from ``checkpoint_dir/last.ckpt`` when it exists.
        callback: see ``ProgressCallback``.
        should_stop: asked after every step; ``True`` writes a checkpoint and returns (``stopped``).
        anchors: anchor views made beforehand by ``make_anchors`` (for this image, FOV, scale and
            elevation) instead of generating ``config.anchors.count`` of them; their count must be that count.
        phase_timing: fill ``DistillResult.timings``; ``None``: on the CPU (``perf_counter``, free) but not on
            CUDA, where it records CUDA events (read back with the losses, every ``READBACK_EVERY`` steps).

    Raises:
        ValueError: bad camera settings or anchors; on ``resume``, a checkpoint written with another
            config, camera, photo or model (the message names which).
    """
    config = OFFICIAL if config is None else config
    validate_fov_deg(torch.tensor([float(fov_deg)]))
    if not -90.0 < elevation_deg < 90.0:
        raise ValueError(f"elevation_deg must be in (-90, 90), got {elevation_deg}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if anchors is not None:
        _check_anchors(anchors, config.anchors.count, elevation_deg)
    timed = model.device.type == "cpu" if phase_timing is None else phase_timing
    run = _Run(model, image, fov_deg, elevation_deg, scale, config, timed)
    path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    if resume and path is not None and path.is_file():
        run.load(path)
        run.start_step = run.step
    elif anchors is not None:
        run.anchors = anchors
    elif config.anchors.count > 0:
        run.anchors = make_anchors(
            model, image, run.input_c2w, fov_deg, scale, config.anchors, elevation_deg, generator=run.generator
        )
    try:
        while run.step < config.steps:
            preview = run.train_step()
            if path is not None and (run.step % config.checkpoint_every == 0 or run.step == config.steps):
                run.save(path)
            if callback is not None:
                callback(run.step, config.steps, preview)
            if should_stop is not None and should_stop() and run.step < config.steps:
                if path is not None:
                    run.save(path)
                return run.result(stopped=True)
    except BaseException:
        if path is not None and run.step > 0:
            run.save_interrupted(path)
        raise
    return run.result(stopped=False)


class _Run:
    """State of one distillation: scene, optimisers, generator, conditioning, step."""

    def __init__(self, model, image, fov_deg, elevation_deg, scale, config: DistillConfig, timed: bool = True):
        self.model, self.config, self.fov_deg, self.scale = model, config, float(fov_deg), float(scale)
        self.elevation_deg = float(elevation_deg)
        device = model.device
        self.generator = torch.Generator().manual_seed(config.seed)
        self.device_generator = device_generator(self.generator, device)  # per-ray jitter, SDS and VAE noise
        with torch.random.fork_rng(devices=[]):  # seed the field's initialisation, leave the global RNG alone
            torch.manual_seed(config.seed)
            self.scene = Scene(config.field).to(device)
        self.optimizer = torch.optim.Adam(self.scene.field.parameters(), lr=config.lr, betas=(0.9, 0.99), eps=1e-8)
        self.proposal_optimizer = torch.optim.Adam(
            self.scene.proposal.parameters(), lr=config.lr, eps=1e-15, weight_decay=1e-6
        )
        self.image = image
        self.input_c2w = orbit_camera(self.elevation_deg, 0.0, 1.0).to(device)
        with torch.no_grad():
            square = prepare_image(image, model.config.resolution).to(device)
            self.clip_embedding, self.concat_latent = model.embed_image(square * 2.0 - 1.0)
        self.alphas_cumprod = alphas_cumprod(model.config).to(device)
        self.anchors: Anchors | None = None
        self._anchor_guidance = torch.zeros(0, dtype=torch.bool)  # per SDS camera: nearest is an anchor
        self.ray_offsets: dict[int, torch.Tensor] = {}
        self._phase: Literal["idle", "computing", "updating"] = "idle"
        self._step_start = (self._generator_states(), {})
        self.timings = {"render": 0.0, "prior": 0.0, "backward": 0.0, "optimiser": 0.0} if timed else {}
        self.clock = PhaseClock(self.timings, device, timed)
        self._budget = memory_budget_bytes(config.memory_budget_gib, device)
        self._bytes_per_ray: int | None = None
        self.step = self.start_step = 0
        self.history: list[dict[str, float]] = []
        self._pending: list[dict[str, torch.Tensor]] = []  # loss values of steps not yet read back
        self._targets: dict[int, torch.Tensor] = {}

    def train_step(self) -> torch.Tensor:
        config, device = self.config, self.model.device
        phase = int(self.step >= config.switch_step)
        batch, size = config.batch_sizes[phase], config.render_sizes[phase]
        chunk = self._ray_chunk(batch, size)
        self.clock.start()
        self._step_start = (self._generator_states(), dict(self.ray_offsets))
        self._phase = "computing"
        c2w, azimuth = sample_cameras(config.cameras, self.step, batch, self.elevation_deg, self.generator)
        sds_view = self._render(to_device(c2w, device), batch, size, chunk=chunk)
        ref_view = self._render(self.input_c2w, 1, size, self._input_ray_offset(size), chunk)
        deferred = [view for view in (sds_view, ref_view) if isinstance(view, DeferredRender)]
        if deferred:
            sds_view, ref_view = sds_view.view, ref_view.view
        self.clock.lap("render")
        loss_sds = self._sds(sds_view, c2w, azimuth, self._condition(c2w, sds_view), bool(deferred))
        self.clock.lap("prior")
        terms = {"sds": loss_sds, "rgb": F.mse_loss(ref_view.rgb, self._target(size))}
        terms.update(_regularisers(sds_view, ref_view, config))
        total = sum(_loss_weight(config, name) * value for name, value in terms.items())
        loss_proposal = sum(proposal_loss(*view.proposal_loss_inputs) for view in (sds_view, ref_view))
        self.optimizer.zero_grad(set_to_none=True)
        self.proposal_optimizer.zero_grad(set_to_none=True)
        if deferred:  # the image-level losses to the leaves (SDS is there already), then the chunks
            total.backward()
            for view in deferred:
                backward_deferred(self.scene, view)
        else:
            (total + loss_proposal).backward()
        self.clock.lap("backward")
        values = {**terms, "proposal": loss_proposal, "total": total}
        self._pending.append({name: value.detach() for name, value in values.items()})
        self._phase = "updating"
        self.optimizer.step()
        self.proposal_optimizer.step()
        self.step += 1
        self._phase = "idle"
        self.clock.lap("optimiser")
        if len(self._pending) >= READBACK_EVERY:
            self.read_back()
        return ref_view.rgb[0].detach().permute(2, 0, 1).clamp(0.0, 1.0)

    def read_back(self) -> None:
        """Move the pending steps' loss values to ``history`` (one device synchronisation), and the timings."""
        if self._pending:
            names = list(self._pending[0])
            rows = torch.stack([torch.stack([record[name] for name in names]) for record in self._pending])
            self.history.extend(dict(zip(names, row, strict=True)) for row in rows.float().tolist())
            self._pending.clear()
        self.clock.flush()

    def _generator_states(self):
        """The run generator's state and the device generator's when it is another one."""
        separate = self.device_generator is not self.generator
        return self.generator.get_state(), self.device_generator.get_state() if separate else None

    def _ray_chunk(self, batch: int, size: int) -> int | None:
        """Rays per chunk of deferred back-propagation for this step's renders; ``None``: a single pass."""
        if self._budget is None:
            return None
        if self._bytes_per_ray is None:
            self._bytes_per_ray = self._probe_bytes_per_ray()
        if (batch + 1) * size * size * self._bytes_per_ray <= self._budget:
            return None
        return max(1, self._budget // self._bytes_per_ray)

    def _probe_bytes_per_ray(self) -> int:
        """Bytes a ray's graph needs: autograd's saved bytes on a 16^2 render of the input view (no random draws),
        times ``GRAPH_OVERHEAD``."""
        config, rays = self.config, 16 * 16
        background = torch.zeros(3, device=self.model.device)
        normals = config.lambda_orient > 0 or config.lambda_normal_smooth > 0
        saved, _ = count_saved_bytes(
            lambda: self.scene.render(
                self.input_c2w, self.fov_deg, 16, 16, background, config.near, config.far,
                config.proposal_samples, config.samples, normals=normals,
            ),
            exclude=[*self.scene.parameters(), *self.scene.buffers()],
        )  # fmt: skip
        return max(1, math.ceil(GRAPH_OVERHEAD * saved / rays))

    def _input_ray_offset(self, size: int) -> torch.Tensor:
        """The input view's constant ray jitter at ``size``, drawn the first time that size is rendered."""
        if size not in self.ray_offsets:
            self.ray_offsets[size] = torch.randn(2, 3, generator=self.generator) * self.config.input_ray_noise
        return to_device(self.ray_offsets[size], self.model.device)

    def _render(self, c2w: torch.Tensor, batch: int, size: int, ray_offset=None, chunk: int | None = None):
        """A ``SceneRender`` with its graph, or with ``chunk`` a ``DeferredRender`` (same draws)."""
        config, device = self.config, self.model.device
        if config.background == "random":
            background = to_device(torch.rand(batch, 3, generator=self.generator), device)
        else:
            background = torch.zeros(batch, 3, device=device)
        need_normals = config.lambda_orient > 0 or config.lambda_normal_smooth > 0
        args = (c2w, self.fov_deg, size, size, background, config.near, config.far)
        samples = (config.proposal_samples, config.samples)
        options = {"stratified": True, "normals": need_normals, "generator": self.device_generator}
        if chunk is not None:
            return render_deferred(self.scene, *args, *samples, chunk, ray_offset=ray_offset, **options)
        return self.scene.render(*args, *samples, ray_offset=ray_offset, **options)

    def _condition(self, c2w: torch.Tensor, view: SceneRender) -> torch.Tensor:
        """Per SDS camera: index of its conditioning candidate (0 = input, i > 0 = anchor i - 1)."""
        if self.anchors is None:
            return torch.zeros(c2w.shape[0], dtype=torch.long)
        candidates = torch.cat([self.input_c2w.cpu(), self.anchors.c2w])
        nearest = nearest_candidate(c2w, candidates)
        use = torch.rand(c2w.shape[0], generator=self.generator) < self.config.anchors.probability(self.step)
        chosen = torch.where(use, nearest, torch.zeros_like(nearest))
        threshold = self.config.anchors.depth_threshold
        if threshold > 0 and view.rgb.requires_grad:
            keep = (nearest == 0).to(view.depth.device)[:, None, None] | (view.depth.detach() > threshold)
            view.rgb.register_hook(lambda grad: grad * keep[..., None])
        self._anchor_guidance = nearest > 0
        return chosen

    def _sds(self, view: SceneRender, c2w, azimuth, chosen: torch.Tensor, deferred: bool = False) -> torch.Tensor:
        """The SDS loss of the views; ``deferred``: its value without a graph, its gradient already added to
        ``view.rgb.grad`` by running the VAE encoder and its backward one view at a time."""
        model, config, device = self.model, self.config, self.model.device
        if deferred:  # the draw ``posterior.sample(generator)`` makes, kept for the per-view encoder passes
            shape = (view.rgb.shape[0], *self.concat_latent.shape[1:])
            encoder_noise = torch.randn(shape, generator=self.device_generator, device=device, dtype=model.dtype)
            with torch.no_grad():
                latents = model.encode(_sds_input(view.rgb, model), noise=encoder_noise)
        else:
            latents = model.encode(_sds_input(view.rgb, model), generator=self.device_generator)
        t = sample_timesteps(
            self.step,
            azimuth,
            config.min_step_percent,
            config.max_step_percent,
            config.anisotropic_offset,
            self.generator,
            model.config.num_train_timesteps,
        )
        clip, concat, cond_c2w = self._candidate_conditioning(chosen)
        camera = encode_camera(c2w, cond_c2w, self.fov_deg, model.config.camera_mode, self.scale)
        context = model.context(clip, to_device(camera, device))
        noise = torch.randn(latents.shape, generator=self.device_generator, device=device)
        t_device = to_device(t, device)
        noisy = add_noise(latents.detach(), noise, self.alphas_cumprod[t_device])
        with torch.no_grad():
            eps = self._guided_eps(noisy, t_device, context, concat)
        if not deferred:
            return sds_loss(latents, noise, eps, self.alphas_cumprod[t_device])
        leaf = latents.detach().requires_grad_(True)  # d(lambda_sds * loss) / d latents, then per view to the pixels
        loss = sds_loss(leaf, noise, eps, self.alphas_cumprod[t_device])
        (config.lambda_sds * loss).backward()
        for i in range(latents.shape[0]):
            one = model.encode(_sds_input(view.rgb[i : i + 1], model), noise=encoder_noise[i : i + 1])
            one.backward(leaf.grad[i : i + 1])
        return loss.detach()

    def _guided_eps(self, noisy, t, context, concat) -> torch.Tensor:
        scale = self.config.guidance_scale
        aux = self.config.anchors.sds_guidance_scale
        if self.anchors is None or aux is None or aux == scale:
            return self.model.eps(noisy, t, context, concat, scale)
        eps = self.model.eps(noisy, t, context, concat, scale)
        mask = self._anchor_guidance.to(noisy.device)
        if mask.any():
            eps[mask] = self.model.eps(noisy[mask], t[mask], context[mask], concat[mask], aux)
        return eps

    def _candidate_conditioning(self, chosen: torch.Tensor):
        clip, concat, c2w = self.clip_embedding, self.concat_latent, self.input_c2w.cpu()
        if self.anchors is not None:
            clip = torch.cat([clip, self.anchors.clip_embedding.to(clip.device)])
            concat = torch.cat([concat, self.anchors.concat_latent.to(concat.device)])
            c2w = torch.cat([c2w, self.anchors.c2w])
        index = chosen.to(clip.device)
        return clip[index], concat[index], c2w[chosen]

    def _target(self, size: int) -> torch.Tensor:
        """The input photo at ``size`` (``INTER_AREA`` from the square crop), ``[1,size,size,3]``."""
        if size not in self._targets:
            self._targets[size] = prepare_image(self.image, size).permute(0, 2, 3, 1).to(self.model.device)
        return self._targets[size]

    def result(self, stopped: bool) -> DistillResult:
        self.read_back()
        return DistillResult(
            self.scene, self.step, self.history, self.anchors, stopped, dict(self.timings), self.start_step
        )

    def fingerprints(self) -> dict[str, str]:
        """SHA-256 of the photo and of the model's weights (``fingerprint``), as the checkpoint records them."""
        return {"photo_sha256": photo_sha256(self.image), "model_sha256": weights_sha256(self.model)}

    def save_interrupted(self, path: Path) -> None:
        """Checkpoint after an exception: a step interrupted before its update is undone (the generator
        goes back to the step's start), so resuming repeats it exactly; one interrupted during the update
        itself keeps the previous checkpoint."""
        if self._phase == "computing":
            (generator_state, device_state), ray_offsets = self._step_start
            self.generator.set_state(generator_state)
            if device_state is not None:
                self.device_generator.set_state(device_state)
            self.ray_offsets = ray_offsets
            self._phase = "idle"
        if self._phase == "idle":
            self.save(path)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.read_back()
        state = {
            "format": _CHECKPOINT_FORMAT,
            "config": self.config.to_json(),
            "inputs": json.dumps({"fov_deg": self.fov_deg, "elevation_deg": self.elevation_deg, "scale": self.scale}),
            "fingerprints": json.dumps(self.fingerprints()),
            "step": self.step,
            "scene": self.scene.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "proposal_optimizer": self.proposal_optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "device_generator": self._generator_states()[1],  # None when it is the run's generator (CPU)
            "history": json.dumps(self.history),
            "ray_offsets": {str(size): offset for size, offset in self.ray_offsets.items()},
            "anchors": None if self.anchors is None else dataclasses.asdict(self.anchors),
        }
        temporary = path.with_suffix(".tmp")
        torch.save(state, temporary)
        temporary.replace(path)

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location=self.model.device, weights_only=True)
        if not isinstance(state, dict) or state.get("format") != _CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a distillation checkpoint of this version")
        if state["config"] != self.config.to_json():
            raise ValueError(f"{path} was written with another distillation config; resume with the same one")
        inputs = json.loads(state["inputs"])
        mine = {"fov_deg": self.fov_deg, "elevation_deg": self.elevation_deg, "scale": self.scale}
        if any(not math.isclose(inputs[key], mine[key]) for key in mine):
            raise ValueError(f"{path} was written for other camera settings {inputs}; resume with the same ones")
        _check_fingerprints(path, json.loads(state["fingerprints"]), self.fingerprints())
        self.scene.load_state_dict(state["scene"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.proposal_optimizer.load_state_dict(state["proposal_optimizer"])
        self.generator.set_state(state["generator"].cpu())
        if state.get("device_generator") is not None and self.device_generator is not self.generator:
            self.device_generator.set_state(state["device_generator"].cpu())
        self.step = int(state["step"])
        self.history = json.loads(state["history"])
        self.ray_offsets = {int(size): offset.cpu() for size, offset in state["ray_offsets"].items()}
        if state["anchors"] is not None:
            self.anchors = Anchors(
                **{key: value.cpu() if key == "c2w" else value for key, value in state["anchors"].items()}
            )


def _sds_input(rgb: torch.Tensor, model: ZeroNVSModel) -> torch.Tensor:
    """Renders ``[B,H,W,3]`` in [0,1] as the VAE's input: ``[B,3,r,r]`` in [-1,1] at the model's resolution."""
    resolution = model.config.resolution
    return (
        F.interpolate(rgb.permute(0, 3, 1, 2), (resolution, resolution), mode="bilinear", align_corners=False) * 2 - 1
    )


def _check_anchors(anchors: Anchors, count: int, elevation_deg: float) -> None:
    """Raise unless ``anchors`` are ``count`` anchors at the cameras ``anchor_cameras`` gives for this elevation."""
    if anchors.c2w.shape[0] != count:
        raise ValueError(f"anchors: got {anchors.c2w.shape[0]} anchor views, but config.anchors.count is {count}")
    if not torch.allclose(anchors.c2w.cpu().float(), anchor_cameras(count, elevation_deg), atol=1e-5):
        raise ValueError(f"anchors were made for another input camera, not elevation {elevation_deg} degrees")


def _check_fingerprints(path: Path, recorded: dict[str, str], mine: dict[str, str]) -> None:
    """Raise unless the checkpoint at ``path`` was written for this photo and this model."""
    what = {"photo_sha256": "photo (its pixels differ)", "model_sha256": "model (its weights differ)"}
    for key, description in what.items():
        if recorded[key] != mine[key]:
            raise ValueError(
                f"{path} was written for another {description}: sha256 {recorded[key][:12]}... then, "
                f"{mine[key][:12]}... now; resume with the same one, or start afresh"
            )


def _loss_weight(config: DistillConfig, name: str) -> float:
    return getattr(config, f"lambda_{name}")


def _regularisers(sds_view: SceneRender, ref_view: SceneRender, config: DistillConfig) -> dict[str, torch.Tensor]:
    """Normal smoothness and orientation on both passes (when computed), opacity entropy when weighted."""
    terms = {}
    if sds_view.normal is not None:
        terms["normal_smooth"] = _normal_smoothness(sds_view.normal) + _normal_smoothness(ref_view.normal)
        terms["orient"] = sds_view.orient + ref_view.orient
    if config.lambda_opaque > 0:
        terms["opaque"] = _opacity_entropy(sds_view.opacity) + _opacity_entropy(ref_view.opacity)
    return terms


def _normal_smoothness(normal: torch.Tensor) -> torch.Tensor:
    """Mean squared finite differences of a normal image ``[B,H,W,3]`` along H plus along W."""
    return (normal[:, 1:] - normal[:, :-1]).square().mean() + (normal[:, :, 1:] - normal[:, :, :-1]).square().mean()


def _opacity_entropy(opacity: torch.Tensor) -> torch.Tensor:
    clamped = opacity.clamp(1e-3, 1.0 - 1e-3)
    return F.binary_cross_entropy(clamped, clamped)
