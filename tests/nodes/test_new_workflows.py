"""The workflows in ``workflows/``: their API copies are the UI workflows; ``mesh_preview`` (photo -> distil ->
mesh -> 3D preview) runs on the tiny model to a mesh file equal to ``export_mesh`` of the distilled scene, whose
path (relative to the output folder) goes to ComfyUI's core Preview 3D; ``ksampler_views`` gives ComfyUI's
stock KSampler one conditioning and latent per target camera. (Its checkpoint, ComfyUI's Zero-1-to-3 model
class, needs the released architecture, which the tiny model is not: KSampler itself is not run here.)"""

import json
from pathlib import Path

import pytest

from zeronvs_core.mesh import export_mesh

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
WIDGET_TYPES = ("INT", "FLOAT", "STRING", "COMBO", "BOOLEAN")
QUICK = {
    "ZeroNVS_CameraPoseBuilder": {"count": 2},
    "ZeroNVS_SDSDistiller": {"steps": 1},
    "ZeroNVS_SaveMesh": {"resolution": 24, "threshold": 2.0},  # one SDS step leaves a faint blob
}


def _load(name: str, api: bool) -> dict:
    return json.loads((WORKFLOWS / ("api" if api else "") / f"{name}.json").read_text())


@pytest.mark.parametrize("name", ["mesh_preview", "ksampler_views"])
def test_the_api_copy_is_the_ui_workflow(comfy, name):
    ui, api = _load(name, False), _load(name, True)
    links = {link[0]: link for link in ui["links"]}
    assert sorted(api, key=int) == [str(node["id"]) for node in ui["nodes"]]
    for node in ui["nodes"]:
        entry = api[str(node["id"])]
        assert entry["class_type"] == node["type"]
        linked = {s["name"]: [str(links[s["link"]][1]), links[s["link"]][2]] for s in node["inputs"] if s["link"]}
        assert {k: v for k, v in entry["inputs"].items() if isinstance(v, list)} == linked
        if node["type"] in comfy.classes:
            schema = comfy.classes[node["type"]].define_schema()
            widgets = [i.id for i in schema.inputs if i.io_type in WIDGET_TYPES and not i.force_input]
            values = [v for v in node["widgets_values"] if v not in ("fixed", "randomize")]
            assert [entry["inputs"][w] for w in widgets] == values, node["type"]


def test_the_workflow_runs_to_the_mesh_that_preview_3d_opens(comfy, tmp_path):
    prompt = _load("mesh_preview", True)
    preview = prompt.pop("7")  # ComfyUI's own Preview3D: it shows the file named by its model_file input
    assert preview == {"class_type": "Preview3D", "inputs": {"model_file": ["6", 0]}, "_meta": {"title": "Preview 3D"}}
    for node in prompt.values():
        node["inputs"].update(QUICK.get(node["class_type"], {}))
        if node["class_type"] == "ZeroNVS_LoadModel":
            node["inputs"]["model_name"] = "tiny-zeronvs.safetensors"
    results = comfy.run(prompt)
    source, slot = preview["inputs"]["model_file"]
    mesh_path = results[source][slot]
    assert mesh_path == "zeronvs/mesh_00001_.glb"
    (scene,) = results["5"]
    options = {key: prompt["6"]["inputs"][key] for key in ("resolution", "region", "half_size")}
    options["threshold"] = 2.0
    expected = export_mesh(scene.scene, tmp_path / "m.glb", settings=scene.settings, **options)
    assert expected.faces > 0
    assert (comfy.home / "output" / mesh_path).read_bytes() == expected.path.read_bytes()


def test_the_ksampler_workflow_conditions_one_latent_per_target_camera(comfy):
    prompt = {key: node for key, node in _load("ksampler_views", True).items() if int(key) <= 5}
    prompt["2"]["inputs"]["model_name"] = "tiny-zeronvs.safetensors"
    results = comfy.run(prompt)
    positive, negative, latent = results["5"]
    assert positive[0][0].shape == (8, 1, 64 + 19) and latent["samples"].shape == (8, 4, 32, 32)
    assert not negative[0][0].any() and not negative[0][1]["concat_latent_image"].any()
    ksampler = _load("ksampler_views", True)["7"]["inputs"]
    assert (
        ksampler["positive"] == ["5", 0] and ksampler["negative"] == ["5", 1] and ksampler["latent_image"] == ["5", 2]
    )
    assert (ksampler["sampler_name"], ksampler["scheduler"], ksampler["cfg"]) == ("ddim", "ddim_uniform", 3.0)


PHOTO_NODES = ("ZeroNVS_Sampler", "ZeroNVS_AnchorGenerator", "ZeroNVS_SDSDistiller", "ZeroNVS_Conditioning")
ALL_WORKFLOWS = sorted(path.stem for path in WORKFLOWS.glob("*.json"))


@pytest.mark.parametrize("name", ALL_WORKFLOWS)
def test_every_photo_node_takes_the_mask_of_its_photos_load_image(name):
    """Load Image's MASK (output 1) goes to the mask input of every node that takes the photo (output 0 of the
    same Load Image), in the API copy; ``test_the_api_copy_is_the_ui_workflow`` ties it to the UI file."""
    prompt = _load(name, True)
    photo_nodes = [node for node in prompt.values() if node["class_type"] in PHOTO_NODES]
    assert photo_nodes, f"{name} has no node that takes the photo"
    for node in photo_nodes:
        source, slot = node["inputs"]["image"]
        assert (prompt[source]["class_type"], slot) == ("LoadImage", 0)
        assert node["inputs"].get("mask") == [source, 1], f"{name}: {node['class_type']} has no mask from {source}"
