"""ComfyUI entry point of the ZeroNVS node pack.

ComfyUI imports this folder as a package. It exports ``comfy_entrypoint`` (V3 node API) or
``NODE_CLASS_MAPPINGS`` (older ComfyUI), as ``nodes/`` decides, and imports cleanly without ComfyUI.
When the pack was not pip-installed (ComfyUI-Manager installs only its requirements), the folder is
appended to ``sys.path`` so that ``import zeronvs_core`` finds the library shipped beside this file.
"""

import importlib.util
import os
import sys

if importlib.util.find_spec("zeronvs_core") is None:
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))

from . import nodes as _nodes  # noqa: E402

if hasattr(_nodes, "comfy_entrypoint"):
    comfy_entrypoint = _nodes.comfy_entrypoint
else:
    NODE_CLASS_MAPPINGS = _nodes.NODE_CLASS_MAPPINGS
    NODE_DISPLAY_NAME_MAPPINGS = _nodes.NODE_DISPLAY_NAME_MAPPINGS
