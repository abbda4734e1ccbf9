"""DDIM novel-view sampling with classifier-free guidance, as the official guidance's ``gen_from_cond``.

The scheduler is diffusers ``DDIMScheduler`` built as the official guidance builds it (1000 steps,
``scaled_linear`` betas 0.00085..0.012, ``clip_sample=False``, ``set_alpha_to_one=False``,
``steps_offset=1``, "leading" spacing). Each step evaluates the guided noise prediction of all target
views in UNet chunks of ``batch_size`` views and then steps all views at once, so results do not depend
on ``batch_size``. Cameras are OpenGL camera-to-world ``[N,4,4]`` (see ``cameras.py``).
"""

from __future__ import annotations

import torch

from .cameras import validate_c2w
from .conditioning import encode_camera
from .images import prepare_image
from .model import ZeroNVSModel
from .noise_schedule import betas
from .progress import ProgressCallback

__all__ = ["check_sampling_args", "ddim_scheduler", "sample_latents", "sample_views", "view_conditioning"]


def ddim_scheduler(model: ZeroNVSModel):
    """A fresh diffusers ``DDIMScheduler`` configured as the official guidance configures it."""
    from diffusers import DDIMScheduler

    config = model.config
    return DDIMScheduler(
        num_train_timesteps=config.num_train_timesteps,
        trained_betas=betas(config).numpy(),
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


@torch.no_grad()
def sample_latents(
    model: ZeroNVSModel,
    context: torch.Tensor,
    concat_latent: torch.Tensor,
    steps: int = 50,
    guidance_scale: float = 3.0,
    eta: float = 1.0,
    generator: torch.Generator | None = None,
    init_noise: torch.Tensor | None = None,
    batch_size: int = 8,
    callback: ProgressCallback | None = None,
) -> torch.Tensor:
    """Run the DDIM loop from noise to clean diffusion latents.

    Args:
        model: the diffusion model.
        context: ``[N,1,C]`` cross-attention contexts (``model.context``), one per view.
        concat_latent: ``[N,4,h,w]`` concat latents (``model.concat_latent``), one per view.
        steps: DDIM steps (the official default is 50; anchors use 500).
        guidance_scale: classifier-free guidance scale (official 3.0 for sampling).
        eta: DDIM eta; 0 is deterministic, 1 (official default) is DDPM-like.
        generator: random source of the initial noise and of the eta > 0 noise.
        init_noise: ``[N,4,h,w]`` initial latents instead of drawing them.
        batch_size: views per UNet call (guidance doubles it); bounds memory, not results.
        callback: ``progress.ProgressCallback``, called after each step with the current latents ``[N,4,h,w]``
            as its preview; may raise to stop.

    Returns:
        ``[N,4,h,w]`` float32 latents in diffusion space.
    """
    from diffusers.utils.torch_utils import randn_tensor

    check_sampling_args(steps, guidance_scale, eta, batch_size)
    count = concat_latent.shape[0]
    shape = (count, model.config.latent_channels, model.config.latent_size, model.config.latent_size)
    if init_noise is None:
        latents = randn_tensor(shape, generator=generator, device=model.device, dtype=torch.float32)
    elif tuple(init_noise.shape) != shape:
        raise ValueError(f"init_noise must have shape {list(shape)}, got {list(init_noise.shape)}")
    else:
        latents = init_noise.to(model.device, torch.float32)
    context, concat_latent = context.to(model.device), concat_latent.to(model.device)
    scheduler = ddim_scheduler(model)
    scheduler.set_timesteps(steps, device=model.device)
    for index, t in enumerate(scheduler.timesteps):
        eps = torch.cat(
            [
                model.eps(
                    latents[i : i + batch_size],
                    t,
                    context[i : i + batch_size],
                    concat_latent[i : i + batch_size],
                    guidance_scale,
                )
                for i in range(0, count, batch_size)
            ]
        )
        latents = scheduler.step(eps, t, latents, eta=eta, generator=generator).prev_sample
        if callback is not None:
            callback(index + 1, steps, latents)
    return latents


@torch.no_grad()
def sample_views(
    model: ZeroNVSModel,
    image: torch.Tensor,
    cond_c2w: torch.Tensor,
    target_c2w: torch.Tensor,
    fov_deg,
    scale,
    steps: int = 50,
    guidance_scale: float = 3.0,
    eta: float = 1.0,
    generator: torch.Generator | None = None,
    init_noise: torch.Tensor | None = None,
    batch_size: int = 8,
    callback: ProgressCallback | None = None,
) -> torch.Tensor:
    """Novel views of the scene in ``image`` from each target camera.

    Args:
        model: the diffusion model.
        image: ``[1,C,H,W]`` input photo in [0,1], any size and aspect; C = 1, 3 or 4 (RGBA is
            composited on white). Centre-cropped to a square and resized to ``model.config.resolution``.
        cond_c2w: ``[4,4]`` or ``[1,4,4]`` OpenGL camera-to-world of the input photo.
        target_c2w: ``[N,4,4]`` OpenGL camera-to-world of the views to generate.
        fov_deg: vertical FOV of the square crop in degrees, float or ``[N]``.
        scale: the viewer scale s (0.7 for photos in the wild), float or ``[N]``; see ``encode_camera``.
        steps, guidance_scale, eta, generator, init_noise, batch_size, callback: see ``sample_latents``.

    Returns:
        ``[N,3,R,R]`` float32 views in [0,1] on the model's device (R = model resolution).
    """
    clip_embedding, camera, concat_latent = view_conditioning(model, image, cond_c2w, target_c2w, fov_deg, scale)
    count = camera.shape[0]
    context = model.context(clip_embedding, camera)
    latents = sample_latents(
        model,
        context,
        concat_latent,
        steps,
        guidance_scale,
        eta,
        generator,
        init_noise,
        batch_size,
        callback,
    )
    views = torch.cat([model.decode(latents[i : i + batch_size]) for i in range(0, count, batch_size)])
    return (views * 0.5 + 0.5).clamp(0.0, 1.0)


@torch.no_grad()
def view_conditioning(
    model: ZeroNVSModel, image: torch.Tensor, cond_c2w: torch.Tensor, target_c2w: torch.Tensor, fov_deg, scale
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What the model is conditioned on for each target view (arguments as in ``sample_views``).

    Returns:
        ``(clip_embedding [N,1,D], camera [N,E], concat_latent [N,4,h,w])`` on the model's device, float32:
        the photo's CLIP embedding and unscaled VAE posterior mode (``model.embed_image``, the official
        preprocessing: ``images.prepare_image`` then [-1,1]) repeated per view, and ``encode_camera`` of
        each target camera relative to the input one in the model's camera mode.
    """
    target_c2w = validate_c2w(target_c2w, "target_c2w")
    cond_c2w = _one_camera(cond_c2w)
    count = target_c2w.shape[0]
    image_pm1 = prepare_image(image, model.config.resolution).to(model.device) * 2.0 - 1.0
    clip_embedding, concat_latent = model.embed_image(image_pm1)
    camera = encode_camera(
        target_c2w, cond_c2w.to(target_c2w).expand(count, 4, 4), fov_deg, model.config.camera_mode, scale
    )
    return (
        clip_embedding.expand(count, -1, -1),
        camera.to(model.device, torch.float32),
        concat_latent.expand(count, -1, -1, -1),
    )


def _one_camera(cond_c2w) -> torch.Tensor:
    """``[4,4]`` or ``[1,4,4]`` camera as a validated ``[1,4,4]``."""
    cond_c2w = torch.as_tensor(cond_c2w)
    cond_c2w = validate_c2w(cond_c2w[None] if cond_c2w.ndim == 2 else cond_c2w, "cond_c2w")
    if cond_c2w.shape[0] != 1:
        raise ValueError(f"cond_c2w must be one camera, [4,4] or [1,4,4], got {cond_c2w.shape[0]} cameras")
    return cond_c2w


def check_sampling_args(steps: int, guidance_scale: float, eta: float, batch_size: int = 1) -> None:
    """Raise ``ValueError`` unless ``steps`` is an integer in [1, 1000], ``guidance_scale`` in [0, 100],
    ``eta`` in [0, 1] and ``batch_size`` a positive integer (what ``sample_latents`` accepts)."""
    if not isinstance(steps, int) or not 1 <= steps <= 1000:
        raise ValueError(f"steps must be an integer in [1, 1000], got {steps!r}")
    if not 0.0 <= float(guidance_scale) <= 100.0:
        raise ValueError(f"guidance_scale must be in [0, 100], got {guidance_scale!r}")
    if not 0.0 <= float(eta) <= 1.0:
        raise ValueError(f"eta must be in [0, 1], got {eta!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
