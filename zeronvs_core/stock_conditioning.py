"""ZeroNVS conditioning in the layout of ComfyUI's Zero-1-to-3 model class, for its stock samplers.

ComfyUI's ``Stable_Zero123`` model (``comfy/model_base.py``, v0.3.64) takes, per conditioning entry, a
cross-attention input and a ``concat_latent_image``: it applies the checkpoint's ``cc_projection`` to the
cross-attention input when its last dimension is not 768, and feeds the concat latent to the UNet as it is
(unscaled), as ZeroNVS does. So ZeroNVS's conditioning maps onto it without code in ComfyUI:

- positive: ``cat(CLIP image embedding, camera vector)`` ``[N,1,D+E]`` (768 + 19 = 787 for the released
  model), which ComfyUI projects with ``cc_projection`` to the UNet context, exactly ``model.context``;
  concat latent: the photo's unscaled VAE posterior mode ``[N,4,h,w]``.
- negative: the official unconditional branch (``ZeroNVSModel.eps``): a zero context ``[N,1,C]`` (C = the
  UNet's context width, 768 for the released model, so ComfyUI passes it through unprojected) and a zero
  concat latent, as ComfyUI's own ``StableZero123_Conditioning`` does.
- latent: zeros ``[N,4,h,w]``, the empty latent that KSampler noises (``denoise`` 1).

The photo is preprocessed as the official code does (``sampling.view_conditioning``: centre crop, resize,
CLIP's bicubic resize without antialias), not with ComfyUI's ``clip_preprocess`` (antialiased): the CLIP
embedding is computed here, from the ZeroNVS model's own image encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .model import ZeroNVSModel
from .sampling import view_conditioning

__all__ = ["StockConditioning", "stock_conditioning"]


@dataclass(frozen=True)
class StockConditioning:
    """Tensors of ``stock_conditioning``, float32 on the CPU (ComfyUI's intermediate device)."""

    cross_attn: torch.Tensor
    """``[N,1,D+E]`` CLIP embedding then camera vector, before ``cc_projection``."""
    concat_latent: torch.Tensor
    """``[N,4,h,w]`` the photo's VAE posterior mode, unscaled."""
    negative_cross_attn: torch.Tensor
    """``[N,1,C]`` zeros (C = the UNet's context width)."""
    negative_concat_latent: torch.Tensor
    """``[N,4,h,w]`` zeros."""
    latent: torch.Tensor
    """``[N,4,h,w]`` zeros: the latent to sample from."""


@torch.no_grad()
def stock_conditioning(
    model: ZeroNVSModel, image: torch.Tensor, cond_c2w: torch.Tensor, target_c2w: torch.Tensor, fov_deg, scale
) -> StockConditioning:
    """Positive and negative conditioning and the empty latent for ``N`` target views (arguments as in
    ``sampling.sample_views``). Raises ``ValueError`` for bad cameras, FOV, scale or photo, as it does, and
    for a model with ``config.camera_film``, whose extra camera path ComfyUI's ``Stable_Zero123`` lacks."""
    if model.config.camera_film:
        raise ValueError(
            "model: this model has the camera_film path (the demo model), which ComfyUI's stock Stable_Zero123 "
            "model does not run; sample it with the ZeroNVS Sampler node"
        )
    clip_embedding, camera, concat_latent = view_conditioning(model, image, cond_c2w, target_c2w, fov_deg, scale)
    cross_attn = torch.cat([clip_embedding, camera[:, None, :]], dim=-1).cpu()
    concat_latent = concat_latent.cpu().contiguous()
    context_dim = model.cc_projection.out_features
    return StockConditioning(
        cross_attn=cross_attn,
        concat_latent=concat_latent,
        negative_cross_attn=torch.zeros(cross_attn.shape[0], 1, context_dim),
        negative_concat_latent=torch.zeros_like(concat_latent),
        latent=torch.zeros_like(concat_latent),
    )
