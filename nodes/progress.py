"""The one adapter from the library's loop callbacks to ComfyUI: a progress bar and the interrupt flag."""

from __future__ import annotations

__all__ = ["PREVIEW_SIZE", "progress"]

PREVIEW_SIZE = 512
"""Largest side of the live preview images sent to the browser, pixels."""


def progress(previews: bool = False):
    """A ``zeronvs_core.progress.ProgressCallback`` for the running node: raises ComfyUI's
    ``InterruptProcessingException`` once the user has pressed Cancel, then moves a ``ProgressBar`` (made at
    the first call) to ``step`` of ``total``. With ``previews``, ``preview`` is an image ``[3,H,W]`` in [0,1]
    that the browser shows while the node runs; otherwise it is ignored (e.g. DDIM latents)."""
    import comfy.model_management
    import comfy.utils

    bar = None

    def callback(step: int, total: int, preview=None) -> None:
        nonlocal bar
        comfy.model_management.throw_exception_if_processing_interrupted()
        if bar is None:
            bar = comfy.utils.ProgressBar(total)
        bar.update_absolute(step, total, _preview(preview) if previews and preview is not None else None)

    return callback


def _preview(image) -> tuple:
    """``("JPEG", PIL image, max side)``, the preview form of ``ProgressBar.update_absolute``."""
    from PIL import Image

    pixels = (image.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    return ("JPEG", Image.fromarray(pixels), PREVIEW_SIZE)
