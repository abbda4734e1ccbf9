"""Orbit Renderer (a distilled scene seen from the target cameras) and Save Orbit Video (an mp4 in
ComfyUI's output folder)."""

from __future__ import annotations

import os

from .comfy_io import io
from .images import from_image, to_image, to_mask
from .progress import progress
from .types import CAMERAS, SCENE

__all__ = ["OrbitRenderer", "SaveOrbitVideo"]

SIZE_RANGE = (8, 2048)
MAX_FPS = 120


class OrbitRenderer(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ZeroNVS_OrbitRenderer",
            display_name="ZeroNVS Orbit Renderer",
            category="ZeroNVS/rendering",
            description="Renders the scene from each target camera: colour frames, a depth visualisation and "
            "the opacity. An orbit from the Camera Pose Builder gives a 360 degree turn.",
            inputs=[
                SCENE.Input("scene", tooltip="A distilled 3D scene (SDS Distiller or Load Scene)."),
                CAMERAS.Input("cameras", tooltip="The target cameras are rendered (their FOV too)."),
                io.Int.Input("size", default=128, min=SIZE_RANGE[0], max=SIZE_RANGE[1], tooltip="Frame side, pixels."),
            ],
            outputs=[
                io.Image.Output(display_name="frames", tooltip="One rendered frame per target camera."),
                io.Image.Output(display_name="depth", tooltip="Inverse depth scaled to [0,1] (bright = near)."),
                io.Mask.Output(display_name="opacity", tooltip="Accumulated opacity (0 = background)."),
            ],
        )

    @classmethod
    def execute(cls, scene, cameras, size):
        from zeronvs_core.render import depth_to_image, render_path

        callback = progress(previews=True)
        frames = render_path(scene.scene, cameras.target_c2w, cameras.fov_deg, size, scene.settings, callback)
        return io.NodeOutput(to_image(frames.rgb), to_image(depth_to_image(frames.depth)), to_mask(frames.opacity))


class SaveOrbitVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ZeroNVS_SaveOrbitVideo",
            display_name="ZeroNVS Save Orbit Video",
            category="ZeroNVS/rendering",
            description="Writes the frames as an H.264 mp4 into ComfyUI's output folder.",
            inputs=[
                io.Image.Input("images", tooltip="The frames, in order."),
                io.Int.Input("fps", default=24, min=1, max=MAX_FPS, tooltip="Frames per second."),
                io.String.Input(
                    "filename_prefix",
                    default="zeronvs/orbit",
                    tooltip="File name in the output folder; a counter and .mp4 are appended.",
                ),
            ],
            outputs=[],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, images, fps, filename_prefix):
        import folder_paths

        from zeronvs_core.render import write_video

        frames = from_image(images)
        output = folder_paths.get_output_directory()
        height, width = frames.shape[2:]
        folder, name, counter, subfolder, _ = folder_paths.get_save_image_path(filename_prefix, output, width, height)
        filename = f"{name}_{counter:05}_.mp4"
        write_video(frames, os.path.join(folder, filename), fps=fps)
        saved = {"filename": filename, "subfolder": subfolder, "type": "output"}
        return io.NodeOutput(ui={"images": [saved], "animated": (True,)})
