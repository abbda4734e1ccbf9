"""The shipped workflows: every node exists, UI widget values line up with the node widgets, the API
copies are the UI workflows, they pass ComfyUI-style validation, and they run end to end (tiny model,
few steps) to images of the right shape, under the V3 API and the V1 fallback."""

import json
from pathlib import Path

import pytest
import torch

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
NAMES = ["novel_views", "orbit_sds", "orbit_sds_anchored", "scale_from_depth"]
"""The workflows of this file; the mesh and KSampler ones (which use more core nodes) are tested in
``test_new_workflows.py``."""
NEW_NAMES = ["ksampler_views", "mesh_preview"]
WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
CORE_NODES = {"LoadImage": (["image", "upload"], []), "PreviewImage": ([], ["images"])}
"""ComfyUI's own nodes the workflows use: (widget names, socket input names)."""
SMALL = {
    "ZeroNVS_CameraPoseBuilder": {"count": 2},
    "ZeroNVS_Sampler": {"steps": 2},
    "ZeroNVS_AnchorGenerator": {"steps": 1, "count": 1},
    "ZeroNVS_SDSDistiller": {"steps": 1},
    "ZeroNVS_OrbitRenderer": {"size": 16},
}
"""Settings that make the workflows quick on the tiny model (applied on top of the shipped values)."""


def _ui(name: str) -> dict:
    return json.loads((WORKFLOWS / f"{name}.json").read_text())


def _api(name: str) -> dict:
    return json.loads((WORKFLOWS / "api" / f"{name}.json").read_text())


def _is_widget(item) -> bool:
    return item.io_type in WIDGET_TYPES and not item.force_input


def _widget_slots(schema) -> list[str]:
    """Names of ``widgets_values`` entries, as the frontend writes them (a seed adds its control mode)."""
    slots = []
    for item in schema.inputs:
        if _is_widget(item):
            slots.append(item.id)
            if getattr(item, "control_after_generate", None):
                slots.append(f"{item.id}:control_after_generate")
    return slots


def _sockets(schema) -> list:
    return [item for item in schema.inputs if not _is_widget(item)]


def test_workflow_sets_match():
    everything = sorted(NAMES + NEW_NAMES)
    assert sorted(path.stem for path in WORKFLOWS.glob("*.json")) == everything
    assert sorted(path.stem for path in (WORKFLOWS / "api").glob("*.json")) == everything


@pytest.mark.parametrize("name", NAMES)
def test_every_node_exists_and_ui_widgets_line_up(comfy, name):
    schemas = {node_id: node.define_schema() for node_id, node in comfy.classes.items()}
    workflow = _ui(name)
    assert workflow["version"] == 0.4 and workflow["last_node_id"] == max(node["id"] for node in workflow["nodes"])
    for node in workflow["nodes"]:
        kind = node["type"]
        assert kind in schemas or kind in CORE_NODES, f"{name}: unknown node {kind}"
        if kind in CORE_NODES:
            widgets, sockets = CORE_NODES[kind]
            assert len(node["widgets_values"]) == len(widgets)
            assert [socket["name"] for socket in node["inputs"]] == sockets
            continue
        schema = schemas[kind]
        slots = _widget_slots(schema)
        assert len(node["widgets_values"]) == len(slots), f"{name}: {kind} widgets {slots}"
        by_name = {item.id: item for item in schema.inputs}
        for slot, value in zip(slots, node["widgets_values"], strict=True):
            if slot in by_name:
                _check_value(by_name[slot], value, f"{name}: {kind}.{slot}")
            else:
                assert value in ("fixed", "increment", "decrement", "randomize")
        assert [(s["name"], s["type"]) for s in node["inputs"]] == [(i.id, i.io_type) for i in _sockets(schema)]
        outputs = [(o["name"], o["type"]) for o in node["outputs"]]
        assert outputs == [(o.display_name or o.io_type, o.io_type) for o in schema.outputs]


def _check_value(item, value, where: str) -> None:
    """A widget value that ComfyUI's validation accepts: right type, in range, one of the options."""
    if item.io_type == "COMBO":
        assert value in item.options, f"{where}: {value!r} not in {item.options}"
        return
    expected = {"INT": int, "FLOAT": (int, float), "STRING": str, "BOOLEAN": bool}[item.io_type]
    assert isinstance(value, expected) and not (item.io_type != "BOOLEAN" and isinstance(value, bool)), where
    if getattr(item, "min", None) is not None:
        assert item.min <= value <= item.max, f"{where}: {value} outside [{item.min}, {item.max}]"


@pytest.mark.parametrize("name", NAMES)
def test_api_copy_is_the_ui_workflow_and_validates(comfy, name):
    schemas = {node_id: node.define_schema() for node_id, node in comfy.classes.items()}
    prompt = _api(name)
    without_titles = {key: {"class_type": node["class_type"], "inputs": node["inputs"]} for key, node in prompt.items()}
    assert _ui_to_api(_ui(name), schemas) == without_titles
    for node_id, node in prompt.items():
        if node["class_type"] in CORE_NODES:
            continue
        schema = schemas[node["class_type"]]
        for item in schema.inputs:
            where = f"{name}: node {node_id} {node['class_type']}.{item.id}"
            value = node["inputs"].get(item.id)
            assert value is not None or item.optional, f"{where} is missing"
            if isinstance(value, list):
                assert _output_type(prompt, schemas, value) == item.io_type, f"{where}: wrong link type"
            elif value is not None:
                _check_value(item, value, where)


