"""The photo -> distil -> mesh -> 3D preview workflow (``workflows/mesh_preview.json``): its API copy is the UI
workflow, and it runs on the tiny model to a mesh file equal to ``export_mesh`` of the distilled field, whose
path (relative to the output folder) goes to ComfyUI's core Preview 3D."""

import json
from pathlib import Path

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


def test_the_api_copy_is_the_ui_workflow(comfy):
    ui, api = _load("mesh_preview", False), _load("mesh_preview", True)
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
    assert api["7"] == {"class_type": "Preview3D", "inputs": {"model_file": ["6", 0]}, "_meta": {"title": "Preview 3D"}}


def test_the_workflow_runs_to_the_mesh_that_preview_3d_opens(comfy, tmp_path):
    prompt = _load("mesh_preview", True)
    preview = prompt.pop("7")  # ComfyUI's own Preview3D: it shows the file named by its model_file input
    for node in prompt.values():
        node["inputs"].update(QUICK.get(node["class_type"], {}))
        if node["class_type"] == "ZeroNVS_LoadModel":
            node["inputs"]["model_name"] = "tiny-zeronvs.safetensors"
    results = comfy.run(prompt)
    source, slot = preview["inputs"]["model_file"]
    mesh_path = results[source][slot]
    assert mesh_path == "zeronvs/mesh_00001_.glb"
    (field,) = results["5"]
    options = {key: prompt["6"]["inputs"][key] for key in ("resolution", "region", "half_size")}
    options["threshold"] = 2.0
    expected = export_mesh(field.scene, tmp_path / "m.glb", settings=field.settings, **options)
    assert expected.faces > 0
    assert (comfy.home / "output" / mesh_path).read_bytes() == expected.path.read_bytes()
