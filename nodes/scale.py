"""Scene Normalizer: the viewer scale s of the input photo, a constant or measured on a depth map."""

from __future__ import annotations

from zeronvs_core.wild_defaults import SCALE

from .comfy_io import check_choice, io
from .images import from_mask_or_image

__all__ = ["MODES", "SceneNormalizer"]

MODES = ("constant", "depth", "disparity")
SCALE_RANGE = (0.01, 100.0)


class SceneNormalizer(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ZeroNVS_SceneNormalizer",
            display_name="ZeroNVS Scene Normalizer",
            category="ZeroNVS/cameras",
            description="The viewer scale s: how near the scene's near parts are, in units of the distance from "
            "the camera to the orbit centre (the point seen at the centre of the photo).",
            inputs=[
                io.Combo.Input(
                    "mode",
                    options=list(MODES),
                    default="constant",
                    tooltip="constant: s = 'scale'. depth / disparity: s = the 20th percentile of the map's "
                    "depth after dividing it by the depth at the centre of the photo (maps are cropped to the "
                    "photo's centred square). depth: larger = farther, 0 = unknown. disparity (what most depth "
                    "estimator nodes output, bright = near): depth = 1 / disparity, 0 = infinitely far.",
                ),
                io.Float.Input(
                    "scale",
                    default=SCALE,
                    min=SCALE_RANGE[0],
                    max=SCALE_RANGE[1],
                    step=0.01,
                    tooltip="constant mode: s itself. 0.7 suits most photos (official); large rooms need about 2.",
                ),
                io.Image.Input("map_image", optional=True, tooltip="depth and disparity modes: the map as an IMAGE."),
                io.Mask.Input("map_mask", optional=True, tooltip="depth and disparity modes: the map as a MASK."),
            ],
            outputs=[io.Float.Output(display_name="scale", tooltip="The viewer scale s.")],
        )

    @classmethod
    def execute(cls, mode, scale, map_image=None, map_mask=None):
        from zeronvs_core.scene_scale import viewer_scale_from_map

        check_choice("mode", mode, MODES)
        if mode == "constant":
            return io.NodeOutput(float(scale))
        scales = viewer_scale_from_map(from_mask_or_image(map_image, map_mask, "map"), mode)
        if scales.numel() != 1:
            raise ValueError(f"map: one map is expected (for the one input photo), got {scales.numel()}")
        return io.NodeOutput(float(scales))
