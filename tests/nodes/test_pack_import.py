"""The repository folder imported as ComfyUI imports a custom-node pack: only the pack's own packages become
importable (``zeronvs_core``, ``zeronvs_nodes``), never the repository's other folders by generic names."""

import json
import subprocess
import sys
from pathlib import Path

FAKE_COMFY = Path(__file__).parent / "fake_comfy"
ROOT = Path(__file__).resolve().parents[2]

CODE = f"""
import importlib.util, json, os, sys
sys.path.insert(0, {str(FAKE_COMFY)!r})
import folder_paths
folder_paths.set_base(os.getcwd())
before = list(sys.path)
spec = importlib.util.spec_from_file_location(  # what ComfyUI's load_custom_node does with a pack folder
    {str(ROOT)!r}, {str(ROOT / "__init__.py")!r}, submodule_search_locations=[{str(ROOT)!r}]
)
pack = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = pack
spec.loader.exec_module(pack)
import zeronvs_core, zeronvs_nodes
print(json.dumps({{
    "path_added": [p for p in sys.path if p not in before],
    "importable": {{n: importlib.util.find_spec(n) is not None for n in ("training", "benchmarks", "docs", "tests")}},
    "core": zeronvs_core.__file__,
    "nodes_is_the_packs": zeronvs_nodes is sys.modules[spec.name + ".nodes"],
    "web": os.path.join(os.path.dirname(pack.__file__), pack.WEB_DIRECTORY),
    "entrypoint": hasattr(pack, "comfy_entrypoint"),
}}))
"""


def test_importing_the_pack_exposes_only_its_own_packages(tmp_path):
    # run outside the repository, so that neither the working directory nor an install makes it importable
    probe = subprocess.run([sys.executable, "-c", "import zeronvs_core"], cwd=tmp_path, capture_output=True)
    found = subprocess.run([sys.executable, "-c", CODE], cwd=tmp_path, capture_output=True, text=True, check=True)
    result = json.loads(found.stdout)
    assert result["path_added"] == []
    assert result["importable"] == {"training": False, "benchmarks": False, "docs": False, "tests": False}
    if probe.returncode != 0:  # not pip-installed: the pack registered the library shipped beside it
        assert result["core"] == str(ROOT / "zeronvs_core" / "__init__.py")
    assert result["nodes_is_the_packs"] and result["entrypoint"]
    assert "ZeroNVS_SaveScene" in (Path(result["web"]) / "save_scene.js").read_text()