def _output_type(prompt: dict, schemas: dict, link: list) -> str:
    source = prompt[link[0]]["class_type"]
    if source in CORE_NODES:
        return ("IMAGE", "MASK")[link[1]]
    return schemas[source].outputs[link[1]].io_type


def _ui_to_api(workflow: dict, schemas: dict) -> dict:
    """The API prompt of a UI workflow, converted as the frontend does (links by link id, widgets by order)."""
    links = {link[0]: link for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        inputs = {}
        for socket in node["inputs"]:
            if socket["link"] is not None:
                _, source, slot, *_ = links[socket["link"]]
                inputs[socket["name"]] = [str(source), slot]
        if node["type"] == "LoadImage":
            inputs["image"] = node["widgets_values"][0]
        elif node["type"] in schemas:
            values = dict(zip(_widget_slots(schemas[node["type"]]), node["widgets_values"], strict=True))
            order = [item.id for item in schemas[node["type"]].inputs]
            inputs.update({key: values[key] for key in order if key in values})
            inputs = {key: inputs[key] for key in order if key in inputs}
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


def _small(prompt: dict) -> dict:
    for node in prompt.values():
        node["inputs"].update(SMALL.get(node["class_type"], {}))
        if node["class_type"] == "ZeroNVS_LoadModel":
            node["inputs"]["model_name"] = "tiny-zeronvs.safetensors"
    return prompt


def _node(prompt: dict, class_type: str, title_word: str = "") -> str:
    return next(k for k, n in prompt.items() if n["class_type"] == class_type and title_word in n["_meta"]["title"])


@pytest.mark.parametrize("name", ["novel_views", "scale_from_depth"])
def test_view_workflows_run(comfy, name):
    prompt = _small(_api(name))
    results = comfy.run(prompt)
    (views,) = results[_node(prompt, "ZeroNVS_Sampler")]
    assert views.shape == (2, 64, 64, 3) and views.dtype == torch.float32
    assert 0.0 <= views.min() and views.max() <= 1.0
    (scale,) = results[_node(prompt, "ZeroNVS_SceneNormalizer")]
    assert isinstance(scale, float) and scale > 0
    assert [update[:2] for update in comfy.utils.UPDATES] == [(1, 2), (2, 2)]  # the sampler's DDIM steps


@pytest.mark.parametrize("name", ["orbit_sds", "orbit_sds_anchored"])
def test_orbit_workflows_run(comfy, name):
    prompt = _small(_api(name))
    results = comfy.run(prompt)
    frames, depth, opacity = results[_node(prompt, "ZeroNVS_OrbitRenderer")]
    assert frames.shape == depth.shape == (2, 16, 16, 3) and opacity.shape == (2, 16, 16)
    for image in (frames, depth, opacity):
        assert image.dtype == torch.float32 and 0.0 <= image.min() and image.max() <= 1.0
    outputs = sorted(path.name for path in (comfy.home / "output" / "zeronvs").iterdir())
    suffix = "_anchored" if name.endswith("anchored") else ""
    assert outputs == [f"depth{suffix}_00001_.mp4", f"orbit{suffix}_00001_.mp4", f"scene{suffix}_00001_.safetensors"]
    if suffix:
        anchors, views, cameras = results[_node(prompt, "ZeroNVS_AnchorGenerator")]
        assert views.shape == (1, 64, 64, 3) and len(cameras) == 1


def test_the_v1_fallback_runs_a_workflow(load_pack):
    comfy = load_pack(v3=False)
    assert not comfy.v3
    prompt = _small(_api("novel_views"))
    (views,) = comfy.run(prompt)[_node(prompt, "ZeroNVS_Sampler")]
    assert views.shape == (2, 64, 64, 3)


TEMPLATE_FOLDERS = ("example_workflows", "example", "examples", "workflow", "workflows")
"""ComfyUI 0.3.64's template folders (``app/custom_node_manager.py``), in the order it tries them: it lists
every one but serves all from the first that exists."""


def test_workflows_is_the_only_template_folder_at_the_top_level():
    root = WORKFLOWS.parent
    present = [name for name in TEMPLATE_FOLDERS if (root / name).exists()]
    assert present == ["workflows"], f"only workflows/ may exist at the top level, found {present}"


@pytest.mark.parametrize("name", sorted(NAMES + NEW_NAMES))
def test_every_workflow_has_a_small_jpeg_thumbnail(name):
    """ComfyUI's template browser shows ``<name>.jpg`` beside ``<name>.json`` as the workflow's card."""
    from PIL import Image

    thumbnail = WORKFLOWS / f"{name}.jpg"
    assert thumbnail.is_file(), f"{thumbnail.name} is missing"
    assert thumbnail.stat().st_size < 100_000
    with Image.open(thumbnail) as image:
        assert image.format == "JPEG" and min(image.size) >= 128
