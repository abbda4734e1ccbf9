"""The training objective of the ZeroNVS diffusion model (spec section 7): conditioning dropout, the
epsilon loss, the EMA of the UNet, and the learning-rate warm-up.

Batches are ``data.pairs.collate_pairs`` dicts: images ``[B,3,S,S]`` in [0,1], OpenGL cameras
``[B,4,4]``, ``fov_deg`` and ``scale`` ``[B]``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zeronvs_core.conditioning import encode_camera
from zeronvs_core.model import ZeroNVSModel
from zeronvs_core.noise_schedule import add_noise, alphas_cumprod

__all__ = [
    "EMA",
    "batch_conditioning",
    "cosine_decay_factor",
    "diffusion_loss",
    "dropout_masks",
    "warmup_factor",
]


def dropout_masks(batch: int, generator: torch.Generator, p: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """``(keep_clip [B], keep_concat [B])`` of the official conditioning dropout: per sample r ~ U(0,1),
    r < p drops the CLIP embedding, p <= r < 2p drops it and the concat latent, 2p <= r < 3p drops the
    concat latent (p = 0.05); the camera vector is never dropped."""
    r = torch.rand(batch, generator=generator)
    drop_clip = r < 2 * p
    drop_concat = (r >= p) & (r < 3 * p)
    return ~drop_clip, ~drop_concat


def diffusion_loss(
    model: ZeroNVSModel,
    batch: dict[str, torch.Tensor],
    generator: torch.Generator,
    dropout: float = 0.05,
    forward=None,
    snr_gamma: float | None = None,
    paired: bool = False,
    x0_weight_cap: float | None = None,
) -> torch.Tensor:
    """Mean squared error of the predicted noise (``l_simple``), t uniform in [0, T), with the official
    conditioning: CLIP and concat latent of the input view (dropped as ``dropout_masks``), camera vector
    ``T`` of the target relative to the input with the batch's viewer scale.

    ``snr_gamma`` (not in the official recipe, which is ``None``) weights each sample by
    ``min(SNR(t), gamma) / SNR(t)``, Min-SNR weighting (Hang et al. 2023, diffusers' ``--snr_gamma``): the
    low-noise steps, whose noise is nearly unpredictable and says little about the scene, weigh less.

    ``x0_weight_cap`` (not in the official recipe; issue 27; exclusive with ``snr_gamma``) weights each
    sample by ``min(1 / SNR(t), cap)``. Since the noise error is ``SNR(t)`` times the error of the implied
    clean latent, that makes the clean-latent error count the same at every ``t`` with ``SNR(t) >= 1 / cap``
    (Salimans and Ho 2022, the "truncated SNR" weighting): the high-noise steps, where the layout of the
    view and so the direction of the camera is decided, weigh ``1 / SNR`` times more than under the epsilon
    loss or Min-SNR (whose clean-latent weight there is ``SNR(t)``, ~0.005 at t = 999).

    ``paired`` (not in the official recipe; issue 27) says the batch's second half is its first half with
    the targets on the other side of the inputs (``SyntheticPairs.twin``): element ``i + B/2`` then gets the
    timestep, noise and dropout of element ``i``, so the two differ only in the camera and the target, and
    the gradient of the direction of the camera is not buried in the noise of independent draws. ``B`` must
    be even.

    ``forward`` is the callable that runs ``model.forward`` (e.g. its DDP wrapper); ``model`` by default."""
    if snr_gamma is not None and x0_weight_cap is not None:
        raise ValueError("snr_gamma and x0_weight_cap are two loss weightings: give one")
    device, config = model.device, model.config
    clip, concat, camera = batch_conditioning(model, batch)
    with torch.no_grad():
        latents = model.encode(batch["target_image"].to(device) * 2.0 - 1.0, generator=generator)
    count = clip.shape[0]
    if paired:
        if count % 2:
            raise ValueError(f"a paired batch needs an even number of pairs, got {count}")
        count //= 2
    keep_clip, keep_concat = (mask.to(device) for mask in dropout_masks(count, generator, dropout))
    t = torch.randint(0, config.num_train_timesteps, (count,), generator=generator).to(device)
    noise = torch.randn((count, *latents.shape[1:]), generator=generator).to(device)
    if paired:
        keep_clip, keep_concat, t, noise = (torch.cat([x, x]) for x in (keep_clip, keep_concat, t, noise))
    clip = clip * keep_clip.view(-1, 1, 1)
    concat = concat * keep_concat.view(-1, 1, 1, 1)
    alphas = alphas_cumprod(config).to(device)[t]
    noisy = add_noise(latents, noise, alphas)
    forward = model if forward is None else forward
    error = F.mse_loss(forward(noisy, t, clip, camera, concat), noise, reduction="none").mean(dim=(1, 2, 3))
    snr = alphas / (1.0 - alphas)
    if snr_gamma is not None:
        error = error * snr.clamp(max=snr_gamma) / snr
    if x0_weight_cap is not None:
        error = error * (1.0 / snr).clamp(max=x0_weight_cap)
    return error.mean()


@torch.no_grad()
def batch_conditioning(model: ZeroNVSModel, batch: dict[str, torch.Tensor]):
    """``(clip_embedding [B,1,D], concat_latent [B,4,h,w], camera [B,camera_dim])`` of a batch's input
    views and target cameras, on the model's device (no dropout)."""
    size = model.config.resolution
    for name in ("cond_image", "target_image"):
        if tuple(batch[name].shape[-2:]) != (size, size):
            raise ValueError(f"{name} must be {size}x{size} for this model, got {list(batch[name].shape)}")
    clip, concat = model.embed_image(batch["cond_image"].to(model.device) * 2.0 - 1.0)
    camera = encode_camera(
        batch["target_c2w"], batch["cond_c2w"], batch["fov_deg"], model.config.camera_mode, batch["scale"]
    )
    return clip, concat, camera.to(model.device)


def warmup_factor(step: int, warmup_steps: int = 100, start: float = 1e-6) -> float:
    """LR factor of the official ``LambdaLinearScheduler``: linear from ``start`` to 1 over ``warmup_steps``."""
    if step >= warmup_steps:
        return 1.0
    return start + (1.0 - start) * step / warmup_steps


def cosine_decay_factor(step: int, max_steps: int, decay_steps: int) -> float:
    """LR factor of a half-cosine decay over the last ``decay_steps`` of ``max_steps``: 1 before them, 0 at
    ``max_steps`` (and after); ``decay_steps`` 0 keeps it at 1."""
    start = max_steps - decay_steps
    if decay_steps <= 0 or step <= start:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * min(step - start, decay_steps) / decay_steps))


class EMA:
    """Exponential moving average of a module's parameters, as LitEma: decay ``min(decay, (1 + n) / (10 + n))``
    after ``n`` updates."""

    def __init__(self, module: nn.Module, decay: float = 0.9999):
        self.decay = decay
        self.updates = 0
        self.shadow = {name: p.detach().clone() for name, p in module.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for name, parameter in module.named_parameters():
            if name in self.shadow:
                self.shadow[name].lerp_(parameter.detach(), 1.0 - decay)

    @torch.no_grad()
    def copy_to(self, module: nn.Module) -> None:
        """Write the averaged weights into ``module``."""
        for name, parameter in module.named_parameters():
            if name in self.shadow:
                parameter.copy_(self.shadow[name])

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        self.decay, self.updates = state["decay"], state["updates"]
        for name, value in state["shadow"].items():
            self.shadow[name].copy_(value)
