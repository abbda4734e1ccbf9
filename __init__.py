"""ComfyUI entry point of the ZeroNVS node pack.

ComfyUI imports this folder as a package. It exports ``comfy_entrypoint`` (V3 node API) or
``NODE_CLASS_MAPPINGS`` (older ComfyUI), as ``nodes/`` decides, and imports cleanly without ComfyUI.

When the pack was not pip-installed (ComfyUI-Manager installs only its requirements), the library shipped
beside this file is registered as the top-level package ``zeronvs_core`` by its own path. The folder itself
is never put on ``sys.path``: that would make every top-level folder of the repository (``training``,
``benchmarks``, ``docs``, ...) importable by those generic names inside ComfyUI. The nodes are this
package's ``nodes`` subpackage, also registered as ``zeronvs_nodes`` (the name a pip install gives them).
"""

import importlib.util
import os
import sys


def _register_library(name: str, folder: str) -> None:
    """Import the package in ``folder`` beside this file as the top-level module ``name``."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), folder)
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(path, "__init__.py"), submodule_search_locations=[path]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


if importlib.util.find_spec("zeronvs_core") is None:
    _register_library("zeronvs_core", "zeronvs_core")

from . import nodes as _nodes  # noqa: E402

sys.modules.setdefault("zeronvs_nodes", _nodes)

WEB_DIRECTORY = "./web"
"""Front-end script served to ComfyUI's page: ``web/save_scene.js`` shows Save Scene's saved path on the node."""

if hasattr(_nodes, "comfy_entrypoint"):
    comfy_entrypoint = _nodes.comfy_entrypoint
else:
    NODE_CLASS_MAPPINGS = _nodes.NODE_CLASS_MAPPINGS
    NODE_DISPLAY_NAME_MAPPINGS = _nodes.NODE_DISPLAY_NAME_MAPPINGS
