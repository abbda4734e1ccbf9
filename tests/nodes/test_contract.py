"""The node pack's contract with ComfyUI: ids, categories, schemas against ``execute``, the V1 fallback
registering the same nodes, and a light import."""

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

FAKE_COMFY = Path(__file__).parent / "fake_comfy"
NODES_PACKAGE = Path(__file__).resolve().parents[2] / "nodes"


def test_node_ids_are_unique_and_prefixed(comfy):
    schemas = [node.define_schema() for node in comfy.classes.values()]
    ids = [schema.node_id for schema in schemas]
    assert len(ids) == len(set(ids)) == 12
    assert all(node_id.startswith("ZeroNVS_") for node_id in ids)
    assert all(schema.category.startswith("ZeroNVS/") for schema in schemas)
    names = [schema.display_name for schema in schemas]
    assert len(names) == len(set(names)) and all("ZeroNVS" in name for name in names)


def test_schema_inputs_are_the_execute_parameters(comfy):
    for node_id, node in comfy.classes.items():
        schema = node.define_schema()
        parameters = inspect.signature(node.execute).parameters
        required = [item.id for item in schema.inputs if not item.optional]
        assert list(parameters)[: len(required)] == required, node_id  # optional sockets may sit between
        assert sorted(parameters) == sorted(item.id for item in schema.inputs), node_id
        for item in schema.inputs:
            default = parameters[item.id].default
            assert (default is None) if item.optional else (default is inspect.Parameter.empty), (node_id, item.id)


def test_the_v1_fallback_registers_the_same_nodes(load_pack):
    v3 = {node_id: node.define_schema() for node_id, node in load_pack(v3=True).classes.items()}
    pack = load_pack(v3=False).pack
    assert not hasattr(pack, "comfy_entrypoint")
    assert list(pack.NODE_CLASS_MAPPINGS) == list(v3)
    for node_id, node in pack.NODE_CLASS_MAPPINGS.items():
        schema = v3[node_id]
        types = node.INPUT_TYPES()
        assert list(types["required"]) == [item.id for item in schema.inputs if not item.optional]
        assert list(types["optional"]) == [item.id for item in schema.inputs if item.optional]
        assert node.RETURN_TYPES == tuple(output.io_type for output in schema.outputs)
        assert (node.CATEGORY, node.OUTPUT_NODE) == (schema.category, schema.is_output_node)
        assert pack.NODE_DISPLAY_NAME_MAPPINGS[node_id] == schema.display_name
        assert callable(getattr(node(), node.FUNCTION))
    assert pack.NODE_CLASS_MAPPINGS["ZeroNVS_SceneNormalizer"].INPUT_TYPES()["required"]["mode"][0] == [
        "constant",
        "depth",
        "disparity",
    ]


def test_the_fake_v3_api_rejects_what_comfyui_0_3_64_lacks(comfy):
    io = sys.modules["comfy_api.latest"].io
    with pytest.raises(TypeError):
        io.Int.Input("steps", advanced=True)  # a keyword of newer ComfyUI versions only


def test_loading_the_pack_imports_no_heavy_library():
    code = f"""
import asyncio, importlib.util, sys
sys.path.insert(0, {str(FAKE_COMFY)!r})
import folder_paths
folder_paths.set_base("/nonexistent")
spec = importlib.util.spec_from_file_location(
    "pack", {str(NODES_PACKAGE / "__init__.py")!r}, submodule_search_locations=[{str(NODES_PACKAGE)!r}]
)
pack = importlib.util.module_from_spec(spec)
sys.modules["pack"] = pack
spec.loader.exec_module(pack)
assert "torch" not in sys.modules, "importing the pack imported torch"
nodes = asyncio.run(asyncio.run(pack.comfy_entrypoint()).get_node_list())
[node.define_schema() for node in nodes]
heavy = ("diffusers", "transformers", "nerfacc", "cv2", "imageio", "accelerate", "safetensors")
loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set(heavy))
assert not loaded, f"building the schemas imported {{loaded}}"
"""
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_socket_and_widget_has_a_tooltip(comfy):
    missing = [
        (node_id, kind, item.id if kind == "input" else item.display_name)
        for node_id, node in comfy.classes.items()
        for kind, items in (("input", node.define_schema().inputs), ("output", node.define_schema().outputs))
        for item in items
        if not (getattr(item, "tooltip", None) or "").strip()
    ]
    assert not missing, missing


def test_the_force_input_scale_has_a_default_for_the_node_preview(comfy):
    # ComfyUI's search preview prints each FLOAT input's default: without one it shows "scale: undefined"
    for node_id in ("ZeroNVS_Sampler", "ZeroNVS_AnchorGenerator", "ZeroNVS_SDSDistiller", "ZeroNVS_Conditioning"):
        (scale,) = [item for item in comfy.classes[node_id].define_schema().inputs if item.id == "scale"]
        assert (scale.force_input, scale.default) == (True, 0.7), node_id
