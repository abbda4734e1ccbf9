"""``_Run``: the state of one distillation (scene, optimisers, generators, conditioning, step) and its
training step; ``distill`` (``loop.py``) drives it. Saves and loads its state through ``checkpoint.py``."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from ..anchors import AnchorViews, nearest_candidate
from ..cameras import orbit_camera
from ..conditioning import encode_camera
from ..device_runtime import PhaseClock, device_generator, memory_budget_bytes, to_device
from ..fingerprint import photo_sha256, weights_sha256
from ..images import prepare_image
from ..nerf.deferred import DeferredRender, backward_deferred, render_deferred
from ..nerf.graph_memory import count_saved_bytes
from ..nerf.ray_sampling import proposal_loss
from ..nerf.scene import Scene, SceneRender
from ..noise_schedule import add_noise, alphas_cumprod
from ..schedules import sample_cameras, sample_timesteps
from .checkpoint import read_checkpoint, write_checkpoint
from .config import DistillConfig
from .losses import loss_weights, regularisers, sds_input, sds_loss

__all__ = ["DistillResult"]

READBACK_EVERY = 20
"""Loss values are read back from the device (one synchronisation) every this many steps, at checkpoints
and at the end; ``DistillResult.history`` is complete when ``distill`` returns."""
GRAPH_OVERHEAD = 2.0
"""Factor from the bytes autograd saves per ray (counted on a probe render) to the bytes a chunk needs with
forward temporaries and backward scratch (the memory budget divides by the product)."""


@dataclass
class DistillResult:
    """What ``distill`` returns."""

    scene: Scene
    step: int
    """Steps done (``config.steps``)."""
    history: list[dict[str, float]] = field(default_factory=list)
    """Loss terms of every step."""
    anchor_views: AnchorViews | None = None
    """The anchor views SDS was conditioned on (``None`` without anchoring)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent in this call per phase: render, prior (VAE encode, UNet, SDS), backward, optimiser
    (empty unless timed: see ``distill``'s ``phase_timing``)."""
    start_step: int = 0
    """Step this call started from: the checkpoint's step when resumed, else 0."""


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
        self.anchor_views: AnchorViews | None = None
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
        terms.update(regularisers(sds_view, ref_view, config))
        weights = loss_weights(config)
        total = sum(weights[name] * value for name, value in terms.items())
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
                self.input_c2w, self.fov_deg, 16, 16, background, config.rays, normals=normals
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
        args = (c2w, self.fov_deg, size, size, background, config.rays)
        options = {"stratified": True, "normals": need_normals, "generator": self.device_generator}
        if chunk is not None:
            return render_deferred(self.scene, *args, chunk, ray_offset=ray_offset, **options)
        return self.scene.render(*args, ray_offset=ray_offset, **options)

    def _condition(self, c2w: torch.Tensor, view: SceneRender) -> torch.Tensor:
        """Per SDS camera: index of its conditioning candidate (0 = input, i > 0 = anchor i - 1)."""
        if self.anchor_views is None:
            return torch.zeros(c2w.shape[0], dtype=torch.long)
        candidates = torch.cat([self.input_c2w.cpu(), self.anchor_views.c2w])
        nearest = nearest_candidate(c2w, candidates)
        use = torch.rand(c2w.shape[0], generator=self.generator) < self.config.anchoring.probability(self.step)
        chosen = torch.where(use, nearest, torch.zeros_like(nearest))
        threshold = self.config.anchoring.depth_threshold
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
                latents = model.encode(sds_input(view.rgb, model), noise=encoder_noise)
        else:
            latents = model.encode(sds_input(view.rgb, model), generator=self.device_generator)
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
            one = model.encode(sds_input(view.rgb[i : i + 1], model), noise=encoder_noise[i : i + 1])
            one.backward(leaf.grad[i : i + 1])
        return loss.detach()

    def _guided_eps(self, noisy, t, context, concat) -> torch.Tensor:
        scale = self.config.guidance_scale
        aux = self.config.anchoring.sds_guidance_scale
        if self.anchor_views is None or aux is None or aux == scale:
            return self.model.eps(noisy, t, context, concat, scale)
        eps = self.model.eps(noisy, t, context, concat, scale)
        mask = self._anchor_guidance.to(noisy.device)
        if mask.any():
            eps[mask] = self.model.eps(noisy[mask], t[mask], context[mask], concat[mask], aux)
        return eps

    def _candidate_conditioning(self, chosen: torch.Tensor):
        clip, concat, c2w = self.clip_embedding, self.concat_latent, self.input_c2w.cpu()
        if self.anchor_views is not None:
            clip = torch.cat([clip, self.anchor_views.clip_embedding.to(clip.device)])
            concat = torch.cat([concat, self.anchor_views.concat_latent.to(concat.device)])
            c2w = torch.cat([c2w, self.anchor_views.c2w])
        index = chosen.to(clip.device)
        return clip[index], concat[index], c2w[chosen]

    def _target(self, size: int) -> torch.Tensor:
        """The input photo at ``size`` (``INTER_AREA`` from the square crop), ``[1,size,size,3]``."""
        if size not in self._targets:
            self._targets[size] = prepare_image(self.image, size).permute(0, 2, 3, 1).to(self.model.device)
        return self._targets[size]

    def result(self) -> DistillResult:
        self.read_back()
        return DistillResult(
            self.scene, self.step, self.history, self.anchor_views, dict(self.timings), self.start_step
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
        self.read_back()
        state = {
            "step": self.step,
            "scene": self.scene.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "proposal_optimizer": self.proposal_optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "device_generator": self._generator_states()[1],  # None when it is the run's generator (CPU)
            "history": json.dumps(self.history),
            "ray_offsets": {str(size): offset for size, offset in self.ray_offsets.items()},
            # the anchor views, under the key older checkpoints use
            "anchors": None if self.anchor_views is None else dataclasses.asdict(self.anchor_views),
        }
        write_checkpoint(path, self.config.to_json(), self._inputs(), self.fingerprints(), state)

    def load(self, path: Path) -> None:
        state = read_checkpoint(path, self.model.device, self.config.to_json(), self._inputs(), self.fingerprints())
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
            self.anchor_views = AnchorViews(
                **{key: value.cpu() if key == "c2w" else value for key, value in state["anchors"].items()}
            )

    def _inputs(self) -> dict[str, float]:
        """The camera settings a checkpoint records."""
        return {"fov_deg": self.fov_deg, "elevation_deg": self.elevation_deg, "scale": self.scale}
