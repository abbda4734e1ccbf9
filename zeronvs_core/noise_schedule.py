"""The diffusion noise schedule and forward noising, written once for sampling, SDS, training and benchmarks.

ZeroNVS keeps the latent-diffusion schedule of Stable Diffusion (LDM ``linear`` betas, diffusers'
``scaled_linear``): ``beta_t = (sqrt(beta_start) + t / (T - 1) (sqrt(beta_end) - sqrt(beta_start)))^2``
for ``t = 0 .. T-1``, ``alpha_bar_t = prod_{s <= t} (1 - beta_s)`` (Ho et al. 2020, eq. 4; Rombach et
al. 2022). Both are computed in float32 exactly as diffusers computes them, so the DDIM sampler built on
``betas`` (``sampling.ddim_scheduler``) and everything that noises with ``alphas_cumprod`` agree bit for
bit.
"""

from __future__ import annotations

import torch

__all__ = ["add_noise", "alphas_cumprod", "betas"]


def betas(config) -> torch.Tensor:
    """``[T]`` float32 betas of the ``scaled_linear`` schedule of ``config`` (a ``ZeroNVSConfig``:
    ``beta_start``, ``beta_end``, ``num_train_timesteps`` = T)."""
    root = torch.linspace(config.beta_start**0.5, config.beta_end**0.5, config.num_train_timesteps, dtype=torch.float32)
    return root**2


def alphas_cumprod(config) -> torch.Tensor:
    """``[T]`` float32 ``alpha_bar_t``, the cumulative product of ``1 - betas(config)``; decreasing from
    ``1 - beta_start`` towards 0."""
    return torch.cumprod(1.0 - betas(config), dim=0)


def add_noise(latents: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """Forward diffusion ``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps`` (Ho et al. 2020, eq. 4).

    Args:
        latents: ``x_0 [B,C,h,w]``.
        noise: ``eps``, same shape, standard normal.
        alpha_bar: ``alpha_bar_t`` per sample, ``[B]`` (or one value, ``[]``), e.g. ``alphas_cumprod(config)[t]``.
    """
    alpha_bar = alpha_bar.reshape(-1, *([1] * (latents.ndim - 1)))
    return alpha_bar.sqrt() * latents + (1.0 - alpha_bar).sqrt() * noise
