"""Fixtures for the node tests: the fake ComfyUI of ``fake_comfy/`` on ``sys.path``, the pack loaded
through it (V3, or V1 when ``comfy_api`` is missing), the tiny fixture model served from the fake
``models/zeronvs`` folder, and a small executor for API-format prompts."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
from pathlib import Path

import pytest
import torch

FAKE_COMFY = Path(__file__).parent / "fake_comfy"
NODES_PACKAGE = Path(__file__).resolve().parents[2] / "nodes"
TINY_MODEL_NAME = "tiny-zeronvs.safetensors"
_FAKE_MODULES = ("comfy", "comfy_api", "folder_paths")
_pack_names = itertools.count()


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory, tiny_model) -> Path:
    """The tiny official model in the project's format (float32), as a user would keep it in models/zeronvs."""
    from zeronvs_core.model import save_zeronvs

    return save_zeronvs(tiny_model, tmp_path_factory.mktemp("tiny") / TINY_MODEL_NAME, dtype=torch.float32)


def photo_image() -> torch.Tensor:
    """A ComfyUI IMAGE ``[1,48,64,3]``: red left, blue right, a gray band at the bottom; made in inference
    mode, as ComfyUI's LoadImage makes it."""
    with torch.inference_mode():
        image = torch.zeros(1, 48, 64, 3)
        image[:, :, :32, 0] = 1.0
        image[:, :, 32:, 2] = 1.0
        image[:, 36:] = 0.5
    return image


@pytest.fixture
def photo() -> torch.Tensor:
    """``photo_image()``."""
    return photo_image()


class Harness:
    """The pack as the fake ComfyUI loaded it, and ways to run its nodes."""

    def __init__(self, pack, home: Path):
        self.pack, self.home = pack, home
        self.utils = importlib.import_module("comfy.utils")
        self.model_management = importlib.import_module("comfy.model_management")
        self.folder_paths = importlib.import_module("folder_paths")

    @property
    def v3(self) -> bool:
        return hasattr(self.pack, "comfy_entrypoint")

    @property
    def classes(self) -> dict[str, type]:
        """Node id -> class, as ComfyUI registers them."""
        if self.v3:
            import asyncio

            nodes = asyncio.run(asyncio.run(self.pack.comfy_entrypoint()).get_node_list())
            return {node.define_schema().node_id: node for node in nodes}
        return dict(self.pack.NODE_CLASS_MAPPINGS)

    def execute(self, node_id: str, **inputs) -> tuple:
        """Run one node as ComfyUI would (in inference mode); returns its outputs."""
        node = self.classes[node_id]
        with torch.inference_mode():
            if self.v3:
                return tuple(node.execute(**inputs).args)
            result = getattr(node(), node.FUNCTION)(**inputs)
        return tuple(result["result"]) if isinstance(result, dict) else tuple(result)

    def run(self, prompt: dict) -> dict[str, tuple]:
        """Execute an API-format prompt (every node, in dependency order); returns outputs by node id.
        ComfyUI's own ``LoadImage`` gives ``photo_image`` and its preview/save nodes return nothing."""
        results: dict[str, tuple] = {}

        def outputs(node_id: str) -> tuple:
            if node_id not in results:
                node = prompt[node_id]
                inputs = {name: value(item) for name, item in node["inputs"].items()}
                results[node_id] = self._run_node(node["class_type"], inputs)
            return results[node_id]

        def value(item):
            linked = isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
            return outputs(item[0])[item[1]] if linked else item

        for node_id in prompt:
            outputs(node_id)
        return results

    def _run_node(self, class_type: str, inputs: dict) -> tuple:
        if class_type == "LoadImage":
            return (photo_image(), torch.zeros(1, 64, 64))  # LoadImage: a 64x64 zero MASK for opaque files
        if class_type in ("PreviewImage", "SaveImage"):
            return ()
        return self.execute(class_type, **inputs)


@pytest.fixture
def comfy_home(tmp_path, tiny_model_file) -> Path:
    """ComfyUI's folders: models/zeronvs with the tiny model, empty input and output."""
    (tmp_path / "models" / "zeronvs").mkdir(parents=True)
    (tmp_path / "models" / "zeronvs" / TINY_MODEL_NAME).symlink_to(tiny_model_file)
    for name in ("input", "output", "models/checkpoints"):
        (tmp_path / name).mkdir(exist_ok=True)
    return tmp_path


@pytest.fixture
def load_pack(monkeypatch, comfy_home):
    """``load_pack(v3=True)``: the pack loaded by the fake ComfyUI, with or without the V3 API."""
    monkeypatch.syspath_prepend(str(FAKE_COMFY))
    loaded: list[str] = []

    def load(v3: bool = True) -> Harness:
        _forget(_FAKE_MODULES)
        if not v3:
            monkeypatch.setitem(sys.modules, "comfy_api", None)  # an older ComfyUI: no V3 API
        importlib.import_module("folder_paths").set_base(str(comfy_home))
        importlib.import_module("comfy.utils").UPDATES.clear()
        name = f"zeronvs_nodes_under_test_{next(_pack_names)}"
        loaded.append(name)
        spec = importlib.util.spec_from_file_location(
            name, NODES_PACKAGE / "__init__.py", submodule_search_locations=[str(NODES_PACKAGE)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return Harness(module, comfy_home)

    yield load
    _forget((*_FAKE_MODULES, *loaded))


@pytest.fixture
def comfy(load_pack) -> Harness:
    """The pack under the fake ComfyUI's V3 API."""
    return load_pack(v3=True)


def _forget(prefixes) -> None:
    for key in [key for key in sys.modules if key.split(".")[0] in prefixes]:
        del sys.modules[key]
