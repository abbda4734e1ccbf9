"""The options of a mesh export that the command line and the nodes offer, written once (``mesh.py`` uses and
re-exports them). This module imports nothing, so ``zeronvs``'s parser and the node pack read it without
loading torch."""

__all__ = ["DEFAULT_HALF_SIZE", "DEFAULT_RESOLUTION", "REGIONS"]

REGIONS = ("foreground", "scene")
"""``foreground``: the cube around the input camera's look-at point; ``scene``: all of it (``mesh.py``)."""
DEFAULT_HALF_SIZE = 0.5
"""Half-side of the default foreground cube, world units (see ``mesh.py``'s module docstring)."""
DEFAULT_RESOLUTION = 256
"""Grid points per axis: 0.004 world units per cell in the default foreground cube."""
