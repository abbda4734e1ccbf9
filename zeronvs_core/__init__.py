"""ZeroNVS as a plain PyTorch library: cameras, camera conditioning, scene scale, and (as they land)
the diffusion model, sampling, SDS distillation and rendering.

Importing this package imports nothing heavy; import the submodules you use, e.g.
``from zeronvs_core.conditioning import encode_camera``. The library never imports ComfyUI.
"""

__version__ = "0.1.0"
