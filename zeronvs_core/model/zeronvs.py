"""``ZeroNVSModel``: the ZeroNVS diffusion model's parts and the exact forward numerics of the
official ``LatentDiffusion`` (hybrid conditioning) and its guidance code.

Parts: diffusers ``UNet2DConditionModel`` (input = noisy latent and concat latent, 8 channels),
diffusers ``AutoencoderKL``, the transformers CLIP image tower with projection, and ``cc_projection``,
the linear layer mapping ``[CLIP embedding, camera vector T]`` to the cross-attention context, and,
only in models whose config has ``camera_film`` (not ZeroNVS: the small demo model), ``camera_film``, the
linear layer mapping ``T`` to a per-channel scale of every UNet resnet block's output.
The model knows no noise schedule and no sampling loop (see ``sampling.py``).

Images are ``[B,3,H,W]`` in [-1,1] (``_pm1``); diffusion latents are ``[B,4,h,w]``, VAE latents times
``config.scale_factor``; the concat latent is the VAE posterior mode *without* that factor.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from .config import ZeroNVSConfig

__all__ = ["CLIP_MEAN", "CLIP_STD", "ZeroNVSModel"]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class ZeroNVSModel(nn.Module):
    """The ZeroNVS diffusion model (see the module docstring). Build it with ``load_zeronvs``."""

    def __init__(self, config: ZeroNVSConfig):
        super().__init__()
        from diffusers import AutoencoderKL, UNet2DConditionModel
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

        self.config = config
        self.unet = UNet2DConditionModel(**config.unet)
        self.vae = AutoencoderKL(**config.vae)
        clip_config = CLIPVisionConfig(**config.image_encoder)
        clip_config._attn_implementation = "sdpa"
        self.image_encoder = CLIPVisionModelWithProjection(clip_config)
        self.cc_projection = nn.Linear(config.clip_dim + config.camera_dim, config.context_dim)
        self._compiled_unet = None  # a plain attribute (not a submodule): the state dict is unchanged
        self._film_scales: list[torch.Tensor] | None = None  # per resnet block, set for one UNet call
        if config.camera_film:
            from diffusers.models.resnet import ResnetBlock2D

            resnets = [module for module in self.unet.modules() if isinstance(module, ResnetBlock2D)]
            self._film_channels = [resnet.conv2.out_channels for resnet in resnets]
            self.camera_film = nn.Linear(config.camera_dim, sum(self._film_channels))
            nn.init.zeros_(self.camera_film.weight)
            nn.init.zeros_(self.camera_film.bias)
            for index, resnet in enumerate(resnets):
                resnet.register_forward_hook(self._film_hook(index))

    @property
    def device(self) -> torch.device:
        return self.cc_projection.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.cc_projection.weight.dtype

    def clip_pixels(self, image_pm1: torch.Tensor) -> torch.Tensor:
        """CLIP input as the official ``FrozenCLIPImageEmbedder.preprocess``: bicubic resize to the
        CLIP size with ``align_corners=True`` and no antialias, ``(x + 1) / 2``, CLIP mean/std.

        ``[B,3,H,W]`` in [-1,1] -> ``[B,3,S,S]`` (S = 224 for ViT-L/14), float32."""
        _check_images(image_pm1, "image_pm1")
        size = int(self.config.image_encoder["image_size"])
        x = F.interpolate(image_pm1.float(), size=(size, size), mode="bicubic", align_corners=True)
        mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
        return ((x + 1.0) / 2.0 - mean) / std

    def clip_embedding(self, image_pm1: torch.Tensor) -> torch.Tensor:
        """Projected CLIP image embedding ``[B,1,D]`` (D = 768) of images ``[B,3,H,W]`` in [-1,1]."""
        pixels = self.clip_pixels(image_pm1).to(self.dtype)
        return self.image_encoder(pixel_values=pixels).image_embeds.float().unsqueeze(1)

    def concat_latent(self, image_pm1: torch.Tensor) -> torch.Tensor:
        """VAE posterior mode ``[B,4,h,w]`` of images ``[B,3,H,W]`` in [-1,1], unscaled (no 0.18215)."""
        _check_images(image_pm1, "image_pm1")
        return self.vae.encode(image_pm1.to(self.dtype)).latent_dist.mode().float()

    def embed_image(self, image_pm1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(clip_embedding [B,1,D], concat_latent [B,4,h,w])`` of the input (conditioning) images."""
        return self.clip_embedding(image_pm1), self.concat_latent(image_pm1)

    def context(self, clip_embedding: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
        """Cross-attention context ``[B,1,C] = cc_projection(cat(clip_embedding, T))``; with
        ``config.camera_film``, ``[B,1,C+camera_dim]``: that context followed by ``T`` itself, which
        ``eps`` hands to ``camera_film`` (one value for the whole camera conditioning of a UNet call, so
        guidance, sampling and SDS pass it on unchanged; its zero, the unconditional branch, is zero
        for both paths).

        Args:
            clip_embedding: ``[B,1,D]`` from ``clip_embedding``.
            camera: ``[B,camera_dim]`` camera vectors T from ``conditioning.encode_camera``.
        """
        batch = clip_embedding.shape[0]
        if clip_embedding.shape != (batch, 1, self.config.clip_dim):
            raise ValueError(f"clip_embedding must be [B,1,{self.config.clip_dim}], got {list(clip_embedding.shape)}")
        if camera.shape != (batch, self.config.camera_dim):
            raise ValueError(
                f"camera must be [{batch},{self.config.camera_dim}] (mode {self.config.camera_mode}), "
                f"got {list(camera.shape)}"
            )
        features = torch.cat([clip_embedding, camera[:, None, :].to(clip_embedding)], dim=-1)
        context = self.cc_projection(features.to(self.dtype)).float()
        if self.config.camera_film:
            context = torch.cat([context, camera[:, None, :].to(context)], dim=-1)
        return context

    def eps(
        self,
        latents: torch.Tensor,
        t,
        context: torch.Tensor,
        concat_latent: torch.Tensor,
        guidance_scale: float = 1.0,
    ) -> torch.Tensor:
        """Predicted noise ``[B,4,h,w]`` (float32) for noisy diffusion latents ``[B,4,h,w]``.

        Args:
            latents: noisy latents in diffusion space.
            t: integer timestep(s) in [0, num_train_timesteps): int, 0-d or ``[B]`` tensor.
            context: ``[B,1,C]`` (``[B,1,C+camera_dim]`` with ``camera_film``) from ``context``.
            concat_latent: ``[B,4,h,w]`` from ``concat_latent``.
            guidance_scale: 1 gives the conditional prediction alone; otherwise classifier-free
                guidance ``eps_u + w (eps_c - eps_u)`` with the official unconditional branch (zero
                context and zero concat latent), run as one UNet batch ordered [uncond, cond].
        """
        batch = latents.shape[0]
        _check_latents(latents, "latents", self.config.latent_channels)
        _check_latents(concat_latent, "concat_latent", self.config.latent_channels)
        if concat_latent.shape != latents.shape or context.shape[0] != batch:
            raise ValueError(
                f"latents {list(latents.shape)}, concat_latent {list(concat_latent.shape)} and context "
                f"{list(context.shape)} must share the batch size and latent shape"
            )
        width = self.config.context_dim + (self.config.camera_dim if self.config.camera_film else 0)
        if context.ndim != 3 or context.shape[1:] != (1, width):
            raise ValueError(f"context must be [B,1,{width}] (from ZeroNVSModel.context), got {list(context.shape)}")
        timesteps = torch.as_tensor(t, device=latents.device).long().reshape(-1)
        if timesteps.numel() not in (1, batch):
            raise ValueError(f"t must be one timestep or {batch}, got {timesteps.numel()}")
        timesteps = timesteps.expand(batch)
        if guidance_scale == 1.0:
            return self._unet(latents, timesteps, context, concat_latent)
        eps_uncond, eps_cond = self._unet(
            torch.cat([latents, latents]),
            torch.cat([timesteps, timesteps]),
            torch.cat([torch.zeros_like(context), context]),
            torch.cat([torch.zeros_like(concat_latent), concat_latent]),
        ).chunk(2)
        return eps_uncond + guidance_scale * (eps_cond - eps_uncond)

    def forward(
        self, latents: torch.Tensor, t, clip_embedding: torch.Tensor, camera: torch.Tensor, concat_latent: torch.Tensor
    ) -> torch.Tensor:
        """Training forward: the conditional noise prediction ``[B,4,h,w]`` with the context computed
        inside (``context(clip_embedding, camera)``), so a DDP wrapper sees every trained weight."""
        return self.eps(latents, t, self.context(clip_embedding, camera), concat_latent)

    def encode(
        self, image_pm1: torch.Tensor, generator: torch.Generator | None = None, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Diffusion latents ``[B,4,h,w]`` = VAE posterior *sample* x scale_factor, with gradients to
        the image (SDS backpropagates through the encoder). The sample is ``mean + std * noise``: ``noise``
        ``[B,4,h,w]`` when given (what ``generator`` would draw: ``torch.randn`` in the model's dtype on its
        device), else drawn from ``generator``."""
        _check_images(image_pm1, "image_pm1")
        posterior = self.vae.encode(image_pm1.to(self.dtype)).latent_dist
        if noise is None:
            return posterior.sample(generator=generator).float() * self.config.scale_factor
        return (posterior.mean + posterior.std * noise.to(posterior.mean)).float() * self.config.scale_factor

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Images ``[B,3,H,W]`` in about [-1,1] (not clamped) from diffusion latents ``[B,4,h,w]``."""
        _check_latents(latents, "latents", self.config.latent_channels)
        return self.vae.decode((latents / self.config.scale_factor).to(self.dtype)).sample.float()

    def compile_unet(self, cuda_graphs: bool | None = None) -> None:
        """Run the UNet through ``torch.compile`` from now on (every ``eps`` call: SDS guidance and
        ``sample_views``); off unless called. ``cuda_graphs`` (default: on CUDA) uses ``mode="reduce-overhead"``,
        which replays the compiled UNet as a CUDA graph, for a call that is launch-bound (one guided call at
        batch 2: 49.9 ms on an H200, 0.9 % of matmul peak). Shapes are static: each new batch or latent size
        compiles once more. Inference only (``eps`` runs it under ``no_grad`` in SDS); the double backward of
        the field is never compiled (torch.compile does not support it). The CUDA-graph mode has not run on a
        GPU yet (written on a CPU-only machine)."""
        graphs = self.device.type == "cuda" if cuda_graphs is None else cuda_graphs
        compiled = torch.compile(self.unet, mode="reduce-overhead" if graphs else None, dynamic=False)
        object.__setattr__(self, "_compiled_unet", compiled)  # not registered as a submodule

    def _unet(self, latents, timesteps, context, concat_latent) -> torch.Tensor:
        sample = torch.cat([latents, concat_latent], dim=1).to(self.dtype)
        unet = self.unet if self._compiled_unet is None else self._compiled_unet
        if self.config.camera_film:
            context, camera = context.split([self.config.context_dim, self.config.camera_dim], dim=-1)
            scales = 1.0 + self.camera_film(camera[:, 0].to(self.dtype))
            self._film_scales = list(scales.split(self._film_channels, dim=-1))
        try:
            with self._autocast():
                out = unet(sample, timesteps, encoder_hidden_states=context.to(self.dtype)).sample
        finally:
            self._film_scales = None
        # a CUDA-graph replay overwrites its output buffer at the next call: copy it out
        return out.float().clone() if self._compiled_unet is not None else out.float()

    def _film_hook(self, index: int):
        """Forward hook of the ``index``-th resnet block: its output ``[B,C,h,w]`` times the FiLM scale
        ``[B,C]`` of the current call (``config.camera_film``)."""

        def hook(module, inputs, output):
            if self._film_scales is None:
                raise RuntimeError("the UNet of a camera_film model runs only through ZeroNVSModel.eps")
            return output * self._film_scales[index][:, :, None, None].to(output.dtype)

        return hook

    def _autocast(self):
        """Autocast in the weights' half precision on CUDA (as the official guidance); a no-op otherwise."""
        if self.device.type == "cuda" and self.dtype in (torch.float16, torch.bfloat16):
            return torch.autocast("cuda", dtype=self.dtype)
        return contextlib.nullcontext()


def _check_images(image: torch.Tensor, name: str) -> None:
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[1] != 3:
        shape = list(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"{name} must be a [B,3,H,W] image tensor in [-1,1], got {shape}")


def _check_latents(latents: torch.Tensor, name: str, channels: int) -> None:
    if not isinstance(latents, torch.Tensor) or latents.ndim != 4 or latents.shape[1] != channels:
        shape = list(latents.shape) if isinstance(latents, torch.Tensor) else type(latents).__name__
        raise ValueError(f"{name} must be [B,{channels},h,w] latents, got {shape}")
