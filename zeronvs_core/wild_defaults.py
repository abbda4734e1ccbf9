"""The official in-the-wild defaults of one input photo, written once for the library, the CLI and the nodes.

The ZeroNVS release's example for photos in the wild (``launch_inference.sh``) uses a vertical FOV of
52.55 degrees for the centred square crop (``data.default_fovy_deg``), the input camera 31 degrees above
the ground plane (``data.default_elevation_deg``) and the viewer scale s = 0.7 (spec section 9 of
``shared/reference/zeronvs_spec.md``). This module imports nothing, so the
node pack can read it without loading torch.
"""

__all__ = ["ELEVATION_DEG", "FOV_DEG", "SCALE"]

FOV_DEG = 52.55
"""Vertical field of view of the photo's centred square crop, degrees."""
ELEVATION_DEG = 31.0
"""Elevation of the input camera above the ground plane (xy-plane of the z-up world), degrees."""
SCALE = 0.7
"""Viewer scale s: distance of the scene from the input camera, model units."""
