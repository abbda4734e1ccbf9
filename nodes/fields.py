"""Save Field and Load Field: distilled fields as ``.safetensors`` files (``zeronvs_core.render`` format),
saved into ComfyUI's output folder and loaded from the input folder or the output folder's ``zeronvs``."""

from __future__ import annotations

import os

from .comfy_io import check_choice, io
from .types import FIELD, Field

try:
    import folder_paths
except ImportError:  # no ComfyUI: no field files to offer
    folder_paths = None

__all__ = ["LoadField", "SaveField"]

OUTPUT_SUBFOLDER = "zeronvs"
"""Load Field lists the fields in this folder of the output folder (where Save Field writes by default)."""
SUFFIX = ".safetensors"


class SaveField(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ZeroNVS_SaveField",
            display_name="ZeroNVS Save Field",
            category="ZeroNVS/rendering",
            description="Writes the distilled field (weights, render settings, input camera) as a .safetensors "
            "file into the output folder and shows its path on the node; Load Field and 'zeronvs render' read it.",
            inputs=[
                FIELD.Input("field", tooltip="The distilled 3D field to save (SDS Distiller)."),
                io.String.Input(
                    "filename_prefix",
                    default=f"{OUTPUT_SUBFOLDER}/field",
                    tooltip=f"File name in the output folder; a counter and {SUFFIX} are appended.",
                ),
            ],
            outputs=[],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, field, filename_prefix):
        from zeronvs_core.render import save_scene

        output = folder_paths.get_output_directory()
        folder, name, counter, _, _ = folder_paths.get_save_image_path(filename_prefix, output)
        path = save_scene(field.scene, os.path.join(folder, f"{name}_{counter:05}_{SUFFIX}"), field.settings)
        saved = os.path.relpath(path, output).replace(os.sep, "/")
        # {"text": (...)} is what comfy_api's ui.PreviewText sends; web/save_field.js shows it on the node
        return io.NodeOutput(ui={"text": (f"saved to output/{saved}",)})


class LoadField(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ZeroNVS_LoadField",
            display_name="ZeroNVS Load Field",
            category="ZeroNVS/rendering",
            description="Reads a field written by Save Field or by 'zeronvs orbit'.",
            inputs=[
                io.Combo.Input(
                    "field_file",
                    options=_field_files(),
                    tooltip=f"{SUFFIX} files in the input folder, and in output/{OUTPUT_SUBFOLDER} (marked [output]).",
                ),
            ],
            outputs=[FIELD.Output(display_name="field", tooltip="The loaded 3D field, for the Orbit Renderer.")],
        )

    @classmethod
    def execute(cls, field_file):
        import comfy.model_management

        from zeronvs_core.render import load_scene

        check_choice("field_file", field_file, _field_files())
        path = folder_paths.get_annotated_filepath(field_file)
        scene, settings = load_scene(path, device=comfy.model_management.get_torch_device())
        return io.NodeOutput(Field(scene, settings))


def _field_files() -> list[str]:
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
