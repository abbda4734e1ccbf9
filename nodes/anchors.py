"""Anchor Generator: DDIM "anchor" views around the scene that the SDS Distiller conditions its nearest
views on early in distillation (the paper's SDS anchoring; off in the official scripts)."""

from __future__ import annotations

from .comfy_io import io
from .images import photo_from_image, to_image
from .progress import progress
from .sampler import MAX_GUIDANCE, MAX_STEPS
from .types import ANCHORS, CAMERAS, photo_inputs, seed_input

__all__ = ["AnchorGenerator"]

MAX_ANCHORS = 16


class AnchorGenerator(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ZeroNVS_AnchorGenerator",
            display_name="ZeroNVS Anchor Generator",
            category="ZeroNVS/distillation",
            description="Anchor views at the input camera's elevation and distance, evenly spaced in azimuth "
            "around the scene. Connect 'anchors' to the SDS Distiller. Only the target cameras' FOV and the "
            "input elevation are used from 'cameras'.",
            inputs=[
                *photo_inputs(),
                seed_input(),
                io.Int.Input("count", default=4, min=1, max=MAX_ANCHORS, tooltip="Number of anchor views."),
                io.Int.Input(
                    "steps", default=500, min=1, max=MAX_STEPS, tooltip="DDIM steps per anchor (official: 500)."
                ),
                io.Float.Input(
                    "guidance_scale",
                    default=3.0,
                    min=0.0,
                    max=MAX_GUIDANCE,
                    step=0.1,
                    tooltip="Classifier-free guidance scale of the anchors' DDIM (official: 3).",
                ),
            ],
            outputs=[
                ANCHORS.Output(
                    display_name="anchors",
                    tooltip="Anchor views with their cameras and conditioning, for the SDS "
                    "Distiller's 'anchors' input.",
                ),
                io.Image.Output(display_name="views", tooltip="The anchor views."),
                CAMERAS.Output(display_name="cameras", tooltip="The anchor cameras as targets."),
            ],
        )

    @classmethod
    def execute(cls, model, image, cameras, scale, seed, count, steps, guidance_scale, mask=None):
        import torch

        from zeronvs_core.anchors import AnchorConfig, make_anchor_views

        views = make_anchor_views(
            model.ready(),
            photo_from_image(image, mask),
            cameras.input_c2w,
            cameras.fov_deg,
            scale,
            AnchorConfig(count=count, steps=steps, guidance_scale=guidance_scale),
            cameras.elevation_deg,
            generator=torch.Generator().manual_seed(seed),
            callback=progress(),
        )
        return io.NodeOutput(views, to_image(views.images), cameras.with_targets(views.c2w))
