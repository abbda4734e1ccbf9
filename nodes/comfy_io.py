"""``io``, the node API the pack's nodes are written against: ComfyUI's V3 schema module
(``comfy_api.latest.io``) when ComfyUI has one, else ``v1_io``, a stand-in with the same names that
makes every node a classic V1 node. ``HAS_V3`` says which is in use.

ComfyUI 0.3.64 does not check the value of a V3 combo against its options (V1 combos are checked), so
nodes check their combo values themselves with ``check_choice``.
"""

try:
    from comfy_api.latest import io
except ImportError:
    from . import v1_io as io

    HAS_V3 = False
else:
    HAS_V3 = True

__all__ = ["HAS_V3", "check_choice", "io"]


def check_choice(name: str, value, options) -> None:
    """Raise a ValueError naming the input unless ``value`` is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
