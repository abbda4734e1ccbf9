"""ZeroNVS Conditioning: positive and negative conditioning and a latent for ComfyUI's stock KSampler with a
Zero-1-to-3-class ZeroNVS checkpoint (the layout: ``zeronvs_core/stock_conditioning.py``)."""

from __future__ import annotations

from .comfy_io import io
from .images import photo_from_image
from .types import photo_inputs

__all__ = ["StockConditioning"]


class StockConditioning(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ZeroNVS_Conditioning",
            display_name="ZeroNVS Conditioning",
            category="ZeroNVS/sampling",
            description="The photo's CLIP embedding (official preprocessing) with each target camera's ZeroNVS "
            "camera vector, and its VAE latent, as ComfyUI's Zero-1-to-3 model class takes them; negative: the "
            "official zero branch. One latent per target camera, for KSampler.",
            inputs=photo_inputs(),
            outputs=[
                io.Conditioning.Output(
                    display_name="positive", tooltip="CLIP embedding with each target camera, and the photo's latent."
                ),
                io.Conditioning.Output(
                    display_name="negative", tooltip="The official unconditional branch (zeros), for KSampler."
                ),
                io.Latent.Output(display_name="latent", tooltip="Zeros, one per target camera (denoise 1)."),
            ],
        )

    @classmethod
    def execute(cls, model, image, cameras, scale, mask=None):
        from zeronvs_core.stock_conditioning import stock_conditioning

        tensors = stock_conditioning(
            model.ready(), photo_from_image(image, mask), cameras.input_c2w, cameras.target_c2w, cameras.fov_deg, scale
        )
        positive = [[tensors.cross_attn, {"concat_latent_image": tensors.concat_latent}]]
        negative = [[tensors.negative_cross_attn, {"concat_latent_image": tensors.negative_concat_latent}]]
        return io.NodeOutput(positive, negative, {"samples": tensors.latent})
