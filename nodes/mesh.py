"""Save Mesh: the distilled scene as a coloured mesh file in ComfyUI's output folder, shown by ComfyUI's own
3D viewer (the core ``Preview3D`` node takes the returned path; no front-end code of ours)."""

from __future__ import annotations

import os

from zeronvs_core.mesh_options import REGIONS

from .comfy_io import check_choice, io
from .progress import progress
from .types import SCENE

__all__ = ["SaveMesh"]

FORMATS = ("glb", "obj", "ply")
"""File formats; ComfyUI 0.3.64's 3D viewer opens GLB and OBJ (not PLY)."""
MAX_RESOLUTION = 1024


class SaveMesh(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ZeroNVS_SaveMesh",
            display_name="ZeroNVS Save Mesh",
            category="ZeroNVS/rendering",
            description="Marching cubes over the scene's density with vertex colours from the scene, written "
            "into the output folder (GLB and OBJ y-up, PLY z-up; world units). Link mesh_path to Preview 3D's "
            "model_file to see it in ComfyUI's 3D viewer.",
            inputs=[
                SCENE.Input("scene", tooltip="A distilled 3D scene (SDS Distiller or Load Scene)."),
                io.String.Input(
                    "filename_prefix",
                    default="zeronvs/mesh",
                    tooltip="File name in the output folder; a counter and the format's extension are appended.",
                ),
                io.Combo.Input(
                    "format", options=list(FORMATS), default="glb", tooltip="glb and obj show in Preview 3D."
                ),
                io.Int.Input(
                    "resolution",
                    default=256,
                    min=2,
                    max=MAX_RESOLUTION,
                    tooltip="Grid points per axis; time and memory grow as its cube.",
                ),
                io.Float.Input(
                    "threshold",
                    default=0.0,
                    min=0.0,
                    max=1e6,
                    step=0.1,
                    tooltip="Surface density per world unit; 0: automatic (half opaque over one render step, "
                    "22.2 for the official render settings). Lower it for holes, raise it for haze.",
                ),
                io.Combo.Input(
                    "region",
                    options=list(REGIONS),
                    default="foreground",
                    tooltip="foreground: the cube around the input camera's look-at point; scene: all of it.",
                ),
                io.Float.Input(
                    "half_size",
                    default=0.5,
                    min=0.01,
                    max=100.0,
                    step=0.01,
                    tooltip="Half-side of the foreground cube, world units (the input camera is 1 from its centre).",
                ),
            ],
            outputs=[
                io.String.Output(
                    display_name="mesh_path", tooltip="The file, relative to the output folder (for Preview 3D)."
                )
            ],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, scene, filename_prefix, format, resolution, threshold, region, half_size):  # noqa: A002
        import folder_paths

        from zeronvs_core.mesh import export_mesh

        check_choice("format", format, FORMATS)
        check_choice("region", region, REGIONS)
        output = folder_paths.get_output_directory()
        folder, name, counter, subfolder, _ = folder_paths.get_save_image_path(filename_prefix, output)
        filename = f"{name}_{counter:05}_.{format}"
        export_mesh(
            scene.scene,
            os.path.join(folder, filename),
            resolution=resolution,
            threshold=threshold if threshold > 0 else None,
            region=region,
            half_size=half_size,
            settings=scene.settings,
            callback=progress(),
        )
        mesh_path = f"{subfolder}/{filename}" if subfolder else filename
        saved = {"filename": filename, "subfolder": subfolder, "type": "output"}
        return io.NodeOutput(mesh_path.replace(os.sep, "/"), ui={"3d": [saved]})
