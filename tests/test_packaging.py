"""The installable pack: CI and README agree, metadata is consistent, the ComfyUI entry point imports
with and without ComfyUI, the console script answers, and the code is ruff clean."""

import asyncio
import importlib.util
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import zeronvs_core
from zeronvs_core.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_readme_gives_the_test_command_that_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r'^TEST_COMMAND="([^"]+)"', ci, re.MULTILINE).group(1)
    readme_lines = [line.strip() for line in (ROOT / "README.md").read_text().splitlines()]
    assert command in readme_lines, f"README.md must show the test command {command!r} on a line of its own"
    assert re.search(r"^\$TEST_COMMAND$", ci, re.MULTILINE)
    assert "pip install --quiet torch==2.13.0" in ci.split(".[test]")[0]  # torch before the project


def test_version_is_the_same_everywhere():
    assert _pyproject()["project"]["version"] == zeronvs_core.__version__


def test_requirements_txt_is_pyproject_without_torch():
    project = _pyproject()["project"]
    requirements = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert requirements == [dep for dep in project["dependencies"] if not dep.startswith("torch")]
    assert "torch>=2.1" in project["dependencies"]
    assert not any(name in dep for dep in project["dependencies"] for name in ("torchvision", "lpips", "timm"))


def test_pyproject_declares_the_pack():
    data = _pyproject()
    assert data["project"]["scripts"]["zeronvs"] == "zeronvs_core.cli:main"
    assert set(data["tool"]["setuptools"]["package-dir"].values()) == {"zeronvs_core", "nodes", "training"}
    assert "requires-comfyui" in data["tool"]["comfy"]
    assert "slow" in " ".join(data["tool"]["pytest"]["ini_options"]["markers"])


def test_every_library_subpackage_is_packaged():
    packaged = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "zeronvs_core").rglob("__init__.py")}
    assert found <= packaged, sorted(found - packaged)


def test_cli_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"zeronvs {zeronvs_core.__version__}"
    assert main([]) == 0
    assert "usage: zeronvs" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["--no-such-flag"])
    assert exit_info.value.code == 2


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "zeronvs"
    assert script.exists(), "install the project first: pip install -e '.[test]'"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"zeronvs {zeronvs_core.__version__}"
    result = subprocess.run(
        [sys.executable, "-m", "zeronvs_core", "--help"], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert "usage: zeronvs" in result.stdout


def _load_pack(name: str) -> types.ModuleType:
    """Import the repository root as ComfyUI does: a package named after its folder."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def pack_name():
    name = "zeronvs_pack_under_test"
    yield name
    for key in [key for key in sys.modules if key == name or key.startswith(name + ".")]:
        del sys.modules[key]


def test_entry_point_without_comfyui_exports_v1_mappings(monkeypatch, pack_name):
    monkeypatch.setitem(sys.modules, "comfy_api", None)  # make sure no ComfyUI is importable
    pack = _load_pack(pack_name)
    assert len(pack.NODE_CLASS_MAPPINGS) == 12 and all(key.startswith("ZeroNVS_") for key in pack.NODE_CLASS_MAPPINGS)
    assert list(pack.NODE_DISPLAY_NAME_MAPPINGS) == list(pack.NODE_CLASS_MAPPINGS)
    assert not hasattr(pack, "comfy_entrypoint")


@pytest.fixture
def fake_comfyui(monkeypatch, tmp_path):
    """The fake ComfyUI of ``tests/nodes/fake_comfy`` (V3 API), importable for one test."""
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "nodes" / "fake_comfy"))
    importlib.import_module("folder_paths").set_base(str(tmp_path))
    yield
    for key in [key for key in sys.modules if key.split(".")[0] in ("comfy", "comfy_api", "folder_paths")]:
        del sys.modules[key]


def test_entry_point_with_comfyui_v3_exports_only_the_extension(fake_comfyui, pack_name):
    pack = _load_pack(pack_name)
    assert not hasattr(pack, "NODE_CLASS_MAPPINGS")  # V1 mappings would make ComfyUI ignore the entry point
    extension = asyncio.run(pack.comfy_entrypoint())
    assert isinstance(extension, sys.modules["comfy_api.latest"].ComfyExtension)
    nodes = asyncio.run(extension.get_node_list())
    assert [node.define_schema().node_id for node in nodes][:2] == ["ZeroNVS_LoadModel", "ZeroNVS_CameraPoseBuilder"]
    assert len(nodes) == 12


def test_library_never_imports_comfyui():
    code = (
        "import sys, zeronvs_core.cameras, zeronvs_core.conditioning, zeronvs_core.scene_scale, zeronvs_core.cli\n"
        "import zeronvs_core.model, zeronvs_core.sampling, zeronvs_core.images\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('comfy', 'comfy_api', 'folder_paths', 'nodes')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff_clean(command):
    result = subprocess.run([sys.executable, "-m", "ruff", *command], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
