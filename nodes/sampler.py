"""ZeroNVS Sampler: novel views of the photo from the target cameras, by DDIM with classifier-free
guidance (no 3D step: each view is sampled on its own)."""

from __future__ import annotations

from .comfy_io import io
from .images import photo_from_image, to_image
from .progress import progress
from .types import photo_inputs, seed_input

__all__ = ["Sampler"]

MAX_STEPS = 1000
MAX_GUIDANCE = 100.0


class Sampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ZeroNVS_Sampler",
            display_name="ZeroNVS Sampler",
            category="ZeroNVS/sampling",
            description="Novel views of the photo, one per target camera, sampled directly from the diffusion "
            "model (fast; the views are not 3D-consistent with each other).",
            inputs=[
                *photo_inputs(),
                seed_input(),
                io.Int.Input("steps", default=50, min=1, max=MAX_STEPS, tooltip="DDIM steps (official: 50)."),
                io.Float.Input(
                    "guidance_scale",
                    default=3.0,
                    min=0.0,
                    max=MAX_GUIDANCE,
                    step=0.1,
                    tooltip="Classifier-free guidance scale (official: 3).",
                ),
                io.Float.Input(
                    "eta", default=1.0, min=0.0, max=1.0, step=0.01, tooltip="DDIM eta: 0 deterministic, 1 official."
                ),
            ],
            outputs=[io.Image.Output(display_name="views", tooltip="One view per target camera.")],
        )

    @classmethod
    def execute(cls, model, image, cameras, scale, seed, steps, guidance_scale, eta, mask=None):
        import torch

        from zeronvs_core.sampling import sample_views

        views = sample_views(
            model.ready(),
            photo_from_image(image, mask),
            cameras.input_c2w,
            cameras.target_c2w,
            cameras.fov_deg,
            scale,
            steps=steps,
            guidance_scale=guidance_scale,
            eta=eta,
            generator=torch.Generator().manual_seed(seed),
            callback=progress(),
        )
        return io.NodeOutput(to_image(views))
