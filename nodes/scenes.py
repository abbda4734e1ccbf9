"""Save Scene and Load Scene: distilled scenes as ``.safetensors`` files (``zeronvs_core.render`` format),
saved into ComfyUI's output folder and loaded from the input folder or the output folder's ``zeronvs``."""

from __future__ import annotations

import os

from .comfy_io import check_choice, io
from .types import SCENE, DistilledScene

try:
    import folder_paths
except ImportError:  # no ComfyUI: no scene files to offer
    folder_paths = None

__all__ = ["LoadScene", "SaveScene"]

OUTPUT_SUBFOLDER = "zeronvs"
"""Load Scene lists every scene file in this folder of the output folder (where Save Scene writes by default),
whatever its prefix: files written as ``zeronvs/field_*`` before the rename have the same format."""
SUFFIX = ".safetensors"


class SaveScene(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ZeroNVS_SaveScene",
            display_name="ZeroNVS Save Scene",
            category="ZeroNVS/rendering",
            description="Writes the distilled scene (weights, render settings, input camera) as a .safetensors "
            "file into the output folder and shows its path on the node; Load Scene and 'zeronvs render' read it.",
            inputs=[
                SCENE.Input("scene", tooltip="The distilled 3D scene to save (SDS Distiller)."),
                io.String.Input(
                    "filename_prefix",
                    default=f"{OUTPUT_SUBFOLDER}/scene",
                    tooltip=f"File name in the output folder; a counter and {SUFFIX} are appended.",
                ),
            ],
            outputs=[],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, scene, filename_prefix):
        from zeronvs_core.render import save_scene

        output = folder_paths.get_output_directory()
        folder, name, counter, _, _ = folder_paths.get_save_image_path(filename_prefix, output)
        path = save_scene(scene.scene, os.path.join(folder, f"{name}_{counter:05}_{SUFFIX}"), scene.settings)
        saved = os.path.relpath(path, output).replace(os.sep, "/")
        # {"text": (...)} is what comfy_api's ui.PreviewText sends; web/save_scene.js shows it on the node
        return io.NodeOutput(ui={"text": (f"saved to output/{saved}",)})


class LoadScene(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ZeroNVS_LoadScene",
            display_name="ZeroNVS Load Scene",
            category="ZeroNVS/rendering",
            description="Reads a scene written by Save Scene or by 'zeronvs orbit'.",
            inputs=[
                io.Combo.Input(
                    "scene_file",
                    options=_scene_files(),
                    tooltip=f"{SUFFIX} files in the input folder, and in output/{OUTPUT_SUBFOLDER} (marked [output]).",
                ),
            ],
            outputs=[SCENE.Output(display_name="scene", tooltip="The loaded 3D scene, for the Orbit Renderer.")],
        )

    @classmethod
    def execute(cls, scene_file):
        import comfy.model_management

        from zeronvs_core.render import load_scene

        check_choice("scene_file", scene_file, _scene_files())
        path = folder_paths.get_annotated_filepath(scene_file)
        scene, settings = load_scene(path, device=comfy.model_management.get_torch_device())
        return io.NodeOutput(DistilledScene(scene, settings))


def _scene_files() -> list[str]:
    """Names for the combo: paths relative to the input folder, then ``name [output]`` for output files
    (ComfyUI's annotated file names, resolved by ``folder_paths.get_annotated_filepath``)."""
    if folder_paths is None:
        return []
    output = folder_paths.get_output_directory()
    inputs = _files_under(folder_paths.get_input_directory())
    outputs = _files_under(os.path.join(output, OUTPUT_SUBFOLDER))
    return inputs + [f"{os.path.join(OUTPUT_SUBFOLDER, name)} [output]" for name in outputs]


def _files_under(directory: str) -> list[str]:
    found = []
    for root, _, files in os.walk(directory):
        found += [os.path.relpath(os.path.join(root, name), directory) for name in files if name.endswith(SUFFIX)]
    return sorted(found)
